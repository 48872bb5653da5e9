"""Lay a script out on screenplay pages without drawing anything.

The PDF writer draws exactly these pages, so page counts and per-scene lengths computed
here agree with the PDF by construction, and cost no PDF rendering.

Layout (US Letter, Courier 12 pt = 10 characters per inch, 6 lines per inch): 55 lines per
page from 1" below the top edge; action from 1.5" to 7.5"; character cue at 3.7"; dialogue
2.5" to 6.0"; parenthetical 3.1" to 5.6"; transitions right-aligned at 7.5". A speech cut by
a page ends with "(MORE)" and goes on under "NAME (CONT'D)".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import fountain
from .markup import Run, inline_runs
from .model import SPEECH_TYPES, Element, ElementType, Script

__all__ = [
    "A4",
    "LETTER",
    "LayoutLine",
    "Page",
    "PageLayout",
    "Pagination",
    "SceneLength",
    "eighths",
    "lay_out",
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
    scene_number: str | None = None

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


Row = list[LayoutLine]  # an empty row is a blank line


@dataclass(slots=True)
class Page:
    """One body page: up to ``lines_per_page`` rows."""

    number: int
    rows: list[Row] = field(default_factory=list)


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


def _wrap_spans(s: str, width: int) -> list[tuple[int, int]]:
    """Return (start, end) offsets of ``s`` wrapped at ``width`` on spaces and at "\\n"."""
    spans: list[tuple[int, int]] = []
    start = 0
    for hard in s.split("\n"):
        a, b = start, start + len(hard)
        start = b + 1
        i = a
        while b - i > width:
            cut = s.rfind(" ", i + 1, i + width + 1)
            if cut == -1:
                spans.append((i, i + width))  # a word longer than the line is cut
                i += width
            else:
                spans.append((i, cut))
                i = cut + 1
                while i < b and s[i] == " ":
                    i += 1
        spans.append((i, b))
    return spans


def wrap_runs(runs: list[Run], width: int) -> list[tuple[Run, ...]]:
    """Return styled ``runs`` wrapped at ``width`` characters, one tuple of runs per line."""
    plain = "".join(r.text for r in runs)
    # Run boundaries as offsets, to cut each wrapped span back into styled runs.
    bounds = []
    pos = 0
    for r in runs:
        bounds.append((pos, pos + len(r.text), r))
        pos += len(r.text)
    lines = []
    first = 0  # spans only move forward, so runs before ``first`` are done with
    for a, b in _wrap_spans(plain, width):
        while first < len(bounds) and bounds[first][1] <= a:
            first += 1
        pieces = []
        k = first
        while k < len(bounds) and bounds[k][0] < b:
            ra, rb, r = bounds[k]
            lo, hi = max(a, ra), min(b, rb)
            if lo < hi:
                pieces.append(Run(r.text[lo - ra : hi - ra], r.bold, r.italic, r.underline))
            k += 1
        lines.append(tuple(pieces))
    return lines


def _italic(runs: list[Run]) -> list[Run]:
    return [Run(r.text, r.bold, True, r.underline) for r in runs]


def _upper(runs: list[Run]) -> list[Run]:
    return [Run(r.text.upper(), r.bold, r.italic, r.underline) for r in runs]


@dataclass(slots=True)
class _Block:
    kind: str  # "heading", "action", "speech", "dual", "transition", "page_break"
    rows: list[Row]
    space_before: int = 1
    scene: int | None = None
    # speech: the cue text for "(CONT'D)"; the element index of each content row.
    cue: str = ""
    units: list[int] = field(default_factory=list)


def _lines(text: str, kind: ElementType, indent: int, width: int, **kw) -> list[Row]:
    runs = inline_runs(text)
    if kind is T.LYRICS:
        runs = _italic(runs)
    return [[LayoutLine(line, indent, width, kind, **kw)] for line in wrap_runs(runs, width)]


def _speech_rows(
    elements: list[Element], start: int, end: int, layout: PageLayout, dual: bool, offset: int
) -> tuple[str, list[Row], list[int]]:
    """Return the cue text, rows (cue first) and each content row's element index."""
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
    cue_runs = _upper(inline_runs(cue_el.text))
    cue = "".join(r.text for r in cue_runs)
    rows: list[Row] = [
        [LayoutLine(line, offset + ci, cw, T.CHARACTER)] for line in wrap_runs(cue_runs, cw)
    ]
    units = [start] * (len(rows) - 1)
    for k in range(start + 1, end):
        el = elements[k]
        if el.type is T.PARENTHETICAL:
            new = _lines(el.text, el.type, offset + pi, pw)
        else:
            new = _lines(el.text, el.type, offset + di, dw)
        rows += new
        units += [k] * len(new)
    return cue, rows, units


def _blocks(script: Script, layout: PageLayout) -> list[_Block]:
    blocks: list[_Block] = []
    elements = script.elements
    scene: int | None = None
    i = 0
    while i < len(elements):
        el = elements[i]
        t = el.type
        if t is T.SCENE_HEADING:
            scene = 0 if scene is None else scene + 1
            rows = _lines(el.text, t, 0, layout.action_width, scene_number=el.scene_number)
            for row in rows:
                row[0].runs = tuple(_upper(list(row[0].runs)))
            blocks.append(_Block("heading", rows, scene=scene))
        elif t in (T.ACTION, T.LYRICS):
            rows = _lines(el.text, t, 0, layout.action_width)
            blocks.append(_Block("action", rows, scene=scene))
        elif t is T.CENTERED:
            rows = _lines(el.text, t, 0, layout.action_width, align="center")
            blocks.append(_Block("action", rows, scene=scene))
        elif t is T.TRANSITION:
            rows = _lines(el.text.upper(), t, 0, layout.action_width, align="right")
            blocks.append(_Block("transition", rows, scene=scene))
        elif t is T.PAGE_BREAK:
            blocks.append(_Block("page_break", [], scene=scene))
        elif t is T.CHARACTER:
            end = i + 1
            while end < len(elements) and elements[end].type in SPEECH_TYPES:
                end += 1
            prev = blocks[-1] if blocks else None
            if el.dual and prev is not None and prev.kind == "speech" and prev.cue:
                # Re-lay the previous speech as the left column beside this one.
                left_start = _speech_start(elements, i)
                _, left, _ = _speech_rows(
                    elements, left_start, _speech_end(elements, left_start), layout, True, 0
                )
                _, right, _ = _speech_rows(elements, i, end, layout, True, layout.dual_column)
                height = max(len(left), len(right))
                rows = [
                    (left[r] if r < len(left) else []) + (right[r] if r < len(right) else [])
                    for r in range(height)
                ]
                blocks[-1] = _Block("dual", rows, scene=prev.scene)
            else:
                cue, rows, units = _speech_rows(elements, i, end, layout, False, 0)
                blocks.append(_Block("speech", rows, scene=scene, cue=cue, units=units))
            i = end
            continue
        elif t in SPEECH_TYPES:
            # Speech parts without a cue (only from code-built scripts) print as dialogue.
            rows = _lines(el.text, t, layout.dialogue_indent, layout.dialogue_width)
            blocks.append(_Block("action", rows, scene=scene))
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


def _contd_cue(cue: str) -> str:
    return cue if "CONT'D" in cue.upper() else f"{cue} (CONT'D)"


class _Pager:
    """Place blocks on pages. Long blocks are walked with an offset, never re-copied."""

    def __init__(self, layout: PageLayout) -> None:
        self.layout = layout
        self.L = layout.lines_per_page
        self.pages = [Page(1)]
        self.scene_starts: list[int] = []
        # Set by a heading: the next row placed is where its scene starts.
        self.mark_scene = False

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
        page.extend(rows)

    def run(self, blocks: list[_Block]) -> None:
        for i, block in enumerate(blocks):
            if block.kind == "page_break":
                if self.pages[-1].rows:
                    self.new_page()
                continue
            space = self.space(block)
            need = space + len(block.rows)
            if block.kind == "heading":
                self.mark_scene = True
                nxt = blocks[i + 1] if i + 1 < len(blocks) else None
                keep = need
                if nxt is not None and nxt.kind != "page_break":
                    # Keep a heading with the start of what follows it.
                    follow = min(len(nxt.rows), 3 if nxt.kind == "speech" else 2)
                    keep += nxt.space_before + follow
                if keep > self.room() and self.pages[-1].rows and keep <= self.L:
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
        content_rows = len(block.units)
        cue_rows = block.rows[: len(block.rows) - content_rows]
        content = block.rows[len(cue_rows) :]
        more = [LayoutLine(_MORE, layout.character_indent, 10, T.CHARACTER)]
        contd = [
            LayoutLine(
                (Run(_contd_cue(block.cue)),),
                layout.character_indent,
                layout.action_width - layout.character_indent,
                T.CHARACTER,
            )
        ]
        if len(cue_rows) + 3 > self.L:
            # A cue taller than a page (hostile input): no (MORE) logic, just cut.
            self.action(block.rows, block.space_before)
            return
        start = 0
        while True:
            space = block.space_before if self.pages[-1].rows else 0
            remaining = len(content) - start
            if space + len(cue_rows) + remaining <= self.room():
                self.put(cue_rows + content[start:], space)
                return
            avail = self.room() - space - len(cue_rows) - 1  # rows left for dialogue
            # At least two rows on this page and one on the next; never end the page on a
            # parenthetical (which also keeps a wrapped parenthetical in one piece).
            k = min(avail, remaining - 1)
            while k >= 2 and content[start + k - 1][0].kind is T.PARENTHETICAL:
                k -= 1
            if k < 2 and not self.pages[-1].rows:
                # Nothing fits the rules even on a fresh page: cut where the page ends.
                k = max(1, min(avail, remaining - 1))
            if k >= 1 and (k >= 2 or not self.pages[-1].rows):
                self.put(cue_rows + content[start : start + k] + [more], space)
                start += k
                cue_rows = [contd]
            self.new_page()


def _paginate_blocks(blocks: list[_Block], layout: PageLayout) -> tuple[list[Page], list[int]]:
    """Return the pages and, per scene, the absolute row where its heading starts."""
    pager = _Pager(layout)
    pager.run(blocks)
    return pager.pages, pager.scene_starts


def _as_script(script_or_text: Script | str) -> Script:
    return fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text


@dataclass(slots=True)
class Pagination:
    """The laid-out body: pages plus, per scene, the absolute line where its heading sits."""

    layout: PageLayout
    pages: list[Page]
    scene_starts: list[int]

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


def lay_out(script_or_text: Script | str, layout: PageLayout = LETTER) -> Pagination:
    """Lay the script body out on pages (no title page)."""
    pages, starts = _paginate_blocks(_blocks(_as_script(script_or_text), layout), layout)
    return Pagination(layout, pages, starts)


def paginate(script_or_text: Script | str, layout: PageLayout = LETTER) -> list[Page]:
    """Return the body pages (no title page) as rows of positioned text."""
    return lay_out(script_or_text, layout).pages


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
