"""Read a screenplay PDF into the format-neutral ``Script`` (PDF in).

A PDF has no elements, only text drawn at positions, so the reader rebuilds them from the
layout every screenplay tool follows (Courier 12 pt, 10 characters per inch):

1. Text with positions: pypdf's ``extract_text(visitor_text=...)`` gives each drawn
   string with its text and current transformation matrices; the strings are grouped
   into printed lines by their baseline and, on a line, into segments split at wide gaps
   (the scene numbers in the margins, the two columns of dual dialogue).
2. Page furniture goes: anything in the top 0.9" or the bottom 0.6" of the sheet (page
   numbers, revision headers), a lone page number as a page's first or last line,
   ``(MORE)``, and the cue that repeats the speaker after a page break mid-speech (whose
   speech is joined back to the part before the break).
3. Each line is classified by its indent in character columns from the text's left
   margin (the smallest indent that many lines share: action and headings), its case and
   what it says: see ``_classify``. Lines of one kind with no blank line between them are
   one paragraph (wrapped lines joined with a space; a line that ends where the next
   word would have fit ends a line the writer broke, kept as "\\n").
4. A first page with no scene heading and no speech but centered text is the title page,
   mapped to Title, Credit, Author, Source, Draft date and Contact with the FDX reader's
   layout rules (``fdx._title_page``).

Refused with a ``FormatError``: a file that is not a PDF or is damaged, an encrypted PDF
(unless it opens with the empty password), more than ``MAX_PAGES`` pages, reading that
takes longer than ``TIME_LIMIT_S``, a PDF with no text layer (a scan), and a PDF in which
no scene heading or character cue is found (not a screenplay).

Not in a PDF, so not read back: emphasis, notes, boneyard, sections, synopses, page
breaks; lyrics read as dialogue.
"""

from __future__ import annotations

import io
import logging
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import fdx, grammar
from .errors import FormatError
from .model import SPEECH_TYPES, Element, ElementType, Script, TitleEntry, split_cue

__all__ = ["MAX_PAGES", "TIME_LIMIT_S", "loads"]

log = logging.getLogger(__name__)

T = ElementType
MAX_PAGES = 400
TIME_LIMIT_S = 30.0
PT = 72.0

# "12.", "Page 12 of 90", and production pages: "12A.", "12-13." (pages that became one;
# the dot required there, so a phone number on a title page stays).
_PAGE_NUMBER_RE = re.compile(
    r"^(?:page\s+)?\d{1,4}[A-Z]{0,2}(?:-\d{1,4}[A-Z]{0,2}\.|\.?)(?:\s+of\s+\d+)?$", re.I
)
_SCENE_NUMBER_RE = re.compile(r"^[A-Z]{0,2}\d{1,4}[A-Z]{0,3}(?:-\d+[A-Z]?)*\.?$")
_INLINE_NUMBERS_RE = re.compile(r"^(\S{1,8})\s+(.+?)\s+(\S{1,8})$")
_CONTINUED_RE = re.compile(
    r"^(?:[A-Z]{0,2}\d{1,4}[A-Z]{0,3}\.?\s+)?\(?CONTINUED(?::|\))(?:\s*\(\d+\))?"
    r"(?:\s+[A-Z]{0,2}\d{1,4}[A-Z]{0,3}\.?)?$",
    re.I,
)
_MORE_RE = re.compile(r"^\((?:MORE|CONTINUED)\)$", re.I)
_CONTD_RE = re.compile(r"\s*\((?:CONT['’]D|CONTINUED|CONT\.?)\)\s*$", re.I)
_DRAFT_DATE_RE = re.compile(
    r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b|\bdraft\b|\brevis|\b(?:january|february|march|april"
    r"|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)
_SENTENCE_END_RE = re.compile(r"[.!?…][\"'’”)]*$")
_TRANSITION_RE = re.compile(
    r"^(?:[A-Z0-9 .'’/-]+ TO:|FADE OUT\.?|FADE TO BLACK\.?|CUT TO BLACK\.?|THE END\.?)$"
)


@dataclass(slots=True)
class _Seg:
    """A run of text on one printed line: x in points from the sheet's left edge."""

    x: float
    text: str
    size: float

    @property
    def end(self) -> float:
        return self.x + len(self.text) * self.size * 0.6


@dataclass(slots=True)
class _Line:
    page: int
    y: float  # baseline, points from the sheet's bottom edge
    segs: list[_Seg]
    number: str | None = None  # scene number taken from the margins
    kind: ElementType | None = None
    col: float = 0.0
    dual: int = 0  # 0: not dual; 1: left column; 2: right column

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segs)

    @property
    def x(self) -> float:
        return self.segs[0].x

    @property
    def end(self) -> float:
        return self.segs[-1].end


@dataclass(slots=True)
class _Page:
    width: float
    height: float
    lines: list[_Line] = field(default_factory=list)


# --- reading text with positions ---------------------------------------------------------


def _open(data: bytes):
    try:
        from pypdf import PdfReader
    except ImportError:  # pragma: no cover - pypdf is a requirement
        raise FormatError("PDF import is not available on this server.") from None
    if not data[:1024].lstrip().startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise FormatError("This file is not a PDF (it does not start with a PDF header).")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:
        log.info("PDF import: unreadable file (%s)", exc)
        raise FormatError("This PDF could not be read; it may be damaged.") from None
    if encrypted:
        try:
            opened = reader.decrypt("")
        except Exception:
            opened = 0
        if not opened:
            raise FormatError(
                "This PDF is encrypted (password protected). Save or print an unprotected "
                "copy and upload that."
            )
    return reader


def _page_lines(page, number: int) -> _Page:
    box = page.mediabox
    width, height = float(box.width), float(box.height)
    x0, y0 = float(box.left), float(box.bottom)
    chunks: list[list] = []  # [x, y, text, size, open]: open while the line goes on

    def visit(text, cm, tm, font_dict, font_size):
        if not text:
            return
        # Text space to user space: tm then cm (pypdf gives both as 6-element lists).
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4] - x0
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5] - y0
        scale = (abs(tm[0] * cm[0] + tm[1] * cm[2]) or 1.0) * (font_size or 12.0)
        size = scale if 4 <= scale <= 40 else 12.0
        pieces = text.split("\n")
        last = chunks[-1] if chunks else None
        if last is not None and last[4] and abs(last[0] - x) < 0.5 and abs(last[1] - y) < 0.5:
            # A run in another font on the same line: pypdf reports the line's start
            # position again, so the text joins the run before it.
            if not last[2].strip():
                last[0], last[3] = x, size
            last[2] += pieces[0]
            last[4] = len(pieces) == 1
            pieces = pieces[1:]
            y -= size
        for k, piece in enumerate(pieces):
            # Several lines in one string: later ones are one line height lower.
            chunks.append([x, y - k * size, piece, size, k == len(pieces) - 1])

    page.extract_text(visitor_text=visit)
    result = _Page(width, height)
    chunks.sort(key=lambda c: (-round(c[1]), c[0]))
    for x, y, raw, size, _open in chunks:
        text = raw.strip()
        if not text:
            continue
        x += (len(raw) - len(raw.lstrip())) * size * 0.6
        line = result.lines[-1] if result.lines else None
        if line is None or abs(line.y - y) > 2:
            result.lines.append(_Line(number, y, [_Seg(x, text, size)]))
            continue
        last = line.segs[-1]
        gap = x - last.end
        if gap < size * 0.6 * 2.5:  # the same run of text, maybe drawn in pieces
            sep = " " if gap > size * 0.3 else ""
            last.text = last.text + sep + text
        else:
            line.segs.append(_Seg(x, text, size))
    for line in result.lines:
        line.segs.sort(key=lambda s: s.x)
    return result


def _read_pages(data: bytes, *, max_pages: int, time_limit: float) -> list[_Page]:
    reader = _open(data)
    started = time.monotonic()
    try:
        count = len(reader.pages)
    except Exception:
        raise FormatError("This PDF could not be read; it may be damaged.") from None
    if count > max_pages:
        raise FormatError(
            f"This PDF has {count:,} pages; an import takes at most {max_pages:,}. "
            "Split it into parts and import them one by one."
        )
    pages = []
    for n in range(count):
        if time.monotonic() - started > time_limit:
            raise FormatError("This PDF takes too long to read. Nothing was imported.")
        try:
            pages.append(_page_lines(reader.pages[n], n))
        except FormatError:
            raise
        except Exception as exc:
            log.info("PDF import: page %d unreadable (%s)", n + 1, exc)
            raise FormatError(
                f"Page {n + 1} of this PDF could not be read; it may be damaged."
            ) from None
    if time.monotonic() - started > time_limit:
        raise FormatError("This PDF takes too long to read. Nothing was imported.")
    return pages


# --- page furniture and scene numbers ----------------------------------------------------


def _strip_furniture(page: _Page) -> None:
    top, bottom = page.height - 0.9 * PT, 0.6 * PT
    lines = [ln for ln in page.lines if bottom <= ln.y <= top]
    # A lone page number as the first or last line of the body; "CONTINUED:" at the top
    # of a page and "(CONTINUED)" at its foot (scene continued marks).
    for at in (0, -1):
        if lines and len(lines[at].segs) == 1 and _PAGE_NUMBER_RE.match(lines[at].text):
            lines.pop(at)
    while lines and _CONTINUED_RE.match(lines[0].text):
        lines.pop(0)
    while lines and _CONTINUED_RE.match(lines[-1].text):
        lines.pop()
    page.lines = lines


_REVISION_MARK_RE = re.compile(r"^(.*?)\s*\*+$")


def _drop_revision_marks(line: _Line, left: float, cw: float) -> None:
    """Drop production revision asterisks: a ``*`` printed right of the text block (beside
    a revised line, or after a heading's right scene number), as Final Draft and Cowrite's
    production drafts print them. Text never reaches past 60 characters, so an asterisk
    that ends within 61 is text."""
    right = left + 61 * cw
    segs = line.segs
    while segs:
        last = segs[-1]
        m = _REVISION_MARK_RE.match(last.text)
        if not m or last.end <= right:
            return
        if m.group(1):
            segs[-1] = _Seg(last.x, m.group(1), last.size)
            return
        segs.pop()


def _take_scene_numbers(line: _Line, left: float, cw: float) -> None:
    """Move scene numbers printed in the margins (or around the heading) to ``number``."""
    segs = line.segs
    if (
        len(segs) >= 2
        and _SCENE_NUMBER_RE.match(segs[0].text)
        and segs[0].x < left - cw
        and (_is_heading_text(segs[1].text) or len(segs) > 2)
    ):
        line.number = segs[0].text.rstrip(".")
        segs.pop(0)
    if (
        len(segs) >= 2
        and _SCENE_NUMBER_RE.match(segs[-1].text)
        and (line.number in (None, segs[-1].text.rstrip(".")))
        and (line.number or _is_heading_text(segs[0].text))
    ):
        line.number = segs[-1].text.rstrip(".")
        segs.pop()
    first = segs[0].text.split(" ", 1)
    if (
        line.number is None
        and len(first) == 2
        and segs[0].x < left - cw / 2
        and _SCENE_NUMBER_RE.match(first[0])
        and (
            _is_heading_text(first[1])
            or segs[-1].text.rsplit(" ", 1)[-1].rstrip(".") == first[0].rstrip(".")
        )
    ):
        line.number = first[0].rstrip(".")
        segs[0] = _Seg(segs[0].x + (len(first[0]) + 1) * cw, first[1], segs[0].size)
        last = segs[-1].text.rsplit(" ", 1)
        if len(segs) == 1 and len(last) == 2 and last[1].rstrip(".") == line.number:
            segs[0] = _Seg(segs[0].x, last[0], segs[0].size)
        elif len(segs) > 1 and segs[-1].text.rstrip(".") == line.number:
            segs.pop()
    if line.number is None and len(segs) == 1:
        m = _INLINE_NUMBERS_RE.match(segs[0].text)
        if (
            m
            and m.group(1) == m.group(3)
            and _SCENE_NUMBER_RE.match(m.group(1))
            and _is_heading_text(m.group(2))
        ):
            line.number = m.group(1).rstrip(".")
            segs[0] = _Seg(segs[0].x + (len(m.group(1)) + 1) * cw, m.group(2), segs[0].size)


def _is_heading_text(text: str) -> bool:
    heading = grammar.parse_scene_heading(text.strip())
    return heading is not None and not heading.forced and bool(heading.location)


def _upper(text: str) -> bool:
    name = _CONTD_RE.sub("", text)
    name = re.sub(r"\([^)]*\)", "", name)
    return any(c.isalpha() for c in name) and name == name.upper()


# --- the title page ----------------------------------------------------------------------


def _is_title_page(page: _Page, left: float, cw: float) -> bool:
    if not page.lines:
        return False
    center = page.width / 2
    centered = 0
    for line, nxt in zip(page.lines, page.lines[1:] + [None], strict=True):
        if _is_heading_text(line.text) or line.number:
            return False
        col = (line.x - left) / cw
        if (
            nxt is not None
            and 17 <= col < 35
            and _upper(line.text)
            and 5 <= (nxt.x - left) / cw < 17
            and line.y - nxt.y <= 1.6 * line.segs[0].size
        ):
            return False  # a cue over its dialogue: a page of the script
        mid = (line.x + line.end) / 2
        if abs(mid - center) <= 1.5 * line.segs[0].size * 0.6 and line.x > left + 2 * cw:
            centered += 1
    return centered > 0 and len(page.lines) <= 40


def _title_page(page: _Page, left: float, cw: float) -> list[TitleEntry]:
    """Map a title page's text to entries, as the FDX reader maps Final Draft's."""
    root = ET.Element("FinalDraft")
    content = ET.SubElement(ET.SubElement(root, "TitlePage"), "Content")
    center = page.width / 2
    right = left + 60 * cw
    # Each piece of text by where it sits: centered, at the left, at the right; the blocks
    # of each kind are cut at blank lines (a date at the right may share a row with the
    # contact at the left).
    placed: dict[str, list[list[tuple[float, str]]]] = {"Center": [], "Left": [], "Right": []}
    for line in page.lines:
        for seg in line.segs:
            size = seg.size
            mid = (seg.x + seg.end) / 2
            if abs(mid - center) <= 1.5 * size * 0.6 and seg.x > left + 2 * cw:
                align = "Center"
            elif seg.end >= right - 2 * cw and seg.x > center:
                align = "Right"
            else:
                align = "Left"
            blocks = placed[align]
            if not blocks or blocks[-1][-1][0] - line.y > 1.6 * max(size, 12.0):
                blocks.append([])
            blocks[-1].append((line.y, seg.text))
    for align, blocks in placed.items():
        for block in blocks:
            if len(block) == 1 and align == "Left" and _DRAFT_DATE_RE.search(block[0][1]):
                # Printed lower left by many tools; the FDX rules look for it on the right.
                align_here = "Right"
            else:
                align_here = align
            ET.SubElement(content, "Paragraph")  # an empty paragraph: a gap
            for _y, text in block:
                paragraph = ET.SubElement(content, "Paragraph", Alignment=align_here)
                ET.SubElement(paragraph, "Text").text = text
    return fdx._title_page(root)


# --- classification ----------------------------------------------------------------------


def _left_margin(pages: list[_Page]) -> tuple[float, float]:
    """Return the text's left margin (points) and the character width (points)."""
    xs: dict[int, int] = {}
    sizes: dict[float, int] = {}
    for page in pages:
        for line in page.lines:
            first = line.segs[0]
            if len(line.segs) > 1 and _SCENE_NUMBER_RE.match(first.text):
                first = line.segs[1]  # a scene number in the margin
            xs[round(first.x)] = xs.get(round(first.x), 0) + 1
            size = round(line.segs[0].size, 1)
            sizes[size] = sizes.get(size, 0) + 1
    if not xs:
        return 1.5 * PT, 7.2
    size = max(sizes, key=sizes.get)
    total = sum(xs.values())
    common = [x for x, n in xs.items() if n >= max(2, total * 0.05)]
    left = float(min(common) if common else min(xs))
    return left, size * 0.6


def _classify(lines: list[_Line], left: float, cw: float, right_col: float) -> None:
    """Set ``kind`` on each body line (the rules are in docs/formats.md, "PDF in").

    Columns count characters from the left margin: headings, action and left-hand
    transitions start near 0; dialogue near 10 (9 to 11 by tool); parentheticals near 16;
    cues near 22 (19 to 24); right-aligned transitions end near the right margin (60).
    """
    in_speech = False
    in_paren = False
    prev: _Line | None = None
    for i, line in enumerate(lines):
        text = line.text
        col = (line.x - left) / cw
        line.col = col
        gap = prev is None or prev.page != line.page or prev.y - line.y > 1.6 * cw / 0.6
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        nxt_col = (nxt.x - left) / cw if nxt is not None else 0
        nxt_close = nxt is not None and nxt.page == line.page and line.y - nxt.y <= 1.6 * cw / 0.6
        end_col = (line.end - left) / cw
        if gap:
            in_speech = in_paren = False
        kind: ElementType
        if line.number is not None or (col < 5 and _is_heading_text(text)):
            kind = T.SCENE_HEADING
        elif col < 5:
            if _upper(text) and _TRANSITION_RE.match(text) and gap:
                kind = T.TRANSITION
            elif (
                not gap
                and prev is not None
                and prev.kind is T.SCENE_HEADING
                and _upper(text)
                and prev.number is None
            ):
                kind = T.SCENE_HEADING  # a long heading's second line
            else:
                kind = T.ACTION
        elif in_speech and col < right_col - 20:
            if in_paren or (text.startswith("(") and col >= 11.5):
                kind = T.PARENTHETICAL
            else:
                kind = T.DIALOGUE
        elif (
            gap
            and _upper(text)
            and end_col >= right_col - 3
            and col >= 30
            and (not nxt_close or nxt_col < 5)
        ):
            kind = T.TRANSITION
        elif gap and 17 <= col < 35 and nxt_close and 5 <= nxt_col < 20 and nxt_col < col:
            kind = T.CHARACTER
        elif gap and _TRANSITION_RE.match(text) and col >= 30:
            kind = T.TRANSITION
        elif abs((line.x + line.end) / 2 - (left + right_col * cw / 2)) <= 1.5 * cw:
            kind = T.CENTERED
        elif (
            gap
            and 17 <= col < 35
            and _upper(text)
            and nxt is not None
            and nxt.page != line.page
            and 5 <= nxt_col < 17
        ):
            kind = T.CHARACTER  # a cue whose speech starts on the next page
        elif gap and 17 <= col < 35 and _upper(text) and not nxt_close:
            kind = T.CENTERED  # centered by another rule than ours
        elif 5 <= col < 20:
            kind = T.PARENTHETICAL if text.startswith("(") and col >= 12 else T.DIALOGUE
        else:
            kind = T.ACTION
        if kind is T.CHARACTER:
            in_speech = True
        elif kind is T.PARENTHETICAL:
            in_paren = not text.rstrip().endswith(")")
        elif kind not in (T.DIALOGUE,):
            in_speech = in_paren = False
        line.kind = kind
        prev = line


# --- building elements -------------------------------------------------------------------


def _join(parts: list[_Line], width: int) -> str:
    """Join a paragraph's printed lines: wrapped lines with a space, hard breaks with "\\n"."""
    out = parts[0].text
    for before, line in zip(parts, parts[1:], strict=False):
        first_word = line.text.split(" ", 1)[0]
        hard = len(before.text) + 1 + len(first_word) <= width
        out += ("\n" if hard else " ") + line.text
    return out


def _element(kind: ElementType, parts: list[_Line], widths: dict[ElementType, int]) -> Element:
    if kind is T.SCENE_HEADING:
        text = " ".join(p.text for p in parts)
        el = Element(T.SCENE_HEADING, text, scene_number=parts[0].number)
    elif kind is T.CHARACTER:
        cue = " ".join(parts[0].text.split())
        name, extensions = split_cue(cue)
        el = Element(T.CHARACTER, cue, name=name, extensions=extensions)
    elif kind in (T.PARENTHETICAL, T.TRANSITION, T.CENTERED):
        el = Element(kind, " ".join(p.text for p in parts))
    else:
        el = Element(kind, _join(parts, widths.get(kind, 60)))
    el.forced = fdx._needs_force(el)
    return el


def _widths(lines: list[_Line]) -> dict[ElementType, int]:
    """Return the wrap width of action and dialogue: the longest line, at least the usual."""
    widths = {T.ACTION: 60, T.DIALOGUE: 35}
    for line in lines:
        if line.kind in widths:
            widths[line.kind] = max(widths[line.kind], len(line.text))
    return widths


def _dual_rows(lines: list[_Line], left: float, cw: float) -> list[_Line]:
    """Split speeches printed side by side (dual dialogue) into left then right lines.

    A dual block opens with a row holding two cues, one in each half of the text width,
    and runs on over the rows below it with no blank line between.
    """
    half = left + 30 * cw
    out: list[_Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        segs = line.segs
        opens = (
            len(segs) == 2
            and line.number is None
            and segs[0].x > left + 3 * cw
            and segs[0].x < half <= segs[1].x
            and all(_upper(s.text) for s in segs)
        )
        if not opens:
            out.append(line)
            i += 1
            continue
        lefts: list[_Line] = []
        rights: list[_Line] = []
        prev = None
        while i < len(lines):
            row = lines[i]
            turn = (
                prev is not None
                and row.page == prev.page + 1
                and i > 0
                and lines[i - 1] is prev
                and all(s.x > left + 3 * cw for s in row.segs)
                and not (len(row.segs) == 1 and _upper(row.text) and row.text[:1] != "(")
            )  # a dual block that goes on at the top of the next page
            if (
                prev is not None
                and not turn
                and (
                    row.page != prev.page
                    or prev.y - row.y > 1.6 * row.segs[0].size
                    or row.x < left + 2 * cw
                    or row.number is not None
                )
            ):
                break
            for seg in row.segs:
                side = rights if seg.x >= half else lefts
                side.append(_Line(row.page, row.y, [seg], dual=2 if side is rights else 1))
            prev = row
            i += 1
        out.extend(lefts + rights)
    return out


def _dual_elements(lines: list[_Line], widths) -> list[Element]:
    elements: list[Element] = []
    for side in (1, 2):
        column = [ln for ln in lines if ln.dual == side]
        if not column:
            continue
        base = min(ln.x for ln in column)
        cue = next((ln for ln in column if ln.x > base and _upper(ln.text)), column[0])
        el = _element(T.CHARACTER, [cue], widths)
        el.dual = side == 2
        elements.append(el)
        run: list[_Line] = []
        kind = None
        for ln in column[column.index(cue) + 1 :]:
            k = T.PARENTHETICAL if ln.text.startswith("(") or kind is T.PARENTHETICAL else None
            k = k or T.DIALOGUE
            if kind is T.PARENTHETICAL and run and run[-1].text.endswith(")"):
                k = T.PARENTHETICAL if ln.text.startswith("(") else T.DIALOGUE
            if run and k is not kind:
                elements.append(_element(kind, run, widths))
                run = []
            kind = k
            run.append(ln)
        if run:
            elements.append(_element(kind, run, widths))
    return elements


def _build(lines: list[_Line], left: float, cw: float) -> list[Element]:
    widths = _widths(lines)
    elements: list[Element] = []
    more = False  # the last page ended a speech with (MORE)
    last_cue: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.dual:
            block = []
            while i < len(lines) and lines[i].dual:
                block.append(lines[i])
                i += 1
            elements += _dual_elements(block, widths)
            last_cue = None
            continue
        text = line.text
        if _MORE_RE.match(text):
            more = True
            i += 1
            continue
        page_start = i == 0 or lines[i - 1].page != line.page
        if line.kind is T.CHARACTER and page_start and more and last_cue is not None:
            name = split_cue(_CONTD_RE.sub("", text))[0].upper()
            if name == last_cue:
                # The speech goes on after a page break: join it to the part before.
                i += 1
                more = False
                if i < len(lines) and lines[i].kind is T.DIALOGUE and elements:
                    prev = elements[-1]
                    if prev.type is T.DIALOGUE:
                        run = [lines[i]]
                        i += 1
                        while i < len(lines) and _continues(lines[i - 1], lines[i], T.DIALOGUE):
                            run.append(lines[i])
                            i += 1
                        prev.text += " " + _join(run, widths[T.DIALOGUE])
                continue
        more = False
        run = [line]
        i += 1
        if line.kind is not T.CHARACTER:
            while i < len(lines) and _continues(run[-1], lines[i], line.kind):
                if line.kind is T.PARENTHETICAL and run[-1].text.rstrip().endswith(")"):
                    break
                run.append(lines[i])
                i += 1
        el = _element(line.kind, run, widths)
        before = lines[i - len(run) - 1] if i - len(run) > 0 else None
        if (
            el.type is T.ACTION
            and page_start
            and before is not None
            and before.kind is T.ACTION
            and elements
            and elements[-1].type is T.ACTION
            and "\n" not in _join([before, line], widths[T.ACTION])
            and not (_SENTENCE_END_RE.search(before.text) and line.text[:1].isupper())
        ):
            # An action paragraph the page break cut in two (no blank line is printed).
            elements[-1].text += " " + el.text
            elements[-1].forced = fdx._needs_force(elements[-1])
            continue
        if el.type is T.CHARACTER:
            last_cue = (el.name or "").upper()
        elif el.type not in (T.DIALOGUE, T.PARENTHETICAL):
            last_cue = None
        elements.append(el)
    return elements


def _continues(before: _Line, line: _Line, kind: ElementType) -> bool:
    return (
        line.kind is kind
        and line.page == before.page
        and before.y - line.y <= 1.6 * before.segs[0].size
        and not line.dual
        and not _MORE_RE.match(line.text)
    )


# --- entry point -------------------------------------------------------------------------


def loads(data: bytes, *, max_pages: int = MAX_PAGES, time_limit: float = TIME_LIMIT_S) -> Script:
    """Read a screenplay PDF into a ``Script``; raise ``FormatError`` if it cannot be."""
    pages = _read_pages(bytes(data), max_pages=max_pages, time_limit=time_limit)
    if not any(page.lines for page in pages):
        raise FormatError(
            "This PDF has no text to read — it may be a scan. Export the script as a PDF "
            "with text from your screenwriting program, or upload it as Fountain or FDX."
        )
    for page in pages:
        _strip_furniture(page)
    left, cw = _left_margin(pages)
    title_page: list[TitleEntry] = []
    if pages and _is_title_page(pages[0], left, cw):
        title_page = _title_page(pages[0], left, cw)
        pages = pages[1:]
        left, cw = _left_margin(pages)
    lines = [line for page in pages for line in page.lines]
    for line in lines:
        _drop_revision_marks(line, left, cw)
        if line.segs:
            _take_scene_numbers(line, left, cw)
    lines = [line for line in lines if line.segs]
    lines = _dual_rows(lines, left, cw)
    body = [ln for ln in lines if not ln.dual]
    _classify(body, left, cw, 60)
    elements = _build(lines, left, cw)
    if not any(e.type in (T.SCENE_HEADING, T.CHARACTER) for e in elements):
        raise FormatError(
            "This PDF does not look like a screenplay: no scene headings (such as "
            '"INT. KITCHEN - DAY") or character cues were found in it.'
        )
    out: list[Element] = []
    for el in elements:
        in_speech = (
            el.type in SPEECH_TYPES and out and out[-1].type in (SPEECH_TYPES | {T.CHARACTER})
        )
        if out and not in_speech:
            out.append(Element(T.BLANK))
        out.append(el)
    out.append(Element(T.BLANK))
    fdx._fix_speech_parts(out)
    return Script(title_page=title_page, elements=out)
