"""Coverage: the numbers a script reader's report gives, computed from the scenes.

What each number tells a writer:

- **Eighths, pages**: how long each scene runs on the page, in eighths of a page (the
  unit of a production breakdown; 8/8 is a page, about a minute of screen time). The
  layout is the one the PDF prints (``pagination``), so the totals agree with
  ``reports.script_report``.
- **Dialogue words, action words, dialogue share**: how much of a scene is talk and how
  much is description; a share near 1 is a talking scene, near 0 a silent or visual one.
- **Longest action block**: the tallest run of description without a line of dialogue
  in between, in printed lines; readers skim past "walls of text".
- **Longest speech**: the most words one character says under one cue: monologues.
- **Characters**: for each speaking character, how many times they speak (cues), their
  printed dialogue lines and words (counted as ``reports`` counts them), and the scenes
  where they speak; most words first. The attributes the team filled in (gender, age,
  ...) give each value's share of all dialogue words, plus a "not set" share for
  characters nobody described: nothing is guessed.
- **Interactions**: for two characters, the scenes where both speak and how often one
  answers the other (one's speech right after the other's in the same scene).
- **Structure**: screen time (eighths) inside vs outside, by day vs night (and other
  times as written), the 15 locations used most, per act, and the longest speeches and
  action blocks of the whole script.
- **Emotion**: per scene, a *valence* from -1 (grim) to 1 (happy) and an *intensity* from
  0 (flat) to 1 (charged), plus a smoothed curve whose highest and lowest points are the
  story's emotional peaks and troughs (at most 3 each: local highs of the smoothed curve
  above its average, local lows below it).
- **Problems**: things a reader would circle, each pointing at a line of the scene's text
  (line 1 is the first line under the heading; 0 means the heading or the whole scene):
  a cue with nothing said under it; two speaking names that look like one name misspelt
  (``names_look_alike``: JON / JOHN, not GUARD 1 / GUARD 2); a speaker missing from the
  scene's cast list (only when the list is filled in); a heading without INT./EXT. or
  without " - DAY"/" - NIGHT" (headings forced with "." are deliberate and not checked);
  a direction in parentheses ending a speech; a scene longer than 3 pages; a line of
  dialogue of 4 words or more said again (case, spacing and punctuation aside); a
  character who speaks before one the story outline introduces earlier.

Emotion uses VADER (Hutto & Gilbert 2014, the ``vaderSentiment`` package, MIT): a
sentiment model made of a word list rated by people plus rules for negation ("not
good"), intensifiers ("very"), capitals and exclamation marks. Its lexicon ships inside
the package, so nothing is downloaded; it is deterministic and fast (a feature script
scores in well under a tenth of a second) and needs only the standard library at run
time. Its limits: it measures how positive or negative the words are, not which emotion
(fear and anger both read as negative), it reads only the words, not subtext, and it was
built for short English texts such as posts and reviews; so each sentence of dialogue and
action is scored on its own and a scene's valence is the mean of its sentences'
compound scores weighted by their words. Intensity is the same mean of the absolute
compound scores: how strongly the words lean either way.

Pure Python (no Django, nothing of the apps): ``services`` call ``coverage`` with the
scenes read from the database.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import fountain
from . import grammar as g
from .markup import plain_text
from .model import (
    SPEECH_TYPES,
    Element,
    ElementType,
    Script,
    character_key,
    normalize_character_name,
)
from .pagination import LETTER, PageLayout, wrap_text
from .reports import script_report

__all__ = [
    "PROBLEM_KINDS",
    "CharacterCoverage",
    "Coverage",
    "EmotionPoint",
    "Interaction",
    "Problem",
    "SceneCoverage",
    "SceneInput",
    "Structure",
    "coverage",
    "parse_heading",
]

T = ElementType

PROBLEM_KINDS = (
    "cue-without-dialogue",
    "similar-names",
    "not-in-cast",
    "heading-rule",
    "dangling-parenthetical",
    "long-scene",
    "repeated-line",
    "before-introduction",
)
NOT_SET = "not set"

# --- input and output ---------------------------------------------------------------------


@dataclass(frozen=True)
class SceneInput:
    """One scene as the app stores it."""

    key: int  # the scene's id in the app (opaque here)
    heading: str  # "INT. KITCHEN - NIGHT" (may be empty or malformed)
    text: str  # the scene's body in Fountain, without its heading line
    cast: tuple[str, ...] = ()  # the scene's cast list as entered (any case); () = unknown
    act: str | None = None  # the act or section the scene belongs to, when known


@dataclass
class SceneCoverage:
    index: int  # 0-based
    key: int
    heading: str
    act: str | None
    int_ext: str  # "INT", "EXT", "INT/EXT" or ""
    time: str  # "DAY", "NIGHT", another word as written ("DAWN"), or ""
    location: str  # between the prefix and " - TIME", upper case
    eighths: int
    dialogue_words: int
    action_words: int
    dialogue_share: float  # dialogue / (dialogue + action) words; 0 for an empty scene
    longest_action_lines: int  # tallest run of action paragraphs, in printed lines
    longest_speech_words: int
    longest_speech_speaker: str  # "" when nobody speaks
    speakers: list[str]  # canonical names, in order of their first speech


@dataclass
class CharacterCoverage:
    name: str  # canonical (normalize_character_name)
    speeches: int  # cues
    dialogue_lines: int  # printed lines at the dialogue width
    words: int  # dialogue and lyrics words
    scenes: list[int]  # scene indexes where they speak
    first_scene: int
    last_scene: int
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Interaction:
    a: str  # a < b
    b: str
    shared_scenes: list[int]  # scenes where both speak
    exchanges: int  # times one's speech directly follows the other's in a scene


@dataclass
class Structure:
    int_ext: dict[str, int]  # label -> eighths ("" = no prefix)
    times: dict[str, int]  # time as written -> eighths ("" = none)
    locations: list[tuple[str, int, float]]  # (location, eighths, share), most first, top 15
    acts: list[tuple[str, int, int]]  # (label, first scene index, eighths), story order
    longest_speeches: list[tuple[str, int, int]]  # (name, words, scene index), top 5
    longest_action_blocks: list[tuple[int, int]]  # (printed lines, scene index), top 5


@dataclass
class EmotionPoint:
    index: int
    valence: float  # -1 (grim) .. 1 (happy)
    intensity: float  # 0 (flat) .. 1 (charged)
    smoothed: float  # centred moving average of valence over 5 scenes


@dataclass
class Problem:
    kind: str  # one of PROBLEM_KINDS
    message: str
    scene_index: int
    scene_key: int
    line: int  # 1-based line in the scene's text; 0 = the heading or the whole scene
    excerpt: str  # at most 80 characters


@dataclass
class Coverage:
    scenes: list[SceneCoverage]
    characters: list[CharacterCoverage]  # most words first
    interactions: list[Interaction]  # most exchanges first
    shares: dict[str, list[tuple[str, float]]]  # attribute -> (value, share of words)
    structure: Structure
    emotion: list[EmotionPoint]
    peaks: list[int]  # scene indexes, story order, at most 3
    troughs: list[int]
    problems: list[Problem]  # by (scene_index, line)
    pages: int
    eighths: int


# --- headings -----------------------------------------------------------------------------

_PREFIX_RE = re.compile(
    r"^(?P<prefix>INT\.?\s*/\s*EXT\.?|EXT\.?\s*/\s*INT\.?|I\s*/\s*E\.?|INT\.?|EXT\.?|EST\.?)"
    r"(?=[\s.]|$)",
    re.IGNORECASE,
)
# What a heading must start with to follow the rule (the period included).
_STANDARD_PREFIX_RE = re.compile(
    r"^(?:INT\./EXT\.|INT/EXT\.?|I/E\.?|INT\.|EXT\.|EST\.)(?=\s|$)", re.IGNORECASE
)
_TIME_SPLIT_RE = re.compile(r"\s+[-–—]+\s+")


def parse_heading(heading: str) -> tuple[str, str, str]:
    """Return (int_ext, time, location) of a heading: ("INT", "NIGHT", "KITCHEN").

    ``int_ext`` is "INT", "EXT" (also for "EST." establishing shots), "INT/EXT" or "";
    ``time`` is the part after the last " - ", upper case as written, or "".
    """
    text = heading.strip()
    if text.startswith(".") and not text.startswith(".."):
        text = text[1:]
    text, _ = g.split_scene_number(g.visible_text(text))
    text = " ".join(text.split())
    int_ext = ""
    if m := _PREFIX_RE.match(text):
        p = re.sub(r"[\s.]", "", m["prefix"]).upper()
        int_ext = "INT/EXT" if "/" in p else ("INT" if p == "INT" else "EXT")
        text = text[m.end() :].lstrip(". ")
    parts = _TIME_SPLIT_RE.split(text)
    time = ""
    if len(parts) > 1 and parts[-1].strip():
        time = parts.pop().strip().upper()
    location = " - ".join(parts).strip(" -.").upper()
    return int_ext, time, location


def _heading_problem(heading: str) -> str | None:
    """Return what the heading lacks, as a sentence, or None when it follows the rule.

    A heading forced with "." (".FLASHBACK") is a deliberate special heading: not flagged.
    """
    text = " ".join(g.split_scene_number(heading.strip())[0].split())
    if not text:
        return "This scene has no heading."
    if text.startswith(".") and not text.startswith(".."):
        return None
    prefix = bool(_STANDARD_PREFIX_RE.match(text))
    _, time, _ = parse_heading(text)
    if not prefix and not time:
        return "The heading says neither inside or outside (INT. or EXT.) nor the time of day."
    if not prefix:
        return "The heading does not start with INT., EXT. or INT./EXT."
    if not time:
        return 'The heading does not end with the time of day, such as " - DAY".'
    return None


# --- parsing ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scene:
    heading: Element
    body: list[tuple[Element, int]]  # (element, 1-based line in the scene's text)


def _heading_element(heading: str) -> Element:
    line = " ".join(heading.split())
    h = g.parse_scene_heading(line) if g.looks_like_scene_heading(line) else None
    if h is None and line:
        h = g.parse_scene_heading("." + line.lstrip(". "))
    if h is None:
        return Element(T.SCENE_HEADING, "", forced=True)
    return Element(T.SCENE_HEADING, h.text, forced=h.forced, scene_number=h.number)


def _parse_scene(scene: SceneInput) -> _Scene:
    # A blank first line keeps "Note: ..." on line 1 from reading as a title page, and
    # parses the text as it reads after its heading; line numbers are shifted back below.
    script = fountain.parse("\n" + scene.text.replace("\r\n", "\n"))
    body: list[tuple[Element, int]] = []
    line = 0  # the prepended blank line is line 0
    for el in script.elements:
        if el.type is T.SCENE_HEADING:
            # A heading line inside the text would start another scene: one input is one
            # scene, so it counts as action (as a reader would see a stray line).
            el = Element(T.ACTION, el.text, raw=el.raw)
        if line > 0:
            body.append((el, line))
        line += (el.raw or "").count("\n") + 1
    return _Scene(_heading_element(scene.heading), body)


def _excerpt(text: str) -> str:
    s = " ".join(plain_text(text).split())
    return s if len(s) <= 80 else s[:79].rstrip() + "…"


def _words(text: str) -> int:
    return len(plain_text(text).split())


# --- emotion ------------------------------------------------------------------------------

_analyzer: Any = None
_analyzer_lock = threading.Lock()
_SENTENCE_RE = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+|\n+")


def _vader() -> Any:
    """Return the process's one VADER analyzer (loading the lexicon takes ~30 ms)."""
    global _analyzer
    if _analyzer is None:
        with _analyzer_lock:
            if _analyzer is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _analyzer = SentimentIntensityAnalyzer()
    return _analyzer


def _emotion(texts: list[str]) -> tuple[float, float]:
    """Return (valence, intensity): word-weighted means of compound and |compound|."""
    analyzer = _vader()
    total = 0
    valence = 0.0
    intensity = 0.0
    for text in texts:
        for sentence in _SENTENCE_RE.split(text):
            n = len(sentence.split())
            if not n:
                continue
            compound = analyzer.polarity_scores(sentence)["compound"]
            total += n
            valence += compound * n
            intensity += abs(compound) * n
    if not total:
        return 0.0, 0.0
    return valence / total, intensity / total


def _smooth(values: list[float], window: int = 5) -> list[float]:
    half = window // 2
    out = []
    for i in range(len(values)):
        part = values[max(0, i - half) : i + half + 1]
        out.append(sum(part) / len(part))
    return out


def _extremes(values: list[float], sign: int, limit: int = 3) -> list[int]:
    """Return up to ``limit`` peaks (sign 1) or troughs (-1) of ``values``, in story order.

    A peak is a local maximum (a run of equal values higher than the runs on both sides;
    at an end, higher than its one neighbour) above the curve's mean; the ``limit``
    highest are kept. Troughs likewise, below the mean. A flat plateau counts once, at
    its middle.
    """
    if len(values) < 2:
        return []
    runs: list[tuple[float, int, int]] = []  # (sign * value, first index, last index)
    for i, v in enumerate(values):
        if runs and runs[-1][0] == sign * v:
            runs[-1] = (runs[-1][0], runs[-1][1], i)
        else:
            runs.append((sign * v, i, i))
    mean = sign * sum(values) / len(values)
    found = []
    for k, (v, a, b) in enumerate(runs):
        left = runs[k - 1][0] if k > 0 else None
        right = runs[k + 1][0] if k + 1 < len(runs) else None
        if (left is None and right is None) or v <= mean:
            continue
        if (left is None or v > left) and (right is None or v > right):
            found.append((v, (a + b) // 2))
    found.sort(key=lambda x: (-x[0], x[1]))
    return sorted(i for _, i in found[:limit])


# --- names --------------------------------------------------------------------------------

_ROLE_MARK_RE = re.compile(r"^(?:#?\d+\w*|[A-Z]|[IVX]+|NO\.?|#|JR\.?|SR\.?)$")


def _role_base(name: str) -> str:
    """Return ``name`` without numbering and suffixes: "GUARD #2" -> "GUARD"."""
    return " ".join(w for w in name.split() if not _ROLE_MARK_RE.match(w))


def _one_edit(a: str, b: str) -> bool:
    """Return True if ``a`` and ``b`` differ by exactly one insertion, deletion or change."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :]


def names_look_alike(a: str, b: str) -> bool:
    """Return True if two distinct names look like one name misspelt (JON / JOHN).

    Both at least 3 letters; difflib ratio >= 0.8, or one edit apart when both have at
    least 4 letters (so TOM / TIM, short and common, are not flagged). Names that differ
    only by a number, a letter, a roman numeral or Jr./Sr. are different roles on purpose
    (GUARD 1 / GUARD 2, COP #1 / COP #2, GUARD A / GUARD B).
    """
    if a == b:
        return False
    la = sum(c.isalpha() for c in a)
    lb = sum(c.isalpha() for c in b)
    if min(la, lb) < 3:
        return False
    if _role_base(a) == _role_base(b) and _role_base(a):
        return False
    if min(la, lb) >= 4 and _one_edit(a, b):
        return True
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= 0.8
        and matcher.quick_ratio() >= 0.8
        and (matcher.ratio() >= 0.8)
    )


# --- the analysis -------------------------------------------------------------------------


@dataclass(slots=True)
class _Speech:
    scene: int
    name: str
    line: int
    cue: Element
    words: int = 0
    said: bool = False  # a line of dialogue or lyrics with words
    last: Element | None = None  # the speech's last part so far
    last_line: int = 0


def _speech_problems(s: _Speech, scenes: Sequence[SceneInput]) -> list[Problem]:
    """Return the problems of a finished speech: no dialogue, or ending in parentheses.

    A speech with no dialogue is one problem (its cue), even when it holds a
    parenthetical.
    """
    key = scenes[s.scene].key
    if not s.said:
        message = f"{s.name or 'A character'} has a cue here but says nothing."
        return [
            Problem("cue-without-dialogue", message, s.scene, key, s.line, _excerpt(s.cue.text))
        ]
    if s.last is not None and s.last.type is T.PARENTHETICAL:
        message = (
            "This direction in parentheses ends the speech; it belongs before a line of dialogue."
        )
        return [
            Problem(
                "dangling-parenthetical",
                message,
                s.scene,
                key,
                s.last_line,
                _excerpt(s.last.text),
            )
        ]
    return []


def _norm_line(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", plain_text(text).lower()).split())


def _canon(name: str) -> str:
    return character_key(normalize_character_name(name))


def coverage(
    scenes: Sequence[SceneInput],
    *,
    attributes: Mapping[str, Mapping[str, str]] | None = None,
    introductions: Sequence[str] | None = None,
    layout: PageLayout = LETTER,
    long_scene_eighths: int = 24,
) -> Coverage:
    """Return the coverage of ``scenes`` (in script order); see the module docstring.

    ``attributes``: what the team filled in per attribute and character
    (``{"gender": {"MARA": "woman"}}``); ``introductions``: character names in the order
    the story outline introduces them (None: no outline).
    """
    parsed = [_parse_scene(s) for s in scenes]
    script = Script(elements=[el for p in parsed for el in [p.heading, *(e for e, _ in p.body)]])
    report = script_report(script, layout)
    eighths = [r.eighths for r in report.scenes]

    problems: list[Problem] = []

    def problem(kind: str, message: str, idx: int, line: int, excerpt: str) -> None:
        problems.append(Problem(kind, message, idx, scenes[idx].key, line, _excerpt(excerpt)))

    speeches: list[_Speech] = []
    scene_rows: list[SceneCoverage] = []
    emotion_raw: list[tuple[float, float]] = []
    action_blocks: list[tuple[int, int]] = []
    seen_lines: dict[str, tuple[int, int]] = {}
    wide = layout.action_width

    for idx, (scene, p) in enumerate(zip(scenes, parsed, strict=True)):
        int_ext, time, location = parse_heading(scene.heading)
        if msg := _heading_problem(scene.heading):
            problem("heading-rule", msg, idx, 0, scene.heading)
        if eighths[idx] > long_scene_eighths:
            whole, rest = divmod(eighths[idx], 8)
            length = f"{whole} {rest}/8" if rest else str(whole)
            problem(
                "long-scene",
                f"This scene runs {length} pages; scenes over "
                f"{_pages_label(long_scene_eighths)} pages often feel long to a reader.",
                idx,
                0,
                scene.heading,
            )
        cast = {_canon(c) for c in scene.cast if c.strip()}
        speakers: list[str] = []
        dialogue_words = action_words = 0
        run_lines = longest_run = 0
        texts: list[str] = []
        current: _Speech | None = None
        flagged_cast: set[str] = set()
        scene_start = len(speeches)

        for el, line in p.body:
            t = el.type
            if t in (T.BLANK, T.NOTE, T.BONEYARD, T.SYNOPSIS, T.SECTION):
                continue
            if t is T.ACTION:
                text = plain_text(el.text)
                action_words += len(text.split())
                if text.strip():
                    texts.append(text)
                run_lines += len(wrap_text(text, wide))
                longest_run = max(longest_run, run_lines)
            elif run_lines:
                action_blocks.append((run_lines, idx))
                run_lines = 0
            if t not in SPEECH_TYPES and current is not None:
                problems += _speech_problems(current, scenes)
                current = None
            if t is T.CHARACTER:
                name = normalize_character_name(el.text)
                current = _Speech(idx, name, line, el)
                speeches.append(current)
                if name not in speakers:
                    speakers.append(name)
                if cast and character_key(name) not in cast and name not in flagged_cast:
                    flagged_cast.add(name)
                    problem(
                        "not-in-cast",
                        f"{name} speaks here but is not in the scene's cast list.",
                        idx,
                        line,
                        el.text,
                    )
            elif t in SPEECH_TYPES and current is not None:
                current.last, current.last_line = el, line
                if t is T.PARENTHETICAL:
                    continue
                text = plain_text(el.text)
                n = len(text.split())
                if n:
                    current.said = True
                    texts.append(text)
                current.words += n
                dialogue_words += n
                if t is T.DIALOGUE and n >= 4:
                    key = _norm_line(el.text)
                    first = seen_lines.setdefault(key, (idx, line))
                    if first != (idx, line):
                        problem(
                            "repeated-line",
                            "Repeats a line said earlier in this scene."
                            if first[0] == idx
                            else f"Repeats a line from scene {first[0] + 1}.",
                            idx,
                            line,
                            el.text,
                        )
        if current is not None:
            problems += _speech_problems(current, scenes)
        if run_lines:
            action_blocks.append((run_lines, idx))
        scene_speeches = speeches[scene_start:]
        longest = max(scene_speeches, key=lambda s: s.words, default=None)
        total_words = dialogue_words + action_words
        scene_rows.append(
            SceneCoverage(
                index=idx,
                key=scene.key,
                heading=scene.heading,
                act=scene.act,
                int_ext=int_ext,
                time=time,
                location=location,
                eighths=eighths[idx],
                dialogue_words=dialogue_words,
                action_words=action_words,
                dialogue_share=dialogue_words / total_words if total_words else 0.0,
                longest_action_lines=longest_run,
                longest_speech_words=longest.words if longest else 0,
                longest_speech_speaker=longest.name if longest and longest.words else "",
                speakers=speakers,
            )
        )
        emotion_raw.append(_emotion(texts))

    characters = _characters(report, attributes)
    problems += _name_problems(speeches, scenes)
    if introductions:
        problems += _introduction_problems(speeches, introductions, scenes)
    problems.sort(key=lambda pr: (pr.scene_index, pr.line))

    valences = [v for v, _ in emotion_raw]
    smoothed = _smooth(valences)
    emotion = [
        EmotionPoint(i, round(v, 4), round(s, 4), round(sm, 4))
        for i, ((v, s), sm) in enumerate(zip(emotion_raw, smoothed, strict=True))
    ]
    return Coverage(
        scenes=scene_rows,
        characters=characters,
        interactions=_interactions(speeches),
        shares=_shares(characters, attributes),
        structure=_structure(scene_rows, speeches, action_blocks),
        emotion=emotion,
        peaks=_extremes(smoothed, 1),
        troughs=_extremes(smoothed, -1),
        problems=problems,
        pages=report.pages,
        eighths=sum(eighths),
    )


def _pages_label(e: int) -> str:
    whole, rest = divmod(e, 8)
    return f"{whole} {rest}/8" if rest and whole else f"{rest}/8" if rest else str(whole)


def _attribute_table(
    attributes: Mapping[str, Mapping[str, str]] | None,
) -> dict[str, dict[str, str]]:
    """Return attribute -> character key -> value, keeping only values filled in."""
    table: dict[str, dict[str, str]] = {}
    for attr, values in (attributes or {}).items():
        table[attr] = {_canon(n): v.strip() for n, v in values.items() if v and v.strip()}
    return table


def _characters(report, attributes) -> list[CharacterCoverage]:
    table = _attribute_table(attributes)
    out = []
    for c in report.characters:  # most words first, as reports ranks them
        key = character_key(c.name)
        out.append(
            CharacterCoverage(
                name=c.name,
                speeches=c.speeches,
                dialogue_lines=c.dialogue_lines,
                words=c.words,
                scenes=list(c.scenes),
                first_scene=c.scenes[0] if c.scenes else -1,
                last_scene=c.scenes[-1] if c.scenes else -1,
                attributes={a: v[key] for a, v in table.items() if key in v},
            )
        )
    return out


def _shares(
    characters: list[CharacterCoverage], attributes: Mapping[str, Mapping[str, str]] | None
) -> dict[str, list[tuple[str, float]]]:
    """Per attribute, each filled-in value's share of all dialogue words, then "not set"
    (characters nobody described). A value whose characters never speak gets 0.0."""
    total = sum(c.words for c in characters)
    out: dict[str, list[tuple[str, float]]] = {}
    for attr, values in _attribute_table(attributes).items():
        words: dict[str, int] = dict.fromkeys(sorted(set(values.values())), 0)
        unset = 0
        for c in characters:
            value = c.attributes.get(attr)
            if value is None:
                unset += c.words
            else:
                words[value] += c.words
        rows = sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))
        rows.append((NOT_SET, unset))
        out[attr] = [(v, n / total if total else 0.0) for v, n in rows]
    return out


def _interactions(speeches: list[_Speech]) -> list[Interaction]:
    shared: dict[tuple[str, str], list[int]] = {}
    exchanges: dict[tuple[str, str], int] = {}
    by_scene: dict[int, list[_Speech]] = {}
    for s in speeches:
        by_scene.setdefault(s.scene, []).append(s)
    for idx, group in by_scene.items():
        names = sorted({s.name for s in group})
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                shared.setdefault((a, b), []).append(idx)
        for prev, nxt in zip(group, group[1:], strict=False):
            if prev.name != nxt.name:
                pair = (min(prev.name, nxt.name), max(prev.name, nxt.name))
                exchanges[pair] = exchanges.get(pair, 0) + 1
    out = [Interaction(a, b, scenes, exchanges.get((a, b), 0)) for (a, b), scenes in shared.items()]
    out.sort(key=lambda x: (-x.exchanges, -len(x.shared_scenes), x.a, x.b))
    return out


def _structure(
    rows: list[SceneCoverage], speeches: list[_Speech], blocks: list[tuple[int, int]]
) -> Structure:
    int_ext: dict[str, int] = {}
    times: dict[str, int] = {}
    places: dict[str, int] = {}
    acts: dict[str, list[int]] = {}
    for r in rows:
        int_ext[r.int_ext] = int_ext.get(r.int_ext, 0) + r.eighths
        times[r.time] = times.get(r.time, 0) + r.eighths
        if r.location:
            places[r.location] = places.get(r.location, 0) + r.eighths
        if r.act:
            acts.setdefault(r.act, [r.index, 0])[1] += r.eighths
    total = sum(r.eighths for r in rows)
    locations = sorted(places.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
    longest = sorted(speeches, key=lambda s: (-s.words, s.scene, s.line))
    return Structure(
        int_ext=int_ext,
        times=times,
        locations=[(loc, e, e / total) for loc, e in locations],
        acts=[(label, first, e) for label, (first, e) in acts.items()],
        longest_speeches=[(s.name, s.words, s.scene) for s in longest[:5] if s.words],
        longest_action_blocks=sorted(blocks, key=lambda b: (-b[0], b[1]))[:5],
    )


def _first_speeches(speeches: list[_Speech]) -> dict[str, _Speech]:
    first: dict[str, _Speech] = {}
    for s in speeches:
        first.setdefault(s.name, s)
    return first


def _name_problems(speeches: list[_Speech], scenes: Sequence[SceneInput]) -> list[Problem]:
    """One problem per pair of look-alike names, at the first speech of the rarer one."""
    first = _first_speeches(speeches)
    count: dict[str, int] = {}
    for s in speeches:
        count[s.name] = count.get(s.name, 0) + 1
    order = {name: i for i, name in enumerate(first)}
    names = list(first)
    out = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if not names_look_alike(a, b):
                continue
            # The rarer name (or, as often, the later one) is the likely misspelling.
            rare, other = sorted((a, b), key=lambda n: (count[n], -order[n]))
            s = first[rare]
            out.append(
                Problem(
                    "similar-names",
                    f"{rare} and {other} look alike: is one a misspelling of the other?",
                    s.scene,
                    scenes[s.scene].key,
                    s.line,
                    _excerpt(s.cue.text),
                )
            )
    return out


def _introduction_problems(
    speeches: list[_Speech], introductions: Sequence[str], scenes: Sequence[SceneInput]
) -> list[Problem]:
    """Flag a character who first speaks before someone the outline introduces earlier."""
    rank: dict[str, int] = {}
    for name in introductions:
        rank.setdefault(_canon(name), len(rank))
    first = _first_speeches(speeches)
    order = {character_key(n): (s, pos) for pos, (n, s) in enumerate(first.items())}
    out = []
    for key, (s, pos) in order.items():
        if key not in rank:
            continue
        earlier = [
            (rank[k], other)
            for k, (other, other_pos) in order.items()
            if k in rank and rank[k] < rank[key] and other_pos > pos
        ]
        if not earlier:
            continue
        _, other = min(earlier, key=lambda x: x[0])
        out.append(
            Problem(
                "before-introduction",
                f"{s.name} speaks before {other.name}, whom the outline introduces first.",
                s.scene,
                scenes[s.scene].key,
                s.line,
                _excerpt(s.cue.text),
            )
        )
    return out
