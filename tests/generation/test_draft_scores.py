"""Automatic draft scores (generation.draft_scores): pure functions, no database."""

import json

import pytest

from generation.draft_scores import (
    DraftScores,
    cast_scores,
    check_format,
    other_projects_index,
    repetition_score,
    score_draft,
)

SCENE = """INT. KITCHEN - NIGHT

Martha wipes the table. Jonah stands in the doorway, dripping.

MARTHA
You're late.

JONAH (V.O.)
(quietly)
The van broke down.

MARTHA
Again? That van has broken down more often than you have.
"""

CONTINUATION = """Martha stops wiping.

MARTHA (CONT'D)
Sit down before you flood the floor.

Jonah sits. The chair creaks.
"""

CORPUS_TEXT = (
    "The rain had not stopped for three days and the river was already over the road "
    "when Martha carried the last of the chairs up to the attic, counting the steps as "
    "her mother had taught her, seven and then a landing and then seven more, because a "
    "house that floods is a house you must know in the dark, and she knew this one better "
    "than she knew her own face in the glass."
)


def _score(text, **kw):
    args = {"cast": ["Martha", "Jonah"], "task": "new", "max_new_tokens": None, "tokens": None}
    return score_draft(text, **{**args, **kw})


def test_valid_scene():
    s = _score(SCENE, max_new_tokens=200, tokens=50)
    assert s.format_ok and s.format_issues == []
    assert s.cast_adherence == 1.0 and s.unknown_speakers == []
    assert s.repetition == 0.0
    assert s.length_ratio == 0.25
    assert s.copied_words == 0 and not s.memorised
    d = s.as_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) == set(DraftScores.__dataclass_fields__)


def test_continuation_without_heading_is_fine():
    assert _score(CONTINUATION, task="continue").format_ok


def test_empty_cue():
    draft = "Martha wipes the table.\n\nMARTHA\n(quietly)\n\nJONAH\nHi.\n\nJONAH\n"
    issues = check_format(draft, "continue", ["MARTHA", "JONAH"])
    assert len(issues) == 1
    assert issues[0].startswith("2 character cues with no dialogue: MARTHA, JONAH")
    # A lone capitalised line that names nobody is just action.
    assert check_format("BANG!\n\nThe door flies open.\n", "continue", ["MARTHA"]) == []


def test_empty_cue_in_the_middle_reads_as_action_but_is_caught():
    draft = "MARTHA\n\nJonah shrugs.\n"
    assert check_format(draft, "continue", ["Martha"]) != []


@pytest.mark.parametrize("task", ["continue", "rewrite", "dialogue"])
def test_stray_heading_in_a_continuation(task):
    draft = CONTINUATION + "\nEXT. STREET - NIGHT\n\nThe rain keeps on.\n"
    s = _score(draft, task=task)
    assert not s.format_ok
    assert "stray heading 'EXT. STREET - NIGHT'" in s.format_issues[0]


def test_new_scene_may_open_with_its_heading_but_not_start_another():
    assert _score(SCENE, task="new").format_ok
    s = _score(SCENE + "\nEXT. STREET - NIGHT\n\nThe rain keeps on.\n", task="new")
    assert s.format_issues == ["The draft runs into another scene: heading 'EXT. STREET - NIGHT'."]


def test_all_action_is_flagged():
    broken = "\n".join(f"Martha: line number {i} of talk" for i in range(10))
    issues = check_format("Something happens.\n" + broken, "continue")
    assert any("read as action" in i for i in issues)


def test_empty_draft():
    assert check_format("  \n", "new") == ["The draft is empty."]


def test_speaker_outside_the_cast():
    draft = SCENE + "\nPOLICEMAN\nEvening all.\n\nPoliceman (O.S.)\nAnyone home?\n"
    s = _score(draft)
    assert s.cast_adherence == pytest.approx(3 / 4)  # POLICEMAN (O.S.) is action: lower case
    assert s.unknown_speakers == ["POLICEMAN"]
    assert cast_scores(draft, []) == (None, [])
    assert cast_scores("Nobody speaks.\n", ["MARTHA"]) == (None, [])
    # Extensions and case do not matter; cast names may carry them too.
    assert cast_scores(SCENE, ["martha (V.O.)", "JONAH"])[0] == 1.0


def test_heavy_repetition():
    assert repetition_score("the cat sat on the mat and looked out") == 0.0
    loop = "I will not go. " * 20
    assert repetition_score(loop) > 0.9
    assert _score("MARTHA\n" + loop).repetition > 0.9
    assert repetition_score("too short") == 0.0


def test_length_ratio():
    assert _score(SCENE, max_new_tokens=400, tokens=400).length_ratio == 1.0
    assert _score(SCENE, max_new_tokens=None, tokens=10).length_ratio is None
    assert _score(SCENE, max_new_tokens=100, tokens=None).length_ratio is None


def test_memorised_vs_original():
    index = other_projects_index([("The Flood (project 7)", CORPUS_TEXT)])
    copied = " ".join(CORPUS_TEXT.split()[:45])
    memorised = _score(f"{copied}\n\nMARTHA\nYou're late.\n", indexes=[index])
    assert memorised.copied_words == 45
    assert memorised.copied_source == "The Flood (project 7)"
    assert memorised.copied_excerpt == copied
    assert memorised.memorised

    short = " ".join(CORPUS_TEXT.split()[:30])
    partly = _score(f"{short}\n", indexes=[index], memorisation_words=40)
    assert partly.copied_words == 30 and not partly.memorised

    original = _score(SCENE, indexes=[index])
    assert original.copied_words == 0 and original.copied_source == ""
    assert not original.memorised


def test_longest_span_over_several_indexes():
    a = other_projects_index([("a", CORPUS_TEXT)])
    b = other_projects_index([("b", SCENE)])
    s = _score(SCENE, indexes=[a, b], memorisation_words=20)
    assert s.copied_source == "b" and s.memorised
