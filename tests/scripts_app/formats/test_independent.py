"""Check our output against tools we did not write (test-only dependencies)."""

import io

import pytest

from scripts_app.formats import fdx
from scripts_app.formats.markup import plain_text
from scripts_app.formats.model import ElementType as T
from scripts_app.formats.pagination import page_count
from scripts_app.formats.pdf import render_pdf

from . import generate


def screenplain_page_count(text: str) -> int:
    """Return the body page count of screenplain's PDF for Fountain ``text``."""
    pytest.importorskip("reportlab", reason="screenplain renders PDF with reportlab")
    sp_fountain = pytest.importorskip("screenplain.parsers.fountain")
    sp_pdf = pytest.importorskip("screenplain.export.pdf")
    pypdf = pytest.importorskip("pypdf")
    screenplay = sp_fountain.parse(io.StringIO(text))
    out = io.BytesIO()
    sp_pdf.to_pdf(screenplay, out)
    pages = len(pypdf.PdfReader(io.BytesIO(out.getvalue())).pages)
    has_title = bool(sp_pdf.get_title_page_story(screenplay, sp_pdf.create_default_settings()))
    return pages - int(has_title)


@pytest.mark.slow
def test_page_count_agrees_with_screenplain_within_2_percent():
    text = generate.feature_text()
    ours = page_count(text)
    theirs = screenplain_page_count(text)
    assert 110 <= ours <= 120
    assert abs(ours - theirs) / theirs <= 0.02, (ours, theirs)


def test_our_pdf_reads_in_pypdf():
    pypdf = pytest.importorskip("pypdf")
    text = "Title: Test\n\nINT. HOUSE - DAY\n\nShe waits.\n\nBOB\nHello.\n"
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(text)))
    assert len(reader.pages) == 2
    assert "INT. HOUSE - DAY" in reader.pages[1].extract_text()


def test_exported_fdx_opens_in_open_fdx_toolkit():
    fdx_parser = pytest.importorskip("fdx_parser", reason="open-fdx-toolkit is test-only")
    script = generate.feature()
    scenes = fdx_parser.parse_fdx(fdx.dumps(script).decode())
    headings = [e for e in script.elements if e.type is T.SCENE_HEADING]
    assert [s.slugline for s in scenes] == [plain_text(h.text) for h in headings]
    # open-fdx-toolkit looks for scene numbers on <SceneProperties>; Final Draft (and we)
    # put them on the heading's <Paragraph Number=...>, so they are not compared here.
    # Paragraph types and texts, scene by scene, as the independent reader sees them.
    type_names = {
        T.ACTION: "Action",
        T.CENTERED: "Action",
        T.CHARACTER: "Character",
        T.DIALOGUE: "Dialogue",
        T.PARENTHETICAL: "Parenthetical",
        T.TRANSITION: "Transition",
        T.LYRICS: "Lyrics",
    }
    expected: list[list[tuple[str, str]]] = []
    for el in script.elements:
        if el.type is T.SCENE_HEADING:
            expected.append([])
        elif expected and el.type in type_names and not el.dual and not _in_dual(script, el):
            expected[-1].append((type_names[el.type], plain_text(el.text).strip()))
    got = [
        [
            (p.type, p.text)
            for p in s.paragraphs
            if p.type in set(type_names.values()) and p.type != "Lyrics"
        ]
        for s in scenes
    ]
    expected = [[p for p in scene if p[0] != "Lyrics"] for scene in expected]
    assert got == expected
    # Dual dialogue pairs come through as pairs.
    pairs = [p for s in scenes for p in s.dual_dialogue_pairs]
    assert pairs and len(pairs) == sum(1 for e in script.elements if e.dual)


def _in_dual(script, el):
    """Return True if ``el`` belongs to either speech of a dual-dialogue pair."""
    elements = script.elements
    i = next(k for k, e in enumerate(elements) if e is el)
    # Walk back to this speech's cue.
    k = i
    while k > 0 and elements[k].type in (T.DIALOGUE, T.PARENTHETICAL, T.LYRICS):
        k -= 1
    if elements[k].type is not T.CHARACTER:
        return False
    if elements[k].dual:
        return True
    # Left speech: the next cue after blanks is a dual one.
    j = k + 1
    while j < len(elements) and elements[j].type in (T.DIALOGUE, T.PARENTHETICAL, T.LYRICS):
        j += 1
    while j < len(elements) and elements[j].type is T.BLANK:
        j += 1
    return j < len(elements) and elements[j].type is T.CHARACTER and elements[j].dual
