import pytest

from generation.core.rater import cue_name, rate, rate_details

CAST = ["Hamlet", "Horatio"]

CLEAN = """HAMLET
Who's there?

HORATIO
Friends to this ground.
"""


def test_clean_exchange_by_the_requested_cast_scores_5():
    r = rate_details(CLEAN, CAST)
    assert (r.cues, r.on_cast, r.lines, r.duplicates) == (2, 2, 2, 0)
    assert r.score == 5.0


def test_empty_text_scores_1():
    assert rate("", CAST) == 1.0
    assert rate(" \n\n\t\n", CAST) == 1.0


def test_off_cast_cue_is_penalised():
    text = CLEAN.replace("HORATIO", "BERNARDO")
    r = rate_details(text, CAST)
    assert (r.cues, r.on_cast, r.off_cast_names) == (2, 1, ("BERNARDO",))
    assert r.score == pytest.approx(1 + 2 * 0.5 + 2 * 1.0)  # 4.0


def test_no_cues_gets_no_cast_credit():
    text = "The battlements at night.\nWind howls.\n"
    r = rate_details(text, CAST)
    assert r.cues == 0 and r.lines == 2
    assert r.score == 3.0


def test_repeated_lines_are_penalised_but_repeated_cues_are_not():
    text = """HAMLET
To be.

HAMLET
To be.

HAMLET
To be.

HORATIO
My lord?
"""
    r = rate_details(text, CAST)
    # 4 cues all on cast; 4 content lines, "To be." twice repeated.
    assert (r.cues, r.on_cast, r.lines, r.duplicates) == (4, 4, 4, 2)
    assert r.score == pytest.approx(1 + 2 * 1.0 + 2 * (1 - 2 / 4))  # 4.0


def test_repeat_check_ignores_case_spacing_and_parentheticals():
    text = "HAMLET\n(aside)\nNo  more.\n\nHAMLET\n(aside)\nno more.\n"
    r = rate_details(text, CAST)
    assert (r.lines, r.duplicates) == (2, 1)
    assert r.score == pytest.approx(1 + 2 + 2 * 0.5)


def test_degenerate_loop_with_strangers_scores_near_1():
    text = "GHOST\nSwear.\n\n" * 10
    assert rate(text, CAST) == pytest.approx(1 + 0 + 2 * (1 - 9 / 10))


def test_cue_shape_rules():
    assert cue_name("HAMLET") == "HAMLET"
    assert cue_name("  FIRST  LORD (V.O.) ^") == "FIRST LORD"
    assert cue_name("MRS. O'NEIL-SMITH") == "MRS. O'NEIL-SMITH"
    assert cue_name("Hamlet") is None  # not capitals
    assert cue_name("CUT TO:") is None  # a transition
    assert cue_name("INT. CASTLE - NIGHT") is None  # a scene heading
    assert cue_name("STAND!") is None  # shouted dialogue
    assert cue_name("1984") is None  # no letter


def test_cue_needs_blank_line_before_and_dialogue_after():
    # "HORATIO" right after dialogue is dialogue, not a cue; "HAMLET" at the end has no
    # dialogue after it, so it is an action line.
    text = "HAMLET\nSpeak.\nHORATIO\n\nHAMLET\n"
    r = rate_details(text, CAST)
    assert (r.cues, r.lines) == (1, 3)


def test_cast_matching_is_case_insensitive_and_accepts_a_string():
    text = "FIRST LORD\nHail.\n"
    assert rate(text, ["First  Lord"]) == 5.0
    assert rate(text, "Hamlet, first lord") == 5.0
    assert rate(text, []) == 3.0  # nobody requested: every cue is off cast


def test_rate_is_deterministic_and_bounded():
    samples = [CLEAN, "", "x\n" * 50, "A\nb\n\nC\nd\n", "GHOST\nSwear.\n\n" * 3]
    for s in samples:
        a, b = rate(s, CAST), rate(s, CAST)
        assert a == b and 1.0 <= a <= 5.0
