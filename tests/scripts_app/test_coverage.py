"""Coverage (scripts_app/formats/coverage.py): counts checked by hand, every problem kind
with a near miss, structure, interactions, emotion, attribute shares, agreement with
``reports.script_report`` and with screenplain, and robustness. No database."""

import io
import pickle
import time

import pytest

from scripts_app.formats import reports
from scripts_app.formats.coverage import (
    NOT_SET,
    PROBLEM_KINDS,
    SceneInput,
    coverage,
    names_look_alike,
    parse_heading,
)

from .formats import generate

# --- a small script counted by hand -------------------------------------------------------

SCENES = [
    SceneInput(
        10,
        "INT. KITCHEN - NIGHT",
        "Rain hammers the window. MARA stirs a pot.\n"  # line 1, 8 action words
        "\n"
        "MARA\n"  # line 3
        "Dinner is almost ready.\n"  # 4 words, 1 line
        "\n"
        "JONAH\n"  # line 6
        "(quietly)\n"
        "I am not hungry tonight.\n"  # 5 words, 1 line
        "\n"
        "MARA\n"  # line 10
        "You never are.",  # 3 words, 1 line
        cast=("Mara", "jonah"),
    ),
    SceneInput(
        11,
        "EXT. HARBOR - DAY",
        "Gulls wheel over the boats. JONAH walks the pier.\n"  # 9 action words
        "He stops at the edge.\n"  # 5 action words; one paragraph of 2 printed lines
        "\n"
        "JONAH\n"
        "The sea looks calm this morning. It always lies.\n"  # 9 words, 48 chars: 2 lines
        "\n"
        "DOCKHAND\n"
        "Ferry's late again.",  # 3 words, 1 line
        act="ACT ONE",
    ),
    SceneInput(
        12,
        "INT. KITCHEN - DAY",
        "MARA\n"
        "I found the letter you hid behind the clock, Jonah.\n"  # 10 words, 51 chars: 2 lines
        "\n"
        "JONAH\n"
        "Then you know why I have to leave.\n"  # 8 words, 34 chars: 1 line
        "\n"
        "MARA\n"
        "~Leave me the light,\n"  # lyrics: 4 words, 1 line
        "~leave me the door.",  # lyrics: 4 words, 1 line
        act="ACT ONE",
    ),
    SceneInput(
        13,
        "EXT. ROOFTOP - NIGHT",
        "The city sleeps below. Wind tugs at the laundry lines.\n"  # 10 words, 1 line
        "\n"
        "Far off, a siren rises and fades.\n"  # 7 words, 1 line
        "\n"
        "Nobody answers.\n"  # 2 words, 1 line: a run of 3 printed lines
        "\n"
        "MARA\n"
        "Jonah?",  # 1 word, 1 line
        act="ACT TWO",
    ),
]
# By hand:
#   MARA:     speeches 2 + 0 + 2 + 1 = 5; words 7 + 18 + 1 = 26; lines 2 + 4 + 1 = 7
#   JONAH:    speeches 1 + 1 + 1 = 3;     words 5 + 9 + 8 = 22;  lines 1 + 2 + 1 = 4
#   DOCKHAND: speeches 1;                 words 3;               lines 1
HAND = {
    "MARA": (5, 26, 7, [0, 2, 3]),
    "JONAH": (3, 22, 4, [0, 1, 2]),
    "DOCKHAND": (1, 3, 1, [1]),
}


def joined(scenes):
    return "\n\n".join(f"{s.heading}\n\n{s.text}" for s in scenes)


def kinds(result, kind):
    return [p for p in result.problems if p.kind == kind]


def one(heading="INT. ROOM - DAY", text="", **kw):
    return SceneInput(1, heading, text, **kw)


def test_hand_counted_characters():
    cov = coverage(SCENES)
    got = {c.name: (c.speeches, c.words, c.dialogue_lines, c.scenes) for c in cov.characters}
    assert got == HAND
    assert [c.name for c in cov.characters] == ["MARA", "JONAH", "DOCKHAND"]  # most words
    mara = cov.characters[0]
    assert (mara.first_scene, mara.last_scene) == (0, 3)


def test_hand_counted_scenes():
    cov = coverage(SCENES)
    rows = [(s.dialogue_words, s.action_words, s.longest_action_lines) for s in cov.scenes]
    assert rows == [(12, 8, 1), (12, 14, 2), (26, 0, 0), (1, 19, 3)]
    s0 = cov.scenes[0]
    assert s0.dialogue_share == pytest.approx(12 / 20)
    assert cov.scenes[2].dialogue_share == 1.0
    assert (s0.key, s0.int_ext, s0.time, s0.location) == (10, "INT", "NIGHT", "KITCHEN")
    assert s0.speakers == ["MARA", "JONAH"]
    # Scene 2: MARA's first speech is 10 words, her sung one 8, JONAH's 8.
    assert (cov.scenes[2].longest_speech_words, cov.scenes[2].longest_speech_speaker) == (
        10,
        "MARA",
    )
    assert cov.problems == []  # a clean script


def test_totals_match_script_report():
    cov = coverage(SCENES)
    rep = reports.script_report(joined(SCENES))
    assert cov.eighths == sum(s.eighths for s in rep.scenes)
    assert [s.eighths for s in cov.scenes] == [s.eighths for s in rep.scenes]
    assert cov.pages == rep.pages
    assert {c.name: (c.words, c.dialogue_lines, c.speeches) for c in cov.characters} == {
        c.name: (c.words, c.dialogue_lines, c.speeches) for c in rep.characters
    }


def test_totals_match_script_report_on_a_feature():
    scenes = [
        SceneInput(i, h, t)
        for i, (h, t) in enumerate(generate.split_scenes(generate.feature_text()))
    ]
    cov = coverage(scenes)
    rep = reports.script_report(joined(scenes))
    assert cov.pages == rep.pages
    assert abs(cov.eighths - sum(s.eighths for s in rep.scenes)) <= len(rep.scenes) // 10
    assert [(c.name, c.words) for c in cov.characters] == [
        (c.name, c.words) for c in rep.characters
    ]


def test_screenplain_counts_agree():
    sp = pytest.importorskip("screenplain.parsers.fountain")
    from screenplain.types import Dialog, DualDialog, Slug

    play = sp.parse(io.StringIO(joined(SCENES)))
    headings = 0
    cues: dict[str, int] = {}
    for para in play.paragraphs:
        if isinstance(para, Slug):
            headings += 1
        dialogs = [para.left, para.right] if isinstance(para, DualDialog) else [para]
        for d in dialogs:
            if isinstance(d, Dialog):
                name = str(d.character).split("(")[0].strip().upper()
                cues[name] = cues.get(name, 0) + 1
    cov = coverage(SCENES)
    assert headings == len(cov.scenes) == 4
    assert cues == {c.name: c.speeches for c in cov.characters}


# --- structure, interactions ---------------------------------------------------------------


def test_structure():
    cov = coverage(SCENES)
    e = [s.eighths for s in cov.scenes]
    st = cov.structure
    assert st.int_ext == {"INT": e[0] + e[2], "EXT": e[1] + e[3]}
    assert st.times == {"NIGHT": e[0] + e[3], "DAY": e[1] + e[2]}
    assert sum(st.int_ext.values()) == cov.eighths
    shares = [share for _, _, share in st.locations]
    assert 0 < sum(shares) <= 1 + 1e-9
    assert st.locations[0][0] == "KITCHEN" and st.locations[0][1] == e[0] + e[2]
    assert st.acts == [("ACT ONE", 1, e[1] + e[2]), ("ACT TWO", 3, e[3])]
    assert st.longest_action_blocks[0] == (3, 3)
    assert st.longest_speeches[0][:2] == ("MARA", 10)
    assert len(st.longest_speeches) == 5


@pytest.mark.parametrize(
    ("heading", "parts"),
    [
        ("INT. KITCHEN - NIGHT", ("INT", "NIGHT", "KITCHEN")),
        ("INT./EXT. CAR - MOVING - DAY", ("INT/EXT", "DAY", "CAR - MOVING")),
        ("I/E car", ("INT/EXT", "", "CAR")),
        ("EST. CITY - dawn", ("EXT", "DAWN", "CITY")),
        ("EXT. DINER - CONTINUOUS #18A#", ("EXT", "CONTINUOUS", "DINER")),
        (".FLASHBACK - DAY", ("", "DAY", "FLASHBACK")),
        ("", ("", "", "")),
    ],
)
def test_parse_heading(heading, parts):
    assert parse_heading(heading) == parts


def test_interactions():
    cov = coverage(SCENES)
    got = {(i.a, i.b): (i.shared_scenes, i.exchanges) for i in cov.interactions}
    # Scene 0: MARA, JONAH, MARA = 2 exchanges; scene 2 the same; scene 1 JONAH, DOCKHAND.
    assert got == {("JONAH", "MARA"): ([0, 2], 4), ("DOCKHAND", "JONAH"): ([1], 1)}
    assert cov.interactions[0].a == "JONAH"  # most exchanges first


# --- emotion -----------------------------------------------------------------------------

HAPPY = "Sunlight. Everyone laughs and hugs. It is a wonderful, joyful, beautiful day!"
GRIM = "The body lies in the mud. Blood everywhere. She screams in terror and grief."
FLAT = "He opens the door. He closes the door."


def test_emotion_happy_above_grim():
    cov = coverage([one(text=HAPPY), one(text=GRIM), one(text=""), one(text=FLAT)])
    happy, grim, empty, flat = cov.emotion
    assert happy.valence > 0.3 and grim.valence < -0.3
    assert happy.intensity > flat.intensity and grim.intensity > flat.intensity
    assert (empty.valence, empty.intensity) == (0, 0)
    assert all(-1 <= p.valence <= 1 and 0 <= p.intensity <= 1 for p in cov.emotion)
    # Centred average over 5 scenes, shrinking at the ends: scene 0 averages scenes 0-2.
    vs = [p.valence for p in cov.emotion]
    assert cov.emotion[0].smoothed == pytest.approx(sum(vs[:3]) / 3, abs=1e-3)


def test_dialogue_is_scored_too():
    cov = coverage([one(text="BOB\nI love you, this is wonderful!"), one(text="BOB\n(beat)\nHi.")])
    assert cov.emotion[0].valence > 0.5


def test_peaks_and_troughs():
    texts = [FLAT, HAPPY, HAPPY, HAPPY, FLAT, FLAT, GRIM, GRIM, GRIM, FLAT, FLAT]
    cov = coverage([one(text=t) for t in texts])
    assert cov.peaks and cov.troughs
    assert len(cov.peaks) <= 3 and len(cov.troughs) <= 3
    smoothed = [p.smoothed for p in cov.emotion]
    # One peak in the happy stretch, one trough in the grim one (a plateau at its middle).
    assert cov.peaks == [1] and smoothed[1] == max(smoothed)
    assert cov.troughs == [7] and smoothed[7] == min(smoothed)


# --- attribute shares --------------------------------------------------------------------


def test_attribute_shares():
    attributes = {
        "gender": {"Mara": "woman", "JONAH (V.O.)": "man", "WENDY": "nonbinary", "DOCKHAND": ""}
    }
    cov = coverage(SCENES, attributes=attributes)
    shares = dict(cov.shares["gender"])
    assert shares == pytest.approx(
        {"woman": 26 / 51, "man": 22 / 51, "nonbinary": 0.0, NOT_SET: 3 / 51}
    )
    assert sum(shares.values()) == pytest.approx(1)
    assert cov.shares["gender"][-1][0] == NOT_SET
    by_name = {c.name: c.attributes for c in cov.characters}
    assert by_name == {"MARA": {"gender": "woman"}, "JONAH": {"gender": "man"}, "DOCKHAND": {}}
    assert coverage(SCENES).shares == {}


# --- problems ----------------------------------------------------------------------------


def test_cue_without_dialogue():
    cov = coverage([one(text="He waits.\n\n@BOB\n\nBOB\n(beat)\n\nNobody answers.")])
    found = kinds(cov, "cue-without-dialogue")
    assert [(p.line, p.excerpt) for p in found] == [(3, "BOB"), (5, "BOB")]
    assert "BOB" in found[0].message
    assert kinds(cov, "dangling-parenthetical") == []  # one problem for a mute speech
    assert coverage([one(text="BOB\n(beat)\nHi there.")]).problems == []


def test_dangling_parenthetical():
    cov = coverage([one(text="Intro.\n\nBOB\nHello there.\n(beat)\n\nHe goes.")])
    [p] = cov.problems
    assert (p.kind, p.line, p.excerpt, p.scene_key) == ("dangling-parenthetical", 5, "(beat)", 1)
    assert coverage([one(text="BOB\n(beat)\nHello there.")]).problems == []


@pytest.mark.parametrize(
    ("a", "b", "alike"),
    [
        ("JON", "JOHN", True),
        ("MARAH", "MARA", True),
        ("KATHERINE", "KATHRINE", True),
        ("ELIZABETH", "ELISABETH", True),
        ("MRS. O'NEIL", "MRS O'NEIL", True),
        ("GUARD 1", "GUARD 2", False),
        ("GUARD #1", "GUARD #2", False),
        ("COP A", "COP B", False),
        ("TOM", "TIM", False),
        ("MAN", "WOMAN", False),
        ("MARA", "JONAH", False),
        ("AL", "AL.", False),
    ],
)
def test_names_look_alike(a, b, alike):
    assert names_look_alike(a, b) is alike
    assert names_look_alike(b, a) is alike


def test_similar_names():
    text = "JOHN\nHello.\n\nJON\nHi.\n\nJOHN\nBye.\n\nGUARD 1\nHalt.\n\nGUARD 2\nHalt!"
    cov = coverage([one(text=text)])
    [p] = cov.problems
    assert (p.kind, p.line, p.excerpt) == ("similar-names", 4, "JON")  # the rarer name
    assert "JON" in p.message and "JOHN" in p.message


def test_not_in_cast():
    text = "MARA (V.O.)\nHello.\n\nJON\nHi.\n\nJON\nAgain."
    cov = coverage([one(text=text, cast=("mara ", "Jonah"))])
    [p] = cov.problems
    assert (p.kind, p.line, p.excerpt) == ("not-in-cast", 4, "JON")
    assert p.message == "JON speaks here but is not in the scene's cast list."
    assert coverage([one(text=text)]).problems == []  # no cast list: unknown, not flagged


@pytest.mark.parametrize(
    ("heading", "missing"),
    [
        ("KITCHEN - NIGHT", "INT."),
        ("INT. KITCHEN", "time of day"),
        ("INT KITCHEN - NIGHT", "INT."),
        ("", "no heading"),
        ("KITCHEN", "neither"),
    ],
)
def test_heading_rule(heading, missing):
    cov = coverage([one(heading, "He waits.")])
    [p] = cov.problems
    assert (p.kind, p.line) == ("heading-rule", 0)
    assert missing in p.message


@pytest.mark.parametrize(
    "heading", ["INT. KITCHEN - NIGHT", "I/E. CAR - DAY", "EST. CITY - DAWN", ".FLASHBACK"]
)
def test_heading_rule_near_miss(heading):
    assert coverage([one(heading, "He waits.")]).problems == []


def test_long_scene():
    long_text = "\n\n".join(["He walks. " * 20] * 60)  # about 4 pages of action
    cov = coverage([one(text=long_text), one(text="He waits.")])
    [p] = cov.problems
    assert (p.kind, p.scene_index, p.line) == ("long-scene", 0, 0)
    assert cov.scenes[0].eighths > 24 and "pages" in p.message
    assert coverage([one(text=long_text)], long_scene_eighths=100).problems == []


def test_repeated_line():
    first = one(text="BOB\nI will never go back there.\n\nANN\nNo, thank you.")
    second = one(
        text="He sits.\n\nANN\nNo, thank you.\n\nBOB\nI will NEVER go back  there!\n\n"
        "BOB\nI will never go back here."
    )
    cov = coverage([first, second])
    [p] = cov.problems
    assert (p.kind, p.scene_index, p.line) == ("repeated-line", 1, 7)
    assert p.message == "Repeats a line from scene 1."
    same = coverage([one(text="BOB\nI will never go back.\n\nBOB\nI will never go back.")])
    assert [p.message for p in same.problems] == ["Repeats a line said earlier in this scene."]


def test_before_introduction():
    scenes = [one(text="MARA\nHello.\n\nJONAH\nHi."), one(text="JONAH\nAgain.")]
    cov = coverage(scenes, introductions=["Jonah", "Mara"])
    [p] = cov.problems
    assert (p.kind, p.scene_index, p.line) == ("before-introduction", 0, 1)
    assert p.message == "MARA speaks before JONAH, whom the outline introduces first."
    assert coverage(scenes, introductions=["MARA", "JONAH", "WENDY"]).problems == []
    assert coverage(scenes).problems == []


def test_problems_sorted_and_well_formed():
    scenes = [
        one("KITCHEN", "@BOB\n\nJOHN\nHello.\n(beat)", cast=("ann",)),
        one(text="JON\nHi there my friend.\n\nJON\nHi there my friend."),
    ]
    cov = coverage(scenes, introductions=["JON", "JOHN"])
    keys = [(p.scene_index, p.line) for p in cov.problems]
    assert keys == sorted(keys)
    assert {p.kind for p in cov.problems} <= set(PROBLEM_KINDS)
    assert all(len(p.excerpt) <= 80 and p.message.endswith((".", "?")) for p in cov.problems)


# --- robustness and speed ----------------------------------------------------------------


def test_empty_inputs():
    cov = coverage([])
    assert (cov.scenes, cov.characters, cov.problems, cov.pages, cov.eighths) == ([], [], [], 0, 0)
    assert (cov.peaks, cov.troughs, cov.emotion) == ([], [], [])
    cov = coverage([one(text="")])
    s = cov.scenes[0]
    assert (s.dialogue_words, s.action_words, s.dialogue_share, s.eighths) == (0, 0, 0.0, 1)
    assert cov.emotion[0].valence == 0
    pickle.loads(pickle.dumps(coverage(SCENES, attributes={"age": {"MARA": "40s"}})))


def test_text_that_looks_like_a_title_page_or_holds_a_heading():
    cov = coverage([one(text="Note: this is action.\n\nINT. OTHER - DAY\n\nBOB\nHi.")])
    assert len(cov.scenes) == 1
    assert cov.scenes[0].action_words == 8
    assert cov.characters[0].name == "BOB"


def feature_scenes(n: int, seed: int = 7) -> list[SceneInput]:
    text = generate.feature_script(scenes=n, seed=seed)
    return [SceneInput(i, h, t) for i, (h, t) in enumerate(generate.split_scenes(text))]


def test_speed_of_a_feature():
    scenes = feature_scenes(145)
    start = time.perf_counter()
    cov = coverage(scenes)
    took = time.perf_counter() - start
    print(f"coverage of {cov.pages} pages, {len(scenes)} scenes: {took:.3f} s")
    assert 110 <= cov.pages <= 130  # the time is the benchmark's (bench/bench_coverage.py)


def test_two_thousand_scenes():
    base = feature_scenes(140, seed=3)
    scenes = [
        SceneInput(i, base[i % len(base)].heading, base[i % len(base)].text) for i in range(2000)
    ]
    start = time.perf_counter()
    cov = coverage(scenes)
    took = time.perf_counter() - start
    print(f"coverage of {cov.pages} pages, {len(scenes)} scenes: {took:.3f} s")
    assert len(cov.scenes) == len(scenes) and cov.pages > 1000
