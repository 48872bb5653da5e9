from scripts_app.formats import fountain
from scripts_app.formats.model import ElementType as T
from scripts_app.formats.pagination import (
    A4,
    LETTER,
    eighths,
    lay_out,
    page_count,
    paginate,
    scene_lengths,
    wrap_text,
)

from . import generate


def texts(page):
    return [" | ".join(seg.text for seg in row) for row in page.rows]


def test_empty_and_short():
    assert page_count("") == 0
    assert page_count("Title: Only a title\n") == 0
    assert page_count("\nINT. HOUSE - DAY\n\nShort.\n") == 1


def test_lines_per_page_and_action_split():
    text = "\nINT. HOUSE - DAY\n\n" + "\n".join(f"Line {i}." for i in range(100)) + "\n"
    pages = paginate(text)
    assert len(pages) == 2
    assert len(pages[0].rows) == LETTER.lines_per_page
    assert texts(pages[0])[-1] == "Line 52."  # heading + blank + 53 lines
    assert texts(pages[1])[0] == "Line 53."


def test_action_widths_wrap_at_60():
    (page,) = paginate("\n" + "word " * 40 + "\n")
    assert all(len(seg.text) <= 60 for row in page.rows for seg in row)
    assert len(page.rows) == 4  # 200 characters in lines of at most 60


def test_indents_follow_industry_layout():
    (page,) = paginate(
        "\nINT. HOUSE - DAY\n\nShe waits.\n\nBOB\n(quietly)\nHello there.\n\nCUT TO:\n"
    )
    segs = {seg.kind: seg for row in page.rows for seg in row}
    left = LETTER.left_in
    assert left + segs[T.ACTION].indent / 10 == 1.5
    assert left + segs[T.CHARACTER].indent / 10 == 3.7
    assert left + segs[T.DIALOGUE].indent / 10 == 2.5
    assert left + segs[T.PARENTHETICAL].indent / 10 == 3.1
    assert segs[T.TRANSITION].align == "right"
    assert left + (segs[T.TRANSITION].indent + segs[T.TRANSITION].width) / 10 == 7.5


def _long_speech(n, parenthetical_at=None):
    lines = []
    for i in range(n):
        if i == parenthetical_at:
            lines.append("(beat)")
        lines.append(f"Sentence number {i} here.")
    return "\n".join(lines)


def test_dialogue_across_pages_gets_more_and_contd():
    filler = "\n".join(f"Filler {i}." for i in range(40))
    text = f"\nINT. HOUSE - DAY\n\n{filler}\n\nEDWARD (V.O.)\n{_long_speech(30)}\n"
    pages = paginate(text)
    assert len(pages) == 2
    first, second = texts(pages[0]), texts(pages[1])
    assert first[-1] == "(MORE)"
    assert second[0] == "EDWARD (V.O.) (CONT'D)"
    assert len(first) <= LETTER.lines_per_page
    # Every dialogue line is printed once, in order.
    said = [t for t in first + second if t.startswith("Sentence")]
    assert said == [f"Sentence number {i} here." for i in range(30)]


def test_contd_is_not_doubled():
    filler = "\n".join(f"Filler {i}." for i in range(45))
    text = f"\n{filler}\n\nEDWARD (CONT'D)\n{_long_speech(20)}\n"
    second = texts(paginate(text)[1])
    assert second[0] == "EDWARD (CONT'D)"


def test_page_never_ends_on_parenthetical():
    for filler_lines in range(35, 50):
        filler = "\n".join(f"Filler {i}." for i in range(filler_lines))
        text = f"\n{filler}\n\nBOB\n{_long_speech(20, parenthetical_at=8)}\n"
        for page in paginate(text)[:-1]:
            kinds = [row[0].kind for row in page.rows if row]
            last_text = texts(page)[-1]
            assert kinds[-1] is not T.PARENTHETICAL
            if last_text == "(MORE)":
                assert kinds[-2] is not T.PARENTHETICAL


def test_heading_is_not_left_alone_at_page_foot():
    for filler_lines in range(45, 56):
        filler = "\n".join(f"Filler {i}." for i in range(filler_lines))
        text = f"\n{filler}\n\nINT. HOUSE - DAY\n\nShe waits.\nAnd waits.\n"
        for page in paginate(text):
            kinds = [row[0].kind for row in page.rows if row]
            assert kinds[-1] is not T.SCENE_HEADING


def test_page_break_starts_new_page():
    pages = paginate("\nINT. A - DAY\n\nOne.\n\n===\n\nTwo.\n")
    assert [texts(p)[0] for p in pages] == ["INT. A - DAY", "Two."]


def test_hidden_elements_take_no_space():
    shown = page_count("\nINT. A - DAY\n\nOne.\n")
    text = "\n# Act\n\n= syn\n\n[[note]]\n\n/* bone */\n\nINT. A - DAY\n\nOne. [[inline]]\n"
    pages = paginate(text)
    assert page_count(text) == shown
    assert [t.rstrip() for t in texts(pages[0])] == ["INT. A - DAY", "", "One."]


def test_dual_dialogue_side_by_side():
    (page,) = paginate("\nBRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n")
    assert len(page.rows[0]) == 2
    assert [seg.text for seg in page.rows[0]] == ["BRICK", "STEEL"]


def test_scene_lengths_in_eighths():
    text = "\nINT. A - DAY\n\nShort.\n\nINT. B - DAY\n\n" + "\n".join(["Long."] * 60) + "\n"
    a, b = scene_lengths(text)
    assert (a.heading, a.eighths) == ("INT. A - DAY", 1)
    assert b.eighths >= 8
    assert eighths(0) == 1 and eighths(55) == 8


def test_feature_script_is_feature_length():
    script = generate.feature()
    pagination = lay_out(script)
    assert 110 <= pagination.page_count <= 120
    lengths = scene_lengths(script)
    assert len(lengths) == sum(1 for e in script.elements if e.type is T.SCENE_HEADING)
    total = sum(s.lines for s in lengths)
    # Scenes cover the body from the first heading to the end.
    assert total == pagination.total_lines - pagination.scene_starts[0]
    assert abs(sum(s.eighths for s in lengths) / 8 - pagination.page_count) < 3
    for page in pagination.pages:
        assert len(page.rows) <= LETTER.lines_per_page


def test_a4_layout_paginates():
    script = fountain.parse("\nINT. A - DAY\n\nGo.\n")
    assert page_count(script, A4) == 1


def test_wrap_text():
    assert wrap_text("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert wrap_text("x" * 12, 5) == ["xxxxx", "xxxxx", "xx"]
    assert wrap_text("a\n\nb", 5) == ["a", "", "b"]


def test_giant_elements_never_overflow_a_page():
    cases = [
        "\nINT. " + "VERY LONG HEADING " * 300 + "\n\nx\n",
        "\nBOB\n" + "\n".join(["(very long parenthetical " * 30 + ")"] * 3) + "\n",
        "\nA\nx\n\nB ^\n" + "word " * 3000 + "\n",
        "\nCUT " * 2000 + "TO:\n\n",
        "\n> " + "centered " * 900 + "<\n",
        "\n@" + "BOB " * 1000 + "\nHi.\n",
        "\nBOB\n" + "(x)\n" * 500,
        "\nBOB\n" + "Hi.\n" * 500,
    ]
    for text in cases:
        pagination = lay_out(text)
        assert all(len(p.rows) <= LETTER.lines_per_page for p in pagination.pages)
        assert len(pagination.scene_starts) == text.count("INT.")
    (scene,) = scene_lengths(cases[0])
    assert scene.lines == lay_out(cases[0]).total_lines
