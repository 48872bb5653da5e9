"""Lay a script out on screenplay pages without drawing anything.

The PDF writer draws exactly these pages, so page counts and per-scene lengths computed
here agree with the PDF by construction, and cost no PDF rendering.

Layout (US Letter, Courier 12 pt = 10 characters per inch, 6 lines per inch): 55 lines per
page from 1" below the top edge; action from 1.5" to 7.5"; character cue at 3.7"; dialogue
2.5" to 6.0"; parenthetical 3.1" to 5.6"; transitions right-aligned at 7.5".

Breaking rules (as screenplay software applies them):

- A scene heading is never the last thing on a page: it moves to the next page unless
  the start of what follows fits with it (two lines of action, or a cue with its first
  dialogue lines). A character cue never stands alone at the foot of a page either.
- Action paragraphs split with at least two lines on each side.
- A speech splits only between sentences (or between its elements, never after a
  parenthetical), with at least two lines on each side; the page ends with "(MORE)" and
  the speech goes on under "NAME (CONT'D)" (never a second "(CONT'D)" when the cue has
  one). When no such break fits, the whole speech moves to the next page; only a speech
  with no sentence end that fits a whole page is cut at a line.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from . import fountain
from .grammar import split_cue
from .markup import Run, inline_runs
from .model import SPEECH_TYPES, Element, ElementType, Script

__all__ = [
    "A4",
    "LETTER",
    "LayoutLine",
    "Page",
    "PageLayout",
    "PageLock",
    "Pagination",
    "SceneLength",
    "eighths",
    "first_elements",
    "has_contd",
    "lay_out",
    "next_page_label",
    "number_scenes",
    "page_count",
    "paginate",
    "scene_lengths",
    "wrap_runs",
    "wrap_text",
]

T = ElementType


@dataclass(frozen=True, slots=True)
class PageLayout:
    """Page geometry; horizontal positions count Courier characters (0.1") from the margin."""

    name: str = "letter"
    width_in: float = 8.5
    height_in: float = 11.0
    top_in: float = 1.0
    left_in: float = 1.5
    lines_per_page: int = 55
    action_width: int = 60
    character_indent: int = 22
    dialogue_indent: int = 10
    dialogue_width: int = 35
    parenthetical_indent: int = 16
    parenthetical_width: int = 25
    # Dual dialogue: two columns of the action width, each with its own indents.
    dual_column: int = 30
    dual_character_indent: int = 8
    dual_dialogue_indent: int = 2
    dual_dialogue_width: int = 26
    dual_parenthetical_indent: int = 5
    dual_parenthetical_width: int = 22
    # Scene numbers in the margins, in inches from the sheet's left edge: the left number
    # starts at 1.0" and the right one at 7.4", where screenplay software prints them.
    scene_number_left_in: float = 1.0
    scene_number_right_in: float = 7.4


LETTER = PageLayout()
# A4 keeps the same text block (so timings stay comparable) on the taller, narrower sheet.
A4 = PageLayout(name="a4", width_in=8.27, height_in=11.69)


@dataclass(slots=True)
class LayoutLine:
    """One piece of text on a row: a row holds one, or two for dual dialogue."""

    runs: tuple[Run, ...]
    indent: int
    width: int
    kind: ElementType
    align: str = "left"  # "left", "right" or "center" within [indent, indent + width)
    # The first row of a scene heading: the heading's own number ("12A") or None, and the
    # scene's 0-based position among the headings (to number an unnumbered script).
    scene_number: str | None = None
    scene_index: int | None = None
    # Production revisions: the revision that last changed this line's element (an
    # asterisk in the margin), or None.
    mark: int | None = None

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


Row = list[LayoutLine]  # an empty row is a blank line


@dataclass(slots=True)
class Page:
    """One body page: up to ``lines_per_page`` rows.

    ``label`` is the number it prints: ``str(number)``, or with locked pages (production
    revisions) "12A" for a page added after page 12, "12-13" for two pages that became one.
    """

    number: int
    rows: list[Row] = field(default_factory=list)
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            self.label = str(self.number)

    @property
    def marks(self) -> set[int]:
        """The revisions with a changed line on this page."""
        return {seg.mark for row in self.rows for seg in row if seg.mark is not None}


@dataclass(frozen=True, slots=True)
class PageLock:
    """A locked page (production revisions): it starts before element ``element`` and
    prints as ``labels`` (one label; several when locked pages in between lost all their
    text: then they print as one page "12-13", or each again if the text grew)."""

    element: int
    labels: tuple[str, ...]


_LABEL_RE = re.compile(r"^(.*?\d)([A-Z]*)$")


def next_page_label(label: str) -> str:
    """The page added after ``label`` when a locked page grows: 12 -> 12A, 12A -> 12B,
    12Z -> 12AA; after a combined "12-13" it is "13A"."""
    label = label.rsplit("-", 1)[-1]
    m = _LABEL_RE.match(label)
    if not m:
        return f"{label}A"
    stem, letters = m.groups()
    if not letters:
        return f"{stem}A"
    # Letters count like a spreadsheet's columns: A..Z, AA..
    n = 0
    for c in letters:
        n = n * 26 + (ord(c) - 64)
    return f"{stem}{_letters(n + 1)}"


@dataclass(slots=True)
class SceneLength:
    """A scene's laid-out length (``lines``) and its length in eighths of a page."""

    index: int  # 0-based position among the scene headings
    heading: str
    number: str | None
    start_page: int
    lines: int
    eighths: int

    @property
    def pages(self) -> float:
        return self.eighths / 8


def _iter_spans(s: str, width: int, start: int = 0) -> Iterator[tuple[int, int]]:
    """Yield (start, end) offsets of ``s[start:]`` wrapped at ``width`` on spaces and "\\n".

    Wrapping is greedy, so wrapping from the start of any row gives the same rows again:
    a speech cut by a page is re-wrapped only as far as the next page needs.
    """
    n = len(s)
    i = start
    while True:
        # Only the next row's window is searched, so each call costs what it yields.
        nl = s.find("\n", i, i + width + 1)
        if nl != -1:
            yield i, nl
            i = nl + 1
            continue
        if n - i <= width:
            yield i, n
            return
        cut = s.rfind(" ", i + 1, i + width + 1)
        if cut == -1:
            yield i, i + width  # a word longer than the line is cut
            i += width
        else:
            yield i, cut
            i = cut + 1
            while i < n and s[i] == " ":
                i += 1


def _wrap_spans(s: str, width: int) -> list[tuple[int, int]]:
    """Return (start, end) offsets of ``s`` wrapped at ``width`` on spaces and at "\\n"."""
    return list(_iter_spans(s, width))


class _Styled:
    """Styled runs with their offsets in the plain text, to cut any span back into runs."""

    __slots__ = ("bounds", "plain", "starts")

    def __init__(self, runs: list[Run]) -> None:
        self.plain = "".join(r.text for r in runs)
        self.bounds: list[tuple[int, int, Run]] = []
        pos = 0
        for r in runs:
            self.bounds.append((pos, pos + len(r.text), r))
            pos += len(r.text)
        self.starts = [a for a, _, _ in self.bounds]

    def slice(self, a: int, b: int) -> tuple[Run, ...]:
        bounds = self.bounds
        if len(bounds) == 1:  # most text has one style: no search
            r = bounds[0][2]
            return (Run(r.text[a:b], r.bold, r.italic, r.underline),) if a < b else ()
        pieces = []
        k = bisect_right(self.starts, a) - 1
        if k < 0:
            k = 0
        while k < len(bounds) and bounds[k][0] < b:
            ra, rb, r = bounds[k]
            lo = a if a > ra else ra
            hi = b if b < rb else rb
            if lo < hi:
                pieces.append(Run(r.text[lo - ra : hi - ra], r.bold, r.italic, r.underline))
            k += 1
        return tuple(pieces)


def wrap_runs(runs: list[Run], width: int) -> list[tuple[Run, ...]]:
    """Return styled ``runs`` wrapped at ``width`` characters, one tuple of runs per line."""
    styled = _Styled(runs)
    return [styled.slice(a, b) for a, b in _iter_spans(styled.plain, width)]


def _italic(runs: list[Run]) -> list[Run]:
    return [Run(r.text, r.bold, True, r.underline) for r in runs]


def _upper(runs: list[Run]) -> list[Run]:
    return [Run(r.text.upper(), r.bold, r.italic, r.underline) for r in runs]


@dataclass(slots=True)
class _Part:
    """One element of a speech after its cue, kept whole so a page can cut it anywhere."""

    kind: ElementType
    styled: _Styled
    indent: int
    width: int
    mark: int | None = None

    def _line(self, a: int, b: int) -> LayoutLine:
        line = self.styled.slice(a, b)
        return LayoutLine(line, self.indent, self.width, self.kind, mark=self.mark)

    def rows(self, start: int = 0) -> Iterator[tuple[Row, int, int]]:
        """Yield (row, start offset, end offset) from ``start`` (a row start) on."""
        for a, b in _iter_spans(self.styled.plain, self.width, start):
            yield [self._line(a, b)], a, b

    def row(self, a: int, b: int) -> Row:
        return [self._line(a, b)]


@dataclass(slots=True)
class _Block:
    kind: str  # "heading", "action", "speech", "dual", "transition", "page_break"
    rows: list[Row]
    space_before: int = 1
    scene: int | None = None
    first: int = 0  # the index of its first element in the script
    # speech: how many of ``rows`` the cue takes, the rows of the cue repeated after a
    # page break ("NAME (CONT'D)"), and the elements after the cue.
    cue_rows: int = 0
    contd: list[Row] = field(default_factory=list)
    parts: list[_Part] = field(default_factory=list)


def _lines(text: str, kind: ElementType, indent: int, width: int, **kw) -> list[Row]:
    """Rows of one element's text (``mark`` etc. go to every LayoutLine)."""
    runs = inline_runs(text)
    if kind is T.LYRICS:
        runs = _italic(runs)
    return [[LayoutLine(line, indent, width, kind, **kw)] for line in wrap_runs(runs, width)]


# "(CONT'D)" as writers type it: any apostrophe or none, any case, alone or among other
# extensions ("O.S., CONT'D"); "CONT.", "CONTINUED", "CONTINUING" mean the same.
_APOSTROPHES = "'’‘`´ʼ′"
_CONTD_WORDS = frozenset({"CONT", "CONTD", "CONTINUED", "CONTINUING"})
_EXTENSION_RE = re.compile(r"\(([^()]*)\)")


def has_contd(cue: str) -> bool:
    """Return True if the cue already says it continues: "JOHN (CONT’D)", "ann (cont'd)"."""
    for group in _EXTENSION_RE.findall(cue):
        for item in group.split(","):
            word = "".join(c for c in item.upper() if c not in _APOSTROPHES and c not in ". ")
            if word in _CONTD_WORDS:
                return True
    return False


def _contd_cue(cue: str) -> str:
    return cue if has_contd(cue) else f"{cue} (CONT'D)"


def auto_contd(script: Script) -> Script:
    """The script with "(CONT'D)" on every cue whose character spoke last in the scene with
    only action between (what screenwriting software adds with "automatic (CONT'D)" on).

    Within a scene: a cue of the same name (extensions and ``@`` aside, any case) after
    action or centered text, and no other speaker since, gets the extension unless it
    has one already (``has_contd``). A heading, a transition or a page break starts
    afresh; dual-dialogue cues are left as written. A rendering step: the text itself
    (and its Fountain export) does not change."""
    out: list[Element] = []
    last: str | None = None
    interrupted = False
    for el in script.elements:
        if el.type in (ElementType.SCENE_HEADING, ElementType.TRANSITION, ElementType.PAGE_BREAK):
            last, interrupted = None, False
        elif el.type == ElementType.CHARACTER:
            name = split_cue(el.text.lstrip("@"))[0].upper()
            if el.dual:
                last = None
            else:
                if name == last and interrupted and not has_contd(el.text):
                    el = replace(
                        el,
                        text=f"{el.text} (CONT'D)",
                        extensions=(*el.extensions, "CONT'D"),
                        raw=None,
                    )
                last = name
            interrupted = False
        elif el.type in (ElementType.ACTION, ElementType.CENTERED) and last is not None:
            interrupted = True
        out.append(el)
    return replace(script, elements=out)


def _speech_rows(
    elements: list[Element], start: int, end: int, layout: PageLayout, dual: bool, offset: int
) -> tuple[str, list[Row], int, list[_Part]]:
    """Return the cue text, rows (cue first), the cue's row count and the elements after it."""
    lo = layout
    if dual:
        ci, di, dw = lo.dual_character_indent, lo.dual_dialogue_indent, lo.dual_dialogue_width
        pi, pw = lo.dual_parenthetical_indent, lo.dual_parenthetical_width
        cw = lo.dual_column - ci
    else:
        ci, di, dw = lo.character_indent, lo.dialogue_indent, lo.dialogue_width
        pi, pw = lo.parenthetical_indent, lo.parenthetical_width
        cw = lo.action_width - ci
    cue_el = elements[start]
    # A cue forced with "@" prints as typed ("@McDUCK" -> McDUCK); others in upper case.
    cue_runs = inline_runs(cue_el.text) if cue_el.forced else _upper(inline_runs(cue_el.text))
    cue = "".join(r.text for r in cue_runs)
    rows: list[Row] = [
        [LayoutLine(line, offset + ci, cw, T.CHARACTER, mark=cue_el.mark)]
        for line in wrap_runs(cue_runs, cw)
    ]
    cue_rows = len(rows)
    parts: list[_Part] = []
    for k in range(start + 1, end):
        el = elements[k]
        runs = inline_runs(el.text)
        if el.type is T.LYRICS:
            runs = _italic(runs)
        if el.type is T.PARENTHETICAL:
            part = _Part(el.type, _Styled(runs), offset + pi, pw, el.mark)
        else:
            part = _Part(el.type, _Styled(runs), offset + di, dw, el.mark)
        parts.append(part)
        rows += [row for row, _, _ in part.rows()]
    return cue, rows, cue_rows, parts


def _blocks(script: Script, layout: PageLayout) -> list[_Block]:
    blocks: list[_Block] = []
    elements = script.elements
    scene: int | None = None
    i = 0
    while i < len(elements):
        el = elements[i]
        t = el.type
        count = len(blocks)
        if t is T.SCENE_HEADING:
            scene = 0 if scene is None else scene + 1
            rows = _lines(el.text, t, 0, layout.action_width, mark=el.mark)
            for row in rows:
                row[0].runs = tuple(_upper(list(row[0].runs)))
            if rows:
                # The number prints once, beside the heading's first line.
                rows[0][0].scene_number = el.scene_number
                rows[0][0].scene_index = scene
            blocks.append(_Block("heading", rows, scene=scene))
        elif t in (T.ACTION, T.LYRICS):
            rows = _lines(el.text, t, 0, layout.action_width, mark=el.mark)
            blocks.append(_Block("action", rows, scene=scene))
        elif t is T.CENTERED:
            rows = _lines(el.text, t, 0, layout.action_width, align="center", mark=el.mark)
            blocks.append(_Block("action", rows, scene=scene))
        elif t is T.TRANSITION:
            rows = _lines(el.text.upper(), t, 0, layout.action_width, align="right", mark=el.mark)
            blocks.append(_Block("transition", rows, scene=scene))
        elif t is T.PAGE_BREAK:
            blocks.append(_Block("page_break", [], scene=scene))
        elif t is T.CHARACTER:
            end = i + 1
            while end < len(elements) and elements[end].type in SPEECH_TYPES:
                end += 1
            prev = blocks[-1] if blocks else None
            if el.dual and prev is not None and prev.kind == "speech" and prev.cue_rows:
                # Re-lay the previous speech as the left column beside this one.
                left_start = _speech_start(elements, i)
                _, left, _, _ = _speech_rows(
                    elements, left_start, _speech_end(elements, left_start), layout, True, 0
                )
                _, right, _, _ = _speech_rows(elements, i, end, layout, True, layout.dual_column)
                height = max(len(left), len(right))
                rows = [
                    (left[r] if r < len(left) else []) + (right[r] if r < len(right) else [])
                    for r in range(height)
                ]
                blocks[-1] = _Block("dual", rows, scene=prev.scene, first=prev.first)
            else:
                cue, rows, cue_rows, parts = _speech_rows(elements, i, end, layout, False, 0)
                cw = layout.action_width - layout.character_indent
                contd = [
                    [LayoutLine(line, layout.character_indent, cw, T.CHARACTER)]
                    for line in wrap_runs([Run(_contd_cue(" ".join(cue.split())))], cw)
                ]
                blocks.append(
                    _Block(
                        "speech",
                        rows,
                        scene=scene,
                        cue_rows=cue_rows,
                        contd=contd,
                        parts=parts,
                    )
                )
            if len(blocks) > count:
                blocks[-1].first = i
            i = end
            continue
        elif t in SPEECH_TYPES:
            # Speech parts without a cue (only from code-built scripts) print as dialogue.
            rows = _lines(el.text, t, layout.dialogue_indent, layout.dialogue_width, mark=el.mark)
            blocks.append(_Block("action", rows, scene=scene))
        if len(blocks) > count:
            blocks[-1].first = i
        i += 1
    return blocks


def _speech_end(elements: list[Element], start: int) -> int:
    end = start + 1
    while end < len(elements) and elements[end].type in SPEECH_TYPES:
        end += 1
    return end


def _speech_start(elements: list[Element], dual_cue: int) -> int:
    """Return the index of the cue of the speech before the dual cue at ``dual_cue``."""
    k = dual_cue - 1
    while k > 0 and elements[k].type is not T.CHARACTER:
        k -= 1
    return k


_MORE = (Run("(MORE)"),)

# A sentence ends in ".", "!", "?" or "…" (possibly repeated, possibly followed by closing
# quotes or brackets) before a space, a line end or the end of the text.
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s|$)")
# A "." after these words (or after a single letter, an initial) ends no sentence.
# ("no." is left out: in dialogue it ends far more sentences than it abbreviates "number".)
_ABBREVIATION_WORDS = (
    "mr mrs ms mx dr st jr sr prof rev hon lt sgt cpl pvt capt cmdr col gen maj adm det "
    "insp supt sen rep gov pres mt ft vs messrs"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_LAST_WORD_RE = re.compile(r"(\w+)\W*$")


def _sentence_ends(s: str, a: int, b: int) -> list[int]:
    """Return the offsets in ``s`` just past each sentence that ends inside ``s[a:b]``."""
    ends = []
    for m in _SENTENCE_END_RE.finditer(s, a, b):
        if m.end() < len(s) and not s[m.end()].isspace():
            continue  # the row ends inside a word cut at the line
        if m.group().startswith(".") and not m.group().startswith(".."):
            word = _LAST_WORD_RE.search(s, max(0, m.start() - 12), m.start())
            if word and (
                word.group(1).lower() in _ABBREVIATIONS
                or (len(word.group(1)) == 1 and word.group(1).isalpha())
            ):
                continue
        nxt = s[m.end() : m.end() + 64].lstrip()[:1]
        if nxt and nxt.islower():
            continue  # "5 p.m. tomorrow": the sentence goes on
        ends.append(m.end())
    return ends


def _skip_space(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in " \n":
        i += 1
    return i


@dataclass(slots=True)
class _Cut:
    """Where a speech stops on this page: the rows placed and where the rest begins."""

    rows: list[Row]
    part: int  # the rest starts in parts[part] at offset ``offset`` (a row start)
    offset: int
    whole: bool = False  # everything left fits: no (MORE)


def _plan_speech(
    parts: list[_Part], part: int, offset: int, room: int, cut_lines: bool, fresh: bool = False
) -> _Cut | None:
    """Plan the rows of a speech (from ``parts[part]`` at ``offset``) for ``room`` rows.

    ``room`` counts the rows left for the speech's content below its cue, "(MORE)"
    included. Return everything when it fits; else the latest break between sentences
    or elements (never after a parenthetical) with at least two rows on each side; else
    None, so that the speech moves to the next page. With ``cut_lines`` (a sentence taller
    than a page, which no page can hold) it is cut where the page ends instead, still with
    two rows on each side unless the page is ``fresh``.
    """
    # The rows of the rest, as far as this page needs to see: room + 1 tells "fits".
    seen: list[tuple[Row, int, int, int, bool]] = []  # row, part, start, end, last of part
    p, off = part, offset
    while p < len(parts) and len(seen) <= room:
        spans = parts[p].rows(off)
        prev = next(spans, None)
        while prev is not None and len(seen) <= room:
            cur = next(spans, None)
            row, a, b = prev
            seen.append((row, p, a, b, cur is None))
            prev = cur
        p, off = p + 1, 0
    if len(seen) <= room and p >= len(parts):
        return _Cut([r[0] for r in seen], len(parts), 0, whole=True)
    avail = room - 1  # rows for dialogue above "(MORE)"
    # The latest break: rows seen[0..j] stay (the last one maybe cut at a sentence end).
    for j in range(min(avail, len(seen)) - 1, 0, -1):
        row, q, a, b, last = seen[j]
        kind = parts[q].kind
        if last and kind is not T.PARENTHETICAL:
            # Between two elements: all rows that follow go to the next page (and at least
            # two do, since the speech is taller than this page's room).
            return _Cut([r[0] for r in seen[: j + 1]], q + 1, 0)
        if kind is T.PARENTHETICAL:
            continue
        s = parts[q].styled.plain
        for end in reversed(_sentence_ends(s, a, b)):
            rest = _skip_space(s, end)
            if rest >= len(s):
                if q + 1 < len(parts):
                    return _Cut([r[0] for r in seen[: j + 1]], q + 1, 0)
                continue
            # At least two rows after the break: the rest of this element re-wrapped,
            # then any element after it.
            after = sum(1 for _ in zip(range(2), parts[q].rows(rest), strict=False))
            if after + (q + 1 < len(parts)) < 2:
                continue
            kept = [r[0] for r in seen[:j]] + [parts[q].row(a, end)]
            return _Cut(kept, q, rest)
    if not cut_lines:
        return None
    # A sentence (or a run of parentheticals) taller than a page: cut at a line, never
    # ending the page on a parenthetical while that leaves two rows.
    k = min(avail, len(seen) - 2)
    while k >= 2 and parts[seen[k - 1][1]].kind is T.PARENTHETICAL:
        k -= 1
    if k < 2:
        if not fresh:
            return None
        k = max(1, min(avail, len(seen) - 1))
    _, q, a, _, _ = seen[k]
    return _Cut([r[0] for r in seen[:k]], q, a)


class _Pager:
    """Place blocks on pages. Long blocks are walked with an offset, never re-copied."""

    def __init__(self, layout: PageLayout, locks: Sequence[PageLock] = ()) -> None:
        self.layout = layout
        self.L = layout.lines_per_page
        self.pages = [Page(1)]
        self.scene_starts: list[int] = []
        # Set by a heading: the next row placed is where its scene starts.
        self.mark_scene = False
        # Locked pages: where each locked page starts (sorted by element), the next one
        # to reach, the pages where a block began (not only went on) and, per locked
        # group, its first page and its labels.
        self.locks = sorted(locks, key=lambda lock: lock.element)
        self.next_lock = 0
        self.block_started: set[int] = set()
        self.firsts: dict[int, int] = {}  # page -> first element begun on it
        self.starting: int | None = None  # the element of a block not yet placed
        self.groups: list[tuple[int, list[str]]] = []

    def room(self) -> int:
        return self.L - len(self.pages[-1].rows)

    def space(self, block: _Block) -> int:
        return block.space_before if self.pages[-1].rows else 0

    def new_page(self) -> None:
        self.pages.append(Page(len(self.pages) + 1))

    def put(self, rows: list[Row], space: int) -> None:
        page = self.pages[-1].rows
        if page:
            page.extend([] for _ in range(min(space, self.room())))
        if self.mark_scene:
            self.scene_starts.append((len(self.pages) - 1) * self.L + len(page))
            self.mark_scene = False
        if self.starting is not None and rows:
            page_index = len(self.pages) - 1
            self.block_started.add(page_index)
            self.firsts.setdefault(page_index, self.starting)
            self.starting = None
        page.extend(rows)

    def lock_here(self, block: _Block) -> None:
        """Start the locked page(s) whose first element is at or before this block's.

        A locked page starts on a fresh page, unless the page so far only holds the end
        of something that began on the page before (a speech or paragraph cut by a page
        break, as when the page was locked): then this page is that locked page."""
        labels: list[str] = []
        while (
            self.next_lock < len(self.locks) and self.locks[self.next_lock].element <= block.first
        ):
            labels.extend(self.locks[self.next_lock].labels)
            self.next_lock += 1
        if not labels:
            return
        if self.pages[-1].rows and len(self.pages) - 1 in self.block_started:
            self.new_page()
        self.groups.append((len(self.pages) - 1, labels))

    def label_pages(self) -> None:
        """Print locked page numbers: a locked group's pages take its labels in order, then
        "12A", "12B"… for what grew; a group shorter than its labels prints "12-13"."""
        # Locks past the last block (the end was cut) join the last group.
        rest = [label for lock in self.locks[self.next_lock :] for label in lock.labels]
        if rest and self.groups:
            self.groups[-1][1].extend(rest)
        bounds = [start for start, _ in self.groups] + [len(self.pages)]
        for (start, labels), end in zip(self.groups, bounds[1:], strict=True):
            count = end - start
            if count <= 0:
                continue
            if count < len(labels):
                names = labels[: count - 1] + [f"{labels[count - 1]}-{labels[-1]}"]
            else:
                names = list(labels)
                while len(names) < count:
                    names.append(next_page_label(names[-1]))
            for page, name in zip(self.pages[start:end], names, strict=True):
                page.label = name

    def starts_here(self, block: _Block, room: int) -> bool:
        """Say whether ``block`` puts at least its first lines in ``room`` rows below
        something else on the page (a heading above it)."""
        if block.kind == "page_break":
            return True
        r = room - block.space_before
        n = len(block.rows)
        if n <= r:
            return r >= 0
        if block.kind == "action":
            return min(r, n - 2) >= 2
        if block.kind == "speech":
            content = r - block.cue_rows
            cut = self.speech_cut(block, block.rows[: block.cue_rows], 0, 0, content, False)
            return cut is not None
        return False  # headings, transitions and dual dialogue move whole

    def speech_cut(
        self, block: _Block, cue_rows: list[Row], part: int, offset: int, room: int, fresh: bool
    ) -> _Cut | None:
        """Plan the rest of a speech for ``room`` rows below its cue (see _plan_speech).

        A speech is cut at a line only when the sentence in the way is taller than a whole
        page, which no page can hold; then it is cut here rather than on the next page.
        """
        if room < 2:
            return None
        cut = _plan_speech(block.parts, part, offset, room, fresh, fresh)
        if cut is None and not fresh:
            full = self.L - len(cue_rows)
            if _plan_speech(block.parts, part, offset, full, False) is None:
                cut = _plan_speech(block.parts, part, offset, room, True, False)
        return cut

    def keeps_with_next(self, blocks: list[_Block], i: int, room: int, depth: int = 0) -> bool:
        """Say whether heading ``blocks[i]`` and the start of what follows fit in ``room``."""
        block = blocks[i]
        r = room - block.space_before - len(block.rows)
        if r < 0:
            return False
        nxt = blocks[i + 1] if i + 1 < len(blocks) else None
        if nxt is None or nxt.kind == "page_break":
            return True
        if nxt.kind == "heading":
            # Headings in a row stay together (checked a few deep: input stays linear).
            return depth >= 3 or self.keeps_with_next(blocks, i + 1, r, depth + 1)
        return self.starts_here(nxt, r)

    def run(self, blocks: list[_Block]) -> None:
        for i, block in enumerate(blocks):
            if self.locks:
                self.lock_here(block)
            self.starting = block.first
            if block.kind == "page_break":
                if self.pages[-1].rows:
                    self.new_page()
                continue
            space = self.space(block)
            need = space + len(block.rows)
            if block.kind == "heading":
                self.mark_scene = True
                # Never leave a heading at the foot of a page: it goes with the start of
                # what follows it, or to the next page.
                if self.pages[-1].rows and not self.keeps_with_next(blocks, i, self.room()):
                    self.new_page()
                    need = len(block.rows)
            if need <= self.room():
                self.put(block.rows, self.space(block))
            elif block.kind == "speech":
                self.speech(block)
            elif block.kind == "action":
                self.action(block.rows, block.space_before)
            else:
                # Headings, transitions and dual dialogue move whole to the next page,
                # and are cut plainly only when taller than a page.
                if self.pages[-1].rows:
                    self.new_page()
                self.action(block.rows, 0)
        if not self.pages[-1].rows and len(self.pages) > 1:
            self.pages.pop()
        if self.locks:
            self.label_pages()

    def action(self, rows: list[Row], space_before: int) -> None:
        """Place rows, splitting with at least two lines on each side of a break."""
        start = 0
        while True:
            space = space_before if self.pages[-1].rows else 0
            remaining = len(rows) - start
            if space + remaining <= self.room():
                self.put(rows[start:], space)
                return
            k = min(self.room() - space, remaining - 2)
            if k >= 2:
                self.put(rows[start : start + k], space)
                start += k
            elif not self.pages[-1].rows:
                # A fresh page and still no room (only for pages under 4 lines): cut.
                k = max(1, self.room())
                self.put(rows[start : start + k], 0)
                start += k
            self.new_page()

    def speech(self, block: _Block) -> None:
        """Place a speech, ending a page with (MORE) and going on under NAME (CONT'D)."""
        layout = self.layout
        more = [LayoutLine(_MORE, layout.character_indent, 10, T.CHARACTER)]
        if max(block.cue_rows, len(block.contd)) + 3 > self.L:
            # A cue taller than a page (hostile input): no (MORE) logic, just cut.
            self.action(block.rows, block.space_before)
            return
        cue_rows = block.rows[: block.cue_rows]
        part, offset = 0, 0
        while True:
            space = block.space_before if self.pages[-1].rows else 0
            fresh = not self.pages[-1].rows
            room = self.room() - space - len(cue_rows)
            cut = self.speech_cut(block, cue_rows, part, offset, room, fresh)
            if cut is not None and cut.whole:
                self.put(cue_rows + cut.rows, space)
                return
            if cut is not None:
                self.put(cue_rows + cut.rows + [more], space)
                part, offset = cut.part, cut.offset
                cue_rows = block.contd
            self.new_page()


def _as_script(script_or_text: Script | str) -> Script:
    return fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text


@dataclass(slots=True)
class Pagination:
    """The laid-out body: pages plus, per scene, the absolute line where its heading sits."""

    layout: PageLayout
    pages: list[Page]
    scene_starts: list[int]
    # Page index -> the first element that begins on it (pages holding only the end of
    # something begun before are absent).
    firsts: dict[int, int] = field(default_factory=dict)

    @property
    def page_count(self) -> int:
        return len(self.pages) if self.pages[0].rows else 0

    @property
    def total_lines(self) -> int:
        """Return the lines used, counting every page but the last as full."""
        return (len(self.pages) - 1) * self.layout.lines_per_page + len(self.pages[-1].rows)

    def scene_span(self, index: int) -> tuple[int, int]:
        """Return (first line, end line) of scene ``index`` in absolute lines."""
        start = self.scene_starts[index]
        if index + 1 < len(self.scene_starts):
            return start, self.scene_starts[index + 1]
        return start, self.total_lines


def lay_out(
    script_or_text: Script | str, layout: PageLayout = LETTER, locks: Sequence[PageLock] = ()
) -> Pagination:
    """Lay the script body out on pages (no title page); ``locks``: locked pages."""
    pager = _Pager(layout, locks)
    pager.run(_blocks(_as_script(script_or_text), layout))
    return Pagination(layout, pager.pages, pager.scene_starts, pager.firsts)


def paginate(
    script_or_text: Script | str, layout: PageLayout = LETTER, locks: Sequence[PageLock] = ()
) -> list[Page]:
    """Return the body pages (no title page) as rows of positioned text."""
    return lay_out(script_or_text, layout, locks).pages


def first_elements(result: Pagination, element_count: int) -> list[int]:
    """Return, per page of ``result``, the index of the first element that begins on it
    (what a locked page is tied to); a page that only holds the end of something begun
    before gets the index of the next element to begin (``element_count`` after the last)."""
    out: list[int] = []
    following = element_count
    for p in range(len(result.pages) - 1, -1, -1):
        following = result.firsts.get(p, following)
        out.append(following)
    return out[::-1]


def page_count(script_or_text: Script | str, layout: PageLayout = LETTER) -> int:
    """Return the number of body pages (the title page is not counted)."""
    return lay_out(script_or_text, layout).page_count


def eighths(lines: int, layout: PageLayout = LETTER) -> int:
    """Return a length in lines as eighths of a page, at least 1."""
    return max(1, round(lines * 8 / layout.lines_per_page))


def scene_lengths(script_or_text: Script | str, layout: PageLayout = LETTER) -> list[SceneLength]:
    """Return each scene's length in lines and in eighths of a page (at least 1/8).

    A scene runs from its heading to the next heading, so blank space left at the foot
    of a page belongs to the scene before the break, as in a production breakdown.
    """
    script = _as_script(script_or_text)
    result = lay_out(script, layout)
    headings = [e for e in script.elements if e.type is T.SCENE_HEADING]
    out = []
    for idx, el in enumerate(headings):
        start, stop = result.scene_span(idx)
        lines = max(stop - start, 0)
        out.append(
            SceneLength(
                index=idx,
                heading=el.text,
                number=el.scene_number,
                start_page=start // layout.lines_per_page + 1,
                lines=lines,
                eighths=eighths(lines, layout),
            )
        )
    return out


def wrap_text(text: str, width: int) -> list[str]:
    """Return plain ``text`` wrapped at ``width`` characters as pagination wraps it."""
    return [text[a:b] for a, b in _wrap_spans(text, width)]


_LEADING_NUMBER_RE = re.compile(r"\d+")


def _letters(k: int) -> str:
    """Return 1 -> "A", 26 -> "Z", 27 -> "AA": the suffix of an inserted scene's number."""
    out = ""
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def number_scenes(script_or_text: Script | str) -> list[str]:
    """Return the number of every scene heading, in order, as a numbered script prints it.

    A heading's own number (``#12A#``) is kept. An unnumbered scene takes the next whole
    number after the scene before it, so an unnumbered script reads 1..n and the scene
    after "12A" is 13. If another scene already carries that number, the scene is an
    insert and takes a letter instead: 1, (new), 2 reads 1, 1A, 2 (A1 before scene 1).
    """
    script = _as_script(script_or_text)
    own = [el.scene_number for el in script.elements if el.type is T.SCENE_HEADING]
    taken = {n.upper() for n in own if n}
    out: list[str] = []
    last = 0  # the whole number of the scene before
    for number in own:
        if number:
            out.append(number)
            if m := _LEADING_NUMBER_RE.match(number):
                last = int(m.group())
            continue
        label = str(last + 1)
        if label in taken:
            k = 1
            while True:
                label = f"{last}{_letters(k)}" if last else f"{_letters(k)}1"
                if label not in taken:
                    break
                k += 1
        else:
            last += 1
        taken.add(label)
        out.append(label)
    return out
