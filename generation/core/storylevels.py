"""Story development levels: headings, prompts, and robust parsers for a model's proposals.

The model proposes, level by level, a story's logline, its characters, the beats (index
cards) of one act, and a scene's brief. Its output is free text: small house models write
garbage often, external LLMs write markdown-ish lists. The ``parse_*`` functions turn any
string into structured proposals; they never raise, truncate their input to
``MAX_INPUT_CHARS`` first, and work line by line with plain string operations and anchored,
bounded regular expressions (linear time). ``format_characters`` / ``format_beats`` write the
canonical shapes, which the parsers read back losslessly.

Standard library only, and the Fountain grammar (``scripts_app.formats.grammar``, itself
stdlib-only) for a scene's cues and headings (this lives in the model core: no Django, no
PyTorch needed).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from scripts_app.formats import grammar

LEVELS = ("logline", "characters", "beats", "brief")
HEADINGS: dict[str, str] = {
    "logline": "STORY — LOGLINE",
    "characters": "STORY — CHARACTERS",
    "beats": "STORY — BEATS",
    "brief": "STORY — SCENE BRIEF",
}
ROLE_KEYS = (
    "protagonist",
    "antagonist",
    "deuteragonist",
    "love_interest",
    "mentor",
    "ally",
    "supporting",
    "minor",
)

MAX_INPUT_CHARS = 20_000
NAME_MAX, TITLE_MAX, SUMMARY_MAX = 100, 200, 5000
FIELD_MAX = {
    "description": 5000,
    "want": 1000,
    "need": 1000,
    "flaw": 1000,
    "arc_start": 1000,
    "arc_end": 1000,
    "voice": 2000,
}


@dataclass(frozen=True)
class ProposedCharacter:
    name: str
    role: str = ""
    description: str = ""
    want: str = ""
    need: str = ""
    flaw: str = ""
    arc_start: str = ""
    arc_end: str = ""
    voice: str = ""


@dataclass(frozen=True)
class ProposedBeat:
    title: str
    summary: str = ""
    plotlines: tuple[str, ...] = ()


# --------------------------------------------------------------------------- helpers

_CONTROL = {i: None for i in range(32) if i not in (9, 10)}
_CONTROL[9] = " "
_CONTROL[127] = None
_QUOTES = "\"'“”‘’«»„`"


def _prep(text) -> str:
    """Any input -> a capped, newline-normalised string without control characters."""
    if not isinstance(text, str):
        return ""
    text = text[: MAX_INPUT_CHARS + 1]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_CONTROL)[:MAX_INPUT_CHARS]


def _collapse(s: str) -> str:
    return " ".join(s.split())


def _has_letter(s: str) -> bool:
    return any(ch.isalpha() for ch in s)


def _cut(s: str, limit: int) -> str:
    """``s`` cut to at most ``limit`` characters, at a word boundary where there is one."""
    if limit <= 0:
        return ""
    if len(s) <= limit:
        return s
    head = s[:limit]
    if not s[limit].isspace():
        space = max(head.rfind(" "), head.rfind("\n"))
        if space > 0:
            head = head[:space]
    return head.rstrip(" \n,;:—–-")


def _split_cut(s: str, limit: int) -> tuple[str, str]:
    """(head, rest): head is ``_cut(s, limit)``, rest what it left off (trimmed)."""
    head = _cut(s, limit)
    return head, s[len(head) :].strip(" ,;:—–-")


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] in _QUOTES and s[-1] in _QUOTES:
        s = s[1:-1].strip()
    return s


def _unstar(s: str) -> str:
    return s.replace("**", "").replace("__", "").replace("*", "").replace("`", "")


_NUM_RE = re.compile(r"(?:\d{1,3}[.)]|\(\d{1,3}\)|#\d{1,3}[.:)]?)(?=\s|\*|$)\s*")
_BULLET_RE = re.compile(r"(?:[-•+‣▪◦]|\*(?!\*))\s+")
_BEAT_RE = re.compile(r"beat\s{0,3}#?\s{0,3}\d{1,3}\s{0,3}(?:[:.)\]—–-]\s*)?", re.I)


def _leading(s: str) -> tuple[str, str]:
    """Strip list markers off the front of a (stripped) line: (marker kind, rest).

    The kind is "num", "bullet", "beat", "head" (a markdown heading or quote) or "".
    """
    kind = ""
    for _ in range(4):
        if s.startswith(("#", ">")):
            s = s.lstrip("#> ")
            kind = kind or "head"
            continue
        bold = s.startswith("**")
        body = s[2:].lstrip() if bold else s
        m = _NUM_RE.match(body) or _BEAT_RE.match(body)
        if m:
            kind = "beat" if body[:1] in "bB" else "num"
        elif not bold:
            m = _BULLET_RE.match(body)
            if m:
                kind = "bullet"
        if not m:
            break
        body = body[m.end() :]
        s = ("**" + body) if bold else body
    return kind, s.strip()


# --------------------------------------------------------------------------- headings


def _check_kind(kind: str) -> None:
    if kind not in HEADINGS:
        raise ValueError(f"unknown story level {kind!r}; expected one of {', '.join(LEVELS)}")


def level_heading(kind: str, act: int | None = None) -> str:
    """The heading-field text marking this level for the house model."""
    _check_kind(kind)
    if kind == "beats" and act is not None:
        return f"{HEADINGS[kind]}, ACT {int(act)}"
    return HEADINGS[kind]


def heading_act(heading: str) -> int | None:
    """The act a beats heading names ("STORY — BEATS, ACT 2" → 2), else None."""
    head, sep, act = (heading or "").rpartition(", ACT ")
    if sep and head in HEADINGS.values() and act.isdigit() and len(act) <= 3:
        return int(act)
    return None


# --------------------------------------------------------------------------- roles

_ROLE_WORDS = {
    "protagonist": "protagonist",
    "protag": "protagonist",
    "lead": "protagonist",
    "main character": "protagonist",
    "lead character": "protagonist",
    "title character": "protagonist",
    "hero": "protagonist",
    "heroine": "protagonist",
    "antagonist": "antagonist",
    "villain": "antagonist",
    "nemesis": "antagonist",
    "adversary": "antagonist",
    "opponent": "antagonist",
    "big bad": "antagonist",
    "deuteragonist": "deuteragonist",
    "co protagonist": "deuteragonist",
    "coprotagonist": "deuteragonist",
    "co lead": "deuteragonist",
    "second lead": "deuteragonist",
    "secondary protagonist": "deuteragonist",
    "love interest": "love_interest",
    "romantic interest": "love_interest",
    "romantic lead": "love_interest",
    "mentor": "mentor",
    "guide": "mentor",
    "teacher": "mentor",
    "ally": "ally",
    "sidekick": "ally",
    "best friend": "ally",
    "friend": "ally",
    "confidant": "ally",
    "confidante": "ally",
    "companion": "ally",
    "supporting": "supporting",
    "support": "supporting",
    "secondary": "supporting",
    "minor": "minor",
    "bit part": "minor",
    "cameo": "minor",
    "background": "minor",
    "extra": "minor",
    "tertiary": "minor",
}
_ROLE_PREFIXES = ("the ", "a ", "an ", "her ", "his ", "their ", "main ", "primary ")
_ROLE_SUFFIXES = (" character", " role", " figure", " part")


def parse_role(text: str) -> str:
    """A role key (one of ``ROLE_KEYS``) from a loose phrase, or "" when not recognised."""
    if not isinstance(text, str) or len(text) > 60:
        return ""
    s = _unstar(text).lower().replace("_", " ").replace("-", " ")
    s = _collapse("".join(ch if ch.isalnum() or ch == " " else " " for ch in s))
    for _ in range(3):
        if s in _ROLE_WORDS:
            return _ROLE_WORDS[s]
        if s in ROLE_KEYS:
            return s
        for affix in _ROLE_PREFIXES:
            if s.startswith(affix):
                s = s[len(affix) :]
                break
        else:
            for affix in _ROLE_SUFFIXES:
                if s.endswith(affix):
                    s = s[: -len(affix)]
                    break
            else:
                return ""
    return _ROLE_WORDS.get(s, "")


# --------------------------------------------------------------------------- logline

_LOGLINE_LABEL_RE = re.compile(
    r"(?:the\s+|your\s+|a\s+)?(?:logline|log[\s-]line|one[\s-]line(?:\s+pitch)?|pitch|premise)"
    r"\s{0,3}(?:[:—–-]\s*|$)",
    re.I,
)


def parse_logline(text: str, limit: int = 1000) -> str:
    """The first line with a letter, less labels, quotes and markdown; "" when none. A
    line in capitals only (a screenplay's cue or heading: "MARA", "INT. DOCK - NIGHT") is
    taken only when no line has a small letter."""
    shouted = ""
    for line in _prep(text).split("\n"):
        _, s = _leading(line.strip())
        s = _unstar(s).strip()
        m = _LOGLINE_LABEL_RE.match(s)
        if m:
            s = s[m.end() :]
        s = _collapse(_unquote(s))
        if not _has_letter(s) or s.endswith(":"):
            continue
        if s == s.upper():
            shouted = shouted or s
            continue
        return _cut(s, limit)
    return _cut(shouted, limit) if shouted else ""


def _speech_blocks(blocks: list[list[str]]) -> set[int]:
    """The blocks (lines between blank lines) that are a screenplay's speeches or headings
    when a model wrote a scene instead (a cue that comes back: a list's titles never
    repeat); else none. Cues and headings are the Fountain grammar's."""
    heads = []
    for block in blocks:
        cue = grammar.parse_cue(block[0]) if len(block) > 1 else None
        heads.append(cue.name if cue else "")
    counts = Counter(h for h in heads if h)
    if not any(n > 1 for n in counts.values()):
        return set()
    return {
        i
        for i, block in enumerate(blocks)
        if heads[i] or (block and grammar.is_scene_heading(block[0]))
    }


# --------------------------------------------------------------------------- brief

_BRIEF_LABEL_RE = re.compile(
    r"(?:the\s+)?(?:scene\s+)?(?:brief|synopsis|summary)\s{0,3}(?:[:—–-]\s*|$)", re.I
)


def parse_brief(text: str, limit: int = 2000) -> str:
    """The brief's prose: label and markdown markers dropped, blank-line runs collapsed; a
    scene written instead keeps only its action (``_speech_blocks``)."""
    out: list[str] = []
    labelled = False
    blocks = [block.split("\n") for block in re.split(r"\n[ \t]*\n", _prep(text))]
    drop = _speech_blocks([[ln.strip() for ln in block if ln.strip()] for block in blocks])
    kept = "\n\n".join("\n".join(block) for i, block in enumerate(blocks) if i not in drop)
    for line in kept.split("\n"):
        s = line.strip()
        s = s.lstrip("#>").strip()
        s = s.replace("**", "").replace("__", "").lstrip("*").strip()
        if not labelled and s:
            labelled = True
            m = _BRIEF_LABEL_RE.match(s)
            if m:
                s = s[m.end() :].strip()
                if not s:
                    continue
        if not s:
            if out and out[-1]:
                out.append("")
            continue
        out.append(s)
    while out and not out[-1]:
        out.pop()
    result = _cut("\n".join(out), limit).strip()
    return result if _has_letter(result) else ""


# --------------------------------------------------------------------------- characters

_CHAR_LABELS = {
    "want": "want",
    "wants": "want",
    "goal": "want",
    "goals": "want",
    "external goal": "want",
    "need": "need",
    "needs": "need",
    "internal need": "need",
    "flaw": "flaw",
    "flaws": "flaw",
    "fatal flaw": "flaw",
    "weakness": "flaw",
    "arc": "arc",
    "character arc": "arc",
    "voice": "voice",
    "speech": "voice",
    "dialogue": "voice",
    "dialogue style": "voice",
    "speaking style": "voice",
    "role": "role",
    "description": "description",
    "bio": "description",
    "name": "name",
    "character": "name",
}
_NAME_GENERIC = {
    "characters",
    "character",
    "cast",
    "new characters",
    "main characters",
    "supporting characters",
    "proposed characters",
    "the cast",
    "cast list",
    "character list",
    "ensemble",
    "notes",
    "note",
    "summary",
}
_PARTICLES = {
    "de",
    "la",
    "le",
    "van",
    "von",
    "der",
    "den",
    "da",
    "di",
    "del",
    "du",
    "bin",
    "al",
    "el",
    "y",
    "of",
    "the",
    "ibn",
}
_NAME_CHARS = " '’-."


def _label(s: str, table: dict[str, str]) -> tuple[str, str] | None:
    """("field", value) for a "Label: value" line whose label is in ``table``."""
    i = s.find(":")
    if i <= 0 or i > 30:
        return None
    key = _collapse(s[:i].lower())
    if key not in table:
        if table is _CHAR_LABELS and re.fullmatch(r"character\s?#?\d{1,2}", key):
            return "name", s[i + 1 :].strip()
        return None
    return table[key], s[i + 1 :].strip()


def _clean_name(raw: str, strict: bool) -> str | None:
    s = _collapse(unicodedata.normalize("NFC", _unstar(raw))).strip(" :,;")
    s = _unquote(s)
    if not s or len(s) > NAME_MAX or not _has_letter(s):
        return None
    words = s.split(" ")
    if len(words) > 6:
        return None
    if any(not (ch.isalpha() or ch in _NAME_CHARS) for ch in s):
        return None
    if s.lower() in _NAME_GENERIC or parse_role(s):
        return None
    for k, word in enumerate(words):
        first = next((ch for ch in word if ch.isalpha()), "")
        if first.islower() and (k == 0 or strict) and word.lower() not in _PARTICLES:
            return None
    return s.upper()


_TAIL_SEPS = (":", " — ", " – ", " - ", "—", "–", ",", ". ", ";")


def _first_sep(s: str, seps: tuple[str, ...]) -> tuple[int, str]:
    best, which = -1, ""
    for sep in seps:
        i = s.find(sep)
        if i >= 0 and (best < 0 or i < best):
            best, which = i, sep
    return best, which


def _role_and_desc(tail: str) -> tuple[str, str]:
    tail = tail.strip(" :—–-,;").lstrip(". ")
    if not tail:
        return "", ""
    role = parse_role(tail)
    if role:
        return role, ""
    i, sep = _first_sep(tail, _TAIL_SEPS)
    if i > 0:
        role = parse_role(tail[:i])
        if role:
            return role, tail[i + len(sep) :].strip(" :—–-,;")
    return "", tail


def _parse_name_line(s: str, strict: bool) -> tuple[str, str, str] | None:
    """(NAME, role, description) from a name line, or None when it is no name line."""
    s = _unstar(s).strip()
    i, sep = _first_sep(s, ("(", ":", " — ", " – ", " - ", "—", "–", ","))
    if i < 0:
        name = _clean_name(s, strict)
        return (name, "", "") if name else None
    name = _clean_name(s[:i], strict)
    if not name:
        return None
    rest = s[i + len(sep) :]
    role, desc = "", ""
    if sep == "(":
        close = rest.find(")")
        inner, rest = (rest[:close], rest[close + 1 :]) if close >= 0 else (rest, "")
        role = parse_role(inner)
        if not role:
            parts = [p.strip() for p in re.split(r"[,;/]", inner) if p.strip()]
            for k, part in enumerate(parts):
                role = parse_role(part)
                if role:
                    del parts[k]
                    break
            desc = ", ".join(parts)
        r2, d2 = _role_and_desc(rest)
        role = role or r2
        desc = _collapse(f"{desc} {d2}" if d2 else desc)
        return name, role, desc
    if sep == ",":
        role, desc = _role_and_desc(rest)
        low = rest.strip().lower()
        if not role and not low.startswith(("a ", "an ", "the ")):
            return None
        return name, role, desc
    role, desc = _role_and_desc(rest)
    return name, role, desc


def _split_arc(value: str) -> tuple[str, str]:
    i, sep = _first_sep(value, ("->", "→"))
    if i < 0:
        i, sep = _first_sep(value.lower(), (" to ",))
    if i < 0:
        return value.strip(), ""
    return value[:i].strip(" -"), value[i + len(sep) :].strip()


class _CharBuilder:
    def __init__(self, name: str, role: str = "", desc: str = ""):
        self.name = name
        self.f = dict.fromkeys(FIELD_MAX, "")
        self.f["role"] = role
        self.desc: list[str] = [desc] if desc else []

    def add(self, field: str, value: str) -> None:
        value = _collapse(_unstar(value))
        if field == "role":
            role = parse_role(value)
            if role and not self.f["role"]:
                self.f["role"] = role
            elif not role and value:
                self.desc.append(value)
        elif field == "description":
            if value:
                self.desc.append(value)
        elif field == "arc":
            start, end = _split_arc(value)
            if start or end:
                self.f["arc_start"], self.f["arc_end"] = start, end
        elif value and not self.f[field]:
            self.f[field] = value

    def build(self) -> ProposedCharacter:
        self.f["description"] = _collapse(" ".join(self.desc))
        fields = {k: _cut(v, FIELD_MAX[k]) for k, v in self.f.items() if k in FIELD_MAX}
        return ProposedCharacter(name=self.name, role=self.f["role"], **fields)


def parse_characters(text: str, limit: int = 12) -> list[ProposedCharacter]:
    """Proposed characters from a model's text (canonical blocks or common LLM shapes)."""
    out: list[ProposedCharacter] = []
    seen: set[str] = set()
    if limit <= 0:
        return out
    current: _CharBuilder | None = None
    cur_indent = 0
    block_start = True

    def finish() -> None:
        if current is not None and current.name not in seen and len(out) < limit:
            seen.add(current.name)
            out.append(current.build())

    for line in _prep(text).split("\n"):
        stripped = line.strip()
        if not stripped:
            block_start = True
            continue
        indent = len(line) - len(line.lstrip())
        starts_block, block_start = block_start, False
        kind, body = _leading(stripped)
        bold = body.startswith("**")
        labelled = _label(_unstar(body).strip(), _CHAR_LABELS)
        if labelled and labelled[0] != "name":
            if current is not None:
                current.add(*labelled)
            continue
        if labelled:  # "Name: Mara Voss (protagonist)"
            parsed = _parse_name_line(labelled[1], strict=False)
            finish()
            current = _CharBuilder(*parsed) if parsed else None
            cur_indent = indent
        elif kind or bold or starts_block:
            if current is not None and not starts_block and indent > cur_indent:
                current.add("description", body)
                continue
            parsed = _parse_name_line(body, strict=not (kind or bold))
            if parsed:
                finish()
                current, cur_indent = _CharBuilder(*parsed), indent
            elif current is not None and kind and not starts_block:
                current.add("description", body)
            else:
                finish()
                current = None
        elif current is not None:
            current.add("description", body)
        if len(out) >= limit:
            break
    finish()
    return out[:limit]


def format_characters(chars: Iterable[ProposedCharacter]) -> str:
    """The canonical character blocks (``parse_characters`` reads them back)."""
    blocks = []
    for c in chars:
        role = c.role.replace("_", " ")
        lines = [f"{_collapse(c.name)} ({role})" if role else _collapse(c.name)]
        if c.description:
            lines.append(_collapse(c.description))
        for label, value in (("Want", c.want), ("Need", c.need), ("Flaw", c.flaw)):
            if value:
                lines.append(f"{label}: {_collapse(value)}")
        start, end = _collapse(c.arc_start), _collapse(c.arc_end)
        if end:
            lines.append(f"Arc: {start} -> {end}" if start else f"Arc: -> {end}")
        elif start:
            ambiguous = _split_arc(start)[1] != "" or "->" in start or "→" in start
            lines.append(f"Arc: {start} ->" if ambiguous else f"Arc: {start}")
        if c.voice:
            lines.append(f"Voice: {_collapse(c.voice)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------- beats

_HEADER_RE = re.compile(
    r"(?:the\s+)?(?:act|part|sequence)\s+(?:\d{1,2}|one|two|three|four|five|six|[ivx]{1,4})\b"
    r"(?:\s*[:.—–-].{0,80})?",
    re.I,
)
_GENERIC_BEATS_RE = re.compile(
    r"(?:the\s+|story\s+|proposed\s+)?(?:beats|beat sheet|outline|index cards|cards)"
    r"(?:\s+for\s+(?:act|part)\s+\w{1,6})?",
    re.I,
)
_BRACKET_RE = re.compile(r"\[([^\[\]\n]{1,30})\]")
_PAREN_TAG_RE = re.compile(r"\(([^()\n]{1,20})\)\s*$")
_TAG_NOISE = {"plot", "plotline", "plotlines", "story", "storyline", "and", "line"}
_DASHES = (" — ", " – ", " -- ", " - ", "—", "–")


def _tag_labels(content: str, upper_only: bool) -> tuple[str, ...] | None:
    if upper_only and content != content.upper():
        return None
    tokens = []
    for tok in re.split(r"[\s,/&+;]+", content.strip()):
        low = tok.lower()
        for suffix in ("-plot", "-story"):
            if low.endswith(suffix):
                tok, low = tok[: -len(suffix)], low[: -len(suffix)]
        if not tok or low in _TAG_NOISE:
            continue
        if len(tok) > 4 or not tok.isalnum():
            return None
        tokens.append(tok.upper())
    return tuple(tokens) or None


def _take_tags(s: str) -> tuple[str, list[str]]:
    """Plotline tags removed from ``s``: (text, labels in order)."""
    labels: list[str] = []
    pieces, pos = [], 0
    for m in _BRACKET_RE.finditer(s):
        found = _tag_labels(m.group(1), upper_only=False)
        if found:
            labels.extend(found)
            pieces.append(s[pos : m.start()])
            pos = m.end()
    pieces.append(s[pos:])
    s = " ".join(p.strip() for p in pieces if p.strip())
    m = _PAREN_TAG_RE.search(s)
    if m:
        found = _tag_labels(m.group(1), upper_only=True)
        if found:
            labels.extend(found)
            s = s[: m.start()].rstrip()
    return s, labels


def _split_title(s: str) -> tuple[str, str, bool]:
    """(title, summary, whether a title separator was found)."""
    s = s.strip()
    if s.startswith("**"):
        j = s.find("**", 2)
        if j > 2:
            title = s[2:j].strip().rstrip(":").strip()
            rest = s[j + 2 :].strip().lstrip(":—–-.").strip()
            return _collapse(_unstar(title)), _collapse(_unstar(rest)), True
    s = _collapse(_unstar(s))
    i, sep = _first_sep(s, _DASHES)
    if i < 0:
        j = s.find(": ")
        if j < 0 and s.endswith(":"):
            j = len(s) - 1
        if 0 < j <= TITLE_MAX and len(s[:j].split()) <= 15:
            i, sep = j, ":"
    if i < 0:
        return s, "", False
    return s[:i].strip(), s[i + len(sep) :].strip(), True


def _is_beat_header(s: str, marked: bool) -> bool:
    core = _collapse(_unstar(s)).strip().rstrip(":").strip()
    if not core:
        return True
    if _GENERIC_BEATS_RE.fullmatch(core):
        return True
    if marked:
        return False
    return bool(_HEADER_RE.fullmatch(core)) or s.rstrip().endswith(":")


class _BeatBuilder:
    def __init__(self, title: str, summary: str, labels: list[str]):
        if not title:
            title, summary = summary, ""
        title, over = _split_cut(title.strip().rstrip(":").strip(), TITLE_MAX)
        self.title = title
        self.summary = [p for p in (over, summary) if p]
        self.labels: list[str] = []
        self.add_labels(labels)

    def add_labels(self, labels: Iterable[str]) -> None:
        for lab in labels:
            if lab not in self.labels:
                self.labels.append(lab)

    def add(self, text: str) -> None:
        text, labels = _take_tags(text)
        self.add_labels(labels)
        label = _label(_unstar(text).strip(), {"plotline": "p", "plotlines": "p", "plot": "p"})
        if label:
            self.add_labels(_tag_labels(label[1], upper_only=False) or ())
            return
        text = _collapse(_unstar(text))
        if text:
            self.summary.append(text)

    def build(self) -> ProposedBeat | None:
        summary = _cut(_collapse(" ".join(self.summary)), SUMMARY_MAX)
        if not self.title or not _has_letter(self.title + summary):
            return None
        return ProposedBeat(self.title, summary, tuple(self.labels))


def _beat_from(text: str) -> _BeatBuilder | None:
    text, labels = _take_tags(text)
    title, summary, _ = _split_title(text)
    if not _has_letter(title + summary):
        return None
    return _BeatBuilder(title, summary, labels)


def parse_beats(text: str, limit: int = 30) -> list[ProposedBeat]:
    """Proposed beats from a model's text (numbered/bulleted lists or blank-line blocks)."""
    if limit <= 0:
        return []
    rows = []  # (indent, marker kind, body, blank line before)
    blank = True
    for line in _prep(text).split("\n"):
        stripped = line.strip()
        if not stripped:
            blank = True
            continue
        kind, body = _leading(stripped)
        rows.append((len(line) - len(line.lstrip()), kind, body, blank))
        blank = False
    listed = any(k in ("num", "bullet", "beat") and _has_letter(b) for _, k, b, _ in rows)
    return (_beats_listed if listed else _beats_blocks)(rows, limit)


def _beats_listed(rows, limit: int) -> list[ProposedBeat]:
    builders: list[_BeatBuilder] = []
    current: _BeatBuilder | None = None
    cur_indent = 0
    for indent, kind, body, blank in rows:
        marked = kind in ("num", "bullet", "beat")
        if current is not None and indent > cur_indent:
            current.add(body)
            continue
        if _is_beat_header(body, marked) or not _has_letter(body):
            current = None if marked or blank else current
            continue
        if not marked:
            if current is not None and (not blank or indent > 0):
                current.add(body)
            continue
        if len(builders) >= limit:
            break
        current = _beat_from(body)
        cur_indent = indent
        if current is not None:
            builders.append(current)
    return [b for b in (x.build() for x in builders) if b][:limit]


def _beats_blocks(rows, limit: int) -> list[ProposedBeat]:
    blocks: list[list[str]] = []
    for _, _, body, blank in rows:
        if _is_beat_header(body, False) or not _has_letter(body):
            continue
        if blank or not blocks:
            blocks.append([])
        blocks[-1].append(body)
    # A model that wrote a scene instead: its speeches (a cue that comes back, then the
    # lines) and its headings are no cards; beats' titles never repeat.
    drop = _speech_blocks(blocks)
    blocks = [block for i, block in enumerate(blocks) if i not in drop]
    out: list[ProposedBeat] = []
    for block in blocks:
        splits = [_split_title(_take_tags(line)[0]) for line in block]
        each = len(block) > 1 and all(
            sep and summary and len(title.split()) <= 12 for title, summary, sep in splits
        )
        builders = []
        if each:
            builders = [_beat_from(line) for line in block]
        else:
            first = _beat_from(block[0])
            if first is not None:
                for line in block[1:]:
                    first.add(line)
            builders = [first]
        for b in builders:
            beat = b.build() if b is not None else None
            if beat is not None:
                out.append(beat)
                if len(out) >= limit:
                    return out
    return out


def format_beats(beats: Iterable[ProposedBeat]) -> str:
    """The canonical numbered beat list (``parse_beats`` reads it back)."""
    lines = []
    for n, b in enumerate(beats, 1):
        title, summary = _collapse(b.title), _collapse(b.summary)
        line = f"{n}. {title}"
        if summary:
            line += f" — {summary}"
        elif _split_title(title)[2]:
            line += " —"
        if b.plotlines:
            line += f" [{', '.join(b.plotlines)}]"
        lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------- prompts


def task_instruction(kind: str, act: int | None = None) -> str:
    """One sentence telling an instruction-following model what to write, and in what shape."""
    _check_kind(kind)
    if kind == "logline":
        return (
            "Write one logline for this story: one sentence, under 50 words, naming the "
            "protagonist, what they want and what stands in their way."
        )
    if kind == "characters":
        return (
            "Propose new characters for this story, not the ones already in the cast; for "
            "each, write NAME (role) on its own line, then a one-line description, then "
            "Want:, Need:, Flaw:, Arc: start -> end and Voice: lines, with a blank line "
            "between characters."
        )
    if kind == "beats":
        which = f"act {int(act)}" if act is not None else "this act"
        return (
            f"Propose the beats of {which} as a numbered list, one beat per line: "
            "N. Title — what happens, with its plotline labels in brackets, like [A] or [A, B]."
        )
    return (
        "Write this scene's brief: two to four sentences saying what happens in it, who "
        "wants what, and how the scene turns."
    )


_LEAD_INS = {"logline": "Logline:", "characters": "", "beats": "", "brief": "Brief:"}


def level_prompt_text(kind: str, context: str, act: int | None = None) -> str:
    """The plain-text prompt for a model that does not know the house control tokens."""
    _check_kind(kind)
    parts = [level_heading(kind, act), context or "", task_instruction(kind, act), _LEAD_INS[kind]]
    return "\n\n".join(parts)
