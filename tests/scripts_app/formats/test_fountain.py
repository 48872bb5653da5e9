import pytest

from scripts_app.formats import fountain
from scripts_app.formats.model import ElementType as T
from scripts_app.formats.model import normalize_character_name

from . import generate


def types(text):
    return [e.type for e in fountain.parse(text).elements if e.type is not T.BLANK]


def body(text):
    return [e for e in fountain.parse(text).elements if e.type is not T.BLANK]


# (source, expected non-blank element types); every sample is in canonical form, so it must
# also survive a round trip with ``raw`` thrown away.
SAMPLES = {
    "scene_heading": ("\nINT. HOUSE - DAY\n\n", [T.SCENE_HEADING]),
    "scene_heading_ext_int": ("\nINT./EXT. CAR - NIGHT\n\n", [T.SCENE_HEADING]),
    "scene_heading_ie": ("\nI/E CAR - NIGHT\n\n", [T.SCENE_HEADING]),
    "scene_heading_est": ("\nEST. CITY - DAWN\n\n", [T.SCENE_HEADING]),
    "scene_heading_forced": ("\n.SNIPER SCOPE POV\n\n", [T.SCENE_HEADING]),
    "scene_number": ("\nINT. HOUSE - DAY #1A#\n\n", [T.SCENE_HEADING]),
    "action": ("\nThey drink long and well.\nThen stop.\n", [T.ACTION]),
    "action_forced": ("\n!SCANNING THE AISLES\n", [T.ACTION]),
    "character_dialogue": ("\nSTEEL\nThe man's a myth!\n", [T.CHARACTER, T.DIALOGUE]),
    "character_ext": ("\nHANS (on the radio)\nHello.\n", [T.CHARACTER, T.DIALOGUE]),
    "character_forced": ("\n@McCLANE\nYippee ki-yay!\n", [T.CHARACTER, T.DIALOGUE]),
    "parenthetical": (
        "\nSTEEL\n(starting the engine)\nSo much for retirement!\n",
        [T.CHARACTER, T.PARENTHETICAL, T.DIALOGUE],
    ),
    "dual": (
        "\nBRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n",
        [T.CHARACTER, T.DIALOGUE, T.CHARACTER, T.DIALOGUE],
    ),
    "lyrics": ("\n~Willy Wonka! Willy Wonka!\n", [T.LYRICS]),
    "transition": ("\nCUT TO:\n\n", [T.TRANSITION]),
    "transition_forced": ("\n>Burn to White.\n", [T.TRANSITION]),
    "centered": ("\n> THE END <\n", [T.CENTERED]),
    "page_break": ("\n===\n", [T.PAGE_BREAK]),
    "section": ("\n# ACT I\n\n## Part 1\n", [T.SECTION, T.SECTION]),
    "synopsis": ("\n= Set up the characters.\n", [T.SYNOPSIS]),
    "note": ("\n[[It was supposed to be raining.]]\n", [T.NOTE]),
    "boneyard": ("\n/*\nINT. GARAGE - DAY\n\nBRICK\nOld stuff.\n*/\n", [T.BONEYARD]),
    "emphasis": ("\nThe *italic*, **bold**, ***both*** and _underlined_.\n", [T.ACTION]),
    "dialogue_blank_line": ("\nDEALER\nTen.\n  \nFour.\n", [T.CHARACTER, T.DIALOGUE]),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_types_and_round_trip(name):
    text, expected = SAMPLES[name]
    script = fountain.parse(text)
    assert types(text) == expected
    assert fountain.dumps(script) == text
    assert fountain.dumps(script.without_raw()) == text


def test_scene_heading_fields():
    (h,) = body("\nINT. HOUSE - DAY #1A#\n\n")
    assert (h.text, h.scene_number, h.forced) == ("INT. HOUSE - DAY", "1A", False)
    (f,) = body("\n.SNIPER SCOPE POV #I-1.2#\n\n")
    assert (f.text, f.scene_number, f.forced) == ("SNIPER SCOPE POV", "I-1.2", True)


def test_heading_needs_blank_line_before_it():
    assert types("Walking.\nINT. HOUSE - DAY\n\n") == [T.ACTION]
    # Deliberately lenient: no blank line needed after (see docs/formats.md).
    assert types("\nINT. HOUSE - DAY\nShe walks in.\n") == [T.SCENE_HEADING, T.ACTION]


def test_ellipsis_is_not_a_forced_heading():
    assert types("\n...and then\n") == [T.ACTION]


def test_character_fields():
    c, _ = body("\nEDWARD (V.O.) (CONT'D)\nHi.\n")
    assert (c.name, c.extensions, c.extension) == ("EDWARD", ("V.O.", "CONT'D"), "V.O., CONT'D")
    c, _ = body("\nHANS (cont'd)\nHi.\n")
    assert c.name == "HANS" and c.extensions == ("cont'd",)
    c, _ = body("\n@McCLANE\nHi.\n")
    assert c.forced and c.name == "McCLANE"
    *_, c2, _ = body("\nA\nx\n\nB ^\ny\n")
    assert c2.dual and c2.name == "B" and c2.text == "B"


def test_upper_case_line_followed_by_blank_is_action():
    assert types("\nBOOM!\n\nShe ducks.\n") == [T.ACTION, T.ACTION]


def test_mixed_case_line_is_not_character():
    assert types("\nEdward\nHi.\n") == [T.ACTION]


def test_transition_rules():
    # Not a transition without the blank line after it, and a name never ends in ":"
    # (grammar.is_cue_name), so not a cue either: action.
    assert types("\nCUT TO:\nMore\n") == [T.ACTION]
    (t,) = body("\n>Burn to White.\n")
    assert t.forced and t.text == "Burn to White."


def test_centered_text_and_not_transition():
    (c,) = body("\n>THE END<\n")
    assert c.type is T.CENTERED and c.text == "THE END"


def test_section_levels():
    a, b, c = body("\n# Act\n\n## Seq\n\n### Scene\n")
    assert [a.level, b.level, c.level] == [1, 2, 3]
    assert c.text == "Scene"


def test_action_paragraph_keeps_indentation():
    (a,) = body("\n    Indented\n\tTabbed\n")
    assert a.text == "    Indented\n\tTabbed"


def test_dialogue_lines_group_and_lyrics_in_speech():
    c, d, p, d2, ly = body("\nBOB\nOne.\nTwo.\n(beat)\nThree.\n~La la\n")
    assert d.text == "One.\nTwo." and p.text == "(beat)" and d2.text == "Three."
    assert ly.type is T.LYRICS and ly.text == "La la"


def test_inline_note_stays_in_text():
    (a,) = body("\nHe waits. [[Too long?]] Then goes.\n")
    assert a.type is T.ACTION and "[[Too long?]]" in a.text


def test_multiline_note_and_unclosed_boneyard():
    (n,) = body("\n[[A note\nover two lines]]\n")
    assert n.type is T.NOTE and n.text == "A note\nover two lines"
    assert types("\n/* never closed\n") == [T.ACTION]


def test_title_page():
    text = (
        "Title:\n    _**BRICK & STEEL**_\n    _**FULL RETIRED**_\nCredit: Written by\n"
        "Author: Stu Maschwitz\nDraft date: 1/27/2012\n\nEXT. PATIO - DAY\n\nHot.\n"
    )
    script = fountain.parse(text)
    assert [e.key for e in script.title_page] == ["Title", "Credit", "Author", "Draft date"]
    assert script.title_field("TITLE") == "_**BRICK & STEEL**_\n_**FULL RETIRED**_"
    assert script.title == "BRICK & STEEL\nFULL RETIRED"
    assert types(text)[0] is T.SCENE_HEADING
    assert fountain.dumps(script) == text


def test_title_page_built_in_code_round_trips():
    script = fountain.parse("Title: A\nAuthor: B\n\nINT. X - DAY\n\nGo.\n").without_raw()
    assert fountain.dumps(script) == "Title: A\nAuthor: B\n\nINT. X - DAY\n\nGo.\n"


def test_no_title_page_when_first_line_is_heading():
    assert fountain.parse("INT. HOUSE: KITCHEN - DAY\n\nx\n").title_page == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n",
        "no newline at end",
        "INT. HOUSE - DAY\r\n\r\nCRLF action.\r\n",
        "Title: X\r\n\r\nBOB\r\nHi.\r\n",
        "   \n\t\n  trailing spaces   \n",
        "\n\n\nBOB  \n  (beat)  \n  Hi there.   \n\n\n",
        "weird [[note\n\nacross blank]] /* and *bone*/",
    ],
)
def test_exact_round_trip_of_odd_whitespace(text):
    assert fountain.dumps(fountain.parse(text)) == text


def test_normalize_character_name():
    for cue in ["EDWARD (V.O.)", "EDWARD (CONT'D)", "Edward", "@Edward", "EDWARD ^", " EDWARD  "]:
        assert normalize_character_name(cue) == "EDWARD"


def test_feature_script_round_trips_and_uses_every_element():
    feature_text, feature = generate.feature_text(), generate.feature()
    assert fountain.dumps(feature) == feature_text
    used = {e.type for e in feature.elements}
    assert used == set(T)
    assert any(e.forced for e in feature.elements if e.type is T.SCENE_HEADING)
    assert any(e.forced for e in feature.elements if e.type is T.ACTION)
    assert any(e.forced for e in feature.elements if e.type is T.CHARACTER)
    assert any(e.forced for e in feature.elements if e.type is T.TRANSITION)
    assert any(e.dual for e in feature.elements)
    assert any(e.scene_number for e in feature.elements)
    assert any(e.extensions for e in feature.elements if e.type is T.CHARACTER)


def test_feature_script_canonical_round_trip():
    feature_text, feature = generate.feature_text(), generate.feature()
    # The generator writes canonical Fountain, so fields alone must reproduce it.
    assert fountain.dumps(feature.without_raw()) == feature_text


def test_code_built_first_line_is_not_read_as_title_page():
    from scripts_app.formats.model import Element, Script

    for el in [Element(T.TRANSITION, "CUT TO:"), Element(T.ACTION, "Note: the end")]:
        text = fountain.dumps(Script(elements=[el]))
        script = fountain.parse(text)
        assert script.title_page == []
        assert [(e.type, e.text) for e in script.elements if e.type is not T.BLANK] == [
            (el.type, el.text)
        ]


# --- "The writer's desk": defects found on real scripts ------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("FADE IN:\n\nINT. HOUSE - DAY\n\nGo.\n", T.ACTION),
        ("CUT TO:\n\nINT. HOUSE - DAY\n\nGo.\n", T.TRANSITION),
        ("FADE IN:\r\n\r\nINT. HOUSE - DAY\r\n\r\nGo.\r\n", T.ACTION),
        ("FADE IN:\nINT. HOUSE - DAY\n\nGo.\n", T.ACTION),
        ("FADE IN:", T.ACTION),
        ("SMASH CUT TO:\n", T.TRANSITION),
    ],
)
def test_a_lone_transition_like_first_line_is_not_a_title_page(text, kind):
    """Regression: ``FADE IN:`` on line one became an empty title page key (and a blank
    title page); a lone ``Key:`` line without a value under it is the script's first line."""
    script = fountain.parse(text)
    assert script.title_page == []
    first = script.elements[0]
    assert first.type is kind
    assert first.text.split("\n")[0] == text.split("\n")[0].rstrip("\r")
    assert fountain.dumps(script) == text


@pytest.mark.parametrize(
    ("text", "entries"),
    [
        ("Title: Big Fish\n\nINT. A - DAY\n", [("Title", "Big Fish")]),
        ("Title:\n    Big Fish\n\nINT. A - DAY\n", [("Title", "Big Fish")]),
        ("Title:\n\tBig Fish\n\tPart Two\n\nINT. A - DAY\n", [("Title", "Big Fish\nPart Two")]),
        ("Title:\nAuthor: Ann\n\nINT. A - DAY\n", [("Title", ""), ("Author", "Ann")]),
        (
            "Title:\nCredit:\nAuthor:\n\nINT. A - DAY\n",
            [("Title", ""), ("Credit", ""), ("Author", "")],
        ),
        ("TITLE: CUT\n\nINT. A - DAY\n", [("TITLE", "CUT")]),
    ],
)
def test_title_page_keys_with_values_inline_below_or_followed_by_keys(text, entries):
    script = fountain.parse(text)
    assert [(e.key, e.value) for e in script.title_page] == entries
    assert [e.type for e in script.elements if e.type is not T.BLANK] == [T.SCENE_HEADING]
    assert fountain.dumps(script) == text


def test_starts_title_page_reads_the_first_two_lines():
    from scripts_app.formats import grammar

    assert grammar.starts_title_page(["Title:", "    Big Fish"])
    assert grammar.starts_title_page(["Title:", "Author: Ann"])
    assert grammar.starts_title_page("Draft date: today")
    for lines in (["FADE IN:"], ["FADE IN:", ""], ["CUT TO:", "  "], ["FADE IN:", "EXT. SEA"]):
        assert not grammar.starts_title_page(lines), lines
    assert not grammar.starts_title_page("FADE IN:\nINT. HOUSE: KITCHEN - DAY")
    assert not grammar.starts_title_page(["INT. HOUSE: KITCHEN - DAY", "x"])
    assert not grammar.starts_title_page([])


def test_code_built_lone_transition_is_written_without_a_leading_blank_line():
    from scripts_app.formats.model import Element, Script

    script = Script(elements=[Element(T.TRANSITION, "CUT TO:"), Element(T.BLANK)])
    assert fountain.dumps(script) == "CUT TO:\n"
    # A key with a value still needs the blank line before it to stay out of a title page.
    script = Script(elements=[Element(T.ACTION, "Note: the end")])
    assert fountain.dumps(script) == "\nNote: the end"


@pytest.mark.parametrize("line", ["CUT TO:   ", "CUT TO:\t", "  CUT TO:  "])
def test_transition_with_trailing_spaces_is_a_transition(line):
    """Decision (issue "The writer's desk"): spaces and tabs around a line are not read, so
    ``CUT TO:`` with trailing spaces ends in ``TO:``; the source is kept byte for byte."""
    text = f"\n{line}\n\nINT. A - DAY\n"
    (t, h) = body(text)
    assert (t.type, t.text, t.raw) == (T.TRANSITION, "CUT TO:", line)
    assert h.type is T.SCENE_HEADING
    assert fountain.dumps(fountain.parse(text)) == text
    assert fountain.dumps(fountain.parse(text).without_raw()) == "\nCUT TO:\n\nINT. A - DAY\n"


def test_period_and_space_is_action_not_a_forced_heading():
    (a,) = body("\n. KITCHEN\n\n")
    assert (a.type, a.text) == (T.ACTION, ". KITCHEN")


@pytest.mark.parametrize("text", [". KITCHEN", "..KITCHEN", " .KITCHEN", "KITCHEN"])
def test_forced_heading_from_code_is_written_trimmed(text):
    """An FDX heading ". KITCHEN" was written ".. KITCHEN", which reads back as action."""
    from scripts_app.formats.model import Element

    source = fountain.format_element(Element(T.SCENE_HEADING, text, forced=True))
    assert source == ".KITCHEN"
    (h,) = body(f"\n{source}\n\n")
    assert (h.type, h.text, h.forced) == (T.SCENE_HEADING, "KITCHEN", True)


def test_cue_with_typographic_apostrophes():
    c, _ = body("\nMAN’S VOICE (CONT’D)\nAgain?\n")
    assert (c.type, c.name, c.extensions) == (T.CHARACTER, "MAN’S VOICE", ("CONT’D",))
    assert normalize_character_name(c.text) == "MAN’S VOICE"
