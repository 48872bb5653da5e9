"""Adapting prose into a screenplay: quotations, speakers, cast, candidate scenes, Fountain.

Rules only, standard library only (no NLP models, no Django): the input is one chapter's
paragraphs in order, and every offset is ``(paragraph index, start, end)`` into them.

``find_quotes`` finds the spoken words:

* double quotes, straight ``"…"`` and curly ``“…”`` (nesting counted, so ``“a “b” c”`` is one
  quote), French guillemets ``«…»``;
* single-quote dialogue (``'…'``, ``‘…’``) when a text uses no double quotes for speech
  (British style). An opening mark must follow a space or the paragraph start and a closing
  one must not be followed by a letter, so ``don't``, ``o'clock`` and ``’tis`` never open or
  close a quote; a ``s'`` followed by a lower-case word (``the Bennets' house``) closes a
  quote only when no later closing mark exists in the paragraph. Inside double-quote
  dialogue, single quotes are nested quotations and stay part of the text;
* multi-paragraph quotes: a paragraph that leaves a quote open, followed by a paragraph that
  opens one, makes one ``Quote`` whose ``text`` joins the parts with a space; ``start``/``end``
  are the part in the first paragraph and ``parts`` lists every part;
* em-dash dialogue (a paragraph starting with ``—``, ``–`` or ``―``): the words up to the next
  dash are speech, the words up to the dash after that are the tag, and so on;
* unbalanced marks never raise: a stray closing mark is ignored, an open quote closes at the
  paragraph end unless the next paragraph continues it.

A quote interrupted by a tag (``“Yes,” said he, “I will.”``) gives two ``Quote`` rows, one per
span, both attributed to the speaker of the tag.

``attribute`` applies, in order: an explicit tag next to the quote (speech verb and name, or
name and verb, before or after, or a narrative paragraph ending ``said,--`` just before);
a pronoun tag (``said she``) resolved to the nearest preceding named character of that
gender outside quotes; the other quotes of the same paragraph (one speaker per paragraph
unless tags say otherwise); the paragraph's named subject (``Sir William only smiled.
“…”``, how ``"subject"``); the person the previous speaker addressed by name (how
``"vocative"``); alternation of the two last speakers (how ``"alternation"``); the nearest
named character in the narrative before the quote (how ``"nearest"``); else ``None``. A
quote never goes to a person it addresses by name.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from . import grammar

__all__ = [
    "Cast",
    "Quote",
    "SceneCut",
    "attribute",
    "breakdown",
    "find_cast",
    "find_quotes",
    "nearest_name_baseline",
    "paragraphs_from_text",
    "to_fountain",
]


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Quote:
    paragraph: int
    start: int
    end: int
    text: str
    speaker: str | None = None
    how: str = "none"
    # Every (paragraph, start, end) part of a multi-paragraph quote; empty for a one-part quote.
    parts: tuple[tuple[int, int, int], ...] = ()

    @property
    def spans(self) -> tuple[tuple[int, int, int], ...]:
        return self.parts or ((self.paragraph, self.start, self.end),)


@dataclass
class Cast:
    names: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    genders: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SceneCut:
    first: int
    last: int
    heading: str
    characters: tuple[str, ...]
    synopsis: str


def paragraphs_from_text(text: str) -> list[str]:
    """Paragraphs separated by blank lines; lines starting with ``#`` are comments."""
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    blocks = re.split(r"\n\s*\n", "\n".join(lines))
    return [" ".join(b.split()) for b in blocks if b.strip()]


# --------------------------------------------------------------------------- quotes

_DOUBLE_OPEN = "“«"
_DOUBLE_CLOSE = "”»"
_SINGLE_OPEN = "‘'"
_SINGLE_CLOSE = "’'"
_DASHES = "—–―"
_ELISIONS = re.compile(r"(?:tis|twas|twere|em|cause|bout|til|im|ere|ave|ow)\b", re.IGNORECASE)


def _uses_double(paragraphs: Sequence[str]) -> bool:
    doubles = sum(p.count('"') + p.count("“") + p.count("«") for p in paragraphs)
    singles = sum(len(re.findall(r"(?:^|[\s(\[—–])[‘'](?=\w)", p)) for p in paragraphs)
    return doubles > 0 or singles == 0


def _double_spans(p: str, depth0: int) -> tuple[list[list[int]], int]:
    """Spans [start, end] of top-level double quotes; end -1 = still open at the end."""
    spans: list[list[int]] = []
    depth = depth0
    if depth:
        spans.append([0, -1])
    for j, c in enumerate(p):
        if c in _DOUBLE_OPEN:
            if depth == 0:
                spans.append([j + 1, -1])
            depth += 1
        elif c in _DOUBLE_CLOSE:
            if depth > 0:
                depth -= 1
                if depth == 0:
                    spans[-1][1] = j
        elif c == '"':
            if depth == 0:
                spans.append([j + 1, -1])
                depth = 1
            else:
                depth -= 1
                if depth == 0:
                    spans[-1][1] = j
    return spans, depth


def _is_single_open(p: str, j: int) -> bool:
    prev = p[j - 1] if j else " "
    nxt = p[j + 1] if j + 1 < len(p) else " "
    if prev.strip() and prev not in "([—–-":
        return False
    if not nxt.strip():
        return False
    return not _ELISIONS.match(p, j + 1)


def _is_single_close(p: str, j: int) -> bool:
    prev = p[j - 1] if j else " "
    nxt = p[j + 1] if j + 1 < len(p) else " "
    return bool(prev.strip()) and not nxt.isalnum()


def _single_spans(p: str, open0: bool) -> tuple[list[list[int]], bool]:
    spans: list[list[int]] = []
    is_open = open0
    if is_open:
        spans.append([0, -1])
    j = 0
    while j < len(p):
        c = p[j]
        if not is_open and c in _SINGLE_OPEN and _is_single_open(p, j):
            spans.append([j + 1, -1])
            is_open = True
        elif is_open and c in _SINGLE_CLOSE and _is_single_close(p, j):
            possessive = (
                j > 0
                and p[j - 1] == "s"
                and re.match(r"\s+[a-z]", p[j + 1 :]) is not None
                and any(
                    _is_single_close(p, k) for k in range(j + 1, len(p)) if p[k] in _SINGLE_CLOSE
                )
            )
            if not possessive:
                spans[-1][1] = j
                is_open = False
        j += 1
    return spans, is_open


def _dash_spans(p: str) -> list[list[int]]:
    """Em-dash dialogue: speech, tag, speech, ... separated by dashes."""
    spans: list[list[int]] = []
    cuts = [m.start() for m in re.finditer(r"(?<=\s)[—–―]|[—–―](?=[\s.,;:])", p[1:])]
    cuts = [c + 1 for c in cuts]
    bounds = [0, *cuts, len(p)]
    for k in range(0, len(bounds) - 1, 2):
        a, b = bounds[k] + 1, bounds[k + 1]
        seg = p[a:b]
        lead = len(seg) - len(seg.lstrip(" .,;:"))
        trail = len(seg) - len(seg.rstrip())
        if seg.strip(" .,;:"):
            spans.append([a + lead, b - trail])
    return spans


_WORD_BEFORE = re.compile(r"(?:^|[\s(])([a-z][a-z'’-]*)\s*[“\"‘'«]\s*$")


def _is_mention(p: str, a: int, b: int) -> bool:
    """A quotation inside a sentence that names or marks words rather than speaks them:
    a title ("how “The Emperor's New Clothes” came into being"), a term, scare quotes
    ("it was “quite impossible” to go"). It follows a lower-case word that is no speech
    verb, with no comma or stop between, and is short, neither asks nor exclaims, and is
    not cut off."""
    inner = p[a:b].strip().rstrip(",.;:”\"’'» _")
    if not inner or len(inner.split()) > 8 or inner.endswith(("!", "?", "—", "–", "-", "…")):
        return False  # asked, exclaimed or cut off: spoken
    m = _WORD_BEFORE.search(p, max(0, a - 64), a)  # a window: linear in the paragraph
    return m is not None and m.end() == a and not _SPEECH_VERB.fullmatch(m.group(1))


def find_quotes(paragraphs: Sequence[str]) -> list[Quote]:
    """Every quotation in ``paragraphs``, in order, speaker ``None`` (a title or term in
    quotation marks inside a sentence is narration: ``_is_mention``)."""
    double = _uses_double(paragraphs)
    raw: list[tuple[int, int, int, bool]] = []  # paragraph, start, end, open-at-end
    for i, p in enumerate(paragraphs):
        if p[:1] in _DASHES and not any(c in p for c in _DOUBLE_OPEN + '"'):
            raw.extend((i, a, b, False) for a, b in _dash_spans(p))
            continue
        spans, _ = _double_spans(p, 0) if double else _single_spans(p, False)
        for a, b in spans:
            if b >= 0 and _is_mention(p, a, b):
                continue
            raw.append((i, a, len(p) if b < 0 else b, b < 0))
    quotes: list[Quote] = []
    k = 0
    while k < len(raw):
        i, a, b, is_open = raw[k]
        parts = [(i, a, b)]
        while is_open and k + 1 < len(raw):
            ni, na, nb, nopen = raw[k + 1]
            starts_quote = ni == parts[-1][0] + 1 and na == 1
            if not starts_quote:
                break
            parts.append((ni, na, nb))
            is_open = nopen
            k += 1
        trimmed = []
        for pi, pa, pb in parts:
            seg = paragraphs[pi][pa:pb]
            lead, trail = len(seg) - len(seg.lstrip()), len(seg) - len(seg.rstrip())
            if seg.strip():
                pa, pb = pa + lead, pb - trail
            trimmed.append((pi, pa, pb))
        parts = trimmed
        i, a, b = parts[0]
        text = " ".join(paragraphs[pi][pa:pb] for pi, pa, pb in parts)
        quotes.append(Quote(i, a, b, text, None, "none", tuple(parts) if len(parts) > 1 else ()))
        k += 1
    return quotes


# --------------------------------------------------------------------------- cast

_HONORIFIC_GENDER = {
    "Mr": "m", "Mrs": "f", "Miss": "f", "Ms": "f", "Mme": "f", "Mlle": "f", "Dr": "",
    "Lady": "f", "Sir": "m", "Lord": "m", "Captain": "m", "Colonel": "m", "Aunt": "f",
    "Uncle": "m", "Madame": "f", "Monsieur": "m", "Professor": "", "Major": "m",
    "General": "m", "Mademoiselle": "f", "Señor": "m", "Señora": "f", "Don": "m",
    "Doña": "f", "Herr": "m", "Frau": "f",
}  # fmt: skip
_TITLE_GENDER = {
    "King": "m", "Queen": "f", "Duchess": "f", "Duke": "m", "Prince": "m",
    "Princess": "f", "Countess": "f", "Count": "m", "Baron": "m", "Baroness": "f",
}  # fmt: skip
_MONTHS = set(
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
)
_STOP = (
    set(
        [
            "The",
            "A",
            "An",
            "And",
            "But",
            "Or",
            "Nor",
            "For",
            "So",
            "Yet",
            "If",
            "When",
            "Where",
            "Why",
            "How",
            "What",
            "Who",
            "Whom",
            "Which",
            "While",
            "Whose",
            "This",
            "That",
            "These",
            "Those",
            "There",
            "Here",
            "Then",
            "Now",
            "Thus",
            "Oh",
            "O",
            "Ah",
            "Alas",
            "Yes",
            "No",
            "Not",
            "Nay",
            "Ay",
            "Well",
            "Indeed",
            "I",
            "Me",
            "My",
            "Mine",
            "We",
            "Us",
            "Our",
            "You",
            "Your",
            "He",
            "Him",
            "His",
            "She",
            "Her",
            "It",
            "Its",
            "They",
            "Them",
            "Their",
            "Do",
            "Does",
            "Did",
            "Is",
            "Are",
            "Was",
            "Were",
            "Be",
            "Been",
            "Let",
            "Come",
            "Go",
            "Pray",
            "Dear",
            "Upon",
            "In",
            "On",
            "At",
            "As",
            "To",
            "Of",
            "By",
            "With",
            "From",
            "Into",
            "After",
            "Before",
            "Though",
            "Although",
            "Because",
            "Since",
            "Until",
            "Till",
            "Once",
            "Perhaps",
            "Only",
            "Even",
            "Just",
            "Still",
            "Very",
            "Such",
            "Some",
            "Any",
            "All",
            "Every",
            "Each",
            "Both",
            "Nothing",
            "Everything",
            "Everybody",
            "Nobody",
            "Somebody",
            "Anybody",
            "One",
            "Two",
            "Three",
            "Four",
            "Five",
            "Six",
            "Seven",
            "Eight",
            "Nine",
            "Ten",
            "Mr",
            "Mrs",
            "Miss",
            "Ms",
            "Sir",
            "Lady",
            "Lord",
            "Madam",
            "Ma'am",
            "Ma’am",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
            "God",
            "Heaven",
            "Heavens",
            "English",
            "French",
            "German",
            "Italian",
            "Spanish",
            "Scotch",
            "Irish",
            "Welsh",
            "Christmas",
            "Easter",
            "Michaelmas",
            "Candlemas",
            "Lammas",
            "Martinmas",
            "Whitsun",
            "Whitsuntide",
            "Midsummer",
            "Lent",
            "Chapter",
            "CHAPTER",
            "Book",
            "Part",
            "Volume",
            "Yours",
            "Sincerely",
            "Mamma",
            "Papa",
            "Mama",
            "Father",
            "Mother",
            "Sister",
            "Brother",
            "Aunt",
            "Uncle",
            "Majesty",
            "Highness",
            "Project",
            "Gutenberg",
            "Also",
            "Soon",
            "Never",
            "Ever",
            "Again",
            "Whether",
            "Later",
            "Afterwards",
            "Today",
            "Tomorrow",
            "Yesterday",
            "Tonight",
            "Next",
            "Last",
            "First",
            "Later",
            "Still",
            "Quite",
            "Rather",
            "Certainly",
            "Besides",
            "However",
            "Meanwhile",
            "Presently",
            "Suddenly",
            "Twinkle",
            "Off",
            "Hush",
            "Nonsense",
            "Idiot",
            "Tut",
            "Exactly",
            "Treacle",
            "Nor",
            "Right",
            "Very",
            "Thinking",
            "Impossible",
            "Design",
        ]
    )
    | _MONTHS
)
_PLACE_WORDS = set(
    [
        "Park",
        "House",
        "Lodge",
        "Hall",
        "Street",
        "Road",
        "Square",
        "Lane",
        "Abbey",
        "Castle",
        "Court",
        "Place",
        "Inn",
        "Church",
        "Manor",
    ]
)
_HONORIFICS = (
    r"(?:Mr|Mrs|Ms|Dr|Mme|Mlle|St)\.?|(?:Miss|Lady|Sir|Lord|Captain|Colonel|Aunt|Uncle|"
    r"Madame|Monsieur|Professor|Major|General|Mademoiselle|Señor|Señora|Don|Doña|Herr|Frau)"
)
_NAME_RE = re.compile(
    r"\b(?:(?P<hon>Mr|Mrs|Ms|Dr|Mme|Mlle|St)\.?|(?P<hon2>Miss|Lady|Sir|Lord|Captain|Colonel|"
    r"Aunt|Uncle|Madame|Monsieur|Professor|Major|General|Mademoiselle|Señor|Señora|Don|Doña|"
    r"Herr|Frau))\s+(?P<hname>[A-Z][\w’']*(?:\s+[A-Z][\w’']+)?)"
    # A run of capitalised words stops before an honorific with its name ("Later Mrs.
    # Grey": "Later", then "Mrs. Grey").
    rf"|\b(?P<plain>[A-Z][a-zà-ÿ’']+(?:-[A-Za-zà-ÿ]+)*(?:\s+(?!(?:{_HONORIFICS})\s+[A-Z])"
    r"[A-Z][a-zà-ÿ’']+(?:-[A-Za-zà-ÿ]+)*)*)"
)
_PLACE_PREP = {"at", "in", "from", "into", "near", "towards", "toward", "through"}
# Weaker evidence of a place: people are also talked "to" and thought "of". Each counts
# half, and only for a name seen three times or more ("went to Meryton", "of Longbourn").
_WEAK_PLACE_PREP = {"to", "of"}


# Evidence, per mention, that a name is a person: a speech tag ("said Kitty", "Charlotte
# replied"), an address inside a quotation ("Now, Kitty, you may…", "Poor Eliza!"), a
# verb only people do right after it in the narration ("Mary wished", "Elizabeth felt").
_HUMAN_VERBS = (
    "looked|smiled|laughed|felt|thought|wished|knew|listened|turned|walked|danced|"
    "answered|heard|saw|wondered|hoped|liked|loved|hated|married|spoke|sat|stood|rose|"
    "nodded|frowned|sighed|smiled|wept|cried|blushed|was disconcerted|could not|would not|"
    "did not|had never|went|came|ran|took|gave|told|asked|said|replied|observed|began"
)
_PERSON_AFTER = re.compile(
    rf"[’']?s?,?[”\"]?\s*(?:{'|'.join(sorted(set(_HUMAN_VERBS.split('|'))))})\b"
)
_VOCATIVE_BEFORE = re.compile(r"(?:[“\"‘]|,\s|\b(?:[Dd]ear|[Dd]earest|[Pp]oor|[Mm]y)\s)$")
_VOCATIVE_AFTER = re.compile(r"[,!?]\s*[A-Za-z_“‘]")
# Evidence that it is a place or a thing: "the village of Longbourn", "the north of
# England", "the Knave of Hearts" (a noun, then "of"; not "the sister of Jane": people
# are named after their relations), "Longbourn, the village where…".
_RELATION_NOUNS = frozenset(
    [
        "sister",
        "brother",
        "daughter",
        "son",
        "wife",
        "husband",
        "mother",
        "father",
        "cousin",
        "aunt",
        "uncle",
        "niece",
        "nephew",
        "friend",
        "servant",
        "maid",
        "master",
        "mistress",
        "widow",
        "child",
        "children",
        "family",
        "favourite",
        "partner",
        "companion",
        "lover",
        "heir",
        "guest",
        "neighbour",
        "cook",
        "nurse",
    ]
)
_NOUN_OF_BEFORE = re.compile(
    r"\b(?:[Tt]he|[Aa]n?|[Tt]his|[Tt]hat|[Ii]ts)\s+(?:[a-z]+\s+)?([A-Za-z]+)\s+of\s+$"
)
_APPOSITION_AFTER = re.compile(
    r",\s+(?:the|a|an)\s+(?:[a-z]+\s+)?(?:village|town|city|county|country|parish|"
    r"estate|house|hall|park|river|street|road|inn|island|kingdom|shire|place)\b"
)


def _person_evidence(before: str, after: str, quoted: bool) -> bool:
    if quoted:
        return bool(_VOCATIVE_BEFORE.search(before) and _VOCATIVE_AFTER.match(after))
    return bool(_PERSON_AFTER.match(after) or _TAG_BEFORE.search(before))


def _thing_evidence(before: str, after: str) -> bool:
    m = _NOUN_OF_BEFORE.search(before)
    if m and m.group(1).lower() not in _RELATION_NOUNS:
        return True
    return bool(_APPOSITION_AFTER.match(after))


def _strip_possessive(name: str) -> str:
    return re.sub(r"[’']s?$", "", name)


def _sentence_start(p: str, j: int) -> bool:
    if j > 0 and p[j - 1] in "—–":
        return True  # "…without—Maybe it's": an interrupted sentence starts again
    k = j - 1
    while k >= 0 and p[k] in " _(“\"‘'«—–-":
        if p[k] in "“\"‘'«":
            return True
        k -= 1
    return k < 0 or p[k] in ".!?:"


class _Mention(NamedTuple):
    name: str  # as written
    gender: str  # a hint from an honorific
    start: bool  # first word of a sentence
    prev: str  # the word before, lower case
    person: bool  # a speech tag, an address or a human verb at this mention
    thing: bool  # "the village of X", "X, the town…" at this mention


def _raw_names(paragraphs: Sequence[str]):
    """A ``_Mention`` for each capitalised name in the paragraphs."""
    for p in paragraphs:
        if _is_marker(p):
            continue
        masked = None
        for m in _NAME_RE.finditer(p):
            before = p[max(0, m.start() - 48) : m.start()]
            prev_words = before.split()
            prev = prev_words[-1].lower().strip("“”\"'‘’(,") if prev_words else ""
            after = p[m.end() : m.end() + 48]
            if masked is None:
                masked = _mask_quotes_simple(p) if "“" in p or '"' in p else p
            quoted = masked[m.start()] == " "
            person = _person_evidence(before, after, quoted)
            thing = not quoted and _thing_evidence(before, after)
            if m.group("hname"):
                hon = m.group("hon") or m.group("hon2")
                words = [_strip_possessive(w) for w in m.group("hname").split()]
                words = [w for w in words if w and w not in _STOP]
                if not words:
                    continue
                dot = "." if m.group("hon") else ""
                gender = _HONORIFIC_GENDER.get(hon, "")
                yield _Mention(f"{hon}{dot} {' '.join(words)}", gender, False, prev, person, thing)
            else:
                if m.start() and p[m.start() - 1] == "’":
                    continue  # an elision: "’Tis", "’Twas"
                words = [_strip_possessive(w) for w in m.group("plain").split()]
                start = _sentence_start(p, m.start())
                if re.match(r"I[’']\w+$", words[0]):
                    continue
                while words and words[0] in _STOP and not (words[0] in _MONTHS and len(words) > 1):
                    words.pop(0)
                    start = False
                words = [w for w in words if w]
                if not words or any(w in _STOP for w in words[1:]):
                    # "Lady" etc. inside a sequence: keep the longest clean prefix.
                    clean = []
                    for w in words:
                        if w in _STOP:
                            break
                        clean.append(w)
                    words = clean
                if not words:
                    continue
                if words[-1] in _PLACE_WORDS or words[-1].endswith("ish"):
                    continue
                yield _Mention(" ".join(words), "", start, prev, person, thing)


def find_cast(paragraphs: Sequence[str], *, known: Mapping[str, str] | None = None) -> Cast:
    known = dict(known or {})
    mid: Counter[str] = Counter()
    total: Counter[str] = Counter()
    place_like: Counter[str] = Counter()
    weak_place: Counter[str] = Counter()
    person_like: Counter[str] = Counter()
    gender_hint: dict[str, str] = {}
    for name, g, start, prev, person, thing in _raw_names(paragraphs):
        total[name] += 1
        if not start:
            mid[name] += 1
        if prev in _PLACE_PREP or thing:
            place_like[name] += 1
        elif prev in _WEAK_PLACE_PREP:
            weak_place[name] += 1
        if person:
            person_like[name] += 1
        if g:
            gender_hint[name] = g
    surnames = {name.split()[-1] for name in total if len(name.split()) > 1}
    found = []
    for name, n in total.items():
        if name.endswith("s") and (
            name[:-1] in total or name[:-2] in total or name[:-1] in surnames
        ):
            continue  # a plural: "the Miss Bennets", "Kings", "the Hursts"
        honorific = name.split()[0].rstrip(".") in _HONORIFIC_GENDER
        if name in known:
            found.append(name)
            continue
        if not honorific and mid[name] == 0 and n < 6:
            continue  # only ever first in a sentence: "Take", "Maybe", not a name
        place = place_like[name] + (weak_place[name] / 2 if n >= 3 else 0)
        if not honorific and place * 2 > n:
            continue
        if not honorific and not person_like[name] and place_like[name] and place * 3 >= n:
            continue  # never a person in the text, a place or a thing a third of the time
        found.append(name)
    # Merge aliases into groups -> canonical.
    names: dict[str, str] = {}
    for alias, canon in known.items():
        names[alias] = canon
    by_surname: dict[str, list[str]] = {}
    for name in found:
        parts = name.split()
        if parts[0].rstrip(".") in _HONORIFIC_GENDER:
            by_surname.setdefault(parts[-1], []).append(name)
    found_set = set(found)
    for name in sorted(found, key=lambda n: (-len(n.split()), n)):
        if name in names:
            continue
        parts = name.split()
        if parts[0].rstrip(".") in _HONORIFIC_GENDER:
            hon = parts[0].rstrip(".")
            bare = parts[-1]
            if len(parts) == 3 and " ".join(parts[:2]) in names:  # Sir William Lucas
                names[name] = names[" ".join(parts[:2])]
            elif (
                hon == "Mr"
                and len(parts) == 2
                and bare not in known
                and len(by_surname.get(bare, [])) == 1
            ):
                names[name] = bare.upper()
            elif len(parts) == 2 and bare in known and known[bare].upper() == bare.upper():
                names[name] = known[bare]
            else:
                names[name] = name.upper()
            continue
        if len(parts) > 1 and parts[0] in names and parts[0] in found_set:
            names[name] = names[parts[0]]  # Elizabeth Bennet -> Elizabeth
            continue
        if len(parts) > 1 and parts[0] in found_set and parts[0] not in names:
            names[parts[0]] = parts[0].upper()
            names[name] = parts[0].upper()
            continue
        variants = by_surname.get(name, [])
        if len(parts) == 1 and variants:
            mr = [v for v in variants if v.startswith("Mr.")]
            target = mr[0] if mr else (variants[0] if len(variants) == 1 else None)
            if target:
                names[name] = names.get(target) or name.upper()
                if target not in names:
                    names[target] = names[name]
                continue
        names[name] = name.upper()
    # Counts.
    counts: Counter[str] = Counter()
    alias_re = _alias_regex(names)
    if alias_re is not None:
        for p in paragraphs:
            for m in alias_re.finditer(p):
                counts[names[m.group(0)]] += 1
    # Genders: honorifics and titles, then pronouns after the name.
    genders: dict[str, str] = {}
    votes: dict[str, Counter[str]] = {}
    for alias, canon in names.items():
        first = alias.split()[0].rstrip(".")
        g = _HONORIFIC_GENDER.get(first) or _TITLE_GENDER.get(alias.split()[-1]) or ""
        g = g or gender_hint.get(alias, "")
        if not g:
            cfirst = canon.split()[0].rstrip(".").title()
            g = _HONORIFIC_GENDER.get(cfirst) or _TITLE_GENDER.get(canon.split()[-1].title(), "")
        if g:
            votes.setdefault(canon, Counter())[g] += 5
    if alias_re is not None:
        for p in paragraphs:
            narrative = _mask_quotes_simple(p)
            for m in alias_re.finditer(narrative):
                rest = narrative[m.end() : m.end() + 80]
                if alias_re.search(rest[:40]):
                    continue
                pm = re.search(r"\b(he|him|his|himself|she|her|hers|herself)\b", rest)
                if pm:
                    g = "m" if pm.group(1).startswith("h") and pm.group(1) != "her" else "f"
                    if pm.group(1) in ("her", "hers", "herself"):
                        g = "f"
                    votes.setdefault(names[m.group(0)], Counter())[g] += 1
    for canon, v in votes.items():
        (g, n), *rest = v.most_common()
        if not rest or n > rest[0][1]:
            genders[canon] = g
    return Cast(names=names, counts=dict(counts), genders=genders)


def _alias_regex(names: Mapping[str, str]) -> re.Pattern[str] | None:
    if not names:
        return None
    alts = sorted(names, key=len, reverse=True)
    return re.compile(r"(?<![\w’'])(?:" + "|".join(re.escape(a) for a in alts) + r")(?![\w])")


def _mask_quotes_simple(p: str) -> str:
    """``p`` with the inside of double quotes blanked (same length)."""
    spans, _ = _double_spans(p, 0)
    chars = list(p)
    for a, b in spans:
        for k in range(a, len(p) if b < 0 else b):
            chars[k] = " "
    return "".join(chars)


# --------------------------------------------------------------------------- attribution

_VERBS = (
    "said|says|replied|replies|cried|asked|answered|returned|continued|observed|added|"
    "exclaimed|whispered|shouted|called|began|beginning|rejoined|resumed|inquired|enquired|"
    "remarked|repeated|muttered|murmured|sighed|grumbled|interrupted|pleaded|screamed|roared|"
    "thought|explained|declared|demanded|retorted|protested|urged|begged|laughed|sobbed|"
    "snapped|growled|stammered|faltered|ventured|mused|suggested|insisted|agreed|admitted|"
    "persisted|responded|echoed|sang|went on|cried out|called out|shrieked|bawled|addressed|"
    "dit|répondit|demanda|s'écria|s’écria|reprit|ajouta|dijo|respondió|preguntó|exclamó"
)
_TAG_BEFORE = re.compile(rf"\b(?:{_VERBS})\s+(?:the\s+)?$")  # "said Kitty": _person_evidence
# A verb that leads into speech without a comma ("cried “Help!”"): ``_is_mention``.
_SPEECH_VERB = re.compile(
    rf"(?:{'|'.join(v for v in _VERBS.split('|') if ' ' not in v)})|"
    r"says?|saying|cry|cries|ask|asks|answer|shout|whisper|call|calls|begun|sing|singing"
)
# Verbs that also take an object ("called the Queen") count only before their subject.
_VN_VERBS = _VERBS.replace("called|", "").replace("addressed|", "")
# "said his wife": a pronoun of sorts, resolved through the spouse's name (Mr. Bennet's
# wife is Mrs. Bennet, when the book names her somewhere).
_SPOUSE = {"his wife": ("f", "MR.", "MRS."), "his lady": ("f", "MR.", "MRS."),
           "her husband": ("m", "MRS.", "MR.")}  # fmt: skip
_PRON = r"his\s+wife|his\s+lady|her\s+husband|he|she|it|they|I"
_PRON_GENDER = {"he": "m", "she": "f", "it": "", "they": "plural", "I": "narrator"}
_PRON_GENDER.update({phrase: g for phrase, (g, _of, _is) in _SPOUSE.items()})


def _pronoun(text: str) -> str:
    return " ".join(text.split())


@dataclass
class _Ctx:
    paragraphs: Sequence[str]
    names: dict[str, str]
    genders: dict[str, str]
    alias_re: re.Pattern[str] | None
    tag_after: re.Pattern[str] | None
    tag_name_verb: re.Pattern[str] | None
    tag_verb_name: re.Pattern[str] | None
    masked: list[str]
    # narrative mentions: (global position, canonical)
    mention_pos: list[int]
    mention_who: list[str]
    offsets: list[int]


def _build_ctx(paragraphs: Sequence[str], cast: Cast, quotes: Sequence[Quote]) -> _Ctx:
    names = dict(cast.names)
    alias_re = _alias_regex(names)
    tag_after = tag_nv = tag_vn = None
    if names:
        alts = "|".join(re.escape(a) for a in sorted(names, key=len, reverse=True))

        def who(sfx: str) -> str:
            return rf"(?:(?:[Tt]he\s+)?(?P<name{sfx}>{alts})(?![\w])|(?P<pron{sfx}>{_PRON})\b)"

        aux = r"(?:(?:was|had|then|only|also|at\s+last|\w+ly|,)\s+){0,3}"
        verb = rf"(?:{_VERBS})\b"
        vn_verb = rf"(?:{_VN_VERBS}|accosted\s+by|addressed\s+by)\b"
        tag_after = re.compile(
            rf"^[\s,;:!?.—–\-)»”\"’']*(?:{vn_verb}\s+{who('1')}|{who('2')}\s+{aux}{verb})",
            re.UNICODE,
        )
        tag_nv = re.compile(rf"{who('')}\s+{aux}[^.;!?]*?\b{verb}", re.UNICODE)
        tag_vn = re.compile(rf"\b{vn_verb}\s+{who('')}", re.UNICODE)
    else:
        verb = rf"(?:{_VERBS})\b"
        tag_after = re.compile(
            rf"^[\s,;:!?.—–\-)»”\"’']*(?:{verb}\s+(?P<pron1>{_PRON})\b|(?P<pron2>{_PRON})\s+{verb})",
            re.UNICODE,
        )
    masked = [list(p) for p in paragraphs]
    for q in quotes:
        for pi, a, b in q.spans:
            for k in range(a, b):
                masked[pi][k] = " "
    masked_s = ["".join(m) for m in masked]
    offsets, pos = [], 0
    for p in paragraphs:
        offsets.append(pos)
        pos += len(p) + 1
    mpos: list[int] = []
    mwho: list[str] = []
    if alias_re is not None:
        for i, mp in enumerate(masked_s):
            found = [(m.start(), m.end(), names[m.group(0)]) for m in alias_re.finditer(mp)]
            found += _former_latter(mp, found)
            for start, _end, who in sorted(found):
                mpos.append(offsets[i] + start)
                mwho.append(who)
    return _Ctx(
        paragraphs, names, dict(cast.genders), alias_re, tag_after, tag_nv, tag_vn,
        masked_s, mpos, mwho, offsets,
    )  # fmt: skip


_FORMER_LATTER = re.compile(r"\b[Tt]he\s+(former|latter)\b")
_PAIR_JOIN = re.compile(r"\s*(?:,\s*)?and\s+(?:[Tt]he\s+)?")


def _former_latter(text: str, found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Mentions for "the former" / "the latter": the first / second name of the last pair
    "X and Y" before it in the paragraph ("When Jane and Elizabeth were alone, the former,
    who…": a later "said she" is Jane's)."""
    out = []
    for m in _FORMER_LATTER.finditer(text):
        pair = None
        for (_a0, a1, first), (b0, _b1, second) in zip(found, found[1:], strict=False):
            if b0 >= m.start():
                break
            if first != second and _PAIR_JOIN.fullmatch(text[a1:b0]):
                pair = (first, second)
        if pair:
            out.append((m.start(), m.end(), pair[0] if m.group(1) == "former" else pair[1]))
    return out


def _who(ctx: _Ctx, m: re.Match[str]) -> tuple[str | None, str | None]:
    """(canonical, pronoun) from a tag match."""
    gd = m.groupdict()
    for key, val in gd.items():
        if val and key.startswith("name"):
            return ctx.names.get(val), None
    for key, val in gd.items():
        if val and key.startswith("pron"):
            return None, val
    return None, None


def _nearest(ctx: _Ctx, pos: int, gender: str | None, exclude: set[str], window: int = 4000):
    return _nearest_at(ctx, pos, gender, exclude, window)[0]


def _nearest_at(
    ctx: _Ctx, pos: int, gender: str | None, exclude: set[str], window: int = 4000
) -> tuple[str | None, int]:
    """The nearest narrative mention before ``pos`` of that gender, and where it is."""
    k = bisect.bisect_left(ctx.mention_pos, pos) - 1
    fallback = (None, -1)
    while k >= 0 and pos - ctx.mention_pos[k] <= window:
        who, at = ctx.mention_who[k], ctx.mention_pos[k]
        k -= 1
        if who in exclude:
            continue
        g = ctx.genders.get(who, "")
        if gender in (None, "") or g == gender:
            return who, at
        if not g and fallback[0] is None:
            fallback = (who, at)
    return fallback


def _subject(ctx: _Ctx, pi: int, before: int) -> str | None:
    """The name a paragraph's narrative opens with, when it opens before ``before``."""
    if ctx.alias_re is None or before <= 1:
        return None
    lead = ctx.masked[pi][:before]
    body = lead.lstrip(" (")
    body = re.sub(r"^(?:[Tt]he|[Pp]oor|[Oo]ld|[Yy]oung)\s+", "", body)
    m = ctx.alias_re.match(body)
    return ctx.names[m.group(0)] if m else None


_CALLING = {"come", "oh", "o", "dear", "dearest", "well", "now", "pray", "hush", "look",
            "listen", "ah", "yes", "no", "nay", "goodbye", "farewell", "thanks", "hello", "hey",
            "wait", "stop", "quick"}  # fmt: skip


def _addressees(ctx: _Ctx, text: str) -> set[str]:
    """Names used as vocatives: at the start or end of a clause inside the quote."""
    out: set[str] = set()
    if ctx.alias_re is None:
        return out
    rest = re.findall(r"[^\W\d_]+", ctx.alias_re.sub("", text))
    # A name alone ("Bingley.") answers a question; "Come, Darcy," calls him.
    if not rest or (len(rest) == 1 and rest[0].lower() not in _CALLING):
        return out
    for m in ctx.alias_re.finditer(text):
        before = text[: m.start()].rstrip()
        after = text[m.end() :].lstrip()
        lead = re.sub(
            r"(?:my\s+)?(?:dear(?:est)?|poor|oh|o|well|now|come)[\s,]*$", "", before, flags=re.I
        )
        at_start = not lead.strip() or lead.rstrip()[-1:] in ",.!?;:—–-"
        at_end = not after or after[0] in ",.!?;:—–-"
        if at_start and at_end:
            out.add(ctx.names[m.group(0)])
    return out


def _explicit(ctx: _Ctx, quotes: Sequence[Quote], k: int):
    """(speaker, pronoun, found) from a tag right after or right before quote ``k``."""
    q = quotes[k]
    p = ctx.paragraphs[q.paragraph]
    plain = p.replace("_", " ")
    lp, _la, lb = q.spans[-1]
    last_plain = ctx.paragraphs[lp].replace("_", " ")
    nxt = quotes[k + 1] if k + 1 < len(quotes) else None
    after_stop = nxt.start - 1 if nxt and nxt.paragraph == lp else len(last_plain)
    gap = last_plain[lb:after_stop]
    m = ctx.tag_after.match(gap) if ctx.tag_after else None
    if m:
        name, pron = _who(ctx, m)
        return name, pron, True
    walk_on = _WALK_ON.match(gap)
    if walk_on and walk_on.group(1).split()[-1] not in _NOT_SPEAKERS:
        return walk_on.group(1).upper(), None, True
    # Before: the last clause of the gap before this quote.
    prv = quotes[k - 1] if k else None
    before_start = prv.end + 1 if prv and prv.paragraph == q.paragraph and not prv.parts else 0
    gap = plain[before_start : max(before_start, q.start - 1)]
    found = _tag_in_clause(ctx, gap)
    if found:
        return found
    if before_start == 0 and q.start <= 1 and q.paragraph > 0:
        # A narrative paragraph ending "said,--" or "began:--" introduces this quote.
        prevp = ctx.paragraphs[q.paragraph - 1].replace("_", " ")
        if re.search(r"[,:;]?\s*(?:--|—|:)\s*$", prevp) and not any(c in prevp for c in '“”"'):
            found = _tag_in_clause(ctx, prevp, subject_fallback=True)
            if found:
                return found
    return None, None, False


# A speaker the book never names, right after the quotation: "…," said the landlord. /
# "…," replied an old woman, … — the cue is the noun ("LANDLORD", "OLD WOMAN").
_WALK_ON = re.compile(
    rf"^[\s,;:!?.—–\-)»”\"’']*(?:{_VN_VERBS})\s+(?:the|a|an)\s+([a-z]+(?:[ -][a-z]+){{0,2}})"
    r"\s*(?=[,.;!?—–]|$)"
)
_NOT_SPEAKERS = frozenset(
    [
        "words",
        "word",
        "same",
        "thing",
        "things",
        "other",
        "last",
        "first",
        "more",
        "rest",
        "question",
        "answer",
        "truth",
        "way",
        "time",
        "day",
        "night",
        "again",
        "too",
        "once",
    ]
)


def _tag_in_clause(ctx: _Ctx, gap: str, subject_fallback: bool = False):
    stripped = gap.rstrip()
    if not stripped or stripped[-1] in ".!?" and not stripped.endswith("--"):
        return None
    clause = re.split(r"(?<=[.!?;])\s+", stripped)[-1]
    if ctx.tag_verb_name is not None:
        found = list(ctx.tag_verb_name.finditer(clause))
        m = found[-1] if found else None
        if m:
            name, pron = _who(ctx, m)
            return name, pron, True
    if ctx.tag_name_verb is not None:
        found = list(ctx.tag_name_verb.finditer(clause))
        m = found[-1] if found else None
        if m:
            # nearest name/pronoun before the verb
            vm = list(re.finditer(rf"\b(?:{_VERBS})\b", clause))
            vpos = vm[-1].start() if vm else len(clause)
            best = None
            for nm in re.finditer(
                rf"(?:{'|'.join(re.escape(a) for a in sorted(ctx.names, key=len, reverse=True))})(?![\w])|\b(?:{_PRON})\b",
                clause[:vpos],
            ):
                best = nm
            if best:
                t = best.group(0)
                if t in ctx.names:
                    return ctx.names[t], None, True
                return None, t, True
    elif re.search(rf"\b(?:{_VERBS})\b", clause):
        pm = re.search(rf"\b({_PRON})\b", clause)
        if pm:
            return None, pm.group(1), True
    return None


def attribute(paragraphs: Sequence[str], cast: Cast | None = None) -> list[Quote]:
    """``find_quotes`` with a speaker (canonical name or None) and how it was decided."""
    quotes = find_quotes(paragraphs)
    if cast is None:
        cast = find_cast(paragraphs)
    ctx = _build_ctx(paragraphs, cast, quotes)
    n = len(quotes)
    speaker: list[str | None] = [None] * n
    how = ["none"] * n
    fixed = [False] * n
    addressed = [_addressees(ctx, q.text) for q in quotes]
    prev_speaker_by_para: dict[int, str | None] = {}

    # 1. explicit tags (names now, pronouns after the turns are known)
    pron_of: dict[int, str] = {}
    spouse_of: dict[int, str] = {}  # quote -> "his wife" etc.
    for k, _q in enumerate(quotes):
        name, pron, found = _explicit(ctx, quotes, k)
        if name:
            speaker[k], how[k], fixed[k] = name, "explicit", True
        elif pron:
            pron = _pronoun(pron)
            g = _PRON_GENDER.get(pron, "")
            if g in ("plural", "narrator"):
                fixed[k], how[k] = True, "none"
            else:
                pron_of[k] = g
                if pron in _SPOUSE:
                    spouse_of[k] = pron

    # 2. walk paragraph turns in order
    by_para: dict[int, list[int]] = {}
    for k, q in enumerate(quotes):
        by_para.setdefault(q.paragraph, []).append(k)
    recent: list[str] = []  # speakers of past turns, last = previous
    last_addr: set[str] = set()
    recent_addr: list[str] = []
    last_para = -1

    canon_names = set(ctx.names.values())

    def resolve_spouse(k: int) -> str | None:
        """ "said his wife": the wife of the man the quote speaks to, or else of the
        nearest man named before it, if the book names her ("Mrs." and his surname)."""
        _g, of, is_ = _SPOUSE[spouse_of[k]]
        q = quotes[k]
        candidates = [ctx.names[m.group(0)] for m in ctx.alias_re.finditer(q.text)]
        pos = ctx.offsets[q.paragraph] + q.start
        k2 = bisect.bisect_left(ctx.mention_pos, pos) - 1
        while k2 >= 0 and pos - ctx.mention_pos[k2] <= 4000 and len(candidates) < 12:
            candidates.append(ctx.mention_who[k2])
            k2 -= 1
        for name in candidates:
            if name.startswith(of + " "):
                spouse = is_ + name[len(of) :]
                if spouse in canon_names:
                    return spouse
        return None

    def resolve_pronoun(k: int, g: str) -> str | None:
        q = quotes[k]
        if k in spouse_of:
            return resolve_spouse(k) if ctx.alias_re is not None else None
        excl = set(addressed[k])
        # the same paragraph's earlier tagged speaker: "said the Queen ... she went on";
        # or the same pronoun's: "“What…,” said she to Charlotte, “by listening…”"
        for j in reversed(by_para[q.paragraph]):
            if j < k and speaker[j] and how[j] in ("explicit", "pronoun"):
                if ctx.genders.get(speaker[j], "") in ("", g) or not g:
                    return speaker[j]
                break
        subj = _subject(ctx, q.paragraph, q.start)
        if subj and ctx.genders.get(subj, "") in ("", g) and subj not in excl:
            return subj
        pos = ctx.offsets[q.paragraph] + q.start
        who, at = _nearest_at(ctx, pos, g, excl)
        if who is None and g:
            # Nobody of that gender named in the narration: the conversation's last
            # speaker who is ("…,” returned she', after his wife spoke).
            return next(
                (r for r in reversed(recent) if ctx.genders.get(r) == g and r not in excl), None
            )
        # Named in a narration paragraph since the last quotation's ("…provoking Elizabeth
        # to do it, she turned to him and said"): that is who "she" is.
        last = quotes[k - 1].spans[-1][0] if k else -1
        fresh = 0 <= last < q.paragraph and at >= ctx.offsets[last + 1]
        if (
            who is not None
            and not fresh
            and recent
            and who == recent[-1]
            and q.start <= 1
            and len(recent) > 1
            and recent[-2] != who
            and ctx.genders.get(recent[-2], "") == g
        ):
            return recent[-2]
        return who

    for pi in sorted(by_para):
        ks = by_para[pi]
        # conversation resets on long narrative or headings between turns
        for j in range(last_para + 1, pi):
            pj = paragraphs[j]
            if len(pj) > 700 or _is_marker(pj):
                recent, last_addr, recent_addr = [], set(), []
        for k in ks:
            if not fixed[k] and k in pron_of:
                who = resolve_pronoun(k, pron_of[k])
                if who:
                    speaker[k], how[k], fixed[k] = who, "pronoun", True
        # same paragraph: share the speaker
        for idx, k in enumerate(ks):
            if speaker[k] is None and not fixed[k]:
                src = next((j for j in reversed(ks[:idx]) if speaker[j]), None)
                if src is None:
                    src = next((j for j in ks[idx + 1 :] if speaker[j]), None)
                if src is not None:
                    speaker[k], how[k] = speaker[src], how[src]
        if any(speaker[k] is None and not fixed[k] for k in ks):
            own_addr = set().union(*(addressed[k] for k in ks))
            guess, ghow = None, "none"
            # paragraph subject: "Sir William only smiled. “…”"
            subj = _subject(ctx, pi, quotes[ks[0]].start)
            if subj:
                guess, ghow = subj, "subject"
            if guess is None and recent:
                cands = [a for a in last_addr if a != recent[-1] and a not in own_addr]
                if len(cands) == 1:
                    guess, ghow = cands[0], "vocative"
            if guess is None and recent:
                other = next((s for s in reversed(recent) if s != recent[-1]), None)
                if other is None:
                    other = next((a for a in reversed(recent_addr) if a != recent[-1]), None)
                if other and other not in own_addr:
                    guess, ghow = other, "alternation"
                elif other and recent[-1] not in own_addr:
                    guess, ghow = recent[-1], "alternation"
            if guess is None:
                pos = ctx.offsets[pi] + quotes[ks[0]].start
                guess = _nearest(ctx, pos, None, own_addr)
                ghow = "nearest" if guess else "none"
            for k in ks:
                if speaker[k] is None and not fixed[k]:
                    # A tag's "she" that found nobody still rules out every man.
                    said = pron_of.get(k, "")
                    if guess and said and ctx.genders.get(guess, said) != said:
                        continue
                    speaker[k], how[k] = guess, ghow
        # vocative constraint: nobody speaks to themselves by name
        for k in ks:
            if speaker[k] and speaker[k] in addressed[k] and how[k] != "explicit":
                alt = next((s for s in reversed(recent) if s not in addressed[k]), None)
                speaker[k], how[k] = alt, ("vocative" if alt else "none")
        turn = next((speaker[k] for k in reversed(ks) if speaker[k]), None)
        if turn:
            recent.append(turn)
            recent = recent[-6:]
        last_addr = set().union(*(addressed[k] for k in ks)) - ({turn} if turn else set())
        recent_addr.extend(sorted(last_addr))
        recent_addr = recent_addr[-6:]
        prev_speaker_by_para[pi] = turn
        last_para = pi
    return [
        Quote(q.paragraph, q.start, q.end, q.text, speaker[k], how[k], q.parts)
        for k, q in enumerate(quotes)
    ]


def nearest_name_baseline(paragraphs: Sequence[str], cast: Cast) -> list[Quote]:
    """Baseline: the nearest cast name in the text (quotes included) before each quote."""
    quotes = find_quotes(paragraphs)
    alias_re = _alias_regex(cast.names)
    pos_list: list[int] = []
    who_list: list[str] = []
    offsets, pos = [], 0
    for i, p in enumerate(paragraphs):
        offsets.append(pos)
        if alias_re is not None:
            for m in alias_re.finditer(p):
                pos_list.append(pos + m.start())
                who_list.append(cast.names[m.group(0)])
        pos += len(p) + 1
        del i
    out = []
    for q in quotes:
        k = bisect.bisect_left(pos_list, offsets[q.paragraph] + q.start) - 1
        who = who_list[k] if k >= 0 else None
        out.append(
            Quote(q.paragraph, q.start, q.end, q.text, who, "nearest" if who else "none", q.parts)
        )
    return out


# --------------------------------------------------------------------------- scenes

_MARKER_RE = re.compile(
    r"^(?:(?:chapter|book|part|scene|volume)\b.{0,80}|[\W_]*|[IVXLC]+\.?)$", re.IGNORECASE
)
_TIME_CUE = re.compile(
    r"^(?:the\s+next\s+(?:morning|day|evening|night)|next\s+(?:morning|day)|the\s+following\s+"
    r"(?:morning|day|evening|night)|that\s+(?:morning|afternoon|evening|night)|in\s+the\s+"
    r"(?:morning|afternoon|evening)|at\s+(?:night|dawn|noon|midnight|daybreak)|"
    r"(?:an?|one|two|three|some)\s+(?:hour|hours|day|days|week|weeks)\s+(?:later|after)|"
    r"the\s+(?:morning|evening|day)\s+after|after\s+(?:dinner|breakfast|supper|tea)|"
    r"at\s+(?:\w+|half-past\s+\w+)\s+o['’]clock|meanwhile|later\s+that|when\s+(?:they|she|he|"
    r"we|I)\s+(?:reached|arrived|entered|came\s+to|got\s+to)|on\s+(?:entering|reaching|"
    r"arriving)|in\s+the\s+(?:\w+[\s-])?(?:garden|drawing-room|parlour|library|hall|church|"
    r"street|park|wood|forest|inn|kitchen|house|room)|"
    # "In a few days", "Three weeks later", "Within an hour", "On Tuesday", "The day after"
    r"in\s+(?:a|an)\s+(?:few\s+|couple\s+of\s+)?(?:minutes?|hours?|days?|weeks?|months?)\b|"
    r"(?:a|one|two|three|four|five|six|some|several|a\s+few)\s+(?:minutes|hours?|days?|weeks?|"
    r"months?|years?)\s+(?:later|after(?:wards)?|passed|went\s+by)|(?:within|after)\s+(?:a|an|"
    r"one|two|three|some|several|a\s+few)\s+(?:hours?|days?|weeks?|months?)|(?:on\s+)?the\s+"
    r"(?:next|following)\s+(?:week|month|year|{days})|(?:on|by)\s+(?:{days})\b|the\s+day\s+"
    r"(?:before|after)|on\s+the\s+(?:following|next)\s+(?:day|morning|evening|night)|"
    r"early\s+(?:the\s+next|next|in\s+the)\s+morning)".format(
        days="monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    ),
    re.IGNORECASE,
)
# Proposed headings (the rules: ``_locate``).

_INT_PLACES = (
    "drawing-room", "breakfast-room", "dining-room", "sitting-room", "morning-room",
    "dressing-room", "assembly-room", "assembly-rooms", "ball-room", "school-room",
    "bed-room", "billiard-room", "library", "parlour", "parlor", "study", "hall", "saloon",
    "gallery", "ballroom", "kitchen", "bedroom", "chamber", "nursery", "staircase",
    "corridor", "conservatory", "cellar", "attic", "garret", "church", "chapel",
    "cathedral", "inn", "tavern", "shop", "office", "theatre", "theater", "prison",
    "carriage", "coach", "chaise", "barouche", "cottage", "cabin", "hut", "barn", "stable",
    "stables", "castle", "palace", "lodgings", "house", "room",
)  # fmt: skip
_EXT_PLACES = (
    "garden", "gardens", "grounds", "shrubbery", "paddock", "terrace", "avenue", "lawn",
    "park", "wilderness", "plantation", "grove", "orchard", "meadow", "field", "fields",
    "wood", "woods", "forest", "heath", "moor", "hill", "valley", "cliff", "cliffs",
    "seashore", "sea-shore", "shore", "beach", "river", "bridge", "road", "high-road",
    "highway", "lane", "path", "street", "square", "market-place", "village", "churchyard",
    "yard", "courtyard", "court-yard", "stable-yard", "croquet-ground", "gate", "harbour",
    "harbor", "quay", "pier",
)  # fmt: skip
# compact spelling ("drawingroom") -> (label, kind)
_PLACE_KEYS = {
    w.replace("-", ""): (w.upper().replace("-", " "), kind)
    for kind, words in (("INT", _INT_PLACES), ("EXT", _EXT_PLACES))
    for w in words
}
_GENERIC_PLACES = {"room", "house"}  # weigh 3/4: a named room is better
_NEEDS_LOCATIVE = {"carriage", "study", "field", "fields", "square", "yard", "path", "gallery",
                   "wood", "gate", "bridge", "coach"}  # fmt: skip
_PLACE_RE = re.compile(  # on lower-case text: IGNORECASE would make it five times slower
    r"(?<![\w’'-])(?:"
    + "|".join(
        w.replace("-", "[- ]?") for w in sorted(_INT_PLACES + _EXT_PLACES, key=len, reverse=True)
    )
    + r")(?![\w-])"
)
_NOT_A_PLACE_AFTER = re.compile(r"\s+(?:of|for|to)\b")  # "a study of", "room for", "room to"
_DET = r"(?:the|a|an|his|her|their|our|my|your|its|this|that|one|some)"
_ADJ = rf"(?!{_DET}\b)[a-z]+(?:[-’'][a-z]+)*[’']?"
_STRONG_LOC = (
    "in front of|outside of|outside|in|into|inside|within|at|on|upon|onto|across|along|"
    "through|throughout|around|over|under|beneath|behind|beside|among|amongst|down|up|"
    "entered|re-entered|crossed|paced|reached|gained"
)
_TOWARD_LOC = "out of|to|towards|toward|near|by|about|round|past|beyond|left|quitted|approached"
_PART_OF = (
    r"(?:end|side|middle|centre|center|edge|corner|bottom|top|foot|head|entrance|door|doors|"
    r"gate|gates|doorway|door-way|window|windows|steps|threshold|length|interior)"
)
_LOCATIVE_LEFT = re.compile(
    rf"\b(?P<prep>{_STRONG_LOC}|{_TOWARD_LOC}|from)\s+(?:{_DET}\s+)?(?:{_ADJ}\s+){{0,2}}"
    rf"(?:{_PART_OF}\s+of\s+(?:{_DET}\s+)?(?:{_ADJ}\s+){{0,2}})?$"
)
_DET_LEFT = re.compile(rf"(?:^|\s){_DET}\s+(?:{_ADJ}\s+){{0,2}}$")
_STRONG_SET = set(_STRONG_LOC.split("|"))
_TOWARD_SET = set(_TOWARD_LOC.split("|"))
_OUTSIDE = {"in front of", "outside", "outside of"}

_PROPER_PLACE_RE = re.compile(
    r"\b(?P<prep>(?i:at|in|into|to|towards|toward|reached|entered|from))\s+"
    r"(?P<name>[A-Z][a-zà-ÿ]+(?:-[A-Za-zà-ÿ]+)*(?:\s+[A-Z][a-zà-ÿ]+(?:-[A-Za-zà-ÿ]+)*)*)"
    r"(?P<poss>[’'](?:s\b)?)?"
)
# "at Sir William Lucas's," / "at Mrs. Philips's where": someone's house or shop ("into
# Alice's" is rather her arm).
_HOME_RE = re.compile(
    r"\b(?i:at)\s+(?P<name>(?:(?:Mr|Mrs|Ms|Dr|St)\.?\s+)?[A-Z][\w-]*"
    r"(?:\s+[A-Z][\w-]*)*)[’'](?:s\b)?(?=\s*(?:[,.;:!?—–)]|$|(?:where|and|when|which|that|"
    r"for|with|but)\b))"
)
_PROPER_WEIGHT = {"from": 0.5, "to": 2.0, "towards": 2.0, "toward": 2.0}
# A word among the four before the preposition (same clause) makes the name a person:
# "looked for a moment at", "said to", "kindness to", "a letter from".
_PERSON_BEFORE = re.compile(
    r"(?:look|laugh|smil|glanc|star|gaz|frown|wink|nod|point|hint|aim|sneer|scowl|shout|"
    r"sa(?:id|y|ys|ying)$|spo?k|speak|wr[io]t|repl|answer|talk|turn|introduc|listen|belong|"
    r"marri|marry|engag|attach|kind$|civil$|polite$|rude$|known$|indebted$|due$|owing$|"
    r"letter|note|compliment|attention|appl|appeal|address|whisper|cr(?:y|ied)$|"
    r"explain|relat|mention|recommend|g[ia]ve|given$|shew|show|offer|bow|curts|angry|vex|"
    r"surpris|astonish|amaz|"
    r"offend|thank|sorry|grateful|obliged|dear$|partial|similar|like$|unlike$|equal|"
    r"superior|inferior|recourse|related|cousin|sister|brother|daughter|son$|wife|husband|"
    r"friend|neighbour|neighbor|servant|child|children|endear|confidence|interest|faith|"
    r"trust|delight|pleasure|pride|belief|saw$|seen$|see$|found$|partner|next$|close$|"
    r"near$|beside$)"
)
# "to / towards" a name is a place only after a word of going there: "went to Meryton",
# "brought the former to Longbourn", "on their way to London".
_GOING = re.compile(
    r"(?:went|go|goes|going|gone|come|came|coming|return|walk|rode|ride|riding|drove|drive|"
    r"driving|travel|journey|hurr|hasten|ran$|run$|set$|sent$|send|brought|bring|carr|remov|"
    r"repair|proceed|way$|road$|visit|invit|admit|welcom|back$|home$|arriv|mov|flew|fled|"
    r"post|order|summon|accompan|start|excursion|expedition|trip|jaunt|setting|off$|away$)"
)
# ... and before "from" also: "a visit from", "news from".
_PERSON_BEFORE_FROM = re.compile(
    r"(?:news|word|message|visit|hear|heard|receiv|invitation|answer|letter|note|line)"
)
_CARRY_BLOCK = re.compile(
    r"\b(?:(?:walked|went|set|rode|drove|stepped|hurried|ran|got|came|started)\s+"
    r"(?:out|off|away|home|outside|abroad|back|forth)|left|quitted|departed|returned|arrived|"
    r"travelled|traveled|journeyed)\b",
    re.IGNORECASE,
)
_TIME_WORDS = {
    "morning": "MORNING", "forenoon": "MORNING", "dawn": "MORNING", "daybreak": "MORNING",
    "sunrise": "MORNING", "breakfast": "MORNING",
    "day": "DAY", "afternoon": "DAY", "noon": "DAY", "midday": "DAY", "daylight": "DAY",
    "luncheon": "DAY", "lunch": "DAY", "tea": "DAY", "tea-time": "DAY",
    "evening": "EVENING", "dusk": "EVENING", "sunset": "EVENING", "sundown": "EVENING",
    "twilight": "EVENING", "nightfall": "EVENING", "dinner": "EVENING",
    "night": "NIGHT", "midnight": "NIGHT", "dark": "NIGHT", "moonlight": "NIGHT",
    "supper": "NIGHT",
}  # fmt: skip
_TIME_BEFORE_AFTER = {
    ("before", "dawn"): "NIGHT", ("before", "breakfast"): "MORNING",
    ("before", "dinner"): "DAY", ("before", "supper"): "EVENING",
    ("before", "tea"): "DAY", ("after", "breakfast"): "MORNING",
    ("after", "dinner"): "EVENING", ("after", "supper"): "NIGHT", ("after", "tea"): "EVENING",
    ("after", "dark"): "NIGHT", ("after", "dawn"): "MORNING", ("after", "sunset"): "EVENING",
}  # fmt: skip
_TIME_RE = re.compile(
    r"\b(?:"
    r"(?:that|this|the\s+(?:next|following|same)|next|one|early\s+(?:in\s+)?the|"
    r"late\s+(?:in\s+)?the|in\s+the|during\s+the|all(?:\s+the)?|towards\s+the|"
    r"the\s+(?:rest|remainder|whole)\s+of\s+the|the\s+whole)\s+"
    r"(?P<phrase>morning|forenoon|afternoon|evening|night|day)"
    r"|the\s+(?P<of>morning|forenoon|afternoon|evening|night|day)(?=\s+(?:after|of)\b)"
    r"|the\s+(?P<the>morning|afternoon|evening|night)"
    r"|at\s+(?P<at>dawn|daybreak|sunrise|sunset|sundown|dusk|noon|midday|midnight|nightfall|"
    r"night|twilight|breakfast|dinner|supper|tea|luncheon)"
    r"|(?P<ba>before|after|having|taking|drinking|over|during)\s+"
    r"(?P<meal>breakfast|dinner|supper|tea|luncheon|dark|dawn|sunset)"
    r"|by\s+(?P<by>moonlight|daylight)"
    r"|(?<![\w-])(?P<bare>morning|afternoon|evening|night|midnight|dawn|dusk|sunset|sunrise|"
    r"twilight|moonlight|breakfast|dinner|supper|tea-time)"
    r")(?![\w-])",
    re.IGNORECASE,
)
_TIME_NOT_NOW = re.compile(
    r"\b(?:every|each|yesterday|to-morrow|tomorrow|last|previous|former|other|many|few|to|"
    r"several|good)\s+$",
    re.IGNORECASE,
)


def _is_marker(p: str) -> bool:
    return bool(_MARKER_RE.match(p.strip())) and len(p) < 100


# A sentence that tells of habit, wishes or what had happened before sets no scene:
# "usually tempted thither … to a milliner's shop", "might spend his days at Netherfield",
# "when they had met in the kitchen".
_NOT_HERE = re.compile(
    r"\b(?:usually|often|always|generally|sometimes|frequently|commonly|every|whenever|"
    r"used\s+to|wont|times\s+a\s+(?:day|week|month|year)|would|might|should|if|unless|"
    r"intend\w*|hope[sd]?|hoping|wish(?:ed|es)?|expect\w*|going\s+to|(?:was|were)\s+going|"
    r"had\s+(?:\w+ed|gone|come|seen|met|left|taken|made|sat|stood|spent|run|got|done|known|"
    r"heard|said|thought|found|brought|begun|kept))\b",
    re.IGNORECASE,
)


def _not_here(text: str, start: int, end: int) -> bool:
    """Whether the sentence of ``text[start:end]``, up to there, tells of habit, wish or
    what had happened before."""
    a = max(text.rfind(c, 0, start) for c in ".!?;:")
    return _NOT_HERE.search(text, a + 1, end) is not None


def _at_position(k: int) -> float:
    """How much the scene's k-th paragraph counts: 2, 1.5, 1.33 … towards 1."""
    return 1.0 + 1.0 / (1 + k)


def _person_test(paragraphs: Sequence[str]):
    """``is_person(word)``: the chapter uses ``word`` in a speech tag or after an
    honorific ("said Harriet", "Harriet replied", "Mrs. Harriet")."""
    text = "\n".join(paragraphs)
    seen: dict[str, bool] = {}
    hon = "|".join(sorted(_HONORIFIC_GENDER, key=len, reverse=True))

    def is_person(word: str) -> bool:
        if word not in seen:
            w = re.escape(word)
            pat = (
                rf"\b(?:{_VERBS})\s+{w}\b|\b{w}\s+(?:(?:had|then|only|also)\s+)?(?:{_VERBS})\b"
                rf"|\b(?:{hon})\.?\s+{w}\b"
            )
            seen[word] = re.search(pat, text) is not None
        return seen[word]

    return is_person


def _proper_place(text: str, m: re.Match[str], names: Mapping[str, str], is_person) -> str:
    """The place a proper noun after a preposition names, or "" (rules: ``_locate``)."""
    if m.group("poss"):
        return ""
    words: list[str] = []
    for w in m.group("name").split():
        if w in _STOP or w in _HONORIFIC_GENDER or w in _TITLE_GENDER or w in ("St", "Mt"):
            break
        words.append(w)
    if not words:
        return ""
    name = " ".join(words)
    if name in names:
        return ""
    named_place = len(words) > 1 and words[-1] in _PLACE_WORDS
    if not named_place and (
        any(w in names or is_person(w) for w in words) or words[-1].endswith("ish")
    ):
        return ""
    prep = m.group("prep").lower()
    window = _clause_words(text, m.start())
    if any(_PERSON_BEFORE.match(w) for w in window):
        return ""
    if prep == "from" and any(_PERSON_BEFORE_FROM.match(w) for w in window):
        return ""
    if prep in ("to", "towards", "toward") and not any(_GOING.match(w) for w in window):
        return ""
    return name.upper()


def _clause_words(text: str, pos: int, n: int = 4) -> list[str]:
    """The last ``n`` words before ``pos`` in the same clause, lower case."""
    a = max(text.rfind(c, 0, pos) for c in '.!?;:,“”"()—')
    return [w.strip("'‘’_").lower() for w in text[a + 1 : pos].split()[-n:]]


# a place word's owner: "the library at Netherfield"
_ATTACHED_RE = re.compile(
    r"\s+(?P<prep>at|of|in)\s+(?P<name>[A-Z][a-zà-ÿ]+(?:-[A-Za-zà-ÿ]+)*"
    r"(?:\s+[A-Z][a-zà-ÿ]+(?:-[A-Za-zà-ÿ]+)*)*)(?P<poss>[’'](?:s\b)?)?"
)


def _places(paras: Sequence[str], names: Mapping[str, str], is_person) -> tuple[str, str] | None:
    """The best (kind, label) place of a scene's narration, or None."""
    found: dict[tuple[str, str], list] = {}  # place -> [best, counted, order]

    def add(kind: str, label: str, score: float, order: tuple[int, int]) -> None:
        if score <= 0:
            return
        row = found.setdefault((kind, label), [0.0, 0, order])
        row[0] = max(row[0], score)
        row[1] += 1

    for k, text in enumerate(paras):
        at_pos = _at_position(k)
        low = text.lower()
        if len(low) != len(text):  # "İ" lowers to two characters: keep the offsets
            low = "".join(c if len(c.lower()) > 1 else c.lower() for c in text)
        for m in _PLACE_RE.finditer(low):
            s, e = m.span()
            if text[s].isupper() and not _sentence_start(text, s):
                continue  # part of a name: "Netherfield House"
            if _not_here(text, s, e):
                continue
            key = re.sub(r"[\s-]", "", low[s:e])
            label, kind = _PLACE_KEYS[key]
            if _NOT_A_PLACE_AFTER.match(low, e) and (key in _NEEDS_LOCATIVE or key == "room"):
                continue
            left = low[max(0, s - 80) : s]
            lm = _LOCATIVE_LEFT.search(left)
            if lm:
                prep = " ".join(lm.group("prep").split())
                weight = 3.0 if prep in _STRONG_SET else 2.0 if prep in _TOWARD_SET else 0.5
                if prep in _OUTSIDE:
                    kind = "EXT"
            elif _DET_LEFT.search(left):
                weight = 0.0 if key in _NEEDS_LOCATIVE else 1.0
            else:
                continue
            if key in _GENERIC_PLACES:
                weight *= 0.75
            # "the library at Netherfield": the house and the room
            pm = _ATTACHED_RE.match(text, e)
            if pm and weight:
                owner = _proper_place(text, pm, names, is_person)
                if owner:
                    label = f"{owner} - {label}"
            add(kind, label, weight * at_pos, (k, s))
        for m in _PROPER_PLACE_RE.finditer(text):
            label = _proper_place(text, m, names, is_person)
            if label and not _not_here(text, m.start(), m.end()):
                weight = _PROPER_WEIGHT.get(m.group("prep").lower(), 3.0)
                add("INT", label, weight * at_pos, (k, m.start()))
        for m in _HOME_RE.finditer(text):
            window = _clause_words(text, m.start())
            if any(_PERSON_BEFORE.match(w) for w in window) or _not_here(text, m.start(), m.end()):
                continue
            label = " ".join(m.group("name").split()).upper() + "'S"
            add("INT", label, 3.0 * at_pos, (k, m.start()))
    best = None
    for place, (score, counted, order) in found.items():
        total = score + min(1.0, 0.25 * (counted - 1))
        if total >= 1.5 and (best is None or (-total, order) < (-best[0], best[1])):
            best = (total, order, place)
    return best[2] if best else None


def _times(paras: Sequence[str]) -> str | None:
    """The best time of day (MORNING, DAY, EVENING, NIGHT) of a scene's narration."""
    best = None
    for k, text in enumerate(paras):
        at_pos = _at_position(k)
        for m in _TIME_RE.finditer(text):
            if _not_here(text, m.start(), m.end()):
                continue
            if m.group("bare"):
                if _TIME_NOT_NOW.search(text[max(0, m.start() - 20) : m.start()]):
                    continue
                label, weight = _TIME_WORDS[m.group("bare").lower()], 1.0
            elif m.group("meal"):
                pair = (m.group("ba").lower(), m.group("meal").lower())
                label = _TIME_BEFORE_AFTER.get(pair) or _TIME_WORDS[pair[1]]
                weight = 3.0
            else:
                word = next(w for w in m.group("phrase", "of", "the", "at", "by") if w).lower()
                if _TIME_NOT_NOW.search(text[max(0, m.start() - 20) : m.start()]):
                    continue
                label, weight = _TIME_WORDS[word], 2.0 if m.group("the") else 3.0
            score = weight * at_pos
            if score >= 1.5 and (best is None or score > best[0]):
                best = (score, label)
    return best[1] if best else None


def _locate(
    paras: Sequence[str], names: Mapping[str, str] | None = None, is_person=None
) -> tuple[tuple[str, str] | None, str | None]:
    """((kind, place) or None, time or None) of a scene from its narration (quotations
    blanked), paragraph by paragraph. The rules:

    * Place words (``_INT_PLACES``, ``_EXT_PLACES``) weigh 3 after a locative word ("in /
      into / at / on / across / down … the drawing-room", "entered the hall", "at the end
      of the garden"), 2 after a word of direction ("to / towards / near / left … the
      library"), ½ after "from", 1 as a bare mention with an article or possessive ("the
      library"; 0 for words that are often no place: "her carriage"); "room" and "house"
      ¾ of that. "in front of" / "outside" the house is EXT.
    * A proper noun after "at / in / into / reached / entered" (3), "to / towards" after a
      word of going ("went to Meryton": 2) or "from" (½) is a place, INT. ("at
      Netherfield"), unless it is or holds a cast name (``cast.names``; "Lucas Lodge" ends
      in a place word and passes), a person-taking word is among the four before it in its
      clause ("looked for a moment at", "kindness to", "a letter from") or the chapter
      uses it as a person ("said Harriet", "Mrs. Harriet"). "the library at Netherfield"
      gives NETHERFIELD - LIBRARY; "at Sir William Lucas's," gives SIR WILLIAM LUCAS'S.
    * Times: a phrase ("that / the next / one … morning", "in the evening", "the rest of
      the evening", "at dawn", "at / after / before dinner", "after dark") weighs 3, "the
      evening" 2, a bare time word 1; none after "every / last / to-morrow …"; "day" only
      in a phrase. Meals, as an English novel keeps them: breakfast MORNING, luncheon and
      tea DAY, dinner EVENING, supper NIGHT ("before dinner" DAY, "after supper" NIGHT).
    * Nothing counts in a sentence that, up to the word, tells of habit, wishes, plans or
      what had happened before ("usually", "might", "hoped", "had met": ``_NOT_HERE``).
    * Weights are multiplied by 1 + 1/(1 + k) for the scene's k-th paragraph (2, 1.5, 1.33
      … towards 1); a place gains ¼ per further mention (at most 1). The best score wins
      from 1.5 up (so a bare mention counts only in the first two paragraphs); ties go to
      the first mentioned. Else "?".
    * Continuity is ``breakdown``'s: within a chapter, a scene cut at a time cue ("The next
      morning…") that names no place keeps the previous scene's place unless its first
      paragraph has someone leave or arrive ("went out", "returned"); one cut at a place
      cue ("When they reached…", "In the garden…", "Meanwhile…") that names no time keeps
      the previous time. Nothing carries over a scene-break marker, an explicit break or a
      chapter start.
    """
    names = names or {}
    if is_person is None:
        is_person = _person_test(paras)
    return _places(paras, names, is_person), _times(paras)


def _format_heading(place: tuple[str, str] | None, time: str | None) -> str:
    kind, label = place or ("INT", "?")
    return f"{kind}. {label} - {time or '?'}"


def _heading(narrative: str | Sequence[str], names: Mapping[str, str] | None = None) -> str:
    """The heading a scene's narration proposes on its own (no continuity)."""
    paras = [narrative] if isinstance(narrative, str) else list(narrative)
    return _format_heading(*_locate(paras, names))


def _cut_kind(text: str) -> str:
    """What a ``_TIME_CUE`` at a scene's start changes: "time" or "place"."""
    m = _TIME_CUE.match(text)
    cue = m.group(0).lower() if m else ""
    if re.search(
        r"\b(?:morning|afternoon|evening|night|day|days|dawn|noon|midnight|daybreak|hours?|"
        r"weeks?|months?|years?|minutes?|dinner|breakfast|supper|tea|o['’]clock|later|monday|"
        r"tuesday|wednesday|thursday|friday|saturday|sunday)\b",
        cue,
    ):
        return "time"
    return "place"


_ABBREVIATION = re.compile(r"(?:^|\s)(?:Mr|Mrs|Ms|Dr|St|Mme|Mlle|Messrs|Capt|Col|Gen|Rev|Prof)\.$")


def _first_sentences(text: str, limit: int = 200) -> str:
    text = " ".join(text.replace("_", "").split())
    sents: list[str] = []
    for part in re.split(r"(?<=[.!?])\s+(?=[A-Z“\"‘])", text):
        if sents and _ABBREVIATION.search(sents[-1]):
            sents[-1] += " " + part  # "Mr. Bingley…" is one sentence
        else:
            sents.append(part)
    out = ""
    for s in sents[:2]:
        if out and len(out) + len(s) > limit:
            break
        out = f"{out} {s}".strip()
    if len(out) > limit:
        out = out[: limit - 1].rsplit(" ", 1)[0] + "…"
    return out


def breakdown(
    paragraphs: Sequence[str],
    cast: Cast,
    *,
    breaks: Sequence[int] = (),
    quotes: Sequence[Quote] | None = None,
) -> list[SceneCut]:
    """Candidate scenes: cut at ``breaks``, headings/markers and changes of place or time;
    each with a proposed heading (``_locate``, carried over a cue that keeps it).
    ``quotes``: ``attribute(paragraphs, cast)`` when the caller has it already."""
    if quotes is None:
        quotes = attribute(paragraphs, cast)
    ctx = _build_ctx(paragraphs, cast, quotes)
    starts: list[int] = []
    skip: set[int] = set()
    breakset = set(breaks)
    for i, p in enumerate(paragraphs):
        if _is_marker(p):
            skip.add(i)
            starts.append(i + 1)
            continue
        if i in breakset or _TIME_CUE.match(ctx.masked[i].lstrip(" “\"‘'(")):
            starts.append(i)
    bounds = sorted({0, *[s for s in starts if 0 <= s < len(paragraphs)]})
    cuts: list[SceneCut] = []
    is_person = _person_test(paragraphs)
    prev_place: tuple[str, str] | None = None
    prev_time: str | None = None
    for a_idx, a in enumerate(bounds):
        b = (bounds[a_idx + 1] if a_idx + 1 < len(bounds) else len(paragraphs)) - 1
        idx = [i for i in range(a, b + 1) if i not in skip]
        if not idx:
            continue
        texts = [ctx.masked[i] for i in idx]
        place, time = _locate(texts, cast.names, is_person)
        if a_idx and a == idx[0] and a not in breakset and a - 1 not in skip:
            # cut at a cue: keep what the cue does not change (rules: ``_locate``)
            if _cut_kind(texts[0].lstrip(" “\"‘'(")) == "time":
                if place is None and not _CARRY_BLOCK.search(texts[0]):
                    place = prev_place
            elif time is None:
                time = prev_time
        prev_place, prev_time = place, time
        chars: list[str] = []
        for i in idx:
            events = []
            if ctx.alias_re is not None:
                events += [
                    (m.start(), ctx.names[m.group(0)]) for m in ctx.alias_re.finditer(ctx.masked[i])
                ]
            events += [(q.start, q.speaker) for q in quotes if q.paragraph == i and q.speaker]
            for _, who in sorted(events):
                if who not in chars:
                    chars.append(who)
        narration = [_narration(ctx.masked[i]) for i in idx]
        syn_src = next((n for n in narration if len(n.split()) >= 6), "") or next(
            (n for n in narration if n), ""
        )
        if not syn_src:
            syn_src = paragraphs[idx[0]]
        synopsis = _first_sentences(re.sub(r"\s+[,.;:]", lambda m: m.group(0).strip(), syn_src))
        heading = _format_heading(place, time)
        cuts.append(SceneCut(idx[0], idx[-1], heading, tuple(chars), synopsis))
    return cuts


_LEADING_TAG = re.compile(rf"^(?:{_VERBS})\b[^,.;:!?]*[,.;:!?]\s*")
_EMPTY_QUOTES = re.compile(r"[“\"‘«]\s*[”\"’»]|—\s*—")


def _narration(masked: str) -> str:
    """A paragraph's narration (its quotations already blanked): the emptied quote marks
    and the punctuation they leave at the start go ("“ ” said the Duchess, as she…" →
    "said the Duchess, as she…")."""
    text = " ".join(_EMPTY_QUOTES.sub(" ", masked).split()).lstrip(" ,.;:!?—–-")
    tag = _LEADING_TAG.match(text)  # "said the Duchess, as she…" → "As she…"
    if tag and len(text[tag.end() :].split()) >= 4:
        rest = text[tag.end() :]
        text = rest[0].upper() + rest[1:]
    return text


# --------------------------------------------------------------------------- fountain


def _action_line(s: str) -> str:
    """Narration as an action line; one that Fountain would read as another element
    (a heading like "Int. …", a "# …" section, a transition) is forced with "!"."""
    text = _fountain_text(s)
    kind = grammar.classify_line(text, prev_blank=True, next_blank=True)
    return text if kind == grammar.ACTION else "!" + text


def _fountain_text(s: str) -> str:
    s = re.sub(r"_([^_]+)_", r"*\1*", s)
    return " ".join(s.split())


def _dialogue_text(s: str) -> str:
    """A quotation as a dialogue line: the comma that led into its speech tag ("You are
    late," said Tom) ends the sentence instead."""
    text = _fountain_text(s)
    if text.endswith(","):
        text = text[:-1].rstrip() + "."
    return text


_LEAD_VERB = re.compile(rf"^[\s,;:!?.—–\-)»”\"’']*(?:{_VERBS})\b")


def _strip_tags(ctx: _Ctx, gap: str, after_quote: bool, before_quote: bool) -> str:
    g = gap
    if after_quote:
        m = (ctx.tag_after and ctx.tag_after.match(g.replace("_", " "))) or _LEAD_VERB.match(g)
        if m:
            rest = g[m.end() :]
            cut = re.match(r"[^.;:!?]*[.;:!?]?", rest)
            g = rest[cut.end() :] if cut else rest
    if before_quote:
        stripped = g.rstrip()
        if stripped and stripped[-1] not in ".!?":
            parts = re.split(r"(?<=[.!?;])\s+", stripped)
            last = parts[-1]
            if re.search(rf"\b(?:{_VERBS})\b", last.replace("_", " ")):
                g = " ".join(parts[:-1])
    g = g.strip(" ,;:—–-()")
    if not re.search(r"[A-Za-zÀ-ÿ]{2,}", g) or len(g.split()) < 2:
        return ""
    if g[-1] not in ".!?…":
        g += "."
    return g[0].upper() + g[1:]


def to_fountain(
    paragraphs: Sequence[str], cut: SceneCut, quotes: Sequence[Quote], cast: Cast | None = None
) -> tuple[str, list[dict]]:
    """The scene as Fountain, and a map from each dialogue line to its source span.

    ``cast`` (the book's names, as ``find_cast`` gives them) lets the speech tags around
    a quotation ("Tom replied") be told from narration and left out of the action; without
    it, only the speakers' own names as the quotes carry them are known."""
    names = {q.speaker: q.speaker for q in quotes if q.speaker}
    if cast is not None:
        names.update(cast.names)
    else:
        names.update({name.title(): name for name in list(names)})
    ctx = _build_ctx(paragraphs, Cast(names=names, counts={}, genders={}), quotes)
    lines: list[str] = [cut.heading, ""]
    smap: list[dict] = []
    consumed: dict[int, list[tuple[int, int, Quote | None]]] = {}
    for q in quotes:
        for n, (pi, a, b) in enumerate(q.spans):
            if cut.first <= pi <= cut.last:
                consumed.setdefault(pi, []).append((a, b, q if n == 0 else None))
    last_cue = None
    said_in, said_raw = -1, ""  # the last dialogue line: its paragraph and its words as said
    for pi in range(cut.first, cut.last + 1):
        p = paragraphs[pi]
        if _is_marker(p):
            continue
        spans = sorted(consumed.get(pi, []), key=lambda t: t[0])
        pos = 0
        for j, (a, b, q) in enumerate(spans):
            gap = p[pos : max(pos, a - 1)]
            action = _strip_tags(ctx, gap, after_quote=j > 0, before_quote=True)
            if action:
                if lines[-1] != "":  # else the action would read as more of the dialogue
                    lines.append("")
                lines += [_action_line(action), ""]
                last_cue = None
            pos = b + 1
            if q is None:
                continue
            cue = q.speaker or "UNKNOWN"
            # A quotation the speech tag interrupted ("My dear Mr. Bennet," said his lady,
            # "have you heard…") goes on on the same line.
            goes_on = cue == last_cue and not action and said_in == pi and j > 0
            if cue != last_cue:
                if lines and lines[-1] != "":
                    lines.append("")
                lines.append(cue.upper())
                last_cue = cue
            for n, (qpi, qa, qb) in enumerate(q.spans):
                text = _dialogue_text(paragraphs[qpi][qa:qb])
                if not text:
                    continue
                if n == 0 and goes_on and said_raw:
                    # Its comma kept only where the sentence goes on in lower case.
                    head = said_raw if text[:1].islower() else lines[-1]
                    lines[-1] = f"{head} {text}"
                    said_raw = f"{head} {_fountain_text(paragraphs[qpi][qa:qb])}"
                else:
                    lines.append(text)
                    said_raw = _fountain_text(paragraphs[qpi][qa:qb])
                said_in = qpi
                smap.append({"line": len(lines), "paragraph": qpi, "start": qa, "end": qb})
        tail = p[pos:] if spans else p
        action = _strip_tags(ctx, tail, after_quote=bool(spans), before_quote=False)
        if action:
            if lines[-1] != "":
                lines.append("")
            lines += [_action_line(action), ""]
            last_cue = None
        elif spans and lines[-1] != "":
            pass
    # blank line after each speech before the next element
    out: list[str] = []
    remap: dict[int, int] = {}
    for n, ln in enumerate(lines, start=1):
        if ln.isupper() and out and out[-1] != "" and ln == ln.strip() and n > 2:
            is_cue = any(e["line"] == n + 1 for e in smap)
            if is_cue:
                out.append("")
        out.append(ln)
        remap[n] = len(out)
    for e in smap:
        e["line"] = remap[e["line"]]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n", smap
