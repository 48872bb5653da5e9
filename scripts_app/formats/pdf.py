"""Write a screenplay PDF in industry layout (reportlab).

Text is set in Liberation Mono (``fonts/``, SIL OFL), a TrueType font with Courier's
metrics (every glyph 0.6 em: 10 characters per inch at 12 pt) that covers Latin with its
extensions, Greek, Cyrillic and Hebrew (what it lacks, such as CJK, prints as "?"); the
PDF embeds the glyphs it uses. The layout is counted in characters (``pagination.py``),
so it is the same whichever font draws it. If the font files are missing the PDF falls
back to the core font Courier, which needs no file but covers Windows-1252 only (other
characters print as "?"), and says so in the log.
"""

from __future__ import annotations

import functools
import io
import logging
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from . import fountain
from .markup import Run, inline_runs
from .model import Script
from .pagination import (
    LETTER,
    LayoutLine,
    PageLayout,
    PageLock,
    number_scenes,
    paginate,
    wrap_runs,
    wrap_text,
)

__all__ = ["FONT_DIR", "TextPages", "render_pdf"]

log = logging.getLogger(__name__)

PT = 72.0  # points per inch
FONT_SIZE = 12.0
CHAR_W = 7.2  # Courier advance at 12 pt: 600/1000 em
LINE_H = 12.0
# Revision asterisks print here (inches from the left edge): right of the text block and
# of the scene numbers, inside the printable area of Letter and A4.
MARK_X_IN = 7.8
CORE_FONTS = {
    (False, False): "Courier",
    (True, False): "Courier-Bold",
    (False, True): "Courier-Oblique",
    (True, True): "Courier-BoldOblique",
}
_PACKAGE_FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_DIR = _PACKAGE_FONT_DIR  # where the TrueType files are looked for (tests point it elsewhere)
_FONT_FILES = {
    (False, False): ("CowriteMono", "LiberationMono-Regular.ttf"),
    (True, False): ("CowriteMono-Bold", "LiberationMono-Bold.ttf"),
    (False, True): ("CowriteMono-Italic", "LiberationMono-Italic.ttf"),
    (True, True): ("CowriteMono-BoldItalic", "LiberationMono-BoldItalic.ttf"),
}


@functools.lru_cache(maxsize=4)
def _embedded_fonts(font_dir: Path) -> dict[tuple[bool, bool], str] | None:
    """Register the TrueType fonts in ``font_dir`` once; None if any cannot be loaded."""
    names = {}
    for style, (name, filename) in _FONT_FILES.items():
        path = font_dir / filename
        # Fonts from another folder register under other names, never reusing these.
        if font_dir != _PACKAGE_FONT_DIR:
            name = f"{name}-{zlib.crc32(str(font_dir).encode()):08x}"
        try:
            if name not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont(name, str(path)))
        except Exception as exc:  # a missing or unreadable file: say so, use Courier
            log.warning(
                "PDF export: cannot load the font %s (%s); falling back to the core "
                "Courier font, so characters outside Windows-1252 print as '?'.",
                path,
                exc,
            )
            return None
        names[style] = name
    return names


def _fonts() -> tuple[dict[tuple[bool, bool], str], bool]:
    """Return the font name for each (bold, italic) and whether they are Unicode fonts."""
    embedded = _embedded_fonts(FONT_DIR)
    if embedded is None:
        return CORE_FONTS, False
    return embedded, True


def _printable(text: str) -> str:
    # WinAnsiEncoding is what the core fonts can show; the rest becomes "?".
    return text.encode("cp1252", "replace").decode("cp1252")


class _Writer:
    """Draws runs of text in the chosen fonts, each character 0.1" wide.

    With the embedded TrueType fonts, each string is written as its own small text object
    ("font, position, string"; a page's are added at ``flush``) instead of through
    reportlab's ``drawString``, which measures and shapes every string first: the same
    glyphs at the same positions, about 2.5× faster on a long script. (It uses the
    canvas's ``_code``, ``_escape`` and ``_doc``: reportlab 5.1, pinned in
    ``requirements.txt``.)
    """

    def __init__(self, canvas: Canvas, fonts: dict[tuple[bool, bool], str], unicode: bool) -> None:
        self.canvas = canvas
        self.fonts, self.unicode = fonts, unicode
        # The characters the font has (all four styles cover the same ones).
        self.cmap = pdfmetrics.getFont(fonts[(False, False)]).face.charToGlyph if unicode else {}
        self.ttf = {name: pdfmetrics.getFont(name) for name in fonts.values()} if unicode else {}
        self.ops: list[str] = []

    def text(self, text: str) -> str:
        if not self.unicode:
            return _printable(text)
        if text.isascii():
            return text
        # What the font lacks (CJK, emoji) prints as "?", as with the core font.
        cmap = self.cmap
        return "".join(c if ord(c) in cmap else "?" for c in text)

    def draw(self, x: float, y: float, text: str, font_name: str) -> None:
        """Draw ``text`` (already through ``text()``) with its left end at (x, y)."""
        canvas = self.canvas
        if not self.unicode:
            canvas.setFont(font_name, FONT_SIZE)
            canvas.drawString(x, y, text)
            return
        font, doc = self.ttf[font_name], canvas._doc
        for subset, chunk in font.splitString(text, doc):
            name = font.getSubsetInternalName(subset, doc)
            # One text object per string, as drawString makes: readers (pypdf, our own
            # PDF import) then see each run at its own position.
            # What drawString writes: position, font and leading, string, next line.
            self.ops.append(
                f"BT 1 0 0 1 {_num(x)} {_num(y)} Tm {name} {_num(FONT_SIZE)} Tf "
                f"{_num(FONT_SIZE * 1.2)} TL ({canvas._escape(chunk)}) Tj T* ET"
            )
            x += len(chunk) * CHAR_W  # one byte per glyph in a subset

    def flush(self) -> None:
        """Write the page's text (call before ``showPage``)."""
        if self.ops:
            self.canvas._code.append("\n".join(self.ops))
            self.ops = []

    def runs(self, x: float, y: float, runs: tuple[Run, ...] | list[Run]) -> None:
        canvas = self.canvas
        for run in runs:
            text = self.text(run.text)
            if not text:
                continue
            self.draw(x, y, text, self.fonts[(run.bold, run.italic)])
            width = len(text) * CHAR_W
            if run.underline:
                canvas.line(x, y - 1.5, x + width, y - 1.5)
            x += width

    def plain(self, x: float, y: float, text: str) -> None:
        self.draw(x, y, self.text(text), self.fonts[(False, False)])

    def right(self, x: float, y: float, text: str) -> None:
        """Draw plain ``text`` ending at ``x``."""
        text = self.text(text)
        self.draw(x - len(text) * CHAR_W, y, text, self.fonts[(False, False)])

    def show_page(self) -> None:
        self.flush()
        self.canvas.showPage()


def _num(v: float) -> str:
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _line_x(seg: LayoutLine, left: float) -> float:
    length = len(seg.text.rstrip())
    if seg.align == "right":
        col = seg.indent + seg.width - length
    elif seg.align == "center":
        col = seg.indent + (seg.width - length) / 2
    else:
        col = seg.indent
    return left + col * CHAR_W


def scene_number_x(seg: LayoutLine, number: str, layout: PageLayout) -> tuple[float, float]:
    """Return the x (points from the sheet's left edge) of a scene's left and right number.

    The left number starts at ``layout.scene_number_left_in`` (1.0") and the right one at
    ``scene_number_right_in`` (7.4"), as screenplay software prints them; a long left
    number moves left to stay clear of the heading, and the right one moves right of a
    heading that runs past 7.3".
    """
    left = layout.left_in * PT
    width = len(number) * CHAR_W
    x_left = min(layout.scene_number_left_in * PT, left - CHAR_W - width)
    heading_end = _line_x(seg, left) + len(seg.text.rstrip()) * CHAR_W
    x_right = max(layout.scene_number_right_in * PT, heading_end + CHAR_W)
    return x_left, x_right


def _title_page(writer: _Writer, script: Script, layout: PageLayout) -> None:
    width = layout.width_in * PT
    top = layout.height_in * PT - layout.top_in * PT
    left = layout.left_in * PT
    centered_keys = ("title", "credit", "author", "authors", "source")
    y = top - layout.lines_per_page * LINE_H / 3
    for key in centered_keys:
        value = script.title_field(key)
        if not value:
            continue
        if key == "credit":
            y -= LINE_H
        for line in wrap_runs(inline_runs(value), layout.action_width):
            text_w = sum(len(r.text) for r in line) * CHAR_W
            writer.runs((width - text_w) / 2, y, line)
            y -= LINE_H * (2 if key == "title" else 1)
    # Contact details and dates sit at the lower left, as the Fountain spec suggests.
    lower: list[tuple[Run, ...]] = []
    for entry in script.title_page:
        if entry.key.strip().lower() in centered_keys or not entry.value:
            continue
        if lower:
            lower.append(())
        lower += wrap_runs(inline_runs(entry.value), layout.action_width)
    y = top - (layout.lines_per_page - len(lower)) * LINE_H
    for line in lower:
        writer.runs(left, y, line)
        y -= LINE_H
    writer.show_page()


def render_pdf(
    script_or_text: Script | str,
    *,
    layout: PageLayout = LETTER,
    title_page: bool = True,
    scene_numbers: bool | Sequence[str] = False,
    locks: Sequence[PageLock] = (),
    revisions: Mapping[int, str] | None = None,
) -> bytes:
    """Return the screenplay as PDF bytes (title page first when the script has one).

    Production revisions (``formats/production.py``): ``locks`` keep locked pages where
    they were (pages print their labels: "12A.", "12-13."); with ``revisions`` (a mark ->
    header text such as "Blue Rev. 12/03/26"), every line of a marked element gets an
    asterisk in the right margin and a revised page names its latest revision in its header.

    ``scene_numbers``: True prints every scene's number in both margins, numbering an
    unnumbered script 1..n and keeping the numbers the headings carry
    (``pagination.number_scenes``); a sequence gives the numbers to print, one per heading
    in order (an exported scene is numbered as in its whole script).
    """
    script = fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text
    buf = io.BytesIO()
    size = (layout.width_in * PT, layout.height_in * PT)
    fonts, unicode = _fonts()
    # invariant=1 drops timestamps and random ids, so equal scripts give equal bytes.
    canvas = Canvas(
        buf,
        pagesize=size,
        invariant=1,
        pageCompression=1,
        initialFontName=fonts[(False, False)],
        initialFontSize=FONT_SIZE,
    )
    writer = _Writer(canvas, fonts, unicode)
    canvas.setTitle(writer.text(script.title or "Screenplay"))
    author = script.title_field("author") or script.title_field("authors")
    if author:
        canvas.setAuthor(writer.text(" ".join(author.split())))
    canvas.setCreator("Cowrite")
    canvas.setLineWidth(0.6)
    if title_page and script.title_page:
        _title_page(writer, script, layout)
    if scene_numbers is True:
        numbers: Sequence[str] = number_scenes(script)
    elif scene_numbers:
        numbers = scene_numbers
    else:
        numbers = ()
    left = layout.left_in * PT
    right_edge = left + layout.action_width * CHAR_W
    top = size[1] - layout.top_in * PT
    header_y = size[1] - 0.5 * PT
    for page in paginate(script, layout, locks):
        if page.number >= 2:
            writer.right(right_edge, header_y, f"{page.label}.")
        marks = page.marks if revisions is not None else set()
        if marks and max(marks) in revisions:
            writer.plain(left, header_y, revisions[max(marks)])
        for r, row in enumerate(page.rows):
            # Baseline sits 10 pt into each 12 pt line, below Courier's ascender.
            y = top - r * LINE_H - 10
            star = MARK_X_IN * PT
            for seg in row:
                writer.runs(_line_x(seg, left), y, seg.runs)
                if numbers and seg.scene_index is not None:
                    i = seg.scene_index
                    number = numbers[i] if i < len(numbers) else seg.scene_number
                    if number:
                        x_left, x_right = scene_number_x(seg, number, layout)
                        writer.plain(x_left, y, number)
                        writer.plain(x_right, y, number)
                        star = max(star, x_right + (len(number) + 1) * CHAR_W)
            if marks and any(seg.mark is not None for seg in row):
                writer.plain(star, y, "*")
        writer.show_page()
    canvas.save()
    return buf.getvalue()


class TextPages:
    """Plain pages in the screenplay font for documents that are not a script (the
    outline, coverage): US Letter, 1-inch margins, lines wrapped at 72 columns, a page
    number on every page after the first, any script's characters printable."""

    WIDTH, TOP, BOTTOM, LEFT = 72, 11 * 72 - 72, 72, 72
    PAGE_W, PAGE_H = 8.5 * 72, 11 * 72

    def __init__(self, title: str) -> None:
        self.fonts, unicode = _fonts()
        self.buf = io.BytesIO()
        self.canvas = Canvas(
            self.buf, pagesize=(self.PAGE_W, self.PAGE_H), invariant=1, pageCompression=1
        )
        self.writer = _Writer(self.canvas, self.fonts, unicode)
        self.canvas.setTitle(self.writer.text(title))
        self.canvas.setCreator("Cowrite")
        self.y, self.page = self.TOP, 1

    def new_page(self) -> None:
        self.writer.show_page()
        self.page += 1
        self.y = self.TOP
        self.writer.right(self.PAGE_W - 72, self.PAGE_H - 36, f"{self.page}.")

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` points still fit on this one."""
        if self.y - height < self.BOTTOM:
            self.new_page()

    def line(self, text: str = "", bold: bool = False, indent: int = 0) -> None:
        for piece in wrap_text(text, self.WIDTH - indent) if text else [""]:
            if self.y < self.BOTTOM:
                self.new_page()
            self.writer.draw(
                self.LEFT + indent * CHAR_W,
                self.y,
                self.writer.text(piece),
                self.fonts[(bold, False)],
            )
            self.y -= LINE_H

    def finish(self) -> bytes:
        self.writer.show_page()
        self.canvas.save()
        return self.buf.getvalue()
