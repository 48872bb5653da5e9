"""A scripted rater: a fixed, checkable taste used in place of a human for the feedback loop.

The feedback-loop experiment is: sample several continuations per prompt, rate them, turn
the ratings into preference pairs (``preference.make_pairs_from_ratings``), run DPO, and
check that the next round of samples rates higher. A human rater is slow and noisy; this
rater is instant and deterministic, so the experiment measures the *training loop* and not
the rater. Its taste is deliberately simple, so anyone can check a score by hand.

The rule (``rate(text, cast)`` returns a float in [1, 5])
-------------------------------------------------------
1. **Empty** text (nothing but whitespace) scores **1.0**.
2. **Character cues.** A cue is what the app's Fountain grammar
   (``scripts_app.formats.grammar``, shared with the importer and the editor) calls one:
   a line that

   * comes first in the passage or right after a blank line,
   * is followed by a non-empty line (the dialogue or a parenthetical),
   * is in capitals (at least one upper-case letter, no lower-case one, ending in a
     letter, digit, ``.`` or an apostrophe), optionally followed by extensions in
     parentheses (``HAMLET (V.O.)``) and/or a dual-dialogue caret ``^``; or is forced
     with ``@`` (``@Hamlet``). A scene heading (``INT.``, ``ext.``, ...), a transition
     (``CUT TO:``) or a shout (``STAND!``) is not a cue.

   The cue's *name* is the line without its extension/caret, spaces collapsed. It is
   **on cast** if it equals (case-insensitively, spaces collapsed) a name in the requested
   ``cast`` (a list of names, or one comma-separated string as the prompt shows it).
   ``cast_term = on-cast cues / all cues`` (0 when there are no cues: a passage without
   dialogue earns no cast credit). Every off-cast cue therefore pulls the term down.
3. **Repeated lines.** Take every non-empty line that is not a cue and not a
   parenthetical (a line wholly in parentheses); compare them with whitespace collapsed
   and case folded. ``duplicates`` = how many of them already appeared earlier.
   ``repeat_term = 1 - duplicates / lines`` (1 when every line is new). Cue lines are left
   out on purpose: the same speaker talking twice is normal, the same sentence twice is a
   degenerate loop.
4. ``score = 1 + 2 * cast_term + 2 * repeat_term``.

Examples: a clean exchange between two requested characters scores 5; the same
exchange where one of two cues names a stranger scores 4; a passage with no cues and no
repeats scores 3; a passage that loops on one line with off-cast cues only scores about 1.

A second taste: "brisk" (``rate(text, cast, taste="brisk")``)
------------------------------------------------------------
A team that wants quick exchanges rather than long speeches. Same parsing; a *speech* is
a cue with the lines under it (up to the next blank line, parentheticals left out); it is
*short* if it has one or two lines. ``exchange_term = min(short speeches, 3) / 3`` and
``score = 1 + 2 * exchange_term + 2 * repeat_term``: three short speeches without a
repeated line score 5; prose without cues scores 3; one long speech scores 3.

Why two: the ``tiny`` model the app trains on first start (13 minutes on two cores) never
names the requested cast (0 % of its cues, see docs/BENCHMARKS.md), so under the cast
taste every one of its drafts scores the same and there is nothing for feedback to
reinforce. It does write speeches of varied length, so the brisk taste is one it meets
sometimes, and the experiment can show whether feedback makes it meet it more often.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The one Fountain line grammar: stdlib only, the single app module generation.core may
# import (see the import-linter contract in pyproject.toml).
from scripts_app.formats import grammar


def _norm(s: str) -> str:
    """Collapse runs of whitespace and case-fold, for comparing names and lines."""
    return " ".join(s.split()).casefold()


def cue_name(line: str) -> str | None:
    """Return the speaker's name if ``line`` *looks* like a character cue, else None.

    Only the shape of the line is checked here; ``rate`` also requires the blank line
    before and the dialogue line after.
    """
    cue = grammar.parse_cue(line)
    return cue.name if cue and cue.name else None


@dataclass
class Rating:
    """The score and the counts it was computed from (handy when debugging the taste)."""

    score: float
    cues: int = 0  # character cues found
    on_cast: int = 0  # ... naming someone in the requested cast
    lines: int = 0  # non-empty, non-cue, non-parenthetical lines
    duplicates: int = 0  # ... that repeat an earlier one
    off_cast_names: tuple[str, ...] = ()  # distinct off-cast names, in order of appearance
    short_speeches: int = 0  # cues with one or two lines of speech under them
    empty: bool = False  # nothing but whitespace

    @property
    def cast_term(self) -> float:
        return self.on_cast / self.cues if self.cues else 0.0

    @property
    def repeat_term(self) -> float:
        return 1.0 - self.duplicates / self.lines if self.lines else 1.0

    @property
    def exchange_term(self) -> float:
        return min(self.short_speeches, 3) / 3

    def score_for(self, taste: str) -> float:
        """The score under a taste ("cast" or "brisk"); 1.0 for empty text."""
        if self.empty:
            return 1.0
        if taste == "cast":
            return 1.0 + 2.0 * self.cast_term + 2.0 * self.repeat_term
        if taste == "brisk":
            return 1.0 + 2.0 * self.exchange_term + 2.0 * self.repeat_term
        raise ValueError(f"unknown taste {taste!r} (choose one of {', '.join(TASTES)})")


TASTES = ("cast", "brisk")


def rate_details(text: str, cast: Iterable[str]) -> Rating:
    """Rate a generated scene passage against the requested cast; return score + counts."""
    if not text.strip():
        return Rating(score=1.0, empty=True)
    if isinstance(cast, str):  # "HAMLET, HORATIO" as the prompt's cast field shows it
        cast = cast.split(",")
    wanted = {_norm(c) for c in cast if c.strip()}
    lines = text.splitlines()
    cues = on_cast = content = duplicates = short = 0
    off_names: list[str] = []
    seen: set[str] = set()
    speech = None  # lines under the current cue (None: not in a speech)

    def end_speech():
        nonlocal short
        if speech is not None and 1 <= speech <= 2:
            short += 1

    # Fountain: a cue has a blank line (or the start of the passage) before it and its
    # dialogue directly after it; the grammar decides, in context.
    kinds = grammar.classify_lines(lines, title_page=False)
    for raw, kind in zip(lines, kinds, strict=True):
        line = raw.strip()
        if not line:
            if kind == grammar.BLANK:  # (a line of two spaces stays inside a speech)
                end_speech()
                speech = None
            continue
        name = cue_name(line) if kind == grammar.CHARACTER else None
        if name is not None:
            end_speech()
            speech = 0
            cues += 1
            if _norm(name) in wanted:
                on_cast += 1
            elif name not in off_names:
                off_names.append(name)
            continue
        if grammar.is_parenthetical(line):
            continue  # a parenthetical such as "(aside)" may well recur
        if speech is not None:
            speech += 1
        content += 1
        key = _norm(line)
        if key in seen:
            duplicates += 1
        seen.add(key)
    r = Rating(
        score=0.0,
        cues=cues,
        on_cast=on_cast,
        lines=content,
        duplicates=duplicates,
        off_cast_names=tuple(off_names),
    )
    end_speech()
    r.short_speeches = short
    r.score = r.score_for("cast")
    return r


def rate(text: str, cast: Iterable[str], taste: str = "cast") -> float:
    """Return the scripted rater's score of ``text`` in [1, 5] (see the module docstring)."""
    return rate_details(text, cast).score_for(taste)
