"""The story recipe: training examples whose every control field carries signal.

The first recipe concatenated scene documents into one token stream and trained on random
256-token windows of it. Most windows never saw their scene's heading, cast or synopsis,
the casts were always the same Shakespeare names, and the synopses were all "Play, Act n,
Scene m": the model learned to ignore them (0 % of its cues named a requested cast). This
recipe builds each training example from one scene so that the text depends on the
fields it is given, the way a writer's request does:

**Character slots.** A scene's named speakers become the tokens ``<|c1|>`` … ``<|c12|>``
(``tokenizer.SLOT_TOKENS``) everywhere they are written: the cast field, cues, and
mentions in dialogue and action (upper-case ``CLAIRE`` and title-case ``Claire`` forms;
lower-case ``claire``/``king`` stays a word). Slots are numbered by first cue in the scene
(``slot_order``); the cast field lists ``<|c1|>, <|c2|>, …``. A name is thus one token,
the same token in the cast field and on a cue line, and the model learns "the people of
this scene are c1..cn" instead of a list of Shakespeare names. Group and generic speakers
(``ALL``, ``BOTH``, ``FIRST LORD``, ``MESSENGER`` …, ``is_extra``) keep their names as
text: they are the walk-ons a scene may add. At inference the request's cast gets slots
by the same rule (names that already speak in the text continued first), the prompt is
slotted the same way (``format_prompt``), and the engine writes each slot back as its
name (upper case at the start of a line, as a cue; title case inside a line).

**A brief the text matches** (``derive_brief``): who speaks most, the scene's salient
content words, and how it ends — computed from the scene itself by a fixed rule — or the
synopsis a team wrote for its own scene. Mixed with no brief at all (25 %).

**Checkable instructions** (``instructions.py``), true of the text the example trains on,
appended to the brief on a new line as the app's prompt builder does: which characters
speak, about how many lines, a word that must appear, end on a transition (then the
example's scene ends with one). Half of the examples carry one.

**Context**: every example starts with its scene's fields, then the scene's text from an
element boundary (40 % from the start: "write the scene"; otherwise from a random
element: "continue"), as much as fits the block.

**Fill in the middle** (15 %, ``FIM_RATE``): a rewrite sees the text after its selection.
Token layout (the loss covers the text after ``<|text|>``)::

    <|heading|>H<|cast|>C<|synopsis|>S<|suffix|>AFTER<|text|>BEFORE MIDDLE<|end|>

so at inference, with the text before the selection as ``text_prefix`` and the text after
it as ``text_suffix``, the model writes a replacement and ends it where ``AFTER`` can
follow.

Everything here is plain Python over a ``ScriptTokenizer`` (no PyTorch), deterministic
given a ``random.Random``.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from generation.core import instructions
from generation.core.tokenizer import MAX_SLOTS, ScriptTokenizer
from scripts_app.formats import grammar

FIM_RATE = 0.15
FROM_START_RATE = 0.4
NO_BRIEF_RATE = 0.25
INSTRUCTION_RATE = 0.5
TRANSITIONS = ("CUT TO:", "DISSOLVE TO:", "SMASH CUT TO:", "MATCH CUT TO:")
# Synopses that say nothing about the scene (the bootstrap plays' "Hamlet, Act I, Scene 2.").
_EMPTY_SYNOPSIS_RE = re.compile(r"^.*, Act [IVXLC]+, Scene [IVXLC\d]+\.?$")

# Slot markers inside a Python string: U+E001 … U+E00C (private use) stand for <|c1|> …;
# ``encode_marked`` turns them into the slot tokens. User text never carries them: a
# private-use character of that range in a prompt becomes U+FFFD before slotting.
_MARK0 = 0xE000
_MARK_RE = re.compile(f"[{chr(_MARK0 + 1)}-{chr(_MARK0 + MAX_SLOTS)}]")

# Speakers that are not a scene's characters but walk-ons or groups: their cues stay text.
_ORDINAL = r"(?:FIRST|SECOND|THIRD|FOURTH|FIFTH|SIXTH|1ST|2ND|3RD|4TH|5TH|\d+)"
_EXTRA_WORDS = (
    "ALL|BOTH|SERVANT|SERVANTS|MESSENGER|LORD|LORDS|LADY|LADIES|SOLDIER|SOLDIERS|CITIZEN|"
    "CITIZENS|OFFICER|OFFICERS|GENTLEMAN|GENTLEMEN|GENTLEWOMAN|ATTENDANT|ATTENDANTS|HERALD|"
    "PAGE|PLAYER|PLAYERS|SAILOR|SAILORS|MURDERER|MURDERERS|WATCHMAN|WATCH|GUARD|GUARDS|BOY|"
    "MAN|WOMAN|OLD MAN|CAPTAIN|SENATOR|SENATORS|CONSPIRATORS|OUTLAW|OUTLAWS|FISHERMAN|"
    "MUSICIAN|MUSICIANS|PRIEST|DOCTOR|NURSE|PORTER|KEEPER|GAOLER|TRIBUNE|TRIBUNES|"
    "COMMONER|COMMONERS|FORESTER|SHEPHERD|HUNTSMAN|SERJEANT|SERGEANT|VINTNER|DRAWER|"
    "CHAMBERLAIN|CARRIER|POST|CHORUS|PROLOGUE|EPILOGUE|GHOST|APPARITION|WITCH|WITCHES|"
    "SPIRIT|SPIRITS|OTHERS|ANOTHER|SOME|MANY|VOICES|CROWD|PEOPLE|WAITER|WAITRESS|COP"
)
_EXTRA_RE = re.compile(rf"^(?:{_ORDINAL} )?(?:{_EXTRA_WORDS})$")


def is_extra(name: str) -> bool:
    """Whether a cue name is a walk-on or a group (``FIRST LORD``, ``ALL``), not a character."""
    return bool(_EXTRA_RE.match(" ".join(name.upper().split())))


def mark(k: int) -> str:
    """The in-string marker of slot ``k`` (1-based)."""
    return chr(_MARK0 + k)


def cue_names(text: str) -> list[str]:
    """The character cue names of ``text`` in order (upper case, extensions dropped)."""
    lines = text.split("\n")
    out = []
    for line, kind in zip(lines, grammar.classify_lines(lines), strict=True):
        if kind == grammar.CHARACTER and (cue := grammar.parse_cue(line)):
            out.append(" ".join(cue.name.upper().split()))
    return out


def slot_order(cast: Sequence[str], text_before: str = "") -> list[str]:
    """The cast in slot order: who already speaks in ``text_before`` (by first cue), then
    the rest as given; at most ``MAX_SLOTS``, blanks and repeats dropped."""
    by_key: dict[str, str] = {}
    for name in cast:
        key = " ".join(name.upper().split())
        if key and key not in by_key:
            by_key[key] = " ".join(name.split())
    first = [k for k in dict.fromkeys(cue_names(text_before)) if k in by_key] if text_before else []
    keys = first + [k for k in by_key if k not in first]
    return [by_key[k] for k in keys][:MAX_SLOTS]


class CastSlots:
    """Names in slot order, and the rewriting of a text's names into slot markers."""

    def __init__(self, names: Sequence[str]):
        self.names = [" ".join(n.split()) for n in names if n.strip()][:MAX_SLOTS]
        self._slot: dict[str, int] = {}
        for k, name in enumerate(self.names, 1):
            for form in (name, name.upper(), name.title()):
                self._slot.setdefault(form, k)
        forms = sorted(self._slot, key=len, reverse=True)
        self._re = (
            re.compile(r"(?<![\w'’])(" + "|".join(re.escape(f) for f in forms) + r")(?!\w)")
            if forms
            else None
        )

    def slotify(self, text: str) -> str:
        """``text`` with the cast's names (as written, upper or title case) as markers."""
        text = _MARK_RE.sub("\ufffd", text)
        if self._re is None:
            return text
        return self._re.sub(lambda m: mark(self._slot[m.group(1)]), text)

    def render(self, k: int, at_line_start: bool) -> str:
        """How slot ``k`` is written back: upper case as a cue, title case in a line."""
        name = self.names[k - 1]
        if at_line_start:
            return name.upper()
        return name.title() if name.isupper() else name


def encode_marked(tok: ScriptTokenizer, text: str) -> list[int]:
    """Token ids of a slotted text: each marker becomes its slot token."""
    ids: list[int] = []
    pos = 0
    for m in _MARK_RE.finditer(text):
        if m.start() > pos:
            ids += tok.encode(text[pos : m.start()])
        ids.append(tok.slot_ids[ord(m.group(0)) - _MARK0 - 1])
        pos = m.end()
    if pos < len(text):
        ids += tok.encode(text[pos:])
    return ids


def cast_field_ids(tok: ScriptTokenizer, n: int, extra: Sequence[str] = ()) -> list[int]:
    """``<|c1|>, <|c2|>, …`` for ``n`` slots (then any names beyond the slots, as text)."""
    sep = tok.encode(", ")
    ids: list[int] = []
    for k in range(n):
        ids += ([*sep] if ids else []) + [tok.slot_ids[k]]
    for name in extra:
        ids += ([*sep] if ids else []) + tok.encode(name)
    return ids


def strip_marks(text: str) -> str:
    """A slotted text without its markers (what the tokenizer is trained on)."""
    return _MARK_RE.sub("", text)


# --------------------------------------------------------------------------- briefs


def _title(name: str) -> str:
    return name.title() if name.isupper() else name


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def derive_brief(text: str, cast: Sequence[str] = ()) -> str:
    """A scene's brief derived from its text by a fixed rule (documented, tested).

    ``<who> talk about <w1>, <w2> and <w3>. <ending>`` where *who* is the (up to three)
    characters with the most speeches (``and others`` when more speak), the words are
    the scene's three most salient content words (``instructions.content_words``, names
    excluded), and the ending is the last action line when the scene ends on one (``It
    ends: …``, if short) or else ``<last speaker> has the last word.`` A scene with one
    speaker reads ``<who> alone, about …``; with none, ``About …``.
    """
    lines = text.split("\n")
    kinds = grammar.classify_lines(lines)
    speeches: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    last_kind, last_line, last_speaker = None, "", None
    for i, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind == grammar.CHARACTER and (cue := grammar.parse_cue(line)):
            name = " ".join(cue.name.upper().split())
            speeches[name] += 1
            first_seen.setdefault(name, i)
            last_speaker = name
        if kind != grammar.BLANK:
            last_kind, last_line = kind, line.strip()
    named = [n for n in speeches if not is_extra(n)] or list(speeches)
    named.sort(key=lambda n: (-speeches[n], first_seen[n]))
    display = {" ".join(c.upper().split()): c for c in cast}
    who = [_title(display.get(n, n)) for n in named[:3]]
    exclude = [*speeches, *cast, *(w for n in speeches for w in n.split())]
    words = instructions.content_words(text, exclude=exclude, k=3)
    about = _join(words)
    if len(who) >= 2:
        head = f"{_join(who)}{' and others' if len(named) > 3 else ''} talk"
        head += f" about {about}." if about else "."
    elif who:
        head = f"{who[0]} alone" + (f", about {about}." if about else ".")
    else:
        head = f"About {about}." if about else ""
    if last_kind == grammar.ACTION and 0 < len(last_line) <= 90:
        end = f"It ends: {last_line}"
    elif last_speaker:
        end = f"{_title(display.get(last_speaker, last_speaker))} has the last word."
    else:
        end = ""
    return " ".join(p for p in (head, end) if p)


# --------------------------------------------------------------------------- examples


@dataclass
class Element:
    """One Fountain element of a scene (a speech, an action paragraph, …)."""

    text: str  # real names, as written
    ids: list[int]  # slotted tokens, with its trailing blank line ("\n\n"; "\n" if last)
    nbytes: int  # UTF-8 bytes of the real text it stands for (bits/byte)
    speaker: str | None  # the cue name if it is a speech


@dataclass
class PreparedScene:
    """A corpus document, tokenized once for the story recipe."""

    heading_ids: list[int]
    slots: CastSlots
    elements: list[Element]
    brief: str  # derived, real names
    own_synopsis: str  # the document's synopsis when it says something, else ""
    weight: int = field(default=0)  # tokens: scenes are drawn in proportion


def prepare_scene(tok: ScriptTokenizer, doc: dict) -> PreparedScene | None:
    """Tokenize a corpus document for the story recipe (None if it has no text)."""
    text = doc["text"].replace("\r\n", "\n").strip("\n")
    if not text.strip():
        return None
    named = [n for n in dict.fromkeys(cue_names(text)) if not is_extra(n)]
    slots = CastSlots(named[:MAX_SLOTS])
    blocks = [b for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    elements = []
    for i, block in enumerate(blocks):
        tail = "\n" if i == len(blocks) - 1 else "\n\n"
        real = block.strip("\n") + tail
        names = cue_names(block)
        elements.append(
            Element(
                text=real,
                ids=encode_marked(tok, slots.slotify(real)),
                nbytes=len(real.encode("utf-8")),
                speaker=names[0] if names else None,
            )
        )
    synopsis = doc.get("synopsis", "").strip()
    own = "" if not synopsis or _EMPTY_SYNOPSIS_RE.match(synopsis) else synopsis
    scene = PreparedScene(
        heading_ids=tok.encode(doc.get("heading", "").strip()),
        slots=slots,
        elements=elements,
        brief=derive_brief(text, named),
        own_synopsis=own,
    )
    scene.weight = sum(len(e.ids) for e in elements)
    return scene


def header_ids(tok: ScriptTokenizer, scene: PreparedScene, synopsis: str) -> list[int]:
    """The scene's control fields: heading, cast slots, a slotted synopsis."""
    return [
        tok.heading_id,
        *scene.heading_ids,
        tok.cast_id,
        *cast_field_ids(tok, len(scene.slots.names)),
        tok.synopsis_id,
        *encode_marked(tok, scene.slots.slotify(synopsis)),
    ]


def _instruction(
    rng: random.Random, target: list[Element], ends: bool, fim: bool
) -> tuple[str, bool]:
    """A checkable instruction true of ``target`` (and whether to end on a transition)."""
    text = "".join(e.text for e in target)
    speakers = list(dict.fromkeys(e.speaker for e in target if e.speaker))
    kinds = []
    if speakers and sum(e.speaker is not None for e in target) >= 2:
        kinds.append("speakers")
    words = instructions.content_words(text, exclude=[w for s in speakers for w in s.split()])
    if words:
        kinds.append("word")
    if ends:
        kinds.append("lines")
        if not fim:
            kinds.append("transition")
    if not kinds:
        return "", False
    kind = rng.choice(kinds)
    if kind == "speakers":
        line = instructions.render("speakers", tuple(speakers))
    elif kind == "word":
        line = instructions.render("word", rng.choice(words[:5]))
    elif kind == "lines":
        n = sum(1 for ln in text.split("\n") if ln.strip())
        line = instructions.render("lines", max(1, n))
    else:
        line = instructions.render("transition", True)
    return (("Rewrite: " if fim else "") + line), kind == "transition"


def _transition_element(tok: ScriptTokenizer, rng: random.Random) -> Element:
    t = rng.choice(TRANSITIONS) + "\n"
    return Element(text=t, ids=tok.encode(t), nbytes=len(t), speaker=None)


def _take(elements: Sequence[Element], start: int, budget: int) -> int:
    """How many elements from ``start`` fit ``budget`` tokens (at least one)."""
    used, n = 0, 0
    for e in elements[start:]:
        if n and used + len(e.ids) > budget:
            break
        used += len(e.ids)
        n += 1
    return n


def make_example(
    tok: ScriptTokenizer, scene: PreparedScene, rng: random.Random, block_size: int
) -> tuple[list[int], list[int]]:
    """One training example: ``(ids, mask)``, at most ``block_size + 1`` tokens; ``mask``
    marks the targets (the text after ``<|text|>`` and ``<|end|>``)."""
    els = scene.elements
    r = rng.random()
    if r < NO_BRIEF_RATE:
        synopsis = ""
    elif scene.own_synopsis and r < NO_BRIEF_RATE + 0.3:
        synopsis = scene.own_synopsis
    else:
        synopsis = scene.brief
    with_instruction = rng.random() < INSTRUCTION_RATE
    head = header_ids(tok, scene, synopsis)
    room = block_size + 1 - len(head) - 2 - (24 if with_instruction else 0)
    fim = len(els) >= 4 and rng.random() < FIM_RATE and room > 64
    start = 0 if (fim or rng.random() < FROM_START_RATE) else rng.randrange(len(els))
    if fim:
        start = rng.randrange(len(els) - 3)
        n = _take(els, start, room - min(96, room // 4))
        if n >= 3:
            s = start + rng.randrange(1, n - 1)
            e = s + rng.randint(1, min(3, start + n - s))
            prefix, middle = els[start:s], els[s:e]
            after = [i for el in els[e : e + 3] for i in el.ids][: min(96, room // 4)]
            instr, _ = _instruction(rng, middle, True, True) if with_instruction else ("", False)
            if instr:
                head = header_ids(tok, scene, (synopsis + "\n" if synopsis else "") + instr)
            pre = [i for el in prefix for i in el.ids]
            mid = [i for el in middle for i in el.ids] + [tok.end_id]
            ids = [*head, tok.suffix_id, *after, tok.text_id, *pre, *mid]
            mask = [0] * (len(head) + len(after) + 2) + [1] * (len(pre) + len(mid))
            return ids[: block_size + 1], mask[: block_size + 1]
    n = _take(els, start, room)
    target = list(els[start : start + n])
    ends = start + n == len(els) and sum(len(e.ids) for e in target) <= room
    transition = False
    if with_instruction:
        instr, transition = _instruction(rng, target, ends, False)
        if instr:
            head = header_ids(tok, scene, (synopsis + "\n" if synopsis else "") + instr)
    if transition:
        last = target[-1]
        target[-1] = Element(last.text + "\n", last.ids + tok.encode("\n"), 0, last.speaker)
        target.append(_transition_element(tok, rng))
    body = [i for el in target for i in el.ids] + ([tok.end_id] if ends else [])
    ids = [*head, tok.text_id, *body]
    mask = [0] * (len(head) + 1) + [1] * len(body)
    return ids[: block_size + 1], mask[: block_size + 1]


def eval_sequences(
    tok: ScriptTokenizer, scenes: Sequence[PreparedScene], block_size: int
) -> list[tuple[list[int], list[int], int]]:
    """Held-out sequences for bits/byte: ``(ids, mask, bytes)``, each scene's text cut into
    consecutive windows after its heading and cast (no brief, no instruction), so every
    element is predicted once; ``bytes`` counts the real text the targets stand for."""
    out = []
    for scene in scenes:
        head = [*header_ids(tok, scene, ""), tok.text_id]
        room = block_size + 1 - len(head) - 1
        if room < 16:
            continue
        i = 0
        while i < len(scene.elements):
            n = _take(scene.elements, i, room)
            target = scene.elements[i : i + n]
            body = [t for el in target for t in el.ids]
            nbytes = sum(e.nbytes for e in target)
            if len(body) > room:  # one element longer than the room: its start only
                body = body[:room]
                nbytes = len(tok.decode(body).encode("utf-8"))
            elif i + n == len(scene.elements):
                body.append(tok.end_id)
            out.append(([*head, *body], [0] * len(head) + [1] * len(body), nbytes))
            i += n
    return out
