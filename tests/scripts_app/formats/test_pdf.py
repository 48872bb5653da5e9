import io
import logging

import pytest

from scripts_app.formats import fountain, pdf
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


CORE = {"/Courier", "/Courier-Bold", "/Courier-Oblique", "/Courier-BoldOblique"}


def _fonts(page):
    return {f["/BaseFont"]: f for f in page["/Resources"]["/Font"].values()}


def test_pdf_embeds_a_unicode_courier_metric_font_on_letter():
    reader = _reader(render_pdf(SAMPLE))
    page = reader.pages[1]
    assert [float(v) for v in page.mediabox] == [0, 0, 612, 792]
    fonts = _fonts(page)
    assert not set(fonts) & CORE
    names = {name.split("+")[-1] for name in fonts}
    # Regular, bold and italic (the sample's emphasis), each an embedded TrueType subset.
    assert {"LiberationMono", "LiberationMono-Bold", "LiberationMono-Italic"} <= names, names
    for font in fonts.values():
        descriptor = (
            font.get("/FontDescriptor")
            or font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        )
        assert "/FontFile2" in descriptor.get_object()


UNICODE = (
    "Title: Ночь\n\n"
    "INT. ДОМ - НОЧЬ\n\nΚαλημέρα κόσμε. Łódź, Őrség, Şişli, Ærø, Čeština.\n\n"
    "АННА\nПривет, мир! «Где ты?»\n\nBOB\nCafé — “quoted” … ½ €5.\n"
)
UNICODE_TEXTS = [
    "INT. ДОМ - НОЧЬ",
    "Καλημέρα κόσμε.",
    "Łódź, Őrség, Şişli, Ærø, Čeština.",
    "АННА",
    "Привет, мир! «Где ты?»",
    "Café — “quoted” … ½ €5.",
]


def test_non_latin_text_prints_as_written():
    reader = _reader(render_pdf(UNICODE))
    body = reader.pages[1].extract_text()
    for text in UNICODE_TEXTS:
        assert text in body, (text, body)
    assert "Ночь" in reader.pages[0].extract_text()
    assert reader.metadata.title == "Ночь"


def test_characters_the_font_lacks_print_as_question_marks():
    reader = _reader(render_pdf("\nINT. 東京 - 夜\n\nΩ 你好 😀 ok.\n"))
    assert reader.pages[0].extract_text().strip().split("\n") == ["INT. ?? - ?", "Ω ?? ? ok."]


def test_missing_font_falls_back_to_core_courier(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(pdf, "FONT_DIR", tmp_path)
    with caplog.at_level(logging.WARNING, logger="scripts_app.formats.pdf"):
        data = render_pdf(UNICODE)
    assert "falling back to the core Courier" in caplog.text
    assert str(tmp_path) in caplog.text
    reader = _reader(data)
    assert set(_fonts(reader.pages[1])) <= CORE
    body = reader.pages[1].extract_text()
    assert "Caf\u00e9 \u2014 \u201cquoted\u201d" in body  # Windows-1252 still prints
    assert "АННА" not in body and "????" in body
    # The layout is counted in characters: the same pages whichever font draws them.
    assert len(reader.pages) == len(_reader(render_pdf(UNICODE)).pages)
    monkeypatch.undo()
    feature = generate.feature()
    monkeypatch.setattr(pdf, "FONT_DIR", tmp_path)
    core_pages = len(_reader(render_pdf(feature)).pages)
    monkeypatch.undo()
    assert core_pages == len(_reader(render_pdf(feature)).pages) == page_count(feature) + 1


def test_glyphs_are_a_tenth_of_an_inch():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    render_pdf("\nINT. A - DAY\n\nGo.\n")  # registers the fonts
    for name in pdf._embedded_fonts(pdf.FONT_DIR).values():
        for text in ("M" * 60, "i" * 60, "Ж" * 60, "Ω" * 60, "ő" * 60):
            assert stringWidth(text, name, 12) == pytest.approx(60 * 7.2, abs=0.1)


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


def _positions(page):
    """Return (text, x in points) of every string drawn on ``page``."""
    found = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            found.append((text.strip(), cm[0] * tm[4] + cm[4]))

    page.extract_text(visitor_text=visit)
    return found


NUMBERED = "".join(
    f"\n{heading}\n\nSomething happens.\n"
    for heading in ("INT. A - DAY", "EXT. B - NIGHT", "INT. C - DAY #12A#", "INT. D - DAY")
)


def test_scene_numbers_number_an_unnumbered_script():
    plain = _positions(_reader(render_pdf(NUMBERED)).pages[0])
    assert {t for t, _ in plain} == {
        "INT. A - DAY",
        "EXT. B - NIGHT",
        "INT. C - DAY",
        "INT. D - DAY",
        "Something happens.",
    }
    numbered = _positions(_reader(render_pdf(NUMBERED, scene_numbers=True)).pages[0])
    numbers = [t for t, _ in numbered if t in {"1", "2", "12A", "13"}]
    assert numbers == ["1", "1", "2", "2", "12A", "12A", "13", "13"]
    labels = [(t, x) for t, x in numbered if t == "2"]
    assert len(labels) == 2


def test_scene_number_positions_on_letter_and_a4():
    for layout in (None, A4):
        kwargs = {"layout": layout} if layout else {}
        data = render_pdf(NUMBERED, scene_numbers=True, **kwargs)
        found = _positions(_reader(data).pages[0])
        xs = {}
        for text, x in found:
            xs.setdefault(text, []).append(x)
        heading_x = xs["INT. A - DAY"][0]
        assert heading_x == pytest.approx(1.5 * 72)
        for number in ("1", "2", "13"):
            left, right = sorted(xs[number])
            assert left == pytest.approx(1.0 * 72)  # 1.0" from the left edge
            assert right == pytest.approx(7.4 * 72)  # 7.4": inside the safe area
        left, right = sorted(xs["12A"])
        assert left == pytest.approx(1.0 * 72) and right == pytest.approx(7.4 * 72)
        # Every number ends well inside the sheet (the old ones ran from 8.0" to 8.5").
        assert all(x + len(t) * 7.2 < 8.0 * 72 for t, x in found if t in xs and t[0].isdigit())


def test_scene_numbers_stay_clear_of_long_headings_and_numbers():
    long_heading = "INT. " + "A" * 52 + " - DAY #1234567#"  # 63 characters: two rows
    found = _positions(
        _reader(render_pdf(f"\n{long_heading}\n\nGo.\n", scene_numbers=True)).pages[0]
    )
    left, right = sorted(x for t, x in found if t == "1234567")
    assert left + 7 * 7.2 <= 1.4 * 72 + 0.01  # ends a tenth of an inch before the heading
    heading_row = next((t, x) for t, x in found if t.startswith("INT."))
    assert right >= heading_row[1] + len(heading_row[0]) * 7.2  # right of the heading's text
    assert [t for t, _ in found].count("1234567") == 2  # once per heading, not per row


def test_scene_numbers_from_a_list():
    found = _positions(_reader(render_pdf(NUMBERED, scene_numbers=["7", "8", "9", "10"])).pages[0])
    assert [t for t, _ in found if t.isdigit()] == ["7", "7", "8", "8", "9", "9", "10", "10"]


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


def test_a_forced_cue_prints_as_typed_and_others_in_capitals():
    script = fountain.parse("INT. POND - DAY\n\n@McDUCK\nQuack.\n\nDEWEY (v.o.)\nQuack!\n")
    body = _reader(render_pdf(script)).pages[-1].extract_text()
    assert "McDUCK" in body and "MCDUCK" not in body
    assert "DEWEY (V.O.)" in body
