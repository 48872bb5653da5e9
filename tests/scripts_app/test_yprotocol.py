"""The y-protocols validator (scripts_app/yprotocol.py) and presence cleaning (presence.py).

Pure: no server. Real Yjs output is accepted (bytes made by Yjs 13.6.33 in Node: every
kind of struct and content, and an awareness update from y-protocols); hostile input is
refused in one short pass, near where it goes wrong.
"""

import json
import time

import pytest
from pycrdt import Array, Doc, Map, Text, create_sync_message, create_update_message

from scripts_app import presence, yprotocol
from scripts_app.yprotocol import FrameError, parse_frame

# Yjs 13.6.33 (Node): a text with formatting, an embed and deletions; a map holding JSON
# values, bytes, a bigint and a subdocument; an XML fragment; an array of shared types.
JS_UPDATE = bytes.fromhex(
    "0112c48bb2d20f0004010474657874016881c48bb2d20f000184c48bb2d20f01016c84c48bb2d20f"
    "020d6c6f20f09f988020776f726c6446c48bb2d20f0004626f6c640474727565c6c48bb2d20f02c4"
    "8bb2d20f0304626f6c64046e756c6cc1c48bb2d20f01c48bb2d20f02032801016d01610176010178"
    "75077d017c402000007e787702c3a97d477c538000002301016d0162030102032801016d03626967"
    "017a00038d7ea4c680000701017803017087c48bb2d20f16060400c48bb2d20f170268692901016d"
    "037375622432306535326438392d663564622d343436312d613364652d3230343932303732396362"
    "6176000101036172720187c48bb2d20f1b020400c48bb2d20f1c017a87c48bb2d20f1c0001c48bb2"
    "d20f03010110031b01"
)
JS_STATE_VECTOR = bytes.fromhex("01c48bb2d20f1f")
# y-protocols: the awareness update of a y-codemirror.next editor (user + cursor).
JS_AWARENESS = bytes.fromhex(
    "01c48bb2d20f0293027b2275736572223a7b226e616d65223a22616c696365222c22636f6c6f7222"
    "3a2223316636666232222c22636f6c6f724c69676874223a22233166366662323333222c22696422"
    "3a2237222c2263616e45646974223a747275657d2c22637572736f72223a7b22616e63686f72223a"
    "7b2274797065223a6e756c6c2c22746e616d65223a2274657874222c226974656d223a7b22636c69"
    "656e74223a343139393331383938302c22636c6f636b223a337d2c226173736f63223a307d2c2268"
    "656164223a7b2274797065223a6e756c6c2c22746e616d65223a2274657874222c226974656d223a"
    "7b22636c69656e74223a343139393331383938302c22636c6f636b223a367d2c226173736f63223a"
    "307d7d7d"
)


def sync(sync_type: int, payload: bytes) -> bytes:
    return bytes([0, sync_type]) + yprotocol.write_buffer(payload)


def test_real_yjs_traffic_is_accepted():
    assert parse_frame(sync(2, JS_UPDATE)).payload == JS_UPDATE
    assert parse_frame(sync(1, JS_UPDATE)).sync_type == 1
    assert parse_frame(sync(0, JS_STATE_VECTOR)).payload == JS_STATE_VECTOR
    message = parse_frame(bytes([1]) + yprotocol.write_buffer(JS_AWARENESS))
    [(client_id, clock, state)] = message.awareness
    assert json.loads(state)["user"]["name"] == "alice" and clock == 2
    assert parse_frame(b"\x03\x00").kind == 3  # other message types: kind only


def test_pycrdt_documents_with_long_histories_are_accepted():
    doc = Doc()
    text, meta, items = doc.get("text", type=Text), doc.get("m", type=Map), doc.get("a", type=Array)
    meta["x"] = {"a": [1, 2.5, None, True, "s", {"deep": [1, [2, [3]]]}], "n": -5}
    items.append(b"bin")
    items.append(2**40)
    for i in range(3000):
        text.insert(0, "😀x")
        if i % 3 == 0:
            del text[0:4]
    parse_frame(create_update_message(doc.get_update()))
    parse_frame(create_sync_message(doc))
    assert parse_frame(create_update_message(b"\x00\x00")).payload == b"\x00\x00"


FF = b"\xff" * (1024 * 1024)


@pytest.mark.parametrize(
    "frame",
    [
        bytes([0, 0]) + FF,  # step 1: the length prefix
        bytes([0, 1]) + FF,  # step 2
        bytes([0, 2]) + FF,  # update
        sync(0, FF),  # the state vector's count
        sync(2, FF),  # the update's count of clients
        sync(2, b"\x01" + FF),  # a count of structs
        sync(2, JS_UPDATE[:40] + FF),  # inside a struct
        bytes([1]) + FF,  # awareness: the length prefix
        bytes([1]) + yprotocol.write_buffer(b"\x01" + FF),  # an awareness client id
        FF,  # the message type
        bytes([0]) + FF,  # the sync type
    ],
)
def test_a_run_of_0xff_is_refused_at_once(frame):
    started = time.perf_counter()
    with pytest.raises(FrameError, match="varint too long") as refused:
        parse_frame(frame)
    # Refused within a varint's length of where the run starts, having read nothing more.
    assert refused.value.offset <= 60
    assert time.perf_counter() - started < 0.5  # pycrdt's decoder: minutes for this frame


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x00\x02\x05abc", "length larger than the bytes left"),
        (sync(2, JS_UPDATE) + b"\x00", "trailing bytes"),
        (sync(2, JS_UPDATE[:-3]), "truncated"),
        (sync(2, JS_UPDATE + b"\x00"), "trailing bytes"),
        (sync(0, b"\x7f\x01\x01"), "count larger than the bytes left"),
        (sync(2, b"\x01\x01\x01\x00\x9f\x01\x00"), "unknown content"),
        (sync(2, b"\x01\x01\x01\x00\x07\x01\x04text\x09"), "unknown type"),
        (bytes([0, 3]) + yprotocol.write_buffer(b""), "unknown sync message"),
        (sync(2, b"\x00\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f"), "number too large"),
        (bytes([1]) + yprotocol.write_buffer(b"\x01\x01\x01\x02\xff\xfe"), "invalid UTF-8"),
    ],
)
def test_malformed_frames_are_refused_with_a_reason(frame, reason):
    with pytest.raises(FrameError, match=reason):
        parse_frame(frame)


def test_nested_values_are_bounded():
    # One struct of ContentAny (ref 8) in a root type "t": [[[[...]]]] nested 40 deep.
    nested = b"\x01" + b"\x75\x01" * 40 + b"\x7e"
    update = b"\x01\x01\x01\x00\x08\x01\x01t" + nested + b"\x00"
    with pytest.raises(FrameError, match="nested too deep"):
        parse_frame(sync(2, update))
    shallow = b"\x01" + b"\x75\x01" * 5 + b"\x7e"
    parse_frame(sync(2, b"\x01\x01\x01\x00\x08\x01\x01t" + shallow + b"\x00"))


def test_awareness_frames_round_trip():
    frame = yprotocol.awareness_frame([(7, 3, '{"a":"é"}'), (8, 1, "null")])
    assert parse_frame(frame).awareness == ((7, 3, '{"a":"é"}'), (8, 1, "null"))


# --- presence ---------------------------------------------------------------------------------


def clean(state, **kwargs):
    out = presence.clean_state(
        state if isinstance(state, str) else json.dumps(state),
        **{"user_id": 12, "name": "vera", "role": "viewer", "can_edit": False, **kwargs},
    )
    return json.loads(out)


def test_presence_identity_comes_from_the_server():
    state = clean(
        {
            "user": {
                "name": "owner",
                "role": "owner",
                "id": "1",
                "canEdit": True,
                "color": "red; x",
            },
            "overlay": "<img>",
        }
    )
    assert state == {
        "user": {
            "id": "12",
            "name": "vera",
            "role": "viewer",
            "canEdit": False,
            "color": presence.palette_color(12),
            "colorLight": presence.palette_color(12) + "33",
        },
        "cursor": None,
    }
    assert clean({"user": {"color": "#ABCDEF"}})["user"]["color"] == "#abcdef"
    for bad in ["#abc", "#abcdeff", " #abcdef", "#abcdef;", 7, None, ["#abcdef"]]:
        assert clean({"user": {"color": bad}})["user"]["color"] == presence.palette_color(12)
    assert clean({"user": "x"})["user"]["name"] == "vera"
    assert clean("null") is None


def test_presence_cursors_keep_relative_positions_only():
    [(_, _, real)] = parse_frame(bytes([1]) + yprotocol.write_buffer(JS_AWARENESS)).awareness
    sent = json.loads(real)["cursor"]
    assert clean(real)["cursor"] == sent  # what y-codemirror.next sends survives as it is
    for bad in [
        {"anchor": sent["anchor"]},
        {"anchor": sent["anchor"], "head": {"item": {"client": -1, "clock": 0}}},
        {"anchor": sent["anchor"], "head": {"tname": "x" * 101}},
        {"anchor": sent["anchor"], "head": {"item": {"client": 1, "clock": 1.5}}},
        {"anchor": sent["anchor"], "head": {"assoc": "0", "tname": "text"}},
        {"anchor": sent["anchor"], "head": {}},
        "cursor",
    ]:
        assert clean({"cursor": bad})["cursor"] is None, bad


def test_presence_refuses_what_is_not_a_state():
    for bad in ["[1]", '"x"', "{", "[" * 5000 + "]" * 5000]:
        with pytest.raises(ValueError):
            clean(bad)
