import io

import pytest

from scripts_app.formats import FormatError, fdx, fountain
from scripts_app.formats.importer import (
    MAX_UPLOAD_BYTES,
    assemble,
    decode_text,
    import_file,
    read_bytes,
    read_script,
    split_script,
)

from . import generate

SCRIPT = (
    "Title: _**The Heist**_\nCredit: Written by\nAuthor: Ann Writer\nDraft date: 2026-01-02\n"
    "Logline: A crew robs a bank.\nNotes: Second draft.\nCopyright: (c) 2026\n\n"
    "= Opening image.\n\n"
    "INT. BANK - DAY #1#\n\nEDWARD (V.O.)\nWe go at noon.\n\nMAYA\nFine.\n\n"
    "EDWARD (CONT'D)\nGood.\n\n"
    "EXT. STREET - NIGHT #2#\n\n@Edward\nRun!\n\nBENNY ^\nRun!\n\nCUT TO:\n\n"
    ".FLASHBACK\n\nNothing said.\n"
)


def test_split_fields_scenes_and_cast():
    result = split_script(SCRIPT)
    assert result.title == "The Heist"
    assert result.credit == "Written by"
    assert result.authors == "Ann Writer"
    assert result.draft_date == "2026-01-02"
    assert result.logline == "A crew robs a bank."
    assert result.notes == "Second draft."
    assert result.extra == {"Copyright": "(c) 2026"}
    assert result.preamble == "\n= Opening image.\n\n"
    assert [(s.index, s.heading, s.number) for s in result.scenes] == [
        (0, "INT. BANK - DAY", "1"),
        (1, "EXT. STREET - NIGHT", "2"),
        (2, "FLASHBACK", None),
    ]
    first, second, third = result.scenes
    assert first.text == (
        "INT. BANK - DAY #1#\n\nEDWARD (V.O.)\nWe go at noon.\n\nMAYA\nFine.\n\n"
        "EDWARD (CONT'D)\nGood.\n"
    )
    assert first.cast == ["EDWARD", "MAYA"]
    assert second.cast == ["EDWARD", "BENNY"]
    assert third.cast == [] and third.text == ".FLASHBACK\n\nNothing said.\n"
    assert result.characters == ["EDWARD", "MAYA", "BENNY"]
    assert result.character_variants["EDWARD"] == ["EDWARD (V.O.)", "EDWARD (CONT'D)", "Edward"]


def test_scene_texts_reassemble_exactly():
    for text in [SCRIPT, "INT. A - DAY\n\nx", "\n\nINT. A - DAY\n\nx\n\nINT. B - DAY\n"]:
        r = split_script(text)
        assert assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes]) == text
    r = split_script(generate.feature_text())
    rebuilt = assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes])
    assert rebuilt == generate.feature_text()
    # Each scene parses on its own with its heading first.
    for scene in r.scenes[:20]:
        first = fountain.parse(scene.text).elements[0]
        assert first.type.value == "scene_heading" and first.text == scene.heading


def test_no_scene_headings_is_an_error():
    with pytest.raises(FormatError, match="no scene headings"):
        split_script("Title: Notes\n\nJust some prose.\n\nMore prose.\n")


def test_duplicate_scene_numbers_are_an_error():
    text = "INT. A - DAY #5#\n\nx\n\nINT. B - DAY #5#\n\ny\n"
    with pytest.raises(FormatError, match='Scene number "5" is used twice'):
        split_script(text)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("INT. CAFÉ – DAY\n".encode(), "INT. CAFÉ – DAY\n"),
        (b"\xef\xbb\xbf" + "INT. CAFÉ\n".encode(), "INT. CAFÉ\n"),
        ("INT. CAFÉ\n".encode("utf-16"), "INT. CAFÉ\n"),
        (b"\xfe\xff" + "INT. CAFÉ\n".encode("utf-16-be"), "INT. CAFÉ\n"),
        ("“Hello” – CAFÉ\n".encode("cp1252"), "“Hello” – CAFÉ\n"),
    ],
)
def test_decode_text(data, expected):
    assert decode_text(data) == expected


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
        bytes(range(256)) * 4,
        b"\x01\x02\x03\x04\x05\x06\x07\x08" * 100,
    ],
)
def test_binary_renamed_fountain_is_rejected(data):
    with pytest.raises(FormatError, match="binary data"):
        read_script(data, "script.fountain")


def test_undecodable_text_is_rejected():
    # Not UTF-8, and 0x81/0x8d are undefined in Windows-1252.
    with pytest.raises(FormatError, match="encoding could not be read"):
        decode_text(b"INT. HOUSE \x81\x8d - DAY\n")
    with pytest.raises(FormatError, match="UTF-16"):
        decode_text(b"\xff\xfe" + b"\x00\xd8")  # a lone surrogate


class CountingFile(io.RawIOBase):
    """A 50 MB upload that is never materialised; counts what gets read."""

    def __init__(self, size, declare_size=True, seekable=True):
        self.total = size
        self.pos = 0
        self.read_bytes = 0
        self._seekable = seekable
        if declare_size:
            self.size = size

    def readable(self):
        return True

    def seekable(self):
        return self._seekable

    def seek(self, offset, whence=io.SEEK_SET):
        if not self._seekable:
            raise OSError("not seekable")
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.total}[whence]
        self.pos += offset
        return self.pos

    def tell(self):
        if not self._seekable:
            raise OSError("not seekable")
        return self.pos

    def read(self, n=-1):
        n = self.total - self.pos if n is None or n < 0 else min(n, self.total - self.pos)
        self.read_bytes += n
        self.pos += n
        return b"a" * n


@pytest.mark.parametrize(
    ("declare_size", "seekable", "max_read"),
    [(True, True, 0), (False, True, 0), (False, False, MAX_UPLOAD_BYTES + 1)],
)
def test_50mb_upload_rejected_cheaply(declare_size, seekable, max_read):
    upload = CountingFile(50 * 1024 * 1024, declare_size, seekable)
    with pytest.raises(FormatError, match="too large: the limit is 10 MB"):
        import_file(upload, "big.fountain")
    assert upload.read_bytes <= max_read


def test_size_limit_on_bytes_and_custom_limit():
    with pytest.raises(FormatError, match="too large"):
        read_bytes(b"x" * 101, max_bytes=100)
    assert read_bytes(b"x" * 100, max_bytes=100) == b"x" * 100


def test_empty_and_unknown_type():
    with pytest.raises(FormatError, match="empty"):
        read_script(b"  \n", "a.fountain")
    with pytest.raises(FormatError, match='".docx" cannot be imported'):
        read_script(b"INT. A - DAY\n", "a.docx")


def test_import_plain_text_with_indentation():
    text = (
        "INT. OFFICE - DAY\n\nThe phone rings.\n\n"
        "                    JANE\n          Hello?\n\n"
        "                                        CUT TO:\n\n"
        "EXT. STREET - DAY\n\nTraffic.\n"
    )
    result = import_file(text.encode("cp1252"), "script.txt")
    assert [s.heading for s in result.scenes] == ["INT. OFFICE - DAY", "EXT. STREET - DAY"]
    assert result.characters == ["JANE"]


def test_import_fdx_upload_and_misnamed_fdx():
    data = fdx.dumps(fountain.parse(SCRIPT))
    for name in ["script.fdx", "script.txt", "script"]:
        result = import_file(io.BytesIO(data), name)
        assert [s.heading for s in result.scenes] == [
            "INT. BANK - DAY",
            "EXT. STREET - NIGHT",
            "FLASHBACK",
        ]
        assert result.characters == ["EDWARD", "MAYA", "BENNY"]
        assert result.title == "The Heist"


def test_fdx_import_reassembles_to_valid_fountain():
    script = fdx.loads(fdx.dumps(fountain.parse(SCRIPT)))
    r = split_script(script)
    rebuilt = assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes])
    assert rebuilt == fountain.dumps(script)
    again = split_script(rebuilt)
    assert [s.heading for s in again.scenes] == [s.heading for s in r.scenes]
    assert again.title == "The Heist"


# --- "The writer's desk": defects found on real scripts ------------------------------------


def test_fade_in_on_line_one_is_preamble_not_a_title_page():
    text = "FADE IN:\n\nINT. HOUSE - DAY\n\nGo.\n"
    r = split_script(text)
    assert r.title_page_text == "" and r.extra == {} and r.title == ""
    assert r.preamble == "FADE IN:\n\n"
    assert [s.heading for s in r.scenes] == ["INT. HOUSE - DAY"]
    assert assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes]) == text


def test_crlf_scene_texts_match_lf_but_for_the_line_ends():
    lf = "Title: X\n\nFADE IN:\n\nINT. A - DAY\n\nOne.\n\nBOB\nHi.\n\nINT. B - DAY\n\nTwo.\n"
    crlf = lf.replace("\n", "\r\n")
    r_lf, r_crlf = split_script(lf), split_script(crlf)
    assert assemble(r_crlf.title_page_text, r_crlf.preamble, [s.text for s in r_crlf.scenes]) == (
        crlf
    )
    assert [s.heading for s in r_crlf.scenes] == [s.heading for s in r_lf.scenes]
    assert r_crlf.characters == r_lf.characters == ["BOB"]


@pytest.mark.parametrize(
    "odd",
    ["INT.", "EXT.", ".[[only a note]]", "INT. [[where?]]"],
)
def test_a_heading_that_names_no_place_stays_in_the_scene_before_it(odd):
    text = f"INT. A - DAY\n\nOne.\n\n{odd}\n\nTwo.\n\nEXT. B - NIGHT\n\nThree.\n"
    r = split_script(text)
    assert [s.heading for s in r.scenes] == ["INT. A - DAY", "EXT. B - NIGHT"]
    assert r.scenes[0].text == f"INT. A - DAY\n\nOne.\n\n{odd}\n\nTwo.\n"
    assert assemble(r.title_page_text, r.preamble, [s.text for s in r.scenes]) == text


def test_a_placeless_first_heading_goes_to_the_preamble():
    text = "INT.\n\nHello.\n\nEXT. B - DAY\n\nx\n"
    r = split_script(text)
    assert r.preamble == "INT.\n\nHello.\n\n"
    assert [s.heading for s in r.scenes] == ["EXT. B - DAY"]
    with pytest.raises(FormatError, match="name no place"):
        split_script("INT.\n\nHello.\n")


FDX_ODD_HEADINGS = (
    '<?xml version="1.0"?><FinalDraft DocumentType="Script" Version="5"><Content>'
    '<Paragraph Type="Scene Heading"><Text>INT. HALL - DAY</Text></Paragraph>'
    '<Paragraph Type="Action"><Text>Pots.</Text></Paragraph>'
    '<Paragraph Type="Scene Heading"><Text>. KITCHEN</Text></Paragraph>'
    '<Paragraph Type="Action"><Text>Pans.</Text></Paragraph>'
    '<Paragraph Type="Scene Heading"><Text>...</Text></Paragraph>'
    '<Paragraph Type="Action"><Text>Dots.</Text></Paragraph>'
    "</Content></FinalDraft>"
)


def test_fdx_odd_headings_are_trimmed_or_kept_in_the_scene_before():
    """Regression: an FDX heading ". KITCHEN" was written ".. KITCHEN", which is no heading,
    and the app then refused the whole import."""
    r = import_file(FDX_ODD_HEADINGS.encode(), "odd.fdx")
    assert [s.heading for s in r.scenes] == ["INT. HALL - DAY", "KITCHEN"]
    kitchen = r.scenes[1].text
    assert kitchen.startswith(".KITCHEN\n\nPans.\n")
    assert "Dots." in kitchen  # "..." names nothing: it stays in the kitchen scene
    for scene in r.scenes:
        assert fountain.parse(scene.text).elements[0].type.value == "scene_heading"


def test_typographic_and_ascii_apostrophes_are_one_character():
    text = (
        "INT. HALL - NIGHT\n\nMAN’S VOICE (O.S.)\nWho’s there?\n\n"
        "INT. STAIRS - NIGHT\n\nMAN'S VOICE\nMe.\n\nMAN’S VOICE\nStill me.\n"
    )
    r = split_script(text)
    assert r.characters == ["MAN’S VOICE"]
    assert [s.cast for s in r.scenes] == [["MAN’S VOICE"], ["MAN’S VOICE"]]
    assert r.character_variants["MAN’S VOICE"] == [
        "MAN’S VOICE (O.S.)",
        "MAN'S VOICE",
        "MAN’S VOICE",
    ]


COMPOUND = (
    "INT. PARK - DAY\n\nJOHN\nHi.\n\nMARY\nHello.\n\n"
    "EXT. LAKE - DAY\n\nJOHN AND MARY\nTogether!\n\nJOHN & MARY\nAgain!\n\n"
    "TOM AND JERRY\nChase!\n"
)


def test_compound_cues_link_to_characters_who_also_speak_alone():
    r = split_script(COMPOUND)
    # TOM and JERRY never speak alone: the cue is one character, as written.
    assert r.characters == ["JOHN", "MARY", "TOM AND JERRY"]
    assert [s.cast for s in r.scenes] == [["JOHN", "MARY"], ["JOHN", "MARY", "TOM AND JERRY"]]
    assert r.compound_cues == {"JOHN AND MARY": ["JOHN", "MARY"], "JOHN & MARY": ["JOHN", "MARY"]}
    # The cue text is kept as written.
    assert "JOHN AND MARY\nTogether!" in r.scenes[1].text
    assert "JOHN & MARY\nAgain!" in r.scenes[1].text


def test_compound_cue_rules():
    from scripts_app.formats.importer import compound_parts

    assert compound_parts("JOHN AND MARY") == ["JOHN", "MARY"]
    assert compound_parts("JOHN & MARY") == ["JOHN", "MARY"]
    assert compound_parts("TOM, DICK AND HARRY") == ["TOM", "DICK", "HARRY"]
    assert compound_parts("ANDY") == [] and compound_parts("SANDRA AND") == []
    # A part that only speaks in another compound does not count as speaking alone.
    r = split_script("INT. A - DAY\n\nJOHN\nHi.\n\nJOHN AND MARY\nHi.\n\nMARY AND JOHN\nHo.\n")
    assert r.characters == ["JOHN", "JOHN AND MARY", "MARY AND JOHN"]
    assert r.compound_cues == {}
    # Three parts, all speaking alone somewhere in the script (later scenes count too).
    r = split_script(
        "INT. A - DAY\n\nTOM, DICK AND HARRY\nHey!\n\n"
        "INT. B - DAY\n\nTOM\n1\n\nDICK\n2\n\nHARRY\n3\n"
    )
    assert r.characters == ["TOM", "DICK", "HARRY"]
    assert r.scenes[0].cast == ["TOM", "DICK", "HARRY"]
