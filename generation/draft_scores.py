"""Automatic scores of a finished draft: what a writer should know before reading it.

``score_draft`` looks at a draft's text (and what was asked for) and answers:

* **format** - does it read as a screenplay? It must parse as Fountain, no character cue
  may stand without a speech, a draft that continues or rewrites a scene may not start a
  new scene, and it should not be almost all action (which usually means the cues
  broke and the dialogue runs on as plain paragraphs);
* **cast adherence** - how much of the talking is done by the characters the writer
  asked for, and who else turned up;
* **repetition** - how much of the draft repeats itself (models loop when they fail);
* **length** - how much of the requested length the model used (a draft far below 1 ran
  out of story; at 1 it was cut off);
* **memorisation** - the longest stretch copied word for word from the model's training
  corpus or from other projects: above the threshold the draft is flagged, as it may be
  somebody else's writing.

The scoring functions take plain values and touch no database, so the worker can call
them on a finished draft and tests can call them directly. They import no torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from generation.core.memorisation import DEFAULT_N, NgramIndex, longest_copied_span
from generation.core.memorisation import normalise_words as _words
from scripts_app.formats import grammar
from scripts_app.formats.fountain import parse
from scripts_app.formats.model import (
    SPEECH_TYPES,
    ElementType,
    character_key,
    normalize_character_name,
)

T = ElementType

# Draft tasks (generation.models.DraftTask values, plus "dialogue"): only a new scene may
# open with a scene heading.
TASKS = ("new", "continue", "rewrite", "dialogue")
_TASK_NAMES = {
    "continue": "A continuation",
    "rewrite": "A rewrite",
    "dialogue": "A dialogue draft",
}

# A draft of at least this many non-blank lines is suspicious when more than this share
# of them parse as action: a screenplay scene is rarely all description, and a model
# whose cues broke produces exactly that.
ACTION_CHECK_MIN_LINES = 8
ACTION_SHARE_MAX = 0.85

REPETITION_N = 4  # word n-gram size of the repetition score
MEMORISATION_WORDS = 40  # default threshold (the caller reads COWRITE_MEMORISATION_WORDS)


@dataclass
class DraftScores:
    """The scores of one draft (``as_dict`` for a JSONField).

    ``format_ok``/``format_issues``: whether the draft reads as a valid screenplay, and
    if not, why, in plain words. ``cast_adherence``: the share of speeches given to the
    requested cast (1.0 = only them; None when no cast was given or nobody speaks);
    ``unknown_speakers``: who else speaks. ``repetition``: the share of the draft's
    four-word phrases that already occurred earlier in it (0 = none, near 1 = it loops).
    ``length_ratio``: tokens generated / tokens allowed (None when unknown).
    ``copied_words``/``copied_excerpt``/``copied_source``: the longest stretch found word
    for word in the training corpus or other projects, and where it came from;
    ``memorised``: that stretch is at least the threshold (40 words by default).
    """

    format_ok: bool = True
    format_issues: list[str] = field(default_factory=list)
    cast_adherence: float | None = None
    unknown_speakers: list[str] = field(default_factory=list)
    repetition: float = 0.0
    length_ratio: float | None = None
    copied_words: int = 0
    copied_excerpt: str = ""
    copied_source: str = ""
    memorised: bool = False

    def as_dict(self) -> dict:
        """Return plain JSON-ready values (floats rounded to 4 places)."""
        d = asdict(self)
        for k in ("cast_adherence", "repetition", "length_ratio"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 4)
        return d


# --------------------------------------------------------------------------- format


def _canonical(name: str) -> str:
    """The key two spellings of one speaker share: "Hamlet (V.O.)" -> "HAMLET"."""
    return character_key(normalize_character_name(name))


def check_format(text: str, task: str, cast: Sequence[str] = ()) -> list[str]:
    """Return the format problems of a draft (empty when it reads as a valid screenplay).

    * the draft is empty, or does not parse as Fountain;
    * it opens with ``Key: value`` lines, which Fountain reads as a title page;
    * a character cue has no speech after it - a cue followed by a blank line (which
      Fountain then reads as action: counted when the name is in the cast, speaks
      elsewhere in the draft, has an extension like (V.O.), or ends the draft, as a cut-off
      generation does) or a cue with only a parenthetical;
    * a scene heading where none belongs: any heading in a draft that continues or
      rewrites a scene or writes dialogue, and any heading but an opening one in a new
      scene's draft;
    * more than 85% of 8+ lines parse as action (the cues probably broke).
    """
    if not text.strip():
        return ["The draft is empty."]
    try:
        script = parse(text)
    except Exception as e:  # the parser is total; this is a safety net
        return [f"The draft does not parse as Fountain ({type(e).__name__})."]
    issues: list[str] = []
    if script.title_page:
        issues.append(
            "The draft opens with 'Key: value' lines, which read as a title page, not a scene."
        )
    elements = [e for e in script.elements if e.type != T.BLANK]
    speakers = {_canonical(e.name or e.text) for e in elements if e.type == T.CHARACTER}
    wanted = {_canonical(c) for c in cast if c.strip()}

    # Cues without a speech.
    empty: list[str] = []
    for i, el in enumerate(elements):
        if el.type == T.CHARACTER:
            speech = []
            for nxt in elements[i + 1 :]:
                if nxt.type not in SPEECH_TYPES:
                    break
                speech.append(nxt)
            if not any(s.type != T.PARENTHETICAL and s.text.strip() for s in speech):
                empty.append(el.name or el.text)
        elif el.type == T.ACTION and "\n" not in el.text:
            # A lone caps line followed by a blank line reads as action; it is a cue
            # with its speech missing when it names a speaker or ends the draft.
            line = el.text.strip()
            cue = grammar.parse_cue(line)
            if cue is None:
                continue
            name = _canonical(cue.name)
            if name in wanted or name in speakers or cue.extensions or i == len(elements) - 1:
                empty.append(cue.name)
    if empty:
        issues.append(
            f"{_count(len(empty), 'character cue')} with no dialogue: {', '.join(empty[:5])}"
            + (" ..." if len(empty) > 5 else "")
            + "."
        )

    # Scene headings that do not belong.
    headings = [i for i, el in enumerate(elements) if el.type == T.SCENE_HEADING]
    if task != "new" and headings:
        what = _TASK_NAMES.get(task, f"A {task} draft")
        issues.append(
            f"{what} starts a new scene: stray heading '{elements[headings[0]].text.strip()}'."
        )
    elif task == "new" and any(i > 0 for i in headings):
        stray = next(i for i in headings if i > 0)
        issues.append(
            f"The draft runs into another scene: heading '{elements[stray].text.strip()}'."
        )

    # Share of action lines.
    lines = {t: 0 for t in T}
    for el in elements:
        lines[el.type] += len([x for x in el.text.split("\n") if x.strip()]) or 1
    total = sum(lines.values())
    if total >= ACTION_CHECK_MIN_LINES and lines[T.ACTION] / total > ACTION_SHARE_MAX:
        issues.append(
            f"{lines[T.ACTION] * 100 // total}% of the lines read as action: the character "
            "cues may be malformed."
        )
    return issues


def _count(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


# --------------------------------------------------------------------------- cast


def cast_scores(text: str, cast: Sequence[str]) -> tuple[float | None, list[str]]:
    """Return (share of speeches by the requested cast, speakers outside it).

    Names compare as the app compares characters: case-insensitive, extensions like
    (V.O.) or (CONT'D) ignored. The share is None when no cast was given or nobody
    speaks; the unknown speakers are listed in order of first appearance.
    """
    try:
        elements = parse(text).elements
    except Exception:
        return None, []
    names = [_canonical(e.name or e.text) for e in elements if e.type == T.CHARACTER]
    wanted = {_canonical(c) for c in cast if c.strip()}
    unknown = list(dict.fromkeys(n for n in names if wanted and n not in wanted))
    if not wanted or not names:
        return None, unknown
    return sum(n in wanted for n in names) / len(names), unknown


# --------------------------------------------------------------------------- repetition


def repetition_score(text: str, n: int = REPETITION_N) -> float:
    """Return the share of the draft's word ``n``-grams that repeat an earlier one.

    0 when every four-word phrase is new, close to 1 when the draft loops on one phrase.
    Words compare as in the memorisation check (case and punctuation ignored).
    """
    words = _words(text)
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return (len(grams) - len(set(grams))) / len(grams)


def length_ratio(tokens: int | None, max_new_tokens: int | None) -> float | None:
    """Return generated tokens / allowed tokens (None when either is unknown)."""
    if tokens is None or not max_new_tokens or max_new_tokens <= 0:
        return None
    return tokens / max_new_tokens


# --------------------------------------------------------------------------- all


def other_projects_index(texts: Iterable[tuple[str, str]], n: int = DEFAULT_N) -> NgramIndex:
    """Index other projects' scene texts, given as ``(source_label, text)`` pairs."""
    return NgramIndex.build(texts, n=n)


def score_draft(
    text: str,
    *,
    cast: Sequence[str],
    task: str,
    max_new_tokens: int | None,
    tokens: int | None,
    indexes: Sequence[NgramIndex] = (),
    memorisation_words: int = MEMORISATION_WORDS,
) -> DraftScores:
    """Score a finished draft (see the module docstring for what each score means).

    ``indexes``: the model version's corpus index and/or an index of other projects'
    text; the longest copied span over all of them is reported. ``memorisation_words``:
    the span length (in words) from which a draft counts as memorised.
    """
    issues = check_format(text, task, cast)
    adherence, unknown = cast_scores(text, cast)
    best = None
    for index in indexes:
        if index is None:
            continue
        c = longest_copied_span(index, text)
        if best is None or c.words > best.words:
            best = c
    copied_words = best.words if best else 0
    return DraftScores(
        format_ok=not issues,
        format_issues=issues,
        cast_adherence=adherence,
        unknown_speakers=unknown,
        repetition=repetition_score(text),
        length_ratio=length_ratio(tokens, max_new_tokens),
        copied_words=copied_words,
        copied_excerpt=best.excerpt if best and copied_words else "",
        copied_source=(best.source or "") if best and copied_words else "",
        memorised=memorisation_words > 0 and copied_words >= memorisation_words,
    )
