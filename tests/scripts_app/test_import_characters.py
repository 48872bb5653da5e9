"""Import into the app (``scripts_app.imports``): the defects of the issue "The writer's
desk" found on real scripts: characters (apostrophes, compound cues), a CRLF file, a lone
``FADE IN:`` on line one and odd scene headings."""

import pytest

from scripts_app import exports, imports, services
from scripts_app.models import Character, Project
from tests.conftest import make_user


def _import(user, text: str | bytes, name: str = "script.fountain", project=None) -> Project:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return imports.script_import(user=user, upload=data, filename=name, project=project)


def _names(project) -> list[str]:
    return sorted(project.characters.values_list("name", flat=True))


def _casts(project) -> list[list[str]]:
    return [
        sorted(scene.cast.values_list("name", flat=True))
        for scene in project.scenes.order_by("position")
    ]


# --- characters ----------------------------------------------------------------------------


def test_typographic_apostrophe_cue_is_a_character(db):
    project = _import(make_user("w"), "INT. HALL - NIGHT\n\nMAN’S VOICE (O.S.)\nWho’s there?\n")
    assert _names(project) == ["MAN’S VOICE"]
    assert _casts(project) == [["MAN’S VOICE"]]
    assert project.import_summary.skipped_cues == []


def test_both_apostrophes_make_one_character(db):
    text = (
        "INT. HALL - NIGHT\n\nMAN’S VOICE\nWho’s there?\n\n"
        "INT. STAIRS - NIGHT\n\nMAN'S VOICE\nMe.\n"
    )
    project = _import(make_user("w"), text)
    assert _names(project) == ["MAN’S VOICE"]
    assert _casts(project) == [["MAN’S VOICE"], ["MAN’S VOICE"]]


def test_existing_character_is_reused_whichever_apostrophe(team):
    existing = services.character_create(project=team.project, name="Man's voice")
    project = _import(
        team.users["owner"], "INT. HALL - NIGHT\n\nMAN’S VOICE\nHello?\n", project=team.project
    )
    assert project.import_summary.characters_new == 0
    assert project.import_summary.characters_reused == 1
    assert Character.objects.filter(project=project, name__startswith="MAN").count() == 1
    scene = project.scenes.order_by("position").last()
    assert list(scene.cast.all()) == [existing]


COMPOUND = (
    "INT. PARK - DAY\n\nJOHN\nHi.\n\nMARY\nHello.\n\n"
    "EXT. LAKE - DAY\n\nJOHN AND MARY\nTogether!\n\nJOHN & MARY\nAgain!\n\n"
    "TOM AND JERRY\nChase!\n"
)


def test_compound_cue_links_characters_who_speak_alone(db):
    project = _import(make_user("w"), COMPOUND)
    assert _names(project) == ["JOHN", "MARY", "TOM AND JERRY"]
    assert _casts(project) == [["JOHN", "MARY"], ["JOHN", "MARY", "TOM AND JERRY"]]
    assert project.import_summary.linked_cues == ["JOHN AND MARY", "JOHN & MARY"]
    assert project.import_summary.skipped_cues == []
    lake = project.scenes.order_by("position").last()
    assert "JOHN AND MARY\nTogether!\n\nJOHN & MARY\nAgain!" in lake.text  # as written


def test_compound_cue_whose_parts_never_speak_alone_stays_one_character(db):
    project = _import(make_user("w"), "INT. PARK - DAY\n\nJOHN AND MARY\nTogether!\n")
    assert _names(project) == ["JOHN AND MARY"]
    assert project.import_summary.linked_cues == []


# --- scenes ---------------------------------------------------------------------------------


SOURCE = (
    "Title: Desk\n\nFADE IN:\n\nINT. A - DAY\n\nOne.\n\nBOB\nHi.\n\n"
    "INT. B - DAY\n\nTwo.\n\nCUT TO:\n\nEXT. C - NIGHT\n\nThree.\n"
)


def test_crlf_file_exports_like_the_lf_file(db):
    """Regression: each scene of a CRLF file gained an empty line at export."""
    user = make_user("w")
    lf = _import(user, SOURCE, "desk.fountain")
    crlf = _import(user, SOURCE.replace("\n", "\r\n"), "desk.fountain")
    texts = [list(p.scenes.order_by("position").values_list("text", flat=True)) for p in (lf, crlf)]
    assert texts[0] == texts[1]
    assert texts[0] == ["One.\n\nBOB\nHi.\n", "Two.\n\nCUT TO:\n", "Three.\n"]
    assert exports.project_source(crlf) == exports.project_source(lf) == SOURCE


@pytest.mark.parametrize("first", ["FADE IN:", "CUT TO:"])
def test_lone_transition_on_line_one_survives_and_makes_no_title_page(db, first):
    source = f"{first}\n\nINT. A - DAY\n\nOne.\n"
    project = _import(make_user("w"), source, "desk.fountain")
    assert project.title == "desk"
    assert project.import_summary.kept_in_notes
    assert imports.split_notes(project.notes)[1] == f"{first}\n\n"
    assert exports.project_source(project) == source


def test_odd_headings_do_not_refuse_the_import(db):
    text = (
        "INT. A - DAY\n\nOne.\n\nINT.\n\nStill one.\n\n. KITCHEN\n\nAction.\n\n"
        ".[[a note]]\n\nMore.\n\nEXT. B - NIGHT\n\nTwo.\n"
    )
    project = _import(make_user("w"), text)
    scenes = list(project.scenes.order_by("position"))
    assert [s.heading for s in scenes] == ["INT. A - DAY", "EXT. B - NIGHT"]
    assert scenes[0].text == (
        "One.\n\nINT.\n\nStill one.\n\n. KITCHEN\n\nAction.\n\n.[[a note]]\n\nMore.\n"
    )


def test_fdx_heading_with_a_period_and_a_space_is_imported(db):
    """Regression: an FDX heading ". KITCHEN" was written ".. KITCHEN" and refused."""
    data = (
        '<?xml version="1.0"?><FinalDraft DocumentType="Script" Version="5"><Content>'
        '<Paragraph Type="Scene Heading"><Text>INT. HALL - DAY</Text></Paragraph>'
        '<Paragraph Type="Action"><Text>Pots.</Text></Paragraph>'
        '<Paragraph Type="Scene Heading"><Text>. KITCHEN</Text></Paragraph>'
        '<Paragraph Type="Action"><Text>Pans.</Text></Paragraph>'
        "</Content></FinalDraft>"
    )
    project = _import(make_user("w"), data, "odd.fdx")
    scenes = list(project.scenes.order_by("position"))
    assert [s.heading for s in scenes] == ["INT. HALL - DAY", ".KITCHEN"]
    assert scenes[1].text == "Pans.\n"
