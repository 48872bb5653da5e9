import re

import pytest

from scripts_app.formats import fountain
from scripts_app.formats.model import ElementType as T
from scripts_app.formats.pagination import (
    A4,
    LETTER,
    _sentence_ends,
    eighths,
    has_contd,
    lay_out,
    number_scenes,
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


# --- Page breaks as screenplay software makes them ------------------------------------


def _filler(n):
    return "\n".join(f"Filler {i}." for i in range(n))


def _content(page):
    """Return the page's rows without blank ones: (kind, text) of each row's first piece."""
    return [(row[0].kind, " | ".join(seg.text for seg in row)) for row in page.rows if row]


def _check_breaks(pages):
    """Assert the breaking rules on every page but the last; return the (MORE) pages."""
    more_pages = []
    for number, page in enumerate(pages[:-1], start=1):
        rows = _content(page)
        kind, text = rows[-1]
        assert kind is not T.SCENE_HEADING, f"heading alone at the foot of page {number}"
        if kind is T.CHARACTER:
            assert text == "(MORE)", f"cue alone at the foot of page {number}: {text}"
            more_pages.append(number - 1)
            # At least two lines of the speech above (MORE), never a parenthetical last.
            assert rows[-2][0] is not T.PARENTHETICAL
            assert rows[-2][0] in (T.DIALOGUE, T.LYRICS) and rows[-3][0] is not T.CHARACTER
            # ... and at least two on the next page, under the (CONT'D) cue.
            nxt = _content(pages[number])
            assert nxt[0][0] is T.CHARACTER and "(CONT" in nxt[0][1].upper()
            assert len(nxt) >= 3 and nxt[1][0] is not T.CHARACTER
            assert nxt[2][0] is not T.CHARACTER
        for k, (kind, _) in enumerate(rows):
            if kind is T.SCENE_HEADING:
                assert k + 1 < len(rows), f"heading alone at the foot of page {number}"
    return more_pages


def _cue_after_break(cue, sentences=20):
    text = f"\n{_filler(45)}\n\n{cue}\n{_long_speech(sentences)}\n"
    return texts(paginate(text)[1])[0]


@pytest.mark.parametrize(
    ("cue", "expected"),
    [
        ("JOHN (CONT’D)", "JOHN (CONT’D)"),  # typographic apostrophe
        ("JOHN (CONT'D)", "JOHN (CONT'D)"),
        ("@John (cont’d)", "John (cont’d)"),  # any case (a forced cue prints as typed)
        ("@John (Cont'd)", "John (Cont'd)"),
        ("JOHN (CONTD)", "JOHN (CONTD)"),
        ("JOHN (CONT.)", "JOHN (CONT.)"),
        ("JOHN (O.S., CONT’D)", "JOHN (O.S., CONT’D)"),
        ("JOHN (V.O.) (CONT’D)", "JOHN (V.O.) (CONT’D)"),
        ("JOHN (V.O.)", "JOHN (V.O.) (CONT'D)"),
        ("JOHN", "JOHN (CONT'D)"),
        ("CONTI", "CONTI (CONT'D)"),  # a name that starts like the word is no extension
    ],
)
def test_contd_is_never_doubled_whatever_the_apostrophe_or_case(cue, expected):
    assert _cue_after_break(cue) == expected


def test_has_contd():
    assert has_contd("JOHN (CONT’D)") and has_contd("john (cont'd)") and has_contd("A (CONT`D)")
    assert has_contd("A (O.S., CONT’D)") and has_contd("A (CONTINUED)")
    assert not has_contd("CONTRERAS") and not has_contd("A (V.O.)") and not has_contd("A (CONTACT)")


_FOLLOWERS = {
    "three-line action": "\n".join(f"Act {i}." for i in range(3)),
    "long action": "\n".join(f"Act {i}." for i in range(12)),
    "long speech": "BOB\n" + _long_speech(12),
    "speech opening with a parenthetical": "BOB\n(softly)\n" + _long_speech(12),
    "short speech": "BOB\nHi.",
    "transition": "CUT TO:",
    "dual dialogue": "ANN\nOne.\nTwo.\n\nBOB ^\nThree.\nFour.",
}


@pytest.mark.parametrize("follower", list(_FOLLOWERS))
def test_heading_is_never_last_on_a_page(follower):
    for filler_lines in range(38, 56):
        text = f"\n{_filler(filler_lines)}\n\nINT. HOUSE - DAY\n\n{_FOLLOWERS[follower]}\n"
        pages = paginate(text)
        _check_breaks(pages)
        # The heading shares its page with the start of what follows it.
        for page in pages:
            rows = _content(page)
            kinds = [k for k, _ in rows]
            if T.SCENE_HEADING in kinds:
                assert kinds.index(T.SCENE_HEADING) < len(kinds) - 1


def test_cue_is_never_alone_at_the_foot():
    speeches = [
        "BOB\n" + _long_speech(10),
        "BOB\n(beat)\n(and another beat that wraps over two lines at least)\n" + _long_speech(6),
        "BOB\nOne very long sentence " + "that goes on " * 40 + "to the end.",
        "BOB\nHi.\nThere.",
    ]
    for speech in speeches:
        for filler_lines in range(40, 56):
            _check_breaks(paginate(f"\n{_filler(filler_lines)}\n\n{speech}\n"))


_SENTENCES = [
    "I told you once and I will tell you again, never here.",
    "Not in this house!",
    "Do you understand what that means for the two of us?",
    "Mr. Okafor said the train leaves at 5 p.m. today, and not a minute later.",
    "So we wait.",
    "We wait for the rain to stop, for the phone to ring, for anything at all.",
    "Then we go...",
    "Maybe.",
]


def _dialogue_words(pages):
    words = []
    for page in pages:
        for kind, text in _content(page):
            if kind is T.DIALOGUE:
                words += text.split()
    return words


def test_dialogue_breaks_between_sentences():
    speech_text = " ".join(_SENTENCES * 3)
    ends = tuple(s[-1] for s in _SENTENCES)
    broke = 0
    for filler_lines in range(30, 50):
        text = f"\n{_filler(filler_lines)}\n\nMAYA\n{speech_text}\n"
        pages = paginate(text)
        for i in _check_breaks(pages):
            broke += 1
            rows = _content(pages[i])
            last_line = rows[-2][1].rstrip()
            assert last_line.endswith(ends), last_line
            assert not last_line.endswith(("Mr.", "p.m.")), last_line
            first_line = _content(pages[i + 1])[1][1]
            assert first_line[0].isupper(), first_line
        # Nothing lost or repeated: the same words in the same order.
        assert _dialogue_words(pages) == speech_text.split()
    assert broke >= 10


def test_speech_without_a_sentence_break_moves_whole():
    one_sentence = "I keep " + "talking and " * 20 + "talking"  # about 8 rows, no end
    text = f"\n{_filler(48)}\n\nMAYA\n{one_sentence}\n"
    first, second = paginate(text)
    assert "(MORE)" not in texts(first)
    assert texts(second)[0] == "MAYA"


def test_a_sentence_taller_than_a_page_is_cut_at_a_line():
    giant = "word " * 1000 + "end."
    pages = paginate(f"\nINT. A - DAY\n\nMAYA\n{giant}\n")
    assert len(pages) >= 3
    for page in pages:
        assert len(page.rows) <= LETTER.lines_per_page
    assert [texts(p)[-1] for p in pages[:-1]] == ["(MORE)"] * (len(pages) - 1)
    assert _dialogue_words(pages) == giant.split()


def test_break_between_elements_of_a_speech():
    # A parenthetical in the middle: the page may end before it, never just after it.
    speech = "BOB\n" + _long_speech(6) + "\n(beat)\n" + _long_speech(6)
    for filler_lines in range(35, 56):
        _check_breaks(paginate(f"\n{_filler(filler_lines)}\n\n{speech}\n"))


def test_sentence_ends():
    s = "Mr. Smith came at 5 p.m. today. He left! Did he? Yes... and no. J. R. wrote “Stop.” Go"
    got = [s[:e].rsplit(" ", 1)[-1] for e in _sentence_ends(s, 0, len(s))]
    assert got == ["today.", "left!", "he?", "no.", "“Stop.”"]


def _counting_spans(monkeypatch):
    """Count the wrapped rows the pager computes (work, not time: timings flake)."""
    from scripts_app.formats import pagination

    real, count = pagination._iter_spans, [0]

    def counted(*args, **kwargs):
        for span in real(*args, **kwargs):
            count[0] += 1
            yield span

    monkeypatch.setattr(pagination, "_iter_spans", counted)
    return count


def test_long_speeches_stay_linear(monkeypatch):
    """A speech cut over many pages is re-wrapped only as far as each page needs."""
    count = _counting_spans(monkeypatch)

    def work(n):
        count[0] = 0
        pages = paginate("\nBOB\n" + "I say it again. " * n + "\n")
        return count[0], len(pages)

    small, small_pages = work(5_000)
    big, big_pages = work(40_000)
    assert big_pages > 7 * small_pages
    assert big < 8 * 1.5 * small  # linear: 8x the text, about 8x the rows wrapped


def test_long_single_line_speech_stays_linear(monkeypatch):
    count = _counting_spans(monkeypatch)

    def work(n):
        count[0] = 0
        paginate("\nBOB\n" + "word " * n + "\n")
        return count[0]

    small, big = work(20_000), work(160_000)
    assert big < 8 * 1.5 * small


# --- Scene numbers ----------------------------------------------------------------------


def _headings(*numbers):
    return "".join(
        f"\nINT. ROOM {i} - DAY{f' #{n}#' if n else ''}\n\nText.\n" for i, n in enumerate(numbers)
    )


def test_number_scenes_numbers_an_unnumbered_script():
    assert number_scenes(_headings(None, None, None)) == ["1", "2", "3"]
    assert number_scenes("") == []


def test_number_scenes_keeps_explicit_numbers():
    assert number_scenes(_headings("1", "2", "3")) == ["1", "2", "3"]
    assert number_scenes(_headings(None, "12A", None, None)) == ["1", "12A", "13", "14"]
    # An unnumbered scene between numbered ones is an insert: a letter, never a duplicate.
    assert number_scenes(_headings("1", None, "2")) == ["1", "1A", "2"]
    assert number_scenes(_headings("1", None, None, "2")) == ["1", "1A", "1B", "2"]
    assert number_scenes(_headings(None, "1")) == ["A1", "1"]
    assert number_scenes(_headings("I-1-A", None)) == ["I-1-A", "1"]
    numbers = number_scenes(_headings("5", None, "6", None, "7"))
    assert numbers == ["5", "5A", "6", "6A", "7"] and len(set(numbers)) == 5


def test_scene_number_is_on_the_headings_first_row_only():
    long_heading = "INT. " + "VERY LONG PLACE " * 6 + "- DAY #7#"
    (page,) = paginate(f"\n{long_heading}\n\nText.\n")
    rows = [row[0] for row in page.rows if row and row[0].kind is T.SCENE_HEADING]
    assert len(rows) >= 2
    assert (rows[0].scene_number, rows[0].scene_index) == ("7", 0)
    assert all(r.scene_number is None and r.scene_index is None for r in rows[1:])


def test_rules_hold_on_the_feature_script():
    pages = paginate(generate.feature())
    assert _check_breaks(pages)  # it has speeches cut by pages, all at sentence ends
    for i in _check_breaks(pages):
        assert re.search(r"[.!?]\S*$", _content(pages[i])[-2][1].rstrip())
