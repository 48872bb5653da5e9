from scripts_app.formats.pagination import page_count
from scripts_app.formats.reports import SceneReport, script_report

from . import generate

TEXT = (
    "Title: T\n\n"
    "INT. A - DAY #1#\n\nShort.\n\n"
    "EDWARD (V.O.)\nOne two three.\n(beat)\nFour five.\n\n"
    "MAYA\nSix.\n\n"
    "EXT. B - NIGHT #2#\n\n" + "\n".join(["Long line of action."] * 60) + "\n\n"
    "EDWARD\nSeven eight.\n\n"
    "@Edward (CONT'D)\nNine.\n"
)


def test_scene_navigator_data():
    report = script_report(TEXT)
    a, b = report.scenes
    assert (a.index, a.number, a.heading, a.start_page, a.cast) == (
        0,
        "1",
        "INT. A - DAY",
        1,
        ["EDWARD", "MAYA"],
    )
    assert b.number == "2" and b.cast == ["EDWARD"]
    assert a.eighths >= 1 and b.eighths >= 8
    assert b.start_page == 1
    assert report.pages == page_count(TEXT) == 2
    # One page a minute: the total is the laid-out length.
    assert 60 < report.seconds < 120
    assert abs(a.seconds + b.seconds - report.seconds) <= 1


def test_character_report():
    report = script_report(TEXT)
    by_name = {c.name: c for c in report.characters}
    assert set(by_name) == {"EDWARD", "MAYA"}
    edward = by_name["EDWARD"]
    assert edward.speeches == 3
    assert edward.words == 5 + 2 + 1
    assert edward.scenes == [0, 1]
    assert edward.dialogue_lines == 4
    assert by_name["MAYA"].words == 1
    assert report.characters[0].name == "EDWARD"  # most words first


def test_pages_label():
    def label(n):
        return SceneReport(0, None, "", 1, n, 0, []).pages_label

    assert [label(1), label(8), label(11), label(16)] == ["1/8", "1", "1 3/8", "2"]


def test_feature_report_totals():
    script = generate.feature()
    report = script_report(script)
    assert report.pages == page_count(script)
    assert abs(report.minutes - report.pages) <= 1
    assert len(report.scenes) == 140
    assert all(s.eighths >= 1 for s in report.scenes)
    assert {c.name for c in report.characters} >= {"EDWARD", "MAYA", "MCKENZIE"}
