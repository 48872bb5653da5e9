"""The format-neutral screenplay model shared by every reader and writer.

A ``Script`` is a title page (ordered key/value entries) plus an ordered list of typed
``Element`` objects. Readers fill ``raw`` with the exact source lines so that the Fountain
writer can reproduce the input byte for byte; elements built in code (the FDX reader,
tests) leave ``raw`` as ``None`` and are written from their fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

# Defined with the Fountain line rules; fdx.py and html.py import them from here.
from . import grammar
from .grammar import split_cue, split_hidden


class ElementType(StrEnum):
    """The kinds of screenplay element (Fountain 1.1 plus ``blank`` for exact round trips);
    the names are the grammar's (``grammar.ELEMENT_NAMES``)."""

    SCENE_HEADING = grammar.SCENE_HEADING
    ACTION = grammar.ACTION
    CHARACTER = grammar.CHARACTER
    DIALOGUE = grammar.DIALOGUE
    PARENTHETICAL = grammar.PARENTHETICAL
    LYRICS = grammar.LYRICS
    TRANSITION = grammar.TRANSITION
    CENTERED = grammar.CENTERED
    PAGE_BREAK = grammar.PAGE_BREAK
    SECTION = grammar.SECTION
    SYNOPSIS = grammar.SYNOPSIS
    NOTE = grammar.NOTE
    BONEYARD = grammar.BONEYARD
    BLANK = grammar.BLANK

    @property
    def css_class(self) -> str:
        return "fx-" + self.value.replace("_", "-")


# Element types that belong to a speech once a character cue opened it.
SPEECH_TYPES = frozenset({ElementType.DIALOGUE, ElementType.PARENTHETICAL, ElementType.LYRICS})


@dataclass(slots=True)
class Element:
    """One screenplay element; which optional fields matter depends on ``type``."""

    type: ElementType
    text: str = ""
    forced: bool = False
    # scene_heading: "1", "1A", "I-1-A" (Fountain #...#) or None.
    scene_number: str | None = None
    # character: name without extensions, e.g. "EDWARD" for "EDWARD (V.O.)".
    name: str | None = None
    # character: parenthesised extensions without parentheses, e.g. ("V.O.", "CONT'D").
    extensions: tuple[str, ...] = ()
    # character: the second speaker of a dual-dialogue pair (Fountain "^").
    dual: bool = False
    # section: number of "#".
    level: int = 0
    # Exact source text (possibly several lines joined by "\n"); None when built in code.
    raw: str | None = None
    # Production revisions: the index of the revision that last changed this element
    # (1 = the first coloured revision after the locked white draft), or None.
    mark: int | None = None

    @property
    def extension(self) -> str | None:
        """Return the extensions joined as they read on a cue ("V.O.", "O.S., CONT'D")."""
        return ", ".join(self.extensions) or None


@dataclass(slots=True)
class TitleEntry:
    """One title page field: ``key`` as written, ``value`` with lines joined by "\\n"."""

    key: str
    value: str
    raw: str | None = None


@dataclass(slots=True)
class Script:
    """A screenplay: title page entries and the ordered body elements."""

    title_page: list[TitleEntry] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)

    def title_field(self, key: str, default: str = "") -> str:
        """Return the first title page value for ``key`` (case-insensitive)."""
        wanted = key.strip().lower()
        for entry in self.title_page:
            if entry.key.strip().lower() == wanted:
                return entry.value
        return default

    @property
    def title(self) -> str:
        return strip_markup(self.title_field("title"))

    def without_raw(self) -> Script:
        """Return a copy whose elements are written from their fields only."""
        from dataclasses import replace

        return Script(
            title_page=[replace(e, raw=None) for e in self.title_page],
            elements=[replace(e, raw=None) for e in self.elements],
        )


# Inline Fountain markup that never reaches a printed page.
_EMPHASIS_RE = re.compile(r"(?<!\\)(\*{1,3}|_)")


def strip_markup(text: str) -> str:
    """Return ``text`` without inline notes, boneyard and emphasis markers."""
    text = "".join(piece for hidden, piece in split_hidden(text) if not hidden)
    text = _EMPHASIS_RE.sub("", text)
    return text.replace("\\*", "*").replace("\\_", "_")


def normalize_character_name(cue: str) -> str:
    """Return the canonical character name of a cue: "Edward (CONT'D)" -> "EDWARD"."""
    name, _ = split_cue(strip_markup(cue).lstrip("@").rstrip().rstrip("^"))
    return name.upper()


def character_key(name: str) -> str:
    """Return the key under which two character names are one character.

    ``MAN’S VOICE`` and ``MAN'S VOICE`` are the same speaker typed with and without smart
    quotes: the typographic apostrophe (and its look-alike ``ʼ``) counts as ``'``. Names
    are compared upper case, spaces collapsed.
    """
    return " ".join(name.split()).upper().replace("’", "'").replace("ʼ", "'")
