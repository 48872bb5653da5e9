"""Yjs relative positions on the server (scripts_app/positions.py): the places a browser
marks with ``Y.encodeRelativePosition`` are found again in pycrdt's copy of the document,
exactly where Yjs itself finds them, accents and emoji included; hostile bytes are refused
before pycrdt sees them.

The fixture (tests/fixtures/yjs_relative_positions.json) is real Yjs 13.6.33 output:
three replicas editing concurrently (inserts and deletions of accented text, curly quotes,
em dashes, emoji), positions taken along the way, resolved by Yjs at the end.
``tests/js/relative-positions.test.mjs`` checks it is still what Yjs makes."""

import base64
import json
from pathlib import Path

import pytest
from pycrdt import Doc, StickyIndex, Text

from scripts_app import positions
from scripts_app.positions import PositionError, RelativePosition

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "yjs_relative_positions.json"
SCENARIOS = json.loads(FIXTURE.read_text())["scenarios"]


def _doc(update_b64: str) -> Doc:
    doc = Doc()
    doc.get("text", type=Text)
    doc.apply_update(base64.b64decode(update_b64))
    return doc


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"seed{s['seed']}")
def test_every_yjs_position_resolves_where_yjs_puts_it(scenario):
    doc = _doc(scenario["update"])
    resolver = positions.Resolver(doc)
    assert resolver.text == scenario["text"]
    for p in scenario["positions"]:
        assert resolver.index(positions.from_b64(p["b64"])) == p["index"], p


def test_pycrdt_alone_gets_some_of_them_wrong():
    """Why the resolver exists: pycrdt 0.14's own offsets drift after non-ASCII text in a
    block (bytes left of the block, UTF-16 units inside it). If this starts failing,
    pycrdt has fixed it and positions.py can lean on it."""
    wrong = 0
    for scenario in SCENARIOS:
        doc = _doc(scenario["update"])
        ytext = doc.get("text", type=Text)
        utf8 = str(ytext).encode()
        for p in scenario["positions"]:
            offset = StickyIndex.decode(base64.b64decode(p["b64"]), ytext).get_index()
            got = len(utf8[:offset].decode(errors="replace"))
            wrong += got != p["index"]
    assert wrong > 0


def test_the_encoding_is_yjss_byte_for_byte():
    for scenario in SCENARIOS:
        for p in scenario["positions"]:
            raw = base64.b64decode(p["b64"])
            assert positions.parse(raw).encode() == raw


def test_the_type_level_positions_are_the_ends():
    doc = Doc()
    ytext = doc.get("text", type=Text)
    ytext += "Café 😀"
    resolver = positions.Resolver(doc)
    # Yjs writes these for index 0 with assoc -1, and for the end with assoc 0.
    assert resolver.index(positions.parse(b"\x01\x04text\x41")) == 0
    assert resolver.index(positions.parse(b"\x01\x04text\x00")) == len("Café 😀")


def test_an_insert_span_holds_exactly_the_inserted_characters():
    doc = Doc()
    ytext = doc.get("text", type=Text)
    ytext += "Naïve — “start”.\n"
    first = 0
    inserted = "Zoë’s 😀 line.\n"
    ytext.insert(len("Naïve — ".encode()), inserted)  # pycrdt counts UTF-8 bytes
    # This doc's client made both inserts: the second starts after the first's units.
    first = len("Naïve — “start”.\n".encode("utf-16-le")) // 2
    start, end = positions.span_of_insert(doc.client_id, first, inserted)
    resolver = positions.Resolver(doc)
    span = resolver.span(positions.parse(start), positions.parse(end))
    assert span is not None and resolver.text[span[0] : span[1]] == inserted
    # Typing right at either edge stays outside the span.
    text = str(ytext)
    ytext.insert(len(text[: span[1]].encode()), "AFTER")
    ytext.insert(len(text[: span[0]].encode()), "BEFORE")
    resolver = positions.Resolver(doc)
    span = resolver.span(positions.parse(start), positions.parse(end))
    assert resolver.text[span[0] : span[1]] == inserted


def test_unknown_characters_resolve_to_nothing():
    doc = Doc()
    doc.get("text", type=Text).insert(0, "hello")
    resolver = positions.Resolver(doc)
    assert resolver.index(RelativePosition(12345, 0, 0)) is None
    assert resolver.index(RelativePosition(doc.client_id, 99, 0)) is None


HOSTILE = [
    ("", "short base64"),
    ("A" * 200, "short base64"),
    ("not base64!", "base64"),
    (base64.b64encode(b"").decode(), "short base64"),
    (base64.b64encode(b"\x02\x01\x01\x00").decode(), "not in the scene's text"),
    (base64.b64encode(b"\x01\x04meta\x00").decode(), "not in the scene's text"),
    (base64.b64encode(b"\x00\x05\x03\x00\x00").decode(), "trailing bytes"),
    (base64.b64encode(b"\x00" + b"\xff" * 11 + b"\x01").decode(), "varint too long"),
    (base64.b64encode(b"\x00\x05").decode(), "truncated"),
    (base64.b64encode(b"\x01\x09text").decode(), "length larger"),
    (base64.b64encode(b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x00").decode(), "too large"),
    (base64.b64encode(b"\x01\x02\xff\xfe\x00").decode(), "UTF-8"),
    (base64.b64encode(bytes(65)).decode(), "1 to 64 bytes"),
]


@pytest.mark.parametrize(("value", "reason"), HOSTILE)
def test_hostile_positions_are_refused_with_a_reason(value, reason):
    with pytest.raises(PositionError, match=reason):
        positions.from_b64(value)


def test_non_text_is_refused():
    for value in (None, 5, b"AAA=", ["AAA="]):
        with pytest.raises(PositionError):
            positions.from_b64(value)
