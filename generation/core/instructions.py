"""Checkable instructions: short sentences a draft can be asked to follow, and the checks.

A writer's instruction in the drafts panel is free text; a few sentences in it have a
fixed phrasing that training examples, ``bench/bench_story.py`` and the panel all share,
so whether a draft followed them can be measured:

==============  ==============================  ==========================================
kind            rendered                        the draft passes ``check`` when
==============  ==============================  ==========================================
``speakers``    ``Only CLAIRE and JUNE speak.`` the set of its character cue names equals
                                                the names asked (case-insensitive, cue
                                                extensions such as ``(V.O.)`` ignored) and
                                                it has at least one cue
``lines``       ``About 12 lines.``             its number of non-blank lines is within
                                                [0.5·n, 1.5·n]
``word``        ``Include the word "house".``   the word occurs (case-insensitive, whole
                                                word; a plural or possessive ``s``, ``es``,
                                                ``'s`` or ``s'`` is allowed)
``transition``  ``End on a transition.``        its last non-blank line is a transition by
                                                the Fountain grammar (``CUT TO:``,
                                                ``> FADE OUT.``)
==============  ==============================  ==========================================

``render`` writes the sentence (keep the phrasings exactly: models are trained on them),
``parse`` finds such sentences in free text (case-insensitive, tolerant of extra spaces,
of ``'``, ``"`` or curly quotes around the word or names, and of ``speak``/``speaks``),
``check`` measures a draft. ``content_words`` picks a text's salient words (derived
briefs, the ``word`` instruction's value).

Cues, transitions and the rest are read by the one Fountain grammar
(``scripts_app/formats/grammar.py``), as the editor and the importer read them. Standard
library and that module only: ``generation.core`` stays importable without Django.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from scripts_app.formats import grammar

__all__ = [
    "KINDS",
    "STOPWORDS",
    "check",
    "content_words",
    "cue_names",
    "instruction_text",
    "parse",
    "render",
]

KINDS = ("speakers", "lines", "word", "transition")

# Longest ``lines`` value ``parse`` accepts (a larger number is not a drafts instruction).
MAX_LINES = 10_000

# --------------------------------------------------------------------------- stopwords

# Words that say nothing of what a scene is about, lower case. ``content_words`` also
# drops every word shorter than four letters, so the short ones here only document the
# list. Four groups:
#   - English function words (articles, pronouns, auxiliaries, prepositions,
#     conjunctions, common adverbs), after the usual IR lists;
#   - very common verbs and fillers of dialogue (come, know, tell, well, yeah, ...);
#   - archaic and Early Modern forms (thou, thee, thy, thine, hath, doth, art, ay, o,
#     tis, 'twas, wilt, shalt, prithee, ere, hence, marry, ...), since the bootstrap
#     corpus is Shakespeare;
#   - forms of address and play-script words (sir, lord, madam, enter, exit, exeunt,
#     manet, aside, within).
_STOPWORD_TEXT = """
    a about above across after afterwards again against all almost alone along already
    also although always am among an and another any anybody anyone anything anyway
    anywhere are around as at away back be became because become been before behind
    being below beside besides between beyond both but by can cannot could did do does
    doing done down during each either else elsewhere enough even ever every everybody
    everyone everything everywhere except few for from further had has have having he
    her here hers herself him himself his how however i if in indeed into is it its
    itself just last least less many may me meanwhile might mine more moreover most
    mostly much must my myself neither never nevertheless next no nobody none noone nor
    not nothing now nowhere of off often on once one only onto or other others otherwise
    our ours ourselves out over own perhaps quite rather same several she should since
    so some somebody someone something sometime sometimes somewhere still such than that
    the their theirs them themselves then there thereby therefore these they this those
    though through throughout thus till to together too toward towards under unless
    until up upon us very via was we well were what whatever when whenever where
    whereas wherever whether which while who whoever whole whom whose why will with
    within without would yet you your yours yourself yourselves

    again ask asked away came come comes coming could did does get gets getting give
    given gives go goes going gone good got great just keep know knows knew let like
    look looks looked made make makes many maybe need needs okay ok put really said say
    says see seen seem seems shall sure take takes tell tells thing things think thought
    told tried try turn turns want wants way went yeah yes yep nope hey well oh ah uh um
    hmm right little much long new old first last still two three

    thou thee thy thine ye hath doth dost hast art ay aye o tis twas 'tis 'twas wilt
    shalt wouldst couldst shouldst canst didst hadst wast wert nay yea prithee pray
    thence hence whence hither thither whither ere oft anon alas methinks forsooth marry
    sirrah thereof therein hereafter herein whereof wherefore unto whilst betwixt
    amongst mayst mightst hadst art e'er ne'er o'er e'en 'gainst an't

    sir sirs madam lord lords lady ladies master mistress mister miss mrs mr enter
    enters exit exits exeunt manet aside within scene
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())

_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_QUOTES = "\"'“”‘’«»„`"
# A sentence opens at the start of a line or after . ! ? ; : — optionally behind quotes,
# brackets or a list bullet. Every instruction pattern starts there, so "the only thing
# Claire speaks of" is not an instruction.
_OPEN = rf"(?:^|(?<=[.!?;:]))[\s{_QUOTES}(\[*•\-]*"
_CLOSE = rf"[\s{_QUOTES})\]]*(?:[.!]|$)"
_WORD_VALUE = r"[^\W_][\w\-]*(?:['’]\w+)*"
_WORD_VALUE_RE = re.compile(_WORD_VALUE)
_PATTERNS = {
    "speakers": re.compile(
        _OPEN + r"only\s+(?P<names>[^!?\n;:]{1,300}?)\s+speaks?\b" + _CLOSE, re.I | re.M
    ),
    "lines": re.compile(_OPEN + r"about\s+(?P<n>\d{1,6})\s+lines?\b" + _CLOSE, re.I | re.M),
    "word": re.compile(
        _OPEN
        + rf"include\s+the\s+word\s*[{_QUOTES}]?\s*(?P<word>{_WORD_VALUE})"
        + rf"\s*[{_QUOTES}]?"
        + _CLOSE,
        re.I | re.M,
    ),
    "transition": re.compile(_OPEN + r"end\s+on\s+a\s+transition\b" + _CLOSE, re.I | re.M),
}
_NAME_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*", re.I)
_NAME_RE = re.compile(r"^[^\W\d_][\w .'’\-]*$")


# --------------------------------------------------------------------------- render


def _name(name: str) -> str:
    return " ".join(str(name).split()).upper()


def render(kind: str, value) -> str:
    """Return the instruction sentence for ``kind`` and ``value``.

    ``speakers``: names (upper-cased, spaces collapsed) -> ``Only A speaks.``,
    ``Only A and B speak.``, ``Only A, B and C speak.``; ``lines``: a positive int ->
    ``About 12 lines.``; ``word``: one word -> ``Include the word "house".``;
    ``transition``: True -> ``End on a transition.``. Anything else raises ValueError.
    """
    if kind == "speakers":
        if isinstance(value, str):
            value = (value,)
        names = [_name(n) for n in value]
        if not names or not all(names):
            raise ValueError("speakers: give at least one name")
        if len(names) == 1:
            return f"Only {names[0]} speaks."
        return f"Only {', '.join(names[:-1])} and {names[-1]} speak."
    if kind == "lines":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("lines: give a positive whole number")
        return f"About {value} lines."
    if kind == "word":
        word = str(value).strip()
        if not _WORD_VALUE_RE.fullmatch(word):
            raise ValueError("word: give one word (letters, digits, - and inner ')")
        return f'Include the word "{word}".'
    if kind == "transition":
        if value is not True:
            raise ValueError("transition: the only value is True")
        return "End on a transition."
    raise ValueError(f"unknown instruction kind {kind!r}")


# --------------------------------------------------------------------------- parse


def _names(raw: str) -> tuple[str, ...] | None:
    parts = [p.strip().strip(_QUOTES).strip() for p in _NAME_SPLIT.split(raw.strip())]
    if not parts or not all(parts) or not all(_NAME_RE.match(p) for p in parts):
        return None
    return tuple(_name(p) for p in parts)


def parse(text: str) -> list[tuple[str, object]]:
    """Return the checkable instructions found in ``text``, in the order they appear.

    Values: ``speakers`` a tuple of upper-case names, ``lines`` an int, ``word`` the word
    as written, ``transition`` True. Repeats of the same instruction are listed once.
    """
    if not isinstance(text, str) or not text:
        return []
    found: list[tuple[int, str, object]] = []
    for kind, regex in _PATTERNS.items():
        for m in regex.finditer(text):
            if kind == "speakers":
                value = _names(m["names"])
                if value is None:
                    continue
            elif kind == "lines":
                value = int(m["n"])
                if not 1 <= value <= MAX_LINES:
                    continue
            elif kind == "word":
                value = m["word"]
            else:
                value = True
            found.append((m.start(), kind, value))
    out: list[tuple[str, object]] = []
    for _, kind, value in sorted(found, key=lambda f: f[0]):
        if (kind, value) not in out:
            out.append((kind, value))
    return out


# --------------------------------------------------------------------------- check


def _kinds(text: str) -> tuple[list[str], list[str]]:
    lines = text.replace("\r\n", "\n").split("\n")
    return lines, grammar.classify_lines(lines, title_page=False)


def cue_names(text: str) -> list[str]:
    """Return the names of the character cues of ``text`` in order (upper case, spaces
    collapsed, extensions and the dual-dialogue ``^`` left out), by the Fountain grammar."""
    lines, kinds = _kinds(text)
    names = []
    for line, kind in zip(lines, kinds, strict=True):
        cue = grammar.parse_cue(line) if kind == grammar.CHARACTER else None
        if cue is not None and cue.name:
            names.append(_name(cue.name))
    return names


def _word_re(word: str) -> re.Pattern:
    w = re.escape(word.strip())
    return re.compile(rf"(?<![\w'’]){w}(?:['’]s|s['’]?|es)?(?![\w])", re.I)


def check(kind: str, value, draft_text: str) -> bool:
    """Return True if ``draft_text`` follows the instruction ``kind``/``value`` (module
    docstring for each rule). An unknown kind raises ValueError."""
    text = draft_text if isinstance(draft_text, str) else ""
    if kind == "speakers":
        asked = {_name(n) for n in ((value,) if isinstance(value, str) else value)}
        names = set(cue_names(text))
        return bool(names) and names == asked
    if kind == "lines":
        n = int(value)
        count = sum(1 for line in text.split("\n") if line.strip())
        return 0.5 * n <= count <= 1.5 * n
    if kind == "word":
        word = str(value).strip()
        return bool(word) and _word_re(word).search(text) is not None
    if kind == "transition":
        lines, kinds = _kinds(text)
        for line, k in zip(reversed(lines), reversed(kinds), strict=True):
            if line.strip():
                return k == grammar.TRANSITION
        return False
    raise ValueError(f"unknown instruction kind {kind!r}")


# --------------------------------------------------------------------------- content words


def content_words(text: str, exclude: Iterable[str] = (), k: int | None = None) -> list[str]:
    """Return the salient content words of ``text``, most salient first.

    Salience is frequency; ties go to the word seen first. Words are lower-cased, at
    least four letters long, not in ``STOPWORDS``; a possessive ``'s`` is dropped and other
    words with an apostrophe (``ne'er``, ``crown'd``) are skipped. Left out too: the
    words of every name in ``exclude`` (character names, case-insensitive) and of every
    character cue in the text, and cue lines and transitions themselves. ``k``: at most
    this many words.
    """
    if not isinstance(text, str) or not text:
        return []
    banned = set()
    for name in exclude:
        banned.update(w.lower() for w in _WORD_RE.findall(str(name)))
    lines, kinds = _kinds(text)
    for line, kind in zip(lines, kinds, strict=True):
        if kind == grammar.CHARACTER and (cue := grammar.parse_cue(line)) is not None:
            banned.update(w.lower() for w in _WORD_RE.findall(cue.name))
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for line, kind in zip(lines, kinds, strict=True):
        if kind in (grammar.CHARACTER, grammar.TRANSITION, grammar.BLANK):
            continue
        for raw in _WORD_RE.findall(line):
            word = raw.lower().replace("’", "'")
            if word.endswith("'s"):
                word = word[:-2]
            if "'" in word or len(word) < 4 or word in STOPWORDS or word in banned:
                continue
            counts[word] += 1
            first.setdefault(word, len(first))
    ranked = sorted(counts, key=lambda w: (-counts[w], first[w]))
    return ranked if k is None else ranked[: max(k, 0)]


def instruction_text(pairs: Sequence[tuple[str, object]]) -> str:
    """Render several instructions as one text, a sentence each, space-separated."""
    return " ".join(render(kind, value) for kind, value in pairs)
