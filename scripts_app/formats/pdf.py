"""Write a screenplay PDF in industry layout with the PDF core font Courier (reportlab).

Core fonts need no font files and keep exact 0.1"-wide glyphs; they cover Windows-1252
only, so other characters print as "?" (documented in docs/formats.md).
"""

from __future__ import annotations

import io

from reportlab.pdfgen.canvas import Canvas

from . import fountain
from .markup import Run, inline_runs
from .model import Script
from .pagination import LETTER, LayoutLine, PageLayout, paginate, wrap_runs

__all__ = ["render_pdf"]

PT = 72.0  # points per inch
FONT_SIZE = 12.0
CHAR_W = 7.2  # Courier advance at 12 pt: 600/1000 em
LINE_H = 12.0
_FONTS = {
    (False, False): "Courier",
    (True, False): "Courier-Bold",
    (False, True): "Courier-Oblique",
    (True, True): "Courier-BoldOblique",
}


def _printable(text: str) -> str:
    # WinAnsiEncoding is what the core fonts can show; the rest becomes "?".
    return text.encode("cp1252", "replace").decode("cp1252")


def _draw_runs(canvas: Canvas, x: float, y: float, runs: tuple[Run, ...] | list[Run]) -> None:
    for run in runs:
        text = _printable(run.text)
        if not text:
            continue
        canvas.setFont(_FONTS[(run.bold, run.italic)], FONT_SIZE)
        canvas.drawString(x, y, text)
        width = len(text) * CHAR_W
        if run.underline:
            canvas.line(x, y - 1.5, x + width, y - 1.5)
        x += width


def _line_x(seg: LayoutLine, left: float) -> float:
    length = len(seg.text.rstrip())
    if seg.align == "right":
        col = seg.indent + seg.width - length
    elif seg.align == "center":
        col = seg.indent + (seg.width - length) / 2
    else:
        col = seg.indent
    return left + col * CHAR_W


def _title_page(canvas: Canvas, script: Script, layout: PageLayout) -> None:
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
            _draw_runs(canvas, (width - text_w) / 2, y, line)
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
        _draw_runs(canvas, left, y, line)
        y -= LINE_H
    canvas.showPage()


def render_pdf(
    script_or_text: Script | str,
    *,
    layout: PageLayout = LETTER,
    title_page: bool = True,
    scene_numbers: bool = False,
) -> bytes:
    """Return the screenplay as PDF bytes (title page first when the script has one)."""
    script = fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text
    buf = io.BytesIO()
    size = (layout.width_in * PT, layout.height_in * PT)
    # invariant=1 drops timestamps and random ids, so equal scripts give equal bytes.
    canvas = Canvas(
        buf,
        pagesize=size,
        invariant=1,
        pageCompression=1,
        initialFontName="Courier",
        initialFontSize=FONT_SIZE,
    )
    canvas.setTitle(_printable(script.title or "Screenplay"))
    author = script.title_field("author") or script.title_field("authors")
    if author:
        canvas.setAuthor(_printable(" ".join(author.split())))
    canvas.setCreator("Cowrite")
    canvas.setLineWidth(0.6)
    if title_page and script.title_page:
        _title_page(canvas, script, layout)
    left = layout.left_in * PT
    right_edge = left + layout.action_width * CHAR_W
    top = size[1] - layout.top_in * PT
    for page in paginate(script, layout):
        if page.number >= 2:
            canvas.setFont("Courier", FONT_SIZE)
            canvas.drawRightString(right_edge, size[1] - 0.5 * PT, f"{page.number}.")
        for r, row in enumerate(page.rows):
            # Baseline sits 10 pt into each 12 pt line, below Courier's ascender.
            y = top - r * LINE_H - 10
            for seg in row:
                _draw_runs(canvas, _line_x(seg, left), y, seg.runs)
                if scene_numbers and seg.scene_number:
                    canvas.setFont("Courier", FONT_SIZE)
                    number = _printable(seg.scene_number)
                    canvas.drawRightString(left - 0.5 * PT, y, number)
                    canvas.drawString(right_edge + 0.5 * PT, y, number)
        canvas.showPage()
    canvas.save()
    return buf.getvalue()
