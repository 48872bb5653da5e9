import io

import pytest

from scripts_app.formats import fountain
from scripts_app.formats.pagination import A4, page_count
from scripts_app.formats.pdf import render_pdf

from . import generate

pypdf = pytest.importorskip("pypdf", reason="pypdf is a test-only dependency")

SAMPLE = (
    "Title: **My <Film> & Co**\nCredit: Written by\nAuthor: Ann Writer\n"
    "Contact:\n    ann@example.com\n\n"
    "INT. HOUSE - DAY #1#\n\nShe waits. *Italic*, **bold** and _under_.\n\n"
    "BOB (V.O.)\n(quietly)\nHello, café ☃ world.\n\n"
    "===\n\nEXT. YARD - NIGHT #2#\n\nRain.\n\nFADE OUT.\n"
)


def _reader(data):
    return pypdf.PdfReader(io.BytesIO(data))


def test_pdf_pages_title_and_numbers():
    data = render_pdf(SAMPLE)
    assert data.startswith(b"%PDF-")
    reader = _reader(data)
    assert len(reader.pages) == 1 + page_count(SAMPLE) == 3
    title, first, second = (p.extract_text() for p in reader.pages)
    assert "My <Film> & Co" in title and "Ann Writer" in title
    assert "INT. HOUSE - DAY" in first and "BOB (V.O.)" in first
    # Page numbers from page 2 on only.
    assert "2." in second and "1." not in first.split("\n")[0]
    assert "EXT. YARD - NIGHT" in second
    assert reader.metadata.title == "My <Film> & Co"


def test_pdf_uses_core_courier_and_letter_size():
    reader = _reader(render_pdf(SAMPLE))
    page = reader.pages[1]
    assert [float(v) for v in page.mediabox] == [0, 0, 612, 792]
    fonts = {f["/BaseFont"] for f in page["/Resources"]["/Font"].values()}
    assert fonts <= {"/Courier", "/Courier-Bold", "/Courier-Oblique", "/Courier-BoldOblique"}
    assert {"/Courier", "/Courier-Bold", "/Courier-Oblique"} <= fonts


def test_pdf_a4_and_no_title_page():
    reader = _reader(render_pdf(SAMPLE, layout=A4, title_page=False))
    assert len(reader.pages) == 2
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)


def test_pdf_scene_numbers_optional():
    plain = _reader(render_pdf(SAMPLE, title_page=False)).pages[0].extract_text()
    numbered = _reader(render_pdf(SAMPLE, title_page=False, scene_numbers=True))
    text = numbered.pages[0].extract_text()
    assert text.count("1") > plain.count("1")


def test_pdf_is_deterministic():
    assert render_pdf(SAMPLE) == render_pdf(fountain.parse(SAMPLE))


def test_pdf_more_contd():
    filler = "\n".join(f"Filler {i}." for i in range(40))
    speech = "\n".join(f"Sentence {i}." for i in range(30))
    text = f"\nINT. HOUSE - DAY\n\n{filler}\n\nEDWARD\n{speech}\n"
    reader = _reader(render_pdf(text))
    assert "(MORE)" in reader.pages[0].extract_text()
    assert "EDWARD (CONT'D)" in reader.pages[1].extract_text()


def test_feature_pdf_page_count_matches_pagination():
    script = generate.feature()
    reader = _reader(render_pdf(script))
    assert len(reader.pages) == page_count(script) + 1
