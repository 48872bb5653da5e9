"""The shared Fountain vectors (tests/fixtures/fountain_grammar.json) against grammar.py
and the parser; tests/js/fountain-grammar.test.mjs runs the same file against the editor."""

import json
from pathlib import Path

import pytest

from scripts_app.formats import fountain, grammar
from scripts_app.formats.importer import split_script
from scripts_app.formats.model import ElementType as T

VECTORS = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "fountain_grammar.json").read_text("utf-8")
)


def _id(case):
    return f"{case['expect']}: {case['lines'][case['index']]!r} ({case['why']})"


def parsed_line_types(lines):
    """Return (element type, element) for every line, as ``fountain.parse`` reads them."""
    script = fountain.parse("\n".join(lines))
    assert not script.title_page
    out = []
    for el in script.elements:
        out += [(el.type.value, el)] * (el.raw.count("\n") + 1)
    assert len(out) == len(lines)
    return out


def test_enough_vectors_covering_every_element():
    assert len(VECTORS) >= 40
    assert {c["expect"] for c in VECTORS} == grammar.ELEMENT_NAMES
    assert {t.value for t in T} == grammar.ELEMENT_NAMES


@pytest.mark.parametrize("case", VECTORS, ids=_id)
def test_grammar(case):
    lines, i = case["lines"], case["index"]
    assert grammar.classify_lines(lines)[i] == case["expect"]
    if "name" in case:
        assert grammar.parse_cue(lines[i]).name == case["name"]
    if "number" in case:
        assert grammar.parse_scene_heading(lines[i]).number == case["number"]


@pytest.mark.parametrize("case", VECTORS, ids=_id)
def test_parser(case):
    kind, el = parsed_line_types(case["lines"])[case["index"]]
    assert kind == case["expect"]
    if "name" in case:
        assert el.name == case["name"]
    if "number" in case:
        assert el.scene_number == case["number"]


def test_cue_shape_alone():
    assert grammar.parse_cue("MAN’S VOICE (CONT’D) ^") == grammar.Cue(
        "MAN’S VOICE (CONT’D)", "MAN’S VOICE", ("CONT’D",), True, False
    )
    assert grammar.parse_cue("@Edward (V.O.)").forced
    for line in ["INT. HOUSE", "CUT TO:", "STAND!", "1984", "Edward", "> X", "!BOB", ""]:
        assert grammar.parse_cue(line) is None, line


def test_scene_heading_parts():
    h = grammar.parse_scene_heading("  INT./EXT. CAR - MOVING #3# ")
    assert h == grammar.SceneHeading("INT./EXT. CAR - MOVING", False, "3", "CAR - MOVING #3#")
    assert grammar.parse_scene_heading("INT.").location == ""
    assert grammar.parse_scene_heading(".THE VOID") == grammar.SceneHeading(
        "THE VOID", True, None, "THE VOID"
    )
    assert grammar.parse_scene_heading("..and") is None
    assert grammar.parse_scene_heading("EXT/INT. CAR") is None


def test_import_accepts_a_typographic_apostrophe_in_a_cue():
    """Regression: the parser read ``MAN’S VOICE`` as a cue but the import refused the name
    (the character name rule allowed ``'`` but not ``’``)."""
    imported = split_script("INT. HALL - NIGHT\n\nMAN’S VOICE (O.S.)\nWho’s there?\n")
    assert imported.characters == ["MAN’S VOICE"]
    assert imported.scenes[0].cast == ["MAN’S VOICE"]
    assert grammar.is_character_name("MAN’S VOICE")
    assert grammar.is_character_name("MAN'S VOICE")
    assert not grammar.is_character_name("MAN #2")  # a cue, but not a name the app stores
