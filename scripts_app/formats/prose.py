"""Read a novel or short story (plain text, Markdown or EPUB) as chapters of paragraphs.

``read_prose(data, filename)`` returns a ``Book``: title, author, the cleaned text, and its
chapters, each a tuple of ``Paragraph`` (text plus offsets into ``Book.text``) and the
scene breaks between them. Every problem with the input raises ``FormatError`` with a
message fit for the writer, and nothing is returned.

What is read, and how
---------------------

- The format comes from the extension and the content: a ZIP archive (or ``.epub``) is
  read as EPUB, ``.md``/``.markdown`` as Markdown, anything else as plain text (a PDF or a
  ZIP that is not an EPUB is refused with a message saying so).
- Text (plain and Markdown) is decoded as UTF-8 (with or without BOM), or as UTF-16 when
  it starts with a UTF-16 BOM. Bytes that are not valid UTF-8 are read one by one as
  Windows-1252 (Latin-1 for the five bytes Windows-1252 leaves undefined), so a
  Windows-1252 file, or a UTF-8 file with some Windows-1252 text pasted in, reads in full:
  no byte is dropped or replaced by "?" silently, every byte becomes a character. Line
  ends are normalised to ``\\n``. Within a line, runs of spaces and tabs become one space;
  no-break spaces (French typography) are kept.
- Project Gutenberg texts: everything up to and including the ``*** START OF THE (or
  THIS) PROJECT GUTENBERG EBOOK ... ***`` line (or, in old texts, the ``*END*THE SMALL
  PRINT`` line) is dropped, and so is everything from the ``End of (the) Project
  Gutenberg ...`` / ``*** END OF THE PROJECT GUTENBERG EBOOK`` line on. ``Title:`` and
  ``Author:`` come from the header (else from "The Project Gutenberg eBook of X, by Y").
  A leading "Produced by ..." paragraph and ``[Illustration ...]`` paragraphs are dropped,
  ``_italic_`` underscores are removed, and so are printed page numbers left in the text
  (``[Pg 12]``, ``[Page 12]``, ``{12}``).
- Plain-text paragraphs are blocks of lines between blank lines; hard-wrapped lines are
  joined with a space. A block whose lines are all indented (verse, a letter's address)
  keeps its lines, joined by ``\\n``. A block with long lines (over 120 characters: one
  paragraph per line, as word processors export) gives one paragraph per line.
- Markdown: ``#`` and ``##`` headings (and ``===``/``---`` underlined ones) start
  chapters; a ``#`` heading that opens the document, is not itself a chapter heading (see
  below) and is followed directly by a ``##`` heading is the book's title instead. ``###`` and smaller headings are paragraphs. A YAML
  front matter's ``title:``/``author:`` are used. Emphasis (``*``, ``**``, ``_``, ``__``),
  inline code marks, links (their text is kept), images and ``>`` quote marks are removed;
  lines ending in two spaces or a backslash keep their line break.
- EPUB: read with ebooklib; the documents of the spine are read in order (the navigation
  document and ``linear="no"`` items are skipped). ``h1``-``h3`` start chapters (a spine
  document without one starts a chapter when the table of contents points at it, titled
  as there), ``p``/``div``/``li``/... text is paragraphs, ``<br>`` keeps a line break.
  ``h4``-``h6`` right after a chapter's heading is its subtitle; further in, a section
  of the chapter (a scene break, its title kept as a paragraph). Printed page numbers
  kept in the e-book (``epub:type="pagebreak"``, ``role="doc-pagebreak"``, Project
  Gutenberg's ``class="pagenum"``) are dropped, the text around them joined.
  Title and author come from the OPF metadata (Dublin Core ``title``/``creator``).

Chapters and scene breaks
-------------------------

- A plain-text chapter heading is a block of one line that reads ``Chapter XII``,
  ``CHAPTER 12``, ``Chapter Twelve``, ``Chapter the First``, ``CHAPTER I. THE BEGINNING``,
  ``Book One``, ``PART II``, ``Volume 3`` (book/part/volume are chapters too: the structure
  is flat), ``Prologue``, ``Epilogue``, a roman numeral (I to CCCXCIX) or a number alone
  (``XII.``, ``12``), or a roman numeral or number with a period and a short title that does
  not end like a sentence (``XII. The Storm``). A line of dialogue or emphasis in capitals
  is never a heading: the keyword or the numeral is required. A short second line in the
  same block, or a short all-capitals (or title-case, unpunctuated) line in the next block,
  is the chapter's subtitle: ``CHAPTER I.`` + ``THE BEGINNING`` is "CHAPTER I. THE
  BEGINNING". In EPUB and Markdown a heading right after another (no text between) that is
  not itself a chapter heading is likewise the subtitle of the first (the book's
  apparatus — "Bibliography" after "SECTION IV Fairy Stories" — only after a bare
  numbered heading such as "Chapter 1").
- Text before the first heading, and a book with no heading at all, is a chapter titled
  "". Three or more headings in a row with no text between (a table of contents) are
  dropped.
- The book's apparatus is a chapter too, flagged ``Chapter.matter`` (``is_matter``): a
  plain-text block of one line reading ``PREFACE``, ``Introduction``, ``CONTENTS``,
  ``Dedication``, ``List of Illustrations``, ``Footnotes``, ``Appendix B``, ``The
  Translator's Note``… (optionally followed by a stop and a subtitle) starts one, and so
  does an EPUB or Markdown heading that reads so. The adaptation makes no scene of it and
  finds no names in it; it stays in ``Book.text``.
- A scene break is a paragraph without letters or digits of up to 20 characters (``***``,
  ``* * *``, ``#``, ``—``, ``~``, a centred ornament ``⁂``, ``• • •``; not ``...`` nor ``?``),
  ``o0o``/``oOo``, an EPUB ``<hr>``, a Markdown thematic break (``***``, ``---``, ``___``),
  or, in plain text, two or more blank lines between paragraphs (unless most paragraphs are
  separated that way, in which case that is just the file's paragraph spacing). It is
  recorded in ``Chapter.breaks`` as the index of the paragraph that follows it; breaks at
  the start or end of a chapter, and repeated breaks, count once or not at all.
- ``Book.text`` is the chapters in order, each as its title (when not "") then its
  paragraphs, all separated by blank lines; scene breaks leave no mark in it. ``Book.words``
  counts the words of the paragraphs (titles excluded).

Safety rules and limits
-----------------------

- A file over ``max_bytes`` (20 MB by default) is refused from its length, before any
  decoding. An empty file, binary data (NUL bytes without a UTF-16 BOM, or over 5 % control
  characters), a PDF, and a ZIP that is not an EPUB are refused.
- EPUB: the ZIP directory is checked before anything is decompressed: at most
  ``MAX_EPUB_MEMBERS`` entries, a total uncompressed size of at most ``max_bytes`` x 5 (a
  ZIP bomb is refused), no absolute or ``..`` member names. Each XHTML document is parsed
  with lxml with entity resolution, DTD loading and network access off (an external or
  internal entity is never expanded; only the standard HTML entity names such as
  ``&nbsp;`` are read as their character), falling back to lxml's HTML parser (network
  off) for tag soup. ``script``, ``style``, ``head`` and similar elements are dropped;
  nothing is executed or fetched. An EPUB without readable text (images only, or DRM
  encrypted) is refused.
"""

from __future__ import annotations

import codecs
import html.entities
import io
import math
import os
import re
import warnings
import zipfile
from dataclasses import dataclass

from .errors import FormatError
from .importer import looks_binary

__all__ = [
    "MAX_BOOK_BYTES",
    "MAX_EPUB_MEMBERS",
    "Book",
    "Chapter",
    "Paragraph",
    "is_matter",
    "read_prose",
]

MAX_BOOK_BYTES = 20 * 1024 * 1024
EPUB_EXPANSION = 5  # the most an EPUB may grow when decompressed, times max_bytes
MAX_EPUB_MEMBERS = 10_000
_MB = 1024 * 1024


@dataclass(frozen=True)
class Paragraph:
    text: str  # whitespace normalised, lines joined by a space (verse keeps "\n")
    start: int  # offset of the paragraph in Book.text
    end: int


@dataclass(frozen=True)
class Chapter:
    title: str  # as written ("Chapter XII", "CHAPTER 3. The Storm"); "" when untitled
    paragraphs: tuple[Paragraph, ...]
    breaks: tuple[int, ...]  # indexes of the paragraphs a scene break stood before
    matter: bool = False  # a preface, contents, notes…: the book's apparatus, not its story


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    text: str  # chapter titles and paragraphs separated by "\n\n"; offsets refer to it
    chapters: tuple[Chapter, ...]
    words: int
    source_format: str  # "text", "markdown" or "epub"


# --- errors ---------------------------------------------------------------------------


def _size(n: int, *, up: bool) -> str:
    value = n / _MB
    if value < 1:
        kb = math.ceil(n / 1024) if up else max(1, n // 1024)
        return f"{kb} KB"
    tenths = math.ceil(value * 10) if up else math.floor(value * 10)
    return f"{tenths / 10:g} MB"


def _too_big(size: int, max_bytes: int) -> FormatError:
    return FormatError(
        f"The file is {_size(size, up=True)}; a book can be at most {_size(max_bytes, up=False)}."
    )


_NOT_TEXT = (
    "This file does not look like a book's text (it contains binary data). "
    "Upload a plain text (.txt), Markdown (.md) or EPUB (.epub) file."
)


# --- entry point ----------------------------------------------------------------------


def read_prose(data: bytes, filename: str, *, max_bytes: int = MAX_BOOK_BYTES) -> Book:
    """Read a plain text, Markdown or EPUB book into a ``Book`` (rules: module docstring).

    Raises ``FormatError`` for input that cannot be used.
    """
    if len(data) > max_bytes:  # before anything else: never decode a huge upload
        raise _too_big(len(data), max_bytes)
    data = bytes(data)
    if not data.strip():
        raise FormatError("This file is empty.")
    ext = os.path.splitext((filename or "").lower())[1]
    if ext == ".epub" or data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _read_epub(data, filename, max_bytes)
    if data.lstrip()[:5] == b"%PDF-":
        raise FormatError(
            "This is a PDF file. Save the book as plain text (.txt), Markdown (.md) or "
            "EPUB (.epub) and upload that."
        )
    text = _decode(data)
    if not text.strip():
        raise FormatError("This file is empty.")
    if ext in (".md", ".markdown"):
        return _read_markdown(text, filename)
    return _read_text(text, filename)


# --- decoding -------------------------------------------------------------------------


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    chunk = exc.object[exc.start : exc.end]
    return "".join(_byte_char(b) for b in chunk), exc.end


def _byte_char(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D
        return chr(b)


_ERRORS = "cowrite_prose_cp1252"
codecs.register_error(_ERRORS, _cp1252_fallback)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FormatError(
                "This file says it is UTF-16 but is not valid text in that encoding. "
                "Save it as UTF-8 and upload it again."
            ) from exc
    elif b"\x00" in data:
        raise FormatError(_NOT_TEXT)
    else:
        text = data.decode("utf-8-sig", errors=_ERRORS)
    if "\x00" in text or looks_binary(text) or looks_binary(text[-8192:]):
        raise FormatError(_NOT_TEXT)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")


# Whitespace other than line ends and no-break spaces (kept for French typography).
_SPACES_RE = re.compile(r"[^\S\n\u00a0\u202f]+")


def _clean_line(line: str) -> str:
    return _SPACES_RE.sub(" ", line).strip()


# --- chapter headings and breaks ------------------------------------------------------

_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred first second third fourth fifth sixth seventh eighth ninth "
    "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth "
    "eighteenth nineteenth twentieth thirtieth fortieth fiftieth sixtieth seventieth "
    "eightieth ninetieth hundredth last"
)
_ROMAN = r"(?=[IVXLC])C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_WORD = "(?:" + _NUMBER_WORDS.replace(" ", "|") + ")"
_NUMBER = rf"(?:\d{{1,4}}|(?i:{_ROMAN})|(?:the\s+)?{_WORD}(?:[-\s]+(?:and\s+)?{_WORD}){{0,2}})"
_KEYWORD_RE = re.compile(
    rf"(?:chapter|chap\.|book|part|volume|vol\.)\s+{_NUMBER}(?P<rest>(?:[\s.:,\-—–].*)?)",
    re.IGNORECASE,
)
_NAMED_RE = re.compile(r"(?:prologue|epilogue)(?P<rest>(?:[\s.:\-—–].*)?)", re.IGNORECASE)
_NUMERAL_RE = re.compile(rf"(?:{_ROMAN}|\d{{1,3}})\.?")
# The book's apparatus around the story (a title, alone or with a subtitle after a stop:
# "PREFACE. To the Second Edition", "Appendix: Maps"; never "Notes on the Road").
_MATTER_RE = re.compile(
    r"(?:(?:the\s+)?(?:author|editor|translator|transcriber)['’]?s['’]?\s+"
    r"(?:preface|introduction|notes?)|preface|introduction|introductory\s+note|foreword"
    r"|dedication|(?:table\s+of\s+)?contents|list\s+of\s+(?:illustrations|plates)"
    r"|illustrations|a\s+note\s+on\s+the\s+text|acknowledge?ments|footnotes|endnotes"
    r"|notes|appendix(?:\s+[a-z0-9]{1,4})?|glossary|index|bibliography|afterword)"
    r"(?:\s*[.:\-—–](?:\s*\S.*)?)?",
    re.IGNORECASE,
)
_NUMERAL_TITLE_RE = re.compile(rf"(?:{_ROMAN}|\d{{1,3}})\.\s+(?P<rest>\S.*)")
_SENTENCE_END = tuple(".!?,;:\"”’'»)")
_SHOUT_END = tuple("!?…\"”’'»")


def _is_heading(line: str) -> bool:
    """True if one cleaned line is a chapter heading (rules: module docstring)."""
    if not line or len(line) > 80:
        return False
    m = _KEYWORD_RE.fullmatch(line) or _NAMED_RE.fullmatch(line)
    if m:
        return True
    if _NUMERAL_RE.fullmatch(line):
        return True
    m = _NUMERAL_TITLE_RE.fullmatch(line)
    if m:
        rest = m.group("rest")
        return (
            len(rest) <= 60
            and rest[0].isupper()
            and (rest.isupper() or not rest.endswith(_SENTENCE_END))
        )
    return False


def is_matter(title: str) -> bool:
    """True if a chapter title names the book's apparatus: preface, introduction,
    foreword, dedication, contents, list of illustrations, a note on the text,
    acknowledgements, footnotes, endnotes, notes, appendix, glossary, index, bibliography,
    afterword, the author's/editor's/translator's/transcriber's note."""
    return bool(title) and len(title) <= 80 and bool(_MATTER_RE.fullmatch(_clean_line(title)))


def _has_own_title(line: str) -> bool:
    m = _KEYWORD_RE.fullmatch(line) or _NAMED_RE.fullmatch(line)
    if m:
        return bool(m.group("rest").strip(" .:-—–"))
    return bool(_NUMERAL_TITLE_RE.fullmatch(line))


def _is_subtitle(line: str, *, same_block: bool) -> bool:
    """True if ``line``, just after a number-only heading, is that chapter's title."""
    if not line or len(line) > 80 or _is_heading(line) or _is_break(line):
        return False
    if same_block:
        return True
    if line.isupper():  # not a shout ("NO!") nor a lone initial ("D.")
        return sum(c.isalpha() for c in line) >= 3 and not line.endswith(_SHOUT_END)
    words = line.split()
    capitalised = sum(1 for w in words if w[:1].isupper())
    return (
        len(words) <= 8
        and line[0].isupper()
        and not line.endswith(_SENTENCE_END)
        and capitalised * 2 >= len(words)
    )


def _join_title(heading: str, subtitle: str) -> str:
    return (
        f"{heading} {subtitle}"
        if heading.endswith((".", ":", "—", "–", "-"))
        else (f"{heading}. {subtitle}")
    )


_NOT_ORNAMENT = set("\"'“”‘’«»„‚?!.…()[]{}<>/\\|")
_ORNAMENT_WORD_RE = re.compile(r"[-~ ]*(?:o0o|oOo|-o-|~o~)[-~ ]*")


def _is_break(line: str) -> bool:
    """True if a paragraph (cleaned) is a scene-break mark."""
    line = line.strip()
    if not line or len(line) > 20:
        return False
    if _ORNAMENT_WORD_RE.fullmatch(line):
        return True
    return not any(c.isalnum() or c in _NOT_ORNAMENT for c in line)


# --- building the book ----------------------------------------------------------------


class _Builder:
    """Collects headings, paragraphs and breaks in reading order, then makes a ``Book``."""

    def __init__(self) -> None:
        # [title, paragraphs, breaks]
        self.chapters: list[tuple[str, list[str], list[int]]] = []
        self.pending_break = False

    def heading(self, title: str, *, merge: bool = False) -> None:
        """Start a chapter; with ``merge``, a heading right after a titled empty chapter
        that is not a heading in its own right becomes its subtitle."""
        title = _clean_line(title.replace("\n", " "))
        last = self.chapters[-1] if self.chapters else None
        # "Preface" after a bare "Chapter 1" names that chapter; after a titled part
        # ("SECTION IV Fairy Stories") it starts the preface.
        bare = bool(last) and _is_heading(last[0]) and not _has_own_title(last[0])
        if (
            merge
            and last
            and last[0]
            and not last[1]
            and not _is_heading(title)
            and (bare or not is_matter(title))
        ):
            self.chapters[-1] = (_join_title(last[0], title), last[1], last[2])
            return
        self.chapters.append((title, [], []))
        self.pending_break = False

    def paragraph(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if _is_break(text):
            self.scene_break()
            return
        if not self.chapters:
            self.chapters.append(("", [], []))
        _, paragraphs, breaks = self.chapters[-1]
        if self.pending_break and paragraphs:
            breaks.append(len(paragraphs))
        self.pending_break = False
        paragraphs.append(text)

    def scene_break(self) -> None:
        self.pending_break = True

    def build(self, title: str, author: str, source_format: str, empty_message: str) -> Book:
        chapters = _drop_contents(self.chapters)
        parts: list[str] = []
        pos = 0
        built: list[Chapter] = []
        words = 0

        def add(piece: str) -> tuple[int, int]:
            nonlocal pos
            if parts:
                parts.append("\n\n")
                pos += 2
            start = pos
            parts.append(piece)
            pos += len(piece)
            return start, pos

        for ch_title, texts, breaks in chapters:
            if ch_title:
                add(ch_title)
            paragraphs = []
            for text in texts:
                start, end = add(text)
                paragraphs.append(Paragraph(text, start, end))
                words += len(text.split())
            built.append(Chapter(ch_title, tuple(paragraphs), tuple(breaks), is_matter(ch_title)))
        if not words:
            raise FormatError(empty_message)
        return Book(
            title=_clean_line(title),
            author=_clean_line(author),
            text="".join(parts),
            chapters=tuple(built),
            words=words,
            source_format=source_format,
        )


def _drop_contents(chapters: list[tuple[str, list[str], list[int]]]):
    """Drop runs of 3+ empty chapters (a table of contents) and an empty untitled one."""
    kept = []
    i = 0
    while i < len(chapters):
        j = i
        while j < len(chapters) and not chapters[j][1]:
            j += 1
        run = chapters[i:j]
        if len(run) < 3:
            kept.extend(c for c in run if c[0])
        if j < len(chapters):
            kept.append(chapters[j])
        i = j + 1
    return kept


def _title_from_filename(filename: str) -> str:
    stem = os.path.splitext(os.path.basename((filename or "").replace("\\", "/")))[0]
    return " ".join(stem.replace("_", " ").split())


# --- plain text -----------------------------------------------------------------------

_GB_START_RE = re.compile(
    r"^[ \t]*\*{3}[ \t]*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*$"
    r"|^.*\*END\*THE SMALL PRINT.*$",
    re.IGNORECASE | re.MULTILINE,
)
_GB_END_RE = re.compile(
    r"^[ \t]*(?:\*{3}[ \t]*)?END OF (?:THE |THIS )?PROJECT GUTENBERG",
    re.IGNORECASE | re.MULTILINE,
)
_GB_FIELD_RE = re.compile(r"^(Title|Author):[ \t]*(.*(?:\n[ \t]+\S.*)*)", re.MULTILINE)
_GB_BANNER_RE = re.compile(
    r"Project Gutenberg(?:'s)? e-?(?:book|text) of (?P<title>.+?)(?:,\s+by\s+(?P<author>.+))?$",
    re.IGNORECASE | re.MULTILINE,
)
_PRODUCED_RE = re.compile(
    r"(?:produced|prepared|transcribed|e-?text prepared)\b.*\bby\b", re.IGNORECASE
)
_ILLUSTRATION_RE = re.compile(r"\[Illustration\b.*\]", re.IGNORECASE | re.DOTALL)
# A printed page's number left in the text: "[Pg 12]", "[Page 12]", "{12}".
_PAGE_MARK_RE = re.compile(
    r"\s*(?:\[(?:Pg|Page|p\.)\s*[0-9ivxlc]{1,5}\]|\{[0-9ivxlc]{1,5}\})", re.I
)
_UNDERSCORE_EMPHASIS_RE = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")


def _strip_gutenberg(text: str) -> tuple[str, str, str, bool]:
    """Return (body, title, author, is_gutenberg)."""
    start = _GB_START_RE.search(text)
    if not start:
        return text, "", "", False
    header, body = text[: start.start()], text[start.end() :]
    end = _GB_END_RE.search(body)
    if end:
        body = body[: end.start()]
    fields: dict[str, str] = {}
    for m in _GB_FIELD_RE.finditer(header):
        fields.setdefault(m.group(1).lower(), " ".join(m.group(2).split()))
    title, author = fields.get("title", ""), fields.get("author", "")
    banner = _GB_BANNER_RE.search(header)
    if banner:
        title = title or banner.group("title").strip()
        author = author or (banner.group("author") or "").strip()
    return body, title, author, True


def _blocks(text: str) -> list[tuple[list[str], int]]:
    """Split text into blocks of raw lines, each with the number of blank lines before."""
    blocks: list[tuple[list[str], int]] = []
    lines: list[str] = []
    blank = 0
    for line in text.split("\n"):
        if line.strip():
            lines.append(line)
            continue
        if lines:
            blocks.append((lines, blank))
            lines, blank = [], 0
        blank += 1
    if lines:
        blocks.append((lines, blank))
    return blocks


def _block_paragraphs(raw: list[str]) -> list[str]:
    """Cut one block of raw lines into paragraphs (rules: module docstring)."""
    lines = [_clean_line(line) for line in raw]
    if len(raw) > 1 and all(line[:2].isspace() or line[:1] == "\t" for line in raw):
        return ["\n".join(lines)]  # verse
    if len(raw) > 1 and max(len(line) for line in lines[:-1]) > 120:
        return lines
    indented = [i for i, line in enumerate(raw) if i and line[:1] in (" ", "\t")]
    if indented and len(indented) * 2 < len(raw) and raw[0][:1] in (" ", "\t"):
        # First-line indents mark paragraphs inside the block.
        cuts = [0, *indented, len(lines)]
        return [" ".join(lines[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    return [" ".join(lines)]


def _read_text(text: str, filename: str) -> Book:
    body, title, author, gutenberg = _strip_gutenberg(text)
    blocks = _blocks(body)
    gaps = [blank for _, blank in blocks[1:]]
    # Two or more blank lines are a break, unless that is the file's usual spacing.
    wide = sum(1 for g in gaps if g >= 2)
    blank_breaks = bool(gaps) and wide * 2 <= len(gaps)
    builder = _Builder()
    i = 0
    first_paragraph = True
    while i < len(blocks):
        raw, blank = blocks[i]
        i += 1
        first = _clean_line(raw[0])
        if (len(raw) <= 2 and _is_heading(first)) or (len(raw) == 1 and is_matter(first)):
            heading = first
            if len(raw) == 2:
                second = _clean_line(raw[1])
                if _has_own_title(first) or not _is_subtitle(second, same_block=True):
                    heading = None  # not a heading after all: a paragraph
                else:
                    heading = _join_title(first, second)
            elif not _has_own_title(first) and i < len(blocks) and len(blocks[i][0]) == 1:
                nxt = _clean_line(blocks[i][0][0])
                # In a table of contents (the last heading had no text either), a
                # "PREFACE" after "Chapter 7" starts the preface; else it is a title.
                in_contents = bool(builder.chapters) and not builder.chapters[-1][1]
                if _is_subtitle(nxt, same_block=False) and not (in_contents and is_matter(nxt)):
                    heading = _join_title(first, nxt)
                    i += 1
            if heading is not None:
                builder.heading(heading)
                continue
        if blank_breaks and blank >= 2:
            builder.scene_break()
        for paragraph in _block_paragraphs(raw):
            if gutenberg:
                if _ILLUSTRATION_RE.fullmatch(paragraph):
                    continue
                if first_paragraph and _PRODUCED_RE.match(paragraph):
                    first_paragraph = False
                    continue
                paragraph = _UNDERSCORE_EMPHASIS_RE.sub(r"\1", paragraph)
                paragraph = _PAGE_MARK_RE.sub("", paragraph).strip()
                if not paragraph:
                    continue
            first_paragraph = False
            builder.paragraph(paragraph)
    return builder.build(
        title or _title_from_filename(filename),
        author,
        "text",
        "This file has no text to read.",
    )


# --- Markdown -------------------------------------------------------------------------

_MD_HEADING_RE = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_MD_RULE_RE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_MD_SETEXT_RE = re.compile(r" {0,3}(=+|-+)[ \t]*")
_MD_FRONT_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~])")
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_CODE_RE = re.compile(r"`+([^`]+?)`+")
_MD_STRONG_RE = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_STAR_RE = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*")
_MD_UNDER_RE = re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_MD_QUOTE_RE = re.compile(r"^ {0,3}(?:>[ \t]?)+", re.MULTILINE)
_ESCAPE_BASE = 0xF0000  # private-use characters stand for escaped ones while stripping


def _md_inline(text: str) -> str:
    text = _MD_ESCAPE_RE.sub(lambda m: chr(_ESCAPE_BASE + ord(m.group(1))), text)
    text = _MD_IMAGE_RE.sub("", text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_CODE_RE.sub(r"\1", text)
    for _ in range(2):  # ***both*** and nested emphasis
        text = _MD_STRONG_RE.sub(r"\2", text)
        text = _MD_STAR_RE.sub(r"\1", text)
        text = _MD_UNDER_RE.sub(r"\1", text)
    return re.sub("[\U000f0000-\U000f00ff]", lambda m: chr(ord(m.group()) - _ESCAPE_BASE), text)


def _md_paragraph(raw: list[str]) -> str:
    lines = []
    for n, line in enumerate(raw):
        hard = line.endswith("  ") or line.rstrip(" \t").endswith("\\")
        cleaned = _clean_line(line.rstrip(" \t").removesuffix("\\") if hard else line)
        lines.append(cleaned)
        if n < len(raw) - 1:
            lines.append("\n" if hard else " ")
    return _md_inline("".join(lines))


def _read_markdown(text: str, filename: str) -> Book:
    title = author = ""
    front = _MD_FRONT_RE.match(text)
    if front:
        for line in front.group(1).split("\n"):
            key, _, value = line.partition(":")
            value = value.strip().strip("\"'")
            if key.strip().lower() == "title" and not title:
                title = value
            elif key.strip().lower() in ("author", "authors") and not author:
                author = value
        text = text[front.end() :]
    text = _MD_QUOTE_RE.sub("", text)
    # Items: ("h", level, text), ("break",), ("p", text).
    items: list[tuple] = []
    for raw, _ in _blocks(text):
        para: list[str] = []

        def flush(para: list[str] = para) -> None:
            if para:
                items.append(("p", _md_paragraph(para)))
                para.clear()

        for line in raw:
            heading = _MD_HEADING_RE.fullmatch(line)
            if heading:
                flush()
                level = len(heading.group(1))
                content = _md_inline(_clean_line(heading.group(2) or ""))
                items.append(("h", level, content) if level <= 2 else ("p", content))
            elif _MD_RULE_RE.fullmatch(line) and not (para and line.strip()[0] == "-"):
                flush()
                items.append(("break",))
            elif para and _MD_SETEXT_RE.fullmatch(line) and len(para) == 1:
                level = 1 if line.strip()[0] == "=" else 2
                items.append(("h", level, _md_inline(_clean_line(para[0]))))
                para.clear()
            else:
                para.append(line)
        flush()
    # An opening "#" heading that is no chapter heading, followed (no text between) by
    # a "##" heading, is the book's title.
    if (
        len(items) > 1
        and items[0][0] == "h"
        and items[0][1] == 1
        and not _is_heading(items[0][2])
        and items[1][0] == "h"
        and items[1][1] == 2
    ):
        title = title or items[0][2]
        items = items[1:]
    builder = _Builder()
    for item in items:
        if item[0] == "h":
            builder.heading(item[2], merge=True)
        elif item[0] == "break":
            builder.scene_break()
        else:
            builder.paragraph(item[1])
    return builder.build(
        title or _title_from_filename(filename),
        author,
        "markdown",
        "This file has no text to read.",
    )


# --- EPUB -----------------------------------------------------------------------------

_EPUB_MIMETYPE = b"application/epub+zip"
_SKIP_TAGS = frozenset(
    re.findall(
        r"\w+",
        "head script style title meta link noscript template object embed iframe svg "
        "math audio video canvas button select textarea",
    )
)
_BLOCK_TAGS = frozenset(
    re.findall(
        r"\w+",
        "p div li blockquote section article aside header footer main figure figcaption "
        "pre table thead tbody tfoot tr td th ul ol dl dt dd body center address caption",
    )
)
_CHAPTER_TAGS = frozenset(("h1", "h2", "h3"))
_MINOR_HEADING_TAGS = frozenset(("h4", "h5", "h6"))
_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"


def _is_page_number(el) -> bool:
    """A printed page's number kept in the e-book (EPUB 3 ``epub:type="pagebreak"``,
    ARIA ``role="doc-pagebreak"``, Project Gutenberg's ``class="pagenum"``): not text."""
    kind = el.get(_OPS_TYPE) or el.get("epub:type") or ""
    if "pagebreak" in kind.split() or el.get("role") == "doc-pagebreak":
        return True
    return "pagenum" in (el.get("class") or "").split()


_BAD_EPUB = (
    "This EPUB file is damaged and cannot be read. Export it again, or save the book as "
    "plain text (.txt) and upload that."
)


def _check_zip(data: bytes, ext: str, max_bytes: int) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except Exception as exc:  # BadZipFile, EOFError, NotImplementedError, ...
        raise FormatError(_BAD_EPUB) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_EPUB_MEMBERS:
            raise FormatError("This EPUB has too many files inside it to be a book.")
        total = sum(info.file_size for info in infos)
        if total > max_bytes * EPUB_EXPANSION:
            raise FormatError(
                f"This EPUB unpacks to {_size(total, up=True)}, more than a book can be "
                f"({_size(max_bytes * EPUB_EXPANSION, up=False)} at most)."
            )
        for info in infos:
            name = info.filename.replace("\\", "/")
            if (
                name.startswith("/")
                or re.match(r"[A-Za-z]:", name)
                or ".." in name.split("/")
                or "\x00" in name
            ):
                raise FormatError(
                    "This EPUB contains a file with an unsafe name "
                    f"({info.filename!r}), so it is not read."
                )
        names = {info.filename for info in infos}
        mimetype = b""
        if "mimetype" in names and archive.getinfo("mimetype").file_size <= 100:
            try:
                mimetype = archive.read("mimetype").strip()
            except Exception as exc:  # zlib, EOF, unsupported or encrypted members, ...
                raise FormatError(_BAD_EPUB) from exc
        if mimetype != _EPUB_MIMETYPE and "META-INF/container.xml" not in names:
            if ext == ".epub":
                raise FormatError(_BAD_EPUB)
            raise FormatError(
                "This file is a ZIP archive, not an EPUB book. Upload the book itself as "
                "plain text (.txt), Markdown (.md) or EPUB (.epub)."
            )


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _parse_xhtml(content: bytes):
    from lxml import etree
    from lxml import html as lxml_html

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        pass
    try:
        soup = lxml_html.HTMLParser(
            no_network=True, remove_comments=True, remove_pis=True, huge_tree=False
        )
        return lxml_html.fromstring(content, parser=soup)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


class _HtmlWalker:
    """Walk a parsed XHTML document, feeding headings, paragraphs and breaks to a builder."""

    def __init__(self, builder: _Builder) -> None:
        self.builder = builder
        self.buffer: list[str] = []

    def add(self, text: str | None) -> None:
        if text:
            self.buffer.append(_SPACES_RE.sub(" ", text.replace("\n", " ")))

    def flush(self) -> None:
        if not self.buffer:
            return
        lines = [_clean_line(line) for line in "".join(self.buffer).split("\n")]
        self.buffer = []
        text = "\n".join(line for line in lines if line)
        if text:
            self.builder.paragraph(text)

    def text_of(self, el) -> str:
        saved, self.buffer = self.buffer, []
        self.inline(el)
        text = " ".join("".join(self.buffer).split())
        self.buffer = saved
        return text

    def inline(self, el) -> None:
        self.add(el.text)
        for child in el:
            self.walk(child)
            self.add(child.tail)

    def walk(self, el) -> None:
        from lxml import etree

        if isinstance(el, etree._Entity):
            # Never resolved: standard HTML names only, read as their character.
            name = el.name
            if name in html.entities.name2codepoint:
                self.buffer.append(chr(html.entities.name2codepoint[name]))
            return
        tag = _local(el.tag)
        if not tag or tag in _SKIP_TAGS or _is_page_number(el):
            return  # (its tail is the caller's: the text after a page number stays)
        if tag == "br":
            self.buffer.append("\n")
        elif tag == "hr":
            self.flush()
            self.builder.scene_break()
        elif tag in _CHAPTER_TAGS:
            self.flush()
            title = self.text_of(el)
            if title:
                self.builder.heading(title, merge=True)
        elif tag in _MINOR_HEADING_TAGS:
            # Right after a chapter's heading, its subtitle; further in, a section of the
            # chapter: a scene break, its title kept as text.
            self.flush()
            title = self.text_of(el)
            last = self.builder.chapters[-1] if self.builder.chapters else None
            if title and last is not None and last[0] and not last[1]:
                self.builder.heading(title, merge=True)
            elif title:
                self.builder.scene_break()
                self.builder.paragraph(title)
        elif tag in _BLOCK_TAGS or tag == "html":
            self.flush()
            self.inline(el)
            self.flush()
        else:
            self.inline(el)


def _toc_titles(toc) -> dict[str, str]:
    """Map each document href the table of contents points at to its first title."""
    titles: dict[str, str] = {}

    def visit(entries) -> None:
        for entry in entries:
            if isinstance(entry, tuple | list):
                section, children = entry[0], entry[1] if len(entry) > 1 else []
                visit([section])
                visit(children)
                continue
            href = getattr(entry, "href", "") or ""
            title = getattr(entry, "title", "") or ""
            if href and title:
                titles.setdefault(href.split("#", 1)[0], title)

    visit(toc or [])
    return titles


def _first_meta(book, name: str, *, join: bool = False) -> str:
    try:
        values = [v for v, _ in book.get_metadata("DC", name) if v and str(v).strip()]
    except (AttributeError, KeyError, TypeError, ValueError):
        return ""
    if not values:
        return ""
    return ", ".join(str(v).strip() for v in values) if join else str(values[0]).strip()


def _read_epub(data: bytes, filename: str, max_bytes: int) -> Book:
    ext = os.path.splitext((filename or "").lower())[1]
    _check_zip(data, ext, max_bytes)
    import ebooklib
    from ebooklib import epub

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises anything from KeyError to lxml errors
        raise FormatError(_BAD_EPUB) from exc
    toc = _toc_titles(getattr(book, "toc", None))
    builder = _Builder()
    walker = _HtmlWalker(builder)
    for entry in book.spine or []:
        idref, linear = (entry, "yes") if isinstance(entry, str) else (entry[0], entry[1])
        if str(linear).lower() == "no":
            continue
        item = book.get_item_with_id(idref)
        if (
            item is None
            or item.get_type() != ebooklib.ITEM_DOCUMENT
            or isinstance(item, epub.EpubNav)
        ):
            continue
        content = item.content
        if not isinstance(content, bytes):
            content = str(content or "").encode("utf-8")
        root = _parse_xhtml(content) if content.strip() else None
        if root is None:
            continue
        body = next((el for el in root.iter() if _local(el.tag) == "body"), root)
        heads = any(_local(el.tag) in _CHAPTER_TAGS for el in body.iter())
        toc_title = toc.get(item.get_name())
        if toc_title and not heads:
            builder.heading(toc_title)
        walker.walk(body)
        walker.flush()
    return builder.build(
        _first_meta(book, "title") or _title_from_filename(filename),
        _first_meta(book, "creator", join=True),
        "epub",
        "This EPUB has no readable text (it may hold only images, or be protected by "
        "DRM). Save the book as plain text (.txt) and upload that.",
    )
