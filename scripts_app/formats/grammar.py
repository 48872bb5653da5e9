"""The Fountain line grammar: the one definition of what each line of a screenplay is.

Fountain 1.1 (https://fountain.io/syntax) decides almost every element from one line and
its context: is the line before it blank, is the line after it blank, and does it sit
inside a speech (the lines under a character cue). This module is that decision and
nothing more. ``formats/fountain.py`` builds elements from it; ``services.validate_heading``
checks scene headings with it; ``generation/core/corpus.py`` and ``generation/core/rater.py``
find headings and cues with it; the editor's highlighter
(``static/src/editor/fountain-mode.js``) follows the same rules, and the shared vectors in
``tests/fixtures/fountain_grammar.json`` check the Python and the JavaScript against each
other.

Standard library only (no Django, nothing of the apps): ``generation.core`` imports this
module and must stay importable with nothing but PyTorch installed.

The rules, in the order ``classify_line`` applies them to a non-blank line outside a
speech:

1. Marked lines, anywhere: ``===`` (three or more ``=``) page break; ``#`` section;
   ``=`` synopsis; ``> text <`` centered; ``>`` forced transition; ``~`` lyrics; ``.``
   forced scene heading (but not ``..``, nor ``.`` followed by a space: those start
   ellipses in action); ``@`` forced character cue (any case); ``!`` forced action.
2. After a blank line: a **scene heading** starts with ``INT``, ``EXT``, ``EST``,
   ``INT./EXT``, ``INT/EXT`` or ``I/E`` in any case, followed by ``.`` or a space
   (``INT. HOUSE - DAY``, ``i/e car``, ``INT.``); ``INTERIOR`` and ``EXT/INT`` are not
   headings. No blank line is needed *after* it: writers often omit it, and a line
   starting ``INT.`` is never meant as a cue. An optional scene number ends it: ``#12#``.
3. Between blank lines: a **transition** is upper case and ends in ``TO:`` (``CUT TO:``).
4. After a blank line and before a non-blank one: a **character cue**. Its name (the text
   before the first ``(``, without a final ``^``) has at least one upper-case letter (any
   script: ``JOSÉ``), no lower-case letter, and ends in a letter, a digit, ``.``, ``'`` or
   ``’``. So ``MAN’S VOICE``, ``MAN #2``, ``R2D2`` and ``MRS. O'NEIL-SMITH`` are cues;
   ``CUT TO:``, ``STAND!``, ``1984`` and ``Edward`` are not. Extensions in parentheses
   follow in any case (``(V.O.)``, ``(O.S.)``, ``(cont'd)``, ``(CONT’D)``); a final ``^``
   marks the second speaker of dual dialogue.
5. Anything else is action.

Rules 2 to 4 read the line without inline notes and boneyard (``BOB [[or JIM?]]`` is a
cue) and without the spaces and tabs around it, which a reader cannot see: ``CUT TO:``
followed by trailing spaces is a transition, ``BOB`` followed by a tab a cue (only action
keeps its indentation as written). The markers of rule 1 are read on the line as written.

Inside a speech (``in_speech=True``): ``(...)`` is a parenthetical, ``~`` lyrics, any other
line dialogue; a blank line ends the speech, except a line of exactly two spaces, which is
an empty line of dialogue.

Notes (``[[ ]]``) and boneyard (``/* */``) that fill whole lines, possibly several, are
elements of their own (``BlockFinder``; a note may not cross an empty line); otherwise
they stay inline. ``classify_lines`` applies all of this to a whole document.

A title page (``Key: value`` lines) may open the document and ends at the first blank
line (``title_page_end``). A key line is an unindented ``Key:`` line whose key is a letter
then letters, digits, spaces, ``_`` or ``-`` (``Draft date:``), and which is not a scene
heading (``INT. HOUSE: KITCHEN``). The document opens with a title page when its first line
is a key line and (``starts_title_page``)

- its value is on the same line (``Title: Big Fish``), or
- the next line is indented, with a space or a tab, and not blank: the value below its
  key (``Title:`` then ``    Big Fish``), or
- the next line is another key line (``Title:`` then ``Author: Ann``: an empty field).

So a lone ``FADE IN:`` or ``CUT TO:`` on the first line, followed by a blank line, the end
of the text or an unindented line such as a heading, is no title page but the first line
of the script (action, or a transition between blank lines). Inside a title page, any
unkeyed line continues the value of the key above it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    # element names (the values of formats.model.ElementType) and TITLE_PAGE
    "ACTION",
    "BLANK",
    "BONEYARD",
    "CENTERED",
    "CHARACTER",
    "DIALOGUE",
    "LYRICS",
    "NOTE",
    "PAGE_BREAK",
    "PARENTHETICAL",
    "SCENE_HEADING",
    "SECTION",
    "SYNOPSIS",
    "TITLE_PAGE",
    "TRANSITION",
    "ELEMENT_NAMES",
    # regular expressions
    "ANY_SCENE_HEADING_RE",
    "CENTERED_RE",
    "CHARACTER_NAME_RE",
    "FORCED_ACTION_RE",
    "FORCED_CHARACTER_RE",
    "FORCED_SCENE_HEADING_RE",
    "FORCED_TRANSITION_RE",
    "LYRICS_RE",
    "PAGE_BREAK_RE",
    "SCENE_HEADING_RE",
    "SCENE_NUMBER_RE",
    "SECTION_RE",
    "SYNOPSIS_RE",
    "TITLE_KEY_RE",
    "BLOCK_MARKERS",
    # functions and types
    "BlockFinder",
    "Cue",
    "SceneHeading",
    "classify_line",
    "classify_lines",
    "cue_parts",
    "is_blank",
    "is_character_name",
    "is_cue_name",
    "is_parenthetical",
    "is_scene_heading",
    "is_transition",
    "looks_like_scene_heading",
    "parse_cue",
    "parse_scene_heading",
    "split_cue",
    "split_hidden",
    "split_scene_number",
    "starts_title_page",
    "title_key",
    "title_page_end",
    "visible_text",
]

# --- element names ------------------------------------------------------------------------

SCENE_HEADING = "scene_heading"
ACTION = "action"
CHARACTER = "character"
DIALOGUE = "dialogue"
PARENTHETICAL = "parenthetical"
LYRICS = "lyrics"
TRANSITION = "transition"
CENTERED = "centered"
PAGE_BREAK = "page_break"
SECTION = "section"
SYNOPSIS = "synopsis"
NOTE = "note"
BONEYARD = "boneyard"
BLANK = "blank"
ELEMENT_NAMES = frozenset(
    {
        SCENE_HEADING,
        ACTION,
        CHARACTER,
        DIALOGUE,
        PARENTHETICAL,
        LYRICS,
        TRANSITION,
        CENTERED,
        PAGE_BREAK,
        SECTION,
        SYNOPSIS,
        NOTE,
        BONEYARD,
        BLANK,
    }
)
# Not an element: what ``classify_lines`` calls the lines of a title page.
TITLE_PAGE = "title_page"

# --- regular expressions ------------------------------------------------------------------

_HEADING_PREFIX = r"(?:INT\.?/EXT|INT|EXT|EST|I/E)"
#: The start of a scene heading by its prefix (match against the stripped line).
SCENE_HEADING_RE = re.compile(rf"^(?P<prefix>{_HEADING_PREFIX})[. ]", re.IGNORECASE)
#: A heading forced with a single leading period: ``.SNIPER SCOPE POV``.
FORCED_SCENE_HEADING_RE = re.compile(r"^\s*\.(?P<text>[^.\s].*)$")
#: Either kind of scene heading, by its start (match against the stripped line).
ANY_SCENE_HEADING_RE = re.compile(rf"^(?:{_HEADING_PREFIX}[. ]|\.[^.\s])", re.IGNORECASE)
#: A scene number closing a heading: ``INT. HOUSE - DAY #1A#``.
SCENE_NUMBER_RE = re.compile(r"^(?P<text>.*?)(?P<sep>\s*)#(?P<num>[A-Za-z0-9.\-]+)#\s*$")
# Greedy key then ":" (key stripped later): a lazy key followed by \s* backtracks
# quadratically on a long run of spaces.
#: A title page line: ``Key: value``.
TITLE_KEY_RE = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9 _\-]*):(?P<value>.*)$")
PAGE_BREAK_RE = re.compile(r"^\s*={3,}\s*$")
SECTION_RE = re.compile(r"^\s*(?P<hashes>#+)(?P<text>.*)$")
SYNOPSIS_RE = re.compile(r"^\s*=(?P<text>.*)$")
CENTERED_RE = re.compile(r"^\s*>(?P<text>.*)<\s*$")
FORCED_TRANSITION_RE = re.compile(r"^\s*>(?P<text>.*)$")
LYRICS_RE = re.compile(r"^\s*~(?P<text>.*)$")
FORCED_CHARACTER_RE = re.compile(r"^\s*@(?P<text>.*)$")
FORCED_ACTION_RE = re.compile(r"^\s*!(?P<text>.*)$")
#: A character name the app stores (``services.normalize_character_name``, after upper
#: casing): a letter first, then letters, digits, spaces, ``.``, ``'``, ``’`` and ``-``.
#: Stricter than a cue: ``MAN #2`` reads as a cue but is not a valid name.
CHARACTER_NAME_RE = re.compile(r"^[^\W\d_][\w .'’\-]*$")
#: Opener and closer of the block elements.
BLOCK_MARKERS = {BONEYARD: ("/*", "*/"), NOTE: ("[[", "]]")}

_CUE_EXT_RE = re.compile(r"\(([^()]*)\)")
_HIDDEN_PAIRS = {"[[": "]]", "/*": "*/"}
# Marked lines, in the order they are tried.
_MARKED = (
    (PAGE_BREAK_RE, PAGE_BREAK),
    (SECTION_RE, SECTION),
    (SYNOPSIS_RE, SYNOPSIS),
    (CENTERED_RE, CENTERED),
    (FORCED_TRANSITION_RE, TRANSITION),
    (LYRICS_RE, LYRICS),
    (FORCED_SCENE_HEADING_RE, SCENE_HEADING),
    (FORCED_CHARACTER_RE, CHARACTER),
    (FORCED_ACTION_RE, ACTION),
)

# --- inline notes and boneyard ------------------------------------------------------------


def split_hidden(text: str) -> list[tuple[bool, str]]:
    r"""Split ``text`` into (hidden, piece) pairs; hidden pieces are ``[[notes]]`` and ``/* */``.

    Same result as ``re.split(r"(\[\[.*?\]\]|/\*.*?\*/)", text, flags=re.S)``, but in linear
    time: that regex rescans to the end of the text for every unclosed opener, which a
    hostile upload of many "[[" turns into minutes of CPU.
    """
    pieces: list[tuple[bool, str]] = []
    pos = 0
    live = dict(_HIDDEN_PAIRS)  # openers that still have a closer somewhere ahead
    next_at = {opener: -1 for opener in live}
    while live:
        best: tuple[int, str] | None = None
        for opener in list(live):
            if next_at[opener] < pos:
                next_at[opener] = text.find(opener, pos)
            if next_at[opener] == -1:
                del live[opener]
            elif best is None or next_at[opener] < best[0]:
                best = (next_at[opener], opener)
        if best is None:
            break
        at, opener = best
        end = text.find(live[opener], at + 2)
        if end == -1:
            # No closer ahead of this opener means none ahead of any later one either.
            del live[opener]
            continue
        pieces.append((False, text[pos:at]))
        pieces.append((True, text[at : end + 2]))
        pos = end + 2
    pieces.append((False, text[pos:]))
    return pieces


def visible_text(text: str) -> str:
    """Return ``text`` without the notes and boneyard that open and close inside it."""
    if "[[" not in text and "/*" not in text:
        return text
    return "".join(piece for hidden, piece in split_hidden(text) if not hidden)


# --- single-line rules --------------------------------------------------------------------


def is_blank(line: str) -> bool:
    """Return True for an empty line or one of only whitespace."""
    return line.strip() == ""


def looks_like_scene_heading(text: str) -> bool:
    """Return True if ``text`` starts like a scene heading (INT./EXT./...), not forced."""
    return bool(SCENE_HEADING_RE.match(text.strip()))


def is_scene_heading(text: str) -> bool:
    """Return True if the line ``text`` is a scene heading by prefix or forced with ``.``.

    The blank line before it that Fountain asks for is the caller's business
    (``classify_line`` checks it).
    """
    return parse_scene_heading(text) is not None


class SceneHeading(NamedTuple):
    """A scene heading line taken apart."""

    text: str  # as written, without the forcing "." and the scene number
    forced: bool  # written with a leading "."
    number: str | None  # the scene number between "#", if any
    location: str  # what follows INT./EXT./...: "" for a bare "INT."; the text when forced


def split_scene_number(text: str) -> tuple[str, str | None]:
    """Split ``"INT. HOUSE #1A#"`` into ``("INT. HOUSE", "1A")``; no number gives None."""
    if m := SCENE_NUMBER_RE.match(text):
        return m["text"], m["num"]
    return text, None


def parse_scene_heading(text: str) -> SceneHeading | None:
    """Return the parts of the scene heading line ``text``, or None if it is not one."""
    s = text.strip()
    if m := FORCED_SCENE_HEADING_RE.match(s):
        body, forced = m["text"], True
        location = visible_text(body).strip()
    else:
        visible = visible_text(s).strip()
        m = SCENE_HEADING_RE.match(visible)
        if not m:
            return None
        body, forced = s, False
        location = visible[m.end() :].lstrip(". ").strip()
    body, number = split_scene_number(body)
    return SceneHeading(body.strip(), forced, number, location)


def is_transition(text: str) -> bool:
    """Return True if ``text`` reads as a transition: upper case, ending in ``TO:``.

    A transition also needs a blank line before and after it (``classify_line``).
    """
    s = text.strip()
    return s.endswith("TO:") and s == s.upper()


def is_parenthetical(text: str) -> bool:
    """Return True if ``text`` is wholly in parentheses: ``(quietly)``."""
    s = text.strip()
    return s.startswith("(") and s.endswith(")")


def split_cue(cue: str) -> tuple[str, tuple[str, ...]]:
    """Split a character cue into its name and extensions: "BOB (V.O.)" -> ("BOB", ("V.O.",))."""
    head, paren, _ = cue.partition("(")
    name = " ".join(head.split())
    extensions: tuple[str, ...] = ()
    if paren:
        rest = cue[len(head) :]
        extensions = tuple(" ".join(m.split()) for m in _CUE_EXT_RE.findall(rest))
    return name, extensions


def is_cue_name(name: str) -> bool:
    """Return True if ``name`` (a cue without extensions and ``^``) reads as a speaker.

    At least one upper-case letter, no lower-case letter, and the last character a letter,
    a digit, ``.``, ``'`` or ``’`` (so ``CUT TO:`` and ``STAND!`` are not names).
    """
    return (
        any(c.isupper() for c in name)
        and not any(c.islower() for c in name)
        and (name[-1].isalnum() or name[-1] in ".'’")
    )


class Cue(NamedTuple):
    """A character cue taken apart."""

    text: str  # as written, without "@", "^" and surrounding spaces: "EDWARD (V.O.)"
    name: str  # "EDWARD": before the first "(", inline notes left out, spaces collapsed
    extensions: tuple[str, ...]  # ("V.O.",)
    dual: bool  # ends with "^": the second speaker of dual dialogue
    forced: bool  # written with a leading "@"


def cue_parts(text: str, *, forced: bool = False) -> Cue:
    """Take apart the cue ``text`` (already known to be a cue, without its ``@``)."""
    cue = text.strip()
    dual = cue.endswith("^")
    if dual:
        cue = cue[:-1].rstrip()
    name, extensions = split_cue(visible_text(cue))
    return Cue(cue, name, extensions, dual, forced)


def _cue_shaped(visible: str) -> bool:
    s = visible.rstrip()
    if s.endswith("^"):
        s = s[:-1]
    name, _ = split_cue(s)
    return is_cue_name(name)


def parse_cue(line: str) -> Cue | None:
    """Return the cue if ``line`` is a character cue where cues may stand, else None.

    "Where cues may stand": after a blank line and before a non-blank one; so this is the
    line's shape alone (headings, transitions and marked lines are not cues).
    """
    if classify_line(line, prev_blank=True, next_blank=False) != CHARACTER:
        return None
    if m := FORCED_CHARACTER_RE.match(line):
        return cue_parts(m["text"], forced=True)
    return cue_parts(line)


def is_character_name(name: str) -> bool:
    """Return True if ``name`` (upper case, spaces collapsed) is a name the app stores."""
    return bool(CHARACTER_NAME_RE.match(name))


def classify_line(
    line: str, *, prev_blank: bool = True, next_blank: bool = False, in_speech: bool = False
) -> str:
    """Return the element name of ``line`` (without its line end) in its context.

    ``prev_blank``: the line before is blank (or this is the first line);
    ``next_blank``: the line after is blank (or there is none); ``in_speech``: the line
    follows a cue or another line of its speech. Whole-line notes and boneyard are not
    seen here (``BlockFinder``, ``classify_lines``). Returns ``BLANK`` for a blank line,
    which inside a speech ends it.
    """
    if in_speech:
        if line == "  ":
            return DIALOGUE  # an empty line kept inside the speech
        if is_blank(line):
            return BLANK
        if LYRICS_RE.match(line):
            return LYRICS
        if is_parenthetical(line):
            return PARENTHETICAL
        return DIALOGUE
    if is_blank(line):
        return BLANK
    for regex, kind in _MARKED:
        if regex.match(line):
            return kind
    if not prev_blank:
        return ACTION
    visible = visible_text(line).strip()
    if looks_like_scene_heading(visible):
        return SCENE_HEADING
    if next_blank:
        return TRANSITION if is_transition(visible) else ACTION
    return CHARACTER if _cue_shaped(visible) else ACTION


# --- multi-line rules ---------------------------------------------------------------------


class BlockFinder:
    """Find whole-line note and boneyard blocks in ``lines``, in linear total time."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.n = len(lines)
        # Lazily built: for each line, the first line at or after it holding a closer (or
        # an empty line), so no unclosed "[[" or "/*" rescans the rest of the file.
        self._next: dict[str, list[int]] = {}

    def _next_line(self, key: str, start: int) -> int:
        """Return the first line index >= ``start`` that has ``key`` ("" = empty line)."""
        table = self._next.get(key)
        if table is None:
            table = [self.n] * (self.n + 1)
            for k in range(self.n - 1, -1, -1):
                line = self.lines[k].rstrip("\r")
                hit = (line == "") if key == "" else (key in line)
                table[k] = k if hit else table[k + 1]
            self._next[key] = table
        return table[start] if start <= self.n else self.n

    def _end(self, start: int, opener: str, closer: str) -> int | None:
        first = self.lines[start].rstrip("\r")
        pos = first.index(opener) + len(opener)
        end = first.find(closer, pos)
        if end != -1:
            return start if first[end + len(closer) :].strip() == "" else None
        j = self._next_line(closer, start + 1)
        if j >= self.n:
            return None
        # Notes may not span an empty line (a line of two spaces is allowed).
        if opener == "[[" and self._next_line("", start + 1) < j:
            return None
        text = self.lines[j].rstrip("\r")
        end = text.find(closer)
        return j if text[end + len(closer) :].strip() == "" else None

    def at(self, start: int) -> tuple[str, int] | None:
        """Return (``NOTE`` or ``BONEYARD``, last line) of a block opening line ``start``.

        The block must start its first line and end its last line (only whitespace after
        the closer); otherwise the markup is inline and stays in the surrounding text.
        """
        stripped = self.lines[start].strip()
        for kind, (opener, closer) in BLOCK_MARKERS.items():
            if stripped.startswith(opener):
                end = self._end(start, opener, closer)
                if end is not None:
                    return kind, end
        return None


def title_key(line: str) -> re.Match[str] | None:
    """Return the ``TITLE_KEY_RE`` match of a title page key line, else None.

    A key line starts at the margin (an indented line continues a value) and is not a
    scene heading (``INT. HOUSE: KITCHEN - DAY``).
    """
    line = line.rstrip("\r")
    if line[:1] in (" ", "\t") or looks_like_scene_heading(line):
        return None
    return TITLE_KEY_RE.match(line)


def starts_title_page(lines: Iterable[str] | str) -> bool:
    """Return True if a document whose first lines are ``lines`` opens with a title page.

    The rule is in the module docstring: the first line is a key line, and it has a value,
    or the line after it is an indented value or another key line. Only the first two
    lines are read; a string is split into lines.
    """
    if isinstance(lines, str):
        lines = lines.split("\n", 2)[:2]
    it = iter(lines)
    first = next(it, None)
    m = None if first is None else title_key(first)
    if m is None:
        return False
    if m["value"].strip():
        return True
    nxt = next(it, None)
    if nxt is None or is_blank(nxt):
        return False
    return nxt[:1] in (" ", "\t") or title_key(nxt) is not None


def title_page_end(lines: list[str]) -> int:
    """Return the index of the first line after the title page (0 when there is none)."""
    if not starts_title_page(lines[:2]):
        return 0
    i = 0
    while i < len(lines) and not is_blank(lines[i]):
        i += 1
    return i


def classify_lines(lines: list[str], *, title_page: bool = True) -> list[str]:
    """Return the element name of every line of a document (``TITLE_PAGE`` for its title page).

    ``lines`` without line ends (a trailing "\\r" is ignored). With ``title_page=False``
    the first lines are never read as a title page (a scene's text, a generated passage).
    """
    lines = [line.rstrip("\r") for line in lines]
    n = len(lines)
    start = title_page_end(lines) if title_page else 0
    kinds = [TITLE_PAGE] * start
    blocks = BlockFinder(lines)
    i, prev_blank = start, True
    while i < n:
        line = lines[i]
        if is_blank(line):
            kinds.append(BLANK)
            prev_blank = True
            i += 1
            continue
        block = blocks.at(i)
        if block is not None:
            kind, end = block
            kinds.extend([kind] * (end + 1 - i))
            i, prev_blank = end + 1, False
            continue
        next_blank = i + 1 >= n or is_blank(lines[i + 1])
        kind = classify_line(line, prev_blank=prev_blank, next_blank=next_blank)
        kinds.append(kind)
        i, prev_blank = i + 1, False
        if kind == CHARACTER:
            while i < n:
                kind = classify_line(lines[i], in_speech=True)
                if kind == BLANK:
                    break
                kinds.append(kind)
                i += 1
    return kinds
