"""Production revisions (formats/production.py): locked pages and scene numbers, revision
marks, omitted scenes, and the PDF that prints them."""

import io
import json

import pypdf
import pytest

from scripts_app.formats import fountain, pdf
from scripts_app.formats import production as P
from scripts_app.formats.model import ElementType
from scripts_app.formats.pagination import lay_out, next_page_label
from tests.scripts_app.formats import generate

T = ElementType


def para(scene: int, k: int) -> str:
    return f"Paragraph {k} of scene {scene} runs long enough to wrap onto a second line here."


def scene(i: int, paragraphs: int = 30, heading: str | None = None) -> P.SceneText:
    text = "\n\n".join(para(i, k) for k in range(paragraphs)) + "\n"
    return P.SceneText(i, heading or f"INT. ROOM {i} - DAY", text)


def script(n: int = 5) -> list[P.SceneText]:
    return [scene(i) for i in range(1, n + 1)]


def edit(s: P.SceneText, old: str, new: str) -> P.SceneText:
    assert old in s.text
    return P.SceneText(s.id, s.heading, s.text.replace(old, new))


def labels(prod: P.Production) -> list[str]:
    return [page.label for page in prod.lay_out().pages]


def first_line(page) -> str:
    return next(seg.text for row in page.rows for seg in row)


def headings(prod: P.Production) -> list[tuple[str, str]]:
    return [(el.scene_number, el.text) for el in prod.script.elements if el.type is T.SCENE_HEADING]


def test_colours_follow_the_industry_order():
    names = [P.colour_name(i) for i in range(11)]
    assert names[:5] == ["White", "Blue", "Pink", "Yellow", "Green"]
    assert names[8] == "Cherry"
    assert names[9:] == ["Double White", "Double Blue"]
    with pytest.raises(ValueError):
        P.colour_name(-1)


@pytest.mark.parametrize(
    "label, nxt",
    [("12", "12A"), ("12A", "12B"), ("12Z", "12AA"), ("12-13", "13A"), ("A1", "A1A")],
)
def test_added_pages_are_lettered(label, nxt):
    assert next_page_label(label) == nxt


def test_a_locked_script_prints_exactly_as_before():
    scenes = script()
    white = P.lock(scenes, "12/01/26")
    prod = P.build(scenes, [white])
    plain = lay_out(prod.script)
    assert labels(prod) == [str(p.number) for p in plain.pages]
    assert prod.changed == 0
    assert all(el.mark is None for el in prod.script.elements)
    assert [n for n, _ in headings(prod)] == ["1", "2", "3", "4", "5"]


def test_an_unchanged_feature_keeps_every_page_and_line():
    # A generated feature with speeches and paragraphs cut across pages.
    text = generate.feature_text()
    parsed = fountain.parse(text)
    # One SceneText per heading, as the app stores scenes.
    texts = [P.SceneText(i, h, body) for i, (h, body) in enumerate(generate.split_scenes(text), 1)]
    white = P.lock(texts, "12/01/26")
    prod = P.build(texts, [white])
    locked = prod.lay_out().pages
    plain = lay_out(prod.script).pages
    assert [p.label for p in locked] == [str(p.number) for p in plain]
    assert [[s.text for r in p.rows for s in r] for p in locked] == [
        [s.text for r in p.rows for s in r] for p in plain
    ]
    assert len(plain) > 30 and parsed.elements


def test_text_added_to_a_page_flows_onto_a_pages_and_later_pages_stay():
    scenes = script()
    white = P.lock(scenes, "12/01/26")
    before = {p.label: first_line(p) for p in P.build(scenes, [white]).lay_out().pages}
    added = "\n\n".join(f"Added paragraph {k}." for k in range(40))
    grown = [scenes[0], edit(scenes[1], para(2, 3), f"{added}\n\n{para(2, 3)}"), *scenes[2:]]
    prod = P.build(grown, [white])
    pages = prod.lay_out().pages
    got = [p.label for p in pages]
    assert "2A" in got and "2B" in got
    assert got.index("2A") == got.index("2") + 1
    # Every locked page from 3 on starts where it did.
    after = {p.label: first_line(p) for p in pages}
    for label in before:
        if int(label) >= 3:
            assert after[label] == before[label], label
    # The added paragraphs are marked Blue (1), the rest not.
    marks = {el.text: el.mark for el in prod.script.elements}
    assert marks["Added paragraph 7."] == 1
    assert marks[para(2, 3)] is None
    assert prod.changed == 40


def test_pages_that_lost_their_text_print_as_one():
    scenes = script()
    white = P.lock(scenes, "12/01/26")
    count = len(white.pages)
    cut = P.SceneText(3, scenes[2].heading, "Only this is left of scene three.\n")
    prod = P.build([*scenes[:2], cut, *scenes[3:]], [white])
    got = labels(prod)
    assert any("-" in label for label in got), got
    # Every locked number is still printed once (alone or in a range).
    printed = set()
    for label in got:
        a, _, b = label.partition("-")
        printed.update(range(int(a), int(b or a) + 1))
    assert printed == set(range(1, count + 1))


def test_new_scenes_are_lettered_and_deleted_ones_omitted():
    scenes = script()
    white = P.lock(scenes, "12/01/26")
    new = P.SceneText(99, "EXT. YARD - NIGHT", "Rain.\n")
    tail = P.SceneText(100, "EXT. ROAD - DAY", "Dust.\n")
    prod = P.build([scenes[0], new, scenes[1], scenes[2], scenes[4], tail], [white])
    assert headings(prod) == [
        ("1", "INT. ROOM 1 - DAY"),
        ("1A", "EXT. YARD - NIGHT"),
        ("2", "INT. ROOM 2 - DAY"),
        ("3", "INT. ROOM 3 - DAY"),
        ("4", "OMITTED"),
        ("5", "INT. ROOM 5 - DAY"),
        ("6", "EXT. ROAD - DAY"),
    ]
    omitted = next(el for el in prod.script.elements if el.text == "OMITTED")
    assert omitted.mark == 1
    # Issued, the numbers stay: a scene added before 1A is lettered around them.
    blue = prod.issue("12/02/26")
    again = P.SceneText(101, "INT. HALL - DAY", "Steps.\n")
    prod2 = P.build([scenes[0], again, new, scenes[1], scenes[2], scenes[4], tail], [white, blue])
    assert [n for n, _ in headings(prod2)] == ["1", "1B", "1A", "2", "3", "4", "5", "6"]
    assert headings(prod2)[5] == ("4", "OMITTED")


def test_marks_keep_the_colour_of_the_revision_that_made_them():
    scenes = script(3)
    white = P.lock(scenes, "12/01/26")
    blue_text = [scenes[0], edit(scenes[1], para(2, 5), "Changed in blue."), scenes[2]]
    blue = P.build(blue_text, [white]).issue("12/02/26")
    assert blue.index == 1
    pink_text = [edit(scenes[0], para(1, 2), "Changed in pink."), blue_text[1], scenes[2]]
    prod = P.build(pink_text, [white, blue])
    marks = {el.text: el.mark for el in prod.script.elements}
    assert marks["Changed in blue."] == 1
    assert marks["Changed in pink."] == 2
    assert marks[para(3, 0)] is None
    assert prod.open_index == 2 and prod.changed == 1
    # A line changed again takes the newer colour.
    pink_again = [
        pink_text[0],
        edit(blue_text[1], "Changed in blue.", "Blue, then pink."),
        scenes[2],
    ]
    marks = {el.text: el.mark for el in P.build(pink_again, [white, blue]).script.elements}
    assert marks["Blue, then pink."] == 2


def test_deleted_text_marks_the_line_before_it():
    scenes = script(2)
    white = P.lock(scenes, "12/01/26")
    cut = P.SceneText(1, scenes[0].heading, scenes[0].text.replace(para(1, 4) + "\n\n", ""))
    prod = P.build([cut, scenes[1]], [white])
    marks = {el.text: el.mark for el in prod.script.elements}
    assert marks[para(1, 3)] == 1
    assert prod.changed == 1


def test_a_snapshot_survives_json():
    scenes = [scene(1, 5), P.SceneText(2, "INT. B - DAY", "!forced action\n\nBOB\nHi.\n")]
    white = P.lock(scenes, "12/01/26")
    data = json.loads(json.dumps(white.to_json()))
    back = P.Snapshot.from_json(data)
    assert back == white
    # The editor's lines keep the source as typed (the "!" of forced action).
    assert [line for line, _ in back.scene_lines(2)] == ["!forced action", "BOB", "Hi."]


def test_the_pdf_prints_labels_asterisks_and_revision_headers():
    scenes = script(3)
    white = P.lock(scenes, "12/01/26")
    added = "\n\n".join(f"Added paragraph {k}." for k in range(30))
    grown = [scenes[0], edit(scenes[1], para(2, 3), f"{added}\n\n{para(2, 3)}"), scenes[2]]
    prod = P.build(grown, [white])
    data = pdf.render_pdf(
        prod.script, scene_numbers=True, locks=prod.locks, revisions={1: "Blue Rev. 12/02/26"}
    )
    pages = [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages]
    assert len(pages) == len(prod.lay_out().pages)
    revised = [t for t in pages if "Blue Rev. 12/02/26" in t]
    assert revised and all("*" in t for t in revised)
    assert any("2A." in t for t in pages)
    untouched = [t for t in pages if "Blue Rev." not in t]
    assert untouched and not any("*" in t for t in untouched)
    # Asterisks only beside revised lines: as many as rows of marked elements.
    rows = sum(
        1
        for page in prod.lay_out().pages
        for row in page.rows
        if any(seg.mark is not None for seg in row)
    )
    assert sum(t.count("*") for t in pages) == rows


def test_without_revisions_the_pdf_is_unchanged():
    text = generate.feature_text()
    assert pdf.render_pdf(text) == pdf.render_pdf(fountain.parse(text), locks=())
