"""Draft metrics on real Fountain snippets: cues, cast, format, repetition, aggregates."""

import pytest

from generation.core.storyeval import (
    cue_on_cast,
    cues,
    every_member_speaks,
    format_valid,
    has_repetition,
    measure,
    summarize,
)

VALID = """INT. DINER - NIGHT

Rain streaks the windows. CLAIRE (40s) slides into a booth across from JUNE (30s).

CLAIRE (V.O.)
I didn't think you'd come.

JUNE
(stirring her coffee)
Neither did I.

CLAIRE
The realtor called again this morning.

JUNE
Of course she did.

CUT TO:
"""

CUE_WITHOUT_DIALOGUE = """INT. DINER - NIGHT

CLAIRE
(a long beat)

JUNE
Say something.
"""

ORPHAN_CUE = """EXT. PARKING GARAGE - DAY

JUNE

You're late again.

CLAIRE
Traffic.
"""

EXEUNT = """INT. KITCHEN - NIGHT

CLAIRE
Then let us go.

Exeunt.
"""

EXIT_PARENTHETICAL = """MALIK
(exit, pursued)
Goodbye.
"""

LOOP = """INT. MOTEL ROOM - DAWN

DELIA
I know what you did, I know what you did, I know what you did.

TOMMY
Okay.
"""

REPEATED_LINE = """INT. MOTEL ROOM - DAWN

DELIA
Where did you put the money?

TOMMY
I don't know.

DELIA
Where did you put the money?!
"""


def test_cues_in_order_by_the_grammar():
    assert cues(VALID) == ["CLAIRE", "JUNE", "CLAIRE", "JUNE"]
    assert cues(CUE_WITHOUT_DIALOGUE) == ["CLAIRE", "JUNE"]
    assert cues(ORPHAN_CUE) == ["CLAIRE"]  # "JUNE" alone between blank lines is action
    assert cues("CUT TO:\n\nINT. HOUSE - DAY\n\nNobody.") == []
    assert cues("") == [] and cues(None) == []  # type: ignore[arg-type]


def test_cue_on_cast_and_every_member_speaks():
    assert cue_on_cast(VALID, ("CLAIRE", "JUNE")) == (4, 4)
    assert cue_on_cast(VALID, ["claire", "Dev"]) == (2, 4)
    assert cue_on_cast("", ("CLAIRE",)) == (0, 0)
    assert every_member_speaks(VALID, ("claire", "JUNE"))
    assert not every_member_speaks(VALID, ("CLAIRE", "JUNE", "DEV"))
    assert not every_member_speaks(ORPHAN_CUE, ("CLAIRE", "JUNE"))
    assert every_member_speaks(VALID, ())


def test_format_valid():
    assert format_valid(VALID)
    assert format_valid("Claire waits in the rain.")  # one action element
    assert format_valid("CLAIRE\nHello.\n\nJUNE")  # a last cue cut by the token limit
    assert format_valid("!SILENCE.\n\nCLAIRE\nHello.")  # forced action
    assert not format_valid(CUE_WITHOUT_DIALOGUE)
    assert not format_valid("JUNE\nHi.\n\nCLAIRE\n(beat)")
    assert not format_valid(ORPHAN_CUE)
    assert not format_valid(EXEUNT)
    assert not format_valid(EXIT_PARENTHETICAL)
    assert not format_valid("Enter CLAIRE and JUNE.\n\nCLAIRE\nHi.")
    assert not format_valid("CLAIRE\nHi.\n\nRe-enter JUNE.")
    assert not format_valid("CLAIRE\nHi.\n\n[Manet Claire]")
    assert format_valid("Entering the diner, CLAIRE shakes off the rain.")  # not "Enter"
    assert format_valid("CLAIRE\nThe exit is over there.")
    assert not format_valid("") and not format_valid("\n \n")


def test_has_repetition():
    assert not has_repetition(VALID)
    assert has_repetition(LOOP)
    assert has_repetition(REPEATED_LINE)
    # Cue lines and transitions recur by design; short lines may too.
    assert not has_repetition("CUT TO:\n\nA.\n\nCUT TO:\n\nB.\n\nCLAIRE\nNo.\n\nCLAIRE\nNo.")
    # A 4-gram twice is not a loop; three times is.
    assert not has_repetition("one two three four five. one two three four six.")
    assert has_repetition("one two three four. One, two three four! one two three FOUR")
    assert not has_repetition("") and not has_repetition("😀 " * 1000 + "x")


def test_measure_and_summarize():
    records = [
        {"text": VALID, "cast": ["CLAIRE", "JUNE"], "instruction": ["transition", True]},
        {"text": LOOP, "cast": ["DELIA", "TOMMY"], "instruction": ["speakers", ["DELIA"]]},
        {"text": EXEUNT, "cast": ["CLAIRE", "JUNE"], "instruction": None},
        {"text": "Nothing but action.", "cast": ["CLAIRE"]},
    ]
    m = measure(VALID, ["CLAIRE", "JUNE"], ("speakers", ("CLAIRE", "JUNE")))
    assert m["cues"] == ["CLAIRE", "JUNE", "CLAIRE", "JUNE"] and m["instruction_ok"] is True
    assert measure("", ())["instruction_ok"] is None
    s = summarize(records)
    assert s["drafts"] == 4
    assert s["cues"] == 4 + 2 + 1
    assert s["cue_on_cast"] == pytest.approx(7 / 7)
    assert s["every_member_speaks"] == pytest.approx(2 / 4)
    assert s["with_cue"] == pytest.approx(3 / 4)
    assert s["format_valid"] == pytest.approx(3 / 4)  # EXEUNT fails
    assert s["repetition"] == pytest.approx(1 / 4)
    assert s["instructed"] == 2 and s["instruction"] == pytest.approx(1 / 2)
    assert s["instruction_transition"] == 1.0 and s["instructed_transition"] == 1
    assert s["instruction_speakers"] == 0.0  # TOMMY speaks too
    assert s["instruction_word"] is None and s["instructed_word"] == 0
    # Records that already carry measure()'s keys are not measured again.
    pre = [{**r, **measure(r["text"], r["cast"], r.get("instruction"))} for r in records]
    assert summarize(pre) == s
    empty = summarize([])
    assert empty["drafts"] == 0 and empty["cue_on_cast"] is None and empty["instruction"] is None
