"""Story-level parsers and prompts (generation.core.storylevels): pure functions, no DB."""

from __future__ import annotations

import pytest

from generation.core.storylevels import (
    HEADINGS,
    LEVELS,
    ROLE_KEYS,
    ProposedBeat,
    ProposedCharacter,
    format_beats,
    format_characters,
    heading_act,
    level_heading,
    level_prompt_text,
    parse_beats,
    parse_brief,
    parse_characters,
    parse_logline,
    parse_role,
    task_instruction,
)

# ----------------------------------------------------------------------------- fixtures

CHATGPT_CHARACTERS = """Sure! Here are three new characters for your story:

### Characters

**1. Mara Voss** – *Protagonist*: A salvage pilot who owes everyone money.
- **Want:** to buy back her ship
- **Need:** to let someone help her
- **Flaw:** trusts no one
- **Arc:** lone wolf → crew captain

**2. Jonah Kell** – *Antagonist*: A debt broker with a soft voice.
   - Voice: polite, patient, terrifying

**3. Zoë Marchetti** (love interest)
A mechanic who fixes what she shouldn't.

Let me know if you'd like more!"""

NAME_ROLE_FORM = """## New characters

Name: Mara Voss
Role: Protagonist
Description: A salvage pilot.
Want: her ship back

Name: Dr. Ilse Brandt
Role: mentor figure
Description: The station's only doctor.
Arc: From healer to fighter
"""

LOOSE_LIST = """1. MARA VOSS — protagonist
2. Jonah Kell, the villain
3. - **Pia Lund** (Sidekick): a kid who hacks locks
4. Ana Reyes, a pilot
5. Mara Voss — a second Mara, dropped
"""

CHATGPT_BEATS = """Here are the beats for Act 2:

## Act 2: The Heist

1. **The wreck** — Mara finds the derelict freighter drifting off Kestrel Station. [A]
2. **The offer**: Jonah offers to pay her debts if she flies one job. (A, B)
   She refuses at first.
3. Beat 3: The crew
   - Mara recruits Pia and Ilse.
   - Plotline: C

These beats set up the midpoint."""

SHAKESPEARE = """To be, or not to be, that is the question: whether 'tis nobler in the mind to
suffer the slings and arrows of outrageous fortune, or to take arms against a sea of
troubles, and by opposing end them. To die, to sleep; no more; and by a sleep to say we
end the heart-ache and the thousand natural shocks that flesh is heir to.

O Romeo, Romeo, wherefore art thou Romeo? Deny thy father and refuse thy name, or, if
thou wilt not, be but sworn my love, and I'll no longer be a Capulet.
"""

GARBAGE = [
    "",
    "   \n\n \t ",
    "\x00\x01",
    "\x00\x01\x02 \x7f\ufffd\ud7ff" * 50,
    "- " * 50_000,
    "**" * 50_000,
    "1." * 50_000,
    "1. " * 50_000,
    "[" * 100_000 + "A" * 100_000,
    "(" * 200_000,
    "Want: " * 40_000,
    "# " * 100_000,
    "a" * 200_000,
    ("word " * 40_000),
    "—" * 200_000,
]


# ----------------------------------------------------------------------------- headings


def test_levels_and_headings():
    assert LEVELS == ("logline", "characters", "beats", "brief")
    assert "scene" not in LEVELS
    assert set(HEADINGS) == set(LEVELS)
    assert HEADINGS["brief"] == "STORY — SCENE BRIEF"


def test_level_heading_beats_with_act():
    assert level_heading("beats", 2) == "STORY — BEATS, ACT 2"
    assert level_heading("beats") == "STORY — BEATS"
    assert level_heading("logline", 2) == "STORY — LOGLINE"
    assert level_heading("characters") == "STORY — CHARACTERS"


@pytest.mark.parametrize("fn", [level_heading, task_instruction])
def test_unknown_kind_raises(fn):
    with pytest.raises(ValueError):
        fn("scene")
    with pytest.raises(ValueError):
        fn("")


def test_level_prompt_text_unknown_kind_raises():
    with pytest.raises(ValueError):
        level_prompt_text("outline", "ctx")


def test_task_instruction_mentions_format():
    assert "logline" in task_instruction("logline").lower()
    chars = task_instruction("characters")
    for label in ("Want:", "Need:", "Flaw:", "Arc:", "Voice:", "(role)"):
        assert label in chars
    assert "act 3" in task_instruction("beats", 3)
    assert "[A]" in task_instruction("beats")
    assert "brief" in task_instruction("brief").lower()


def test_level_prompt_text_shape():
    text = level_prompt_text("beats", "Title: Kestrel\nLogline: Mara flies.", act=2)
    assert text == (
        "STORY — BEATS, ACT 2\n\nTitle: Kestrel\nLogline: Mara flies.\n\n"
        + task_instruction("beats", 2)
        + "\n\n"
    )
    logline = level_prompt_text("logline", "ctx")
    assert logline.startswith("STORY — LOGLINE\n\nctx\n\n")
    assert logline.endswith("\n\nLogline:")
    assert level_prompt_text("brief", "") == level_prompt_text("brief", "")


# ----------------------------------------------------------------------------- roles


@pytest.mark.parametrize(
    "text, key",
    [
        ("Protagonist", "protagonist"),
        ("the antagonist", "antagonist"),
        ("love interest", "love_interest"),
        ("Love-interest", "love_interest"),
        ("love_interest", "love_interest"),
        ("lead", "protagonist"),
        ("villain", "antagonist"),
        ("sidekick", "ally"),
        ("*Mentor*", "mentor"),
        ("mentor figure", "mentor"),
        ("supporting character", "supporting"),
        ("Deuteragonist", "deuteragonist"),
        ("main antagonist", "antagonist"),
        ("minor", "minor"),
        ("salvage pilot", ""),
        ("", ""),
        ("x" * 500, ""),
    ],
)
def test_parse_role(text, key):
    assert parse_role(text) == key


def test_role_keys_parse_to_themselves():
    for key in ROLE_KEYS:
        assert parse_role(key) == key
        assert parse_role(key.replace("_", " ").title()) == key


# ----------------------------------------------------------------------------- characters

CAST = [
    ProposedCharacter(
        name="MARA VOSS",
        role="protagonist",
        description="A salvage pilot who owes everyone money.",
        want="to buy back her ship",
        need="to let someone help her",
        flaw="trusts no one",
        arc_start="lone wolf",
        arc_end="crew captain",
        voice="clipped, dry, never says please",
    ),
    ProposedCharacter(name="ZOË"),
    ProposedCharacter(name="JOSÉ O'NEIL-DÍAZ", role="love_interest", want="a way out"),
    ProposedCharacter(name="DR. ILSE BRANDT", description="Doctor.", arc_start="healer"),
    ProposedCharacter(name="PIA", arc_start="wants to hide"),
    ProposedCharacter(name="KAI", arc_end="a leader", voice="sing-song"),
    ProposedCharacter(name="李 娜", role="minor"),
]


def test_format_characters_canonical_block():
    assert format_characters(CAST[:2]) == (
        "MARA VOSS (protagonist)\n"
        "A salvage pilot who owes everyone money.\n"
        "Want: to buy back her ship\n"
        "Need: to let someone help her\n"
        "Flaw: trusts no one\n"
        "Arc: lone wolf -> crew captain\n"
        "Voice: clipped, dry, never says please\n"
        "\n"
        "ZOË"
    )


def test_characters_round_trip():
    text = format_characters(CAST)
    assert parse_characters(text, limit=20) == CAST


def test_characters_round_trip_each_alone():
    for c in CAST:
        assert parse_characters(format_characters([c])) == [c]


def test_parse_canonical_example_from_brief():
    text = (
        "MARA VOSS (protagonist)\nA salvage pilot who owes everyone money.\n"
        "Want: to buy back her ship\nNeed: to let someone help her\nFlaw: trusts no one\n"
        "Arc: lone wolf -> crew captain\nVoice: clipped, dry, never says please"
    )
    assert parse_characters(text) == [CAST[0]]


def test_arc_separators():
    (c,) = parse_characters("MARA\nArc: lone wolf to crew captain")
    assert (c.arc_start, c.arc_end) == ("lone wolf", "crew captain")
    (c,) = parse_characters("MARA\narc: lone wolf → crew captain")
    assert (c.arc_start, c.arc_end) == ("lone wolf", "crew captain")
    (c,) = parse_characters("MARA\nARC: stays the same")
    assert (c.arc_start, c.arc_end) == ("stays the same", "")


def test_parse_chatgpt_markdown_characters():
    chars = parse_characters(CHATGPT_CHARACTERS)
    assert [c.name for c in chars] == ["MARA VOSS", "JONAH KELL", "ZOË MARCHETTI"]
    mara, jonah, zoe = chars
    assert mara.role == "protagonist"
    assert mara.description == "A salvage pilot who owes everyone money."
    assert (mara.want, mara.need, mara.flaw) == (
        "to buy back her ship",
        "to let someone help her",
        "trusts no one",
    )
    assert (mara.arc_start, mara.arc_end) == ("lone wolf", "crew captain")
    assert jonah.role == "antagonist"
    assert jonah.voice == "polite, patient, terrifying"
    assert zoe.role == "love_interest"
    assert zoe.description == "A mechanic who fixes what she shouldn't."


def test_parse_name_role_label_form():
    chars = parse_characters(NAME_ROLE_FORM)
    assert chars == [
        ProposedCharacter(
            name="MARA VOSS",
            role="protagonist",
            description="A salvage pilot.",
            want="her ship back",
        ),
        ProposedCharacter(
            name="DR. ILSE BRANDT",
            role="mentor",
            description="The station's only doctor.",
            arc_start="From healer",
            arc_end="fighter",
        ),
    ]


def test_parse_loose_list_and_dupes():
    chars = parse_characters(LOOSE_LIST)
    assert [(c.name, c.role, c.description) for c in chars] == [
        ("MARA VOSS", "protagonist", ""),
        ("JONAH KELL", "antagonist", ""),
        ("PIA LUND", "ally", "a kid who hacks locks"),
        ("ANA REYES", "", "a pilot"),
    ]


def test_duplicate_keeps_first_block_fields():
    text = "MARA (protagonist)\nWant: her ship\n\nMara (villain)\nWant: revenge"
    assert parse_characters(text) == [
        ProposedCharacter(name="MARA", role="protagonist", want="her ship")
    ]


def test_characters_limit():
    text = format_characters(ProposedCharacter(name=f"PERSON {chr(65 + i)}") for i in range(20))
    assert len(parse_characters(text)) == 12
    got = parse_characters(text, limit=3)
    assert [c.name for c in got] == ["PERSON A", "PERSON B", "PERSON C"]
    assert parse_characters(text, limit=0) == []


def test_invalid_names_skipped():
    text = (
        "MARA VOSS\n\n"
        "R2-D2 (ally)\nA droid.\n\n"  # digits
        "ONE TWO THREE FOUR FIVE SIX SEVEN\n\n" + "A" * 101 + "\n\n"  # seven words
        "Mara Voss!!\n\n"
        "### Characters\n\n"
        "JONAH"
    )
    assert [c.name for c in parse_characters(text)] == ["MARA VOSS", "JONAH"]


def test_field_caps():
    text = "MARA\n" + "word " * 2000 + "\nWant: " + "w" * 3000 + "\nVoice: " + "v " * 3000
    (c,) = parse_characters(text)
    assert len(c.description) <= 5000
    assert len(c.want) <= 1000
    assert len(c.voice) <= 2000


def test_characters_prose_is_not_a_cast():
    assert parse_characters(SHAKESPEARE) == []


@pytest.mark.parametrize("text", GARBAGE, ids=range(len(GARBAGE)))
def test_characters_garbage(text):
    for c in parse_characters(text):
        assert isinstance(c, ProposedCharacter)
        assert 1 <= len(c.name) <= 100
        assert c.name == c.name.upper()
        assert any(ch.isalpha() for ch in c.name)
        assert c.role in ROLE_KEYS or c.role == ""


def test_characters_non_string_input():
    assert parse_characters(None) == []  # type: ignore[arg-type]
    assert parse_characters(b"MARA") == []  # type: ignore[arg-type]


def test_input_capped_at_20000_chars():
    late = "\n\n" + "x" * 20_000 + "\n\nMARA VOSS (protagonist)"
    assert parse_characters("JONAH" + late) == [ProposedCharacter(name="JONAH")]


# ----------------------------------------------------------------------------- beats

BEATS = [
    ProposedBeat(
        "The wreck", "Mara finds the derelict freighter drifting off Kestrel Station.", ("A",)
    ),
    ProposedBeat("The offer", "Jonah offers to pay her debts if she flies one job.", ("A", "B")),
    ProposedBeat("Zoë's garage"),
    ProposedBeat("José sings", "", ("C",)),
    ProposedBeat("Midpoint: the reveal"),
    ProposedBeat("Quiet", "They sit in the dark — nobody speaks.", ("A2", "B")),
]


def test_format_beats_canonical():
    assert format_beats(BEATS[:3]) == (
        "1. The wreck — Mara finds the derelict freighter drifting off Kestrel Station. [A]\n"
        "2. The offer — Jonah offers to pay her debts if she flies one job. [A, B]\n"
        "3. Zoë's garage"
    )


def test_beats_round_trip():
    assert parse_beats(format_beats(BEATS)) == BEATS
    for beat in BEATS:
        assert parse_beats(format_beats([beat])) == [beat]


def test_parse_chatgpt_beats():
    assert parse_beats(CHATGPT_BEATS) == [
        ProposedBeat(
            "The wreck", "Mara finds the derelict freighter drifting off Kestrel Station.", ("A",)
        ),
        ProposedBeat(
            "The offer",
            "Jonah offers to pay her debts if she flies one job. She refuses at first.",
            ("A", "B"),
        ),
        ProposedBeat("The crew", "Mara recruits Pia and Ilse.", ("C",)),
    ]


def test_parse_beat_variants():
    text = (
        "ACT TWO:\n"
        "Beats:\n"
        "- The wreck: Mara finds it. [a]\n"
        "* **The offer** Jonah offers a job.\n"
        "• The crew — Mara recruits. [B/C]\n"
        "Beat 4: The heist\n"
        "---\n"
        "5. [A] The escape — they run.\n"
    )
    got = parse_beats(text)
    assert [(b.title, b.summary, b.plotlines) for b in got] == [
        ("The wreck", "Mara finds it.", ("A",)),
        ("The offer", "Jonah offers a job.", ()),
        ("The crew", "Mara recruits.", ("B", "C")),
        ("The heist", "", ()),
        ("The escape", "they run.", ("A",)),
    ]


def test_parse_beats_blocks_without_list_markers():
    text = "Act 2\n\nThe wreck\nMara finds the freighter.\nIt is empty.\n\nThe offer\nJonah calls."
    assert parse_beats(text) == [
        ProposedBeat("The wreck", "Mara finds the freighter. It is empty."),
        ProposedBeat("The offer", "Jonah calls."),
    ]


def test_parse_beats_title_colon_lines_without_markers():
    text = "The wreck: Mara finds it.\nThe offer: Jonah offers."
    assert parse_beats(text) == [
        ProposedBeat("The wreck", "Mara finds it."),
        ProposedBeat("The offer", "Jonah offers."),
    ]


def test_long_title_overflows_into_summary():
    words = "word " * 100
    (beat,) = parse_beats(f"1. {words}")
    assert len(beat.title) <= 200
    assert not beat.title.endswith(" ")
    assert (beat.title + " " + beat.summary).split() == words.split()
    (beat,) = parse_beats(f"1. {words}— tail")
    assert beat.summary.endswith("tail")


def test_beats_limit_and_caps():
    text = "\n".join(f"{i}. Beat title {i} — what happens" for i in range(1, 41))
    got = parse_beats(text)
    assert len(got) == 30
    assert got[-1].title == "Beat title 30"
    (long,) = parse_beats("1. Long — " + "s " * 6000)
    assert 4990 <= len(long.summary) <= 5000
    assert len(parse_beats(text, limit=5)) == 5
    assert parse_beats(text, limit=0) == []


def test_plotline_tags():
    (beat,) = parse_beats("1. Chase — over the roofs [a-plot, B]")
    assert beat.plotlines == ("A", "B")
    (beat,) = parse_beats("1. Flashback — the fire [flashback]")
    assert beat.plotlines == ()
    assert beat.summary == "the fire [flashback]"
    (beat,) = parse_beats("1. Dinner — she says no (politely)")
    assert beat.plotlines == ()


@pytest.mark.parametrize("text", GARBAGE, ids=range(len(GARBAGE)))
def test_beats_garbage(text):
    got = parse_beats(text)
    assert len(got) <= 30
    for b in got:
        assert 1 <= len(b.title) <= 200
        assert len(b.summary) <= 5000
        assert all(1 <= len(p) <= 4 and p == p.upper() for p in b.plotlines)


def test_beats_garbage_without_letters_is_empty():
    for text in ["", "\x00\x01", "- " * 50_000, "**" * 50_000, "1." * 50_000, "---\n***\n1.\n"]:
        assert parse_beats(text) == []


def test_beats_from_a_model_that_wrote_a_scene_are_not_its_speeches():
    text = (
        "INT. STATION - NIGHT\n\nVOSS and the crew wait.\n\nMARA\nI am dead, sir.\n\n"
        "JONAH\nAy, my lord.\n\nMARA (V.O.)\nCome, come.\n\nMR. VOSS\nIs it a maid?\n"
    )
    assert [b.title for b in parse_beats(text)] == ["VOSS and the crew wait."]
    # Capital titles that never repeat are the model's cards.
    cards = "THE CRASH\nMara's ship goes down.\n\nTHE RESCUE\nJonah finds her."
    assert [b.title for b in parse_beats(cards)] == ["THE CRASH", "THE RESCUE"]


def test_beats_prose_only_valid_items():
    for b in parse_beats(SHAKESPEARE):
        assert 1 <= len(b.title) <= 200


# ----------------------------------------------------------------------------- logline


@pytest.mark.parametrize(
    "text, want",
    [
        ("Logline: Mara must fly one last job.", "Mara must fly one last job."),
        ('**Logline:** "Mara must fly one last job."', "Mara must fly one last job."),
        ("# Logline\n\n“Mara  must\tfly.”\nSecond line.", "Mara must fly."),
        ("Here's a logline for your story:\n\nMara flies.", "Mara flies."),
        ("- LOG LINE — Mara flies.", "Mara flies."),
        # A house model that wrote a scene: its cue and heading are not the logline.
        ("INT. DOCK - NIGHT\n\nMARA\nI must fly, my lord.", "I must fly, my lord."),
        ("MARA MUST FLY ONE LAST JOB", "MARA MUST FLY ONE LAST JOB"),
        ("\n\n  \n", ""),
        ("1234 !!!", ""),
        ("\x00\x01", ""),
        ("", ""),
    ],
)
def test_parse_logline(text, want):
    assert parse_logline(text) == want


def test_logline_word_boundary_cut():
    text = "Mara the salvage pilot flies " * 100
    got = parse_logline(text, limit=30)
    assert got == "Mara the salvage pilot flies"
    assert len(parse_logline(text)) <= 1000
    assert parse_logline("x" * 200_000, limit=10) == "x" * 10


# ----------------------------------------------------------------------------- brief


def test_parse_brief():
    text = "  Brief: Mara **argues** with Jonah.\n\n\n\n## She loses.\n> He leaves.\n\n"
    assert parse_brief(text) == "Mara argues with Jonah.\n\nShe loses.\nHe leaves."
    assert parse_brief("Synopsis:\n\nMara wakes.") == "Mara wakes."
    assert parse_brief("") == ""
    assert parse_brief("\x00\x01") == ""
    assert parse_brief("- " * 50_000) == ""
    assert parse_brief("1. " * 50_000) == ""


def test_a_brief_from_a_model_that_wrote_a_scene_keeps_its_action():
    scene = (
        "INT. STATION - NIGHT\n\nMara waits by the lamp.\n\nMARA\nI am dead, sir.\n\n"
        "JONAH\nAy.\n\nMARA\nCome.\n"
    )
    assert parse_brief(scene) == "Mara waits by the lamp."
    assert parse_brief("MARA\nI am dead.\n\nMARA\nStill.") == ""
    # One speech in a brief is the brief's own (no cue comes back).
    assert parse_brief("Mara breaks.\n\nMARA\nNo more.") == "Mara breaks.\n\nMARA\nNo more."


def test_brief_cap_at_word_boundary():
    text = "Mara argues with Jonah. " * 500
    got = parse_brief(text, limit=100)
    assert len(got) <= 100
    assert text.startswith(got)
    assert got.endswith(("Jonah.", "argues", "with", "Mara"))
    assert len(parse_brief("y " * 200_000)) <= 2000


def test_heading_act_reads_back_level_heading():
    assert heading_act(level_heading("beats", 2)) == 2
    assert heading_act(level_heading("beats")) is None
    assert heading_act(level_heading("logline")) is None
    assert heading_act("INT. HOUSE, ACT 2") is None
    assert heading_act("") is None
