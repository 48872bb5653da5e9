"""Checkable instructions: exact phrasings, parsing free text, the checks, content words."""

import pytest

from generation.core.instructions import (
    STOPWORDS,
    check,
    content_words,
    cue_names,
    instruction_text,
    parse,
    render,
)

DINER = """INT. DINER - NIGHT

Rain on the windows. CLAIRE stirs a coffee she will not drink.

CLAIRE (V.O.)
We have to sell the house.

JUNE
(not looking up)
It's not yours to sell.

CLAIRE
It's not yours to keep.

CUT TO:
"""


# --------------------------------------------------------------------------- render


@pytest.mark.parametrize(
    "kind, value, text",
    [
        ("speakers", ("CLAIRE",), "Only CLAIRE speaks."),
        ("speakers", ("CLAIRE", "JUNE"), "Only CLAIRE and JUNE speak."),
        ("speakers", ("CLAIRE", "JUNE", "DEV"), "Only CLAIRE, JUNE and DEV speak."),
        ("speakers", ("A", "B", "C", "D"), "Only A, B, C and D speak."),
        ("speakers", ("  mrs.  o'neil ",), "Only MRS. O'NEIL speaks."),
        ("lines", 12, "About 12 lines."),
        ("word", "house", 'Include the word "house".'),
        ("transition", True, "End on a transition."),
    ],
)
def test_render_exact_phrasings(kind, value, text):
    assert render(kind, value) == text


@pytest.mark.parametrize(
    "kind, value",
    [
        ("speakers", ()),
        ("speakers", ("",)),
        ("lines", 0),
        ("lines", -3),
        ("lines", True),
        ("lines", "12"),
        ("word", ""),
        ("word", "two words"),
        ("word", 'quo"te'),
        ("transition", False),
        ("mood", "sad"),
    ],
)
def test_render_refuses_bad_values(kind, value):
    with pytest.raises(ValueError):
        render(kind, value)


# --------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    "kind, value",
    [
        ("speakers", ("CLAIRE",)),
        ("speakers", ("CLAIRE", "JUNE")),
        ("speakers", ("CLAIRE", "JUNE", "DEV")),
        ("speakers", ("MRS. O'NEIL", "JUNE")),
        ("lines", 8),
        ("lines", 20),
        ("word", "house"),
        ("word", "father's"),
        ("transition", True),
    ],
)
def test_parse_round_trips_render(kind, value):
    assert parse(render(kind, value)) == [(kind, value)]


def test_parse_finds_all_in_a_brief_in_order():
    brief = (
        "Two estranged sisters meet after their father's funeral.\n"
        + instruction_text([("word", "house"), ("speakers", ("CLAIRE", "JUNE")), ("lines", 12)])
        + "\nEnd on a transition."
    )
    assert parse(brief) == [
        ("word", "house"),
        ("speakers", ("CLAIRE", "JUNE")),
        ("lines", 12),
        ("transition", True),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("only claire speaks", [("speakers", ("CLAIRE",))]),
        ("ONLY   Claire   and  june  SPEAK .", [("speakers", ("CLAIRE", "JUNE"))]),
        ("Only “Claire” and ‘June’ speak.", [("speakers", ("CLAIRE", "JUNE"))]),
        ("Only Claire, June, and Dev speak!", [("speakers", ("CLAIRE", "JUNE", "DEV"))]),
        ("- about   12 LINES", [("lines", 12)]),
        ("about 1 line.", [("lines", 1)]),
        ("include the word 'house'", [("word", "house")]),
        ("Include the word “house”.", [("word", "house")]),
        ("Include the word ‘house’.", [("word", "house")]),
        ("Include the word house.", [("word", "house")]),
        ("Keep it tense. end on a   TRANSITION", [("transition", True)]),
        ("Only Claire speaks. Only Claire speaks.", [("speakers", ("CLAIRE",))]),
    ],
)
def test_parse_is_tolerant(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Make it sad and short.",
        "It is the only thing Claire speaks of.",  # not a sentence of its own
        "About 0 lines.",
        "About 9999999 lines.",
        "Only 42 speaks.",
        "Include the word.",
        "End on a high note.",
    ],
)
def test_parse_ignores_other_text(text):
    assert parse(text) == []


def test_parse_hostile_input():
    assert parse(None) == []  # type: ignore[arg-type]
    huge = ("Only " + "x" * 50 + " and ") * 20_000 + "\nOnly Claire speaks." + "only " * 100_000
    # Linear patterns: catastrophic backtracking would hang here (no timed assertion).
    result = parse(huge)
    assert ("speakers", ("CLAIRE",)) in result
    assert parse('Only JOSÉ and 漢字 speak. Include the word "café".') == [
        ("speakers", ("JOSÉ", "漢字")),
        ("word", "café"),
    ]
    parse("\x00Only\u200bClaire speaks\ufeff\ud800")  # no crash


# --------------------------------------------------------------------------- check


def test_cue_names_by_the_grammar():
    assert cue_names(DINER) == ["CLAIRE", "JUNE", "CLAIRE"]
    assert cue_names("@McCLANE\nYippee.\n\nBOB ^\nHi.") == ["MCCLANE", "BOB"]
    assert cue_names("") == []


def test_check_speakers():
    assert check("speakers", ("CLAIRE", "JUNE"), DINER)
    assert check("speakers", ["june", "Claire"], DINER)  # JSON gives lists; any case
    assert not check("speakers", ("CLAIRE",), DINER)  # JUNE speaks too
    assert not check("speakers", ("CLAIRE", "JUNE", "DEV"), DINER)  # DEV does not
    assert check("speakers", ("CLAIRE",), "CLAIRE (O.S.)\nHello?\n\nCLAIRE\nAnyone?")
    assert not check("speakers", ("CLAIRE",), "Claire waits. Nobody speaks.")  # no cue


def test_check_lines():
    nonblank = sum(1 for line in DINER.split("\n") if line.strip())
    assert nonblank == 10
    assert check("lines", 10, DINER)
    assert check("lines", 7, DINER)  # 10 <= 10.5
    assert check("lines", 20, DINER)  # 10 >= 10
    assert not check("lines", 6, DINER)  # 10 > 9
    assert not check("lines", 21, DINER)  # 10 < 10.5
    assert not check("lines", 4, "")


@pytest.mark.parametrize(
    "word, ok",
    [
        ("house", True),
        ("HOUSE", True),
        ("coffee", True),
        ("windows", True),
        ("window", True),  # plural allowed
        ("yours", True),
        ("hous", False),
        ("use", False),  # inside "house"
        ("funeral", False),
    ],
)
def test_check_word(word, ok):
    assert check("word", word, DINER) is ok


def test_check_word_possessive_and_unicode():
    assert check("word", "father", "It was my father's house.")
    assert check("word", "father", "My fathers’ graves.")
    assert check("word", "café", "They meet at the CAFÉ.")
    assert not check("word", "fat", "It was my father's house.")
    assert check("word", "a.b", "see a.b here") and not check("word", "a.b", "see axb here")


def test_check_transition():
    assert check("transition", True, DINER)
    assert check("transition", True, "JUNE\nNo.\n\n> FADE OUT.\n\n\n")
    assert check("transition", True, "JUNE\nNo.\n\nSMASH CUT TO:")
    assert not check("transition", True, DINER + "\nThey sit in silence.\n")
    assert not check("transition", True, "JUNE\nNo.\n\nFADE OUT.")  # not by the grammar
    assert not check("transition", True, "JUNE\nCut to:")  # dialogue
    assert not check("transition", True, "")


def test_check_unknown_kind_and_hostile_text():
    with pytest.raises(ValueError):
        check("mood", "sad", DINER)
    huge = ("CLAIRE\nHello there house.\n\n" * 50_000) + "CUT TO:\n"
    assert check("speakers", ("CLAIRE",), huge)
    assert check("word", "house", huge)
    assert check("transition", True, huge)
    assert not check("lines", 10, huge)
    for kind, value in [("speakers", ("A",)), ("lines", 3), ("word", "x"), ("transition", True)]:
        assert check(kind, value, "😀🎭 漢字かな e\u0301 \x00\r\n") is False
        assert check(kind, value, None) is False  # type: ignore[arg-type]


# --------------------------------------------------------------------------- content words


def test_content_words_rank_by_frequency_then_first_seen():
    text = "The garden is dying. The house, the house! Garden gates. Thou art a garden."
    assert content_words(text) == ["garden", "house", "dying", "gates"]
    assert content_words(text, k=2) == ["garden", "house"]
    assert content_words(text, k=0) == []


def test_content_words_exclude_names_cues_and_stopwords():
    words = content_words(DINER, exclude=("Claire",))
    assert "claire" not in words and "june" not in words  # excluded / a cue name
    assert words[:4] == ["sell", "diner", "night", "rain"]  # "sell" twice
    assert "house" in words and "sell" in words
    assert content_words("Marcus the baker bakes bread. MARCUS bakes.", exclude=["marcus"]) == [
        "bakes",
        "baker",
        "bread",
    ]
    archaic = "Thou hath doth thee thine 'tis o'er ay o art hast methinks prithee whence."
    assert content_words(archaic) == []
    assert {"thou", "thee", "thy", "thine", "hath", "doth", "art", "ay", "o", "tis"} <= STOPWORDS
    assert content_words("Enter Brutus and Lucius.\n\nExeunt.", exclude=["BRUTUS"]) == ["lucius"]


def test_content_words_possessives_and_hostile():
    assert content_words("My father's house. Father's garden.") == ["father", "house", "garden"]
    assert content_words("") == []
    assert content_words(None) == []  # type: ignore[arg-type]
    assert content_words("Ça coûte très cher, naïve façade.") == [
        "coûte",
        "très",
        "cher",
        "naïve",
        "façade",
    ]
    big = "lantern " * 200_000
    assert content_words(big, k=1) == ["lantern"]
