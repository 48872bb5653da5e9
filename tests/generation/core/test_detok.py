from generation.core.detok import IncrementalDecoder, StopStringBuffer


def test_never_emits_half_a_character():
    text = "a😀—’漢e\u0301"
    data = text.encode()
    # One "token" per byte: the worst case for multi-byte characters.
    dec = IncrementalDecoder([bytes([b]) for b in range(256)])
    pieces = [dec.push(b) for b in data] + [dec.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    # Emoji bytes 2..4 produce nothing until the 4th completes it.
    assert pieces[1:5] == ["", "", "", "😀"]


def test_incomplete_tail_flushes_as_replacement():
    dec = IncrementalDecoder([bytes([b]) for b in range(256)])
    assert dec.push(0xF0) == "" and dec.flush() == "\ufffd"


def test_stop_string_held_back_and_cut():
    buf = StopStringBuffer(["\n\nINT.", "THE END"])
    sent = []
    for piece in ["Hello", " world", "\n", "\nIN", "T. CASTLE"]:
        sent.append(buf.add(piece))
        # What has been released can never contain a stop string's beginning left open.
        assert "\n\nI" not in "".join(sent)
    assert buf.stopped
    assert "".join(sent) == "Hello world"


def test_no_stop_releases_everything_on_finish():
    buf = StopStringBuffer(["STOP!"])
    out = buf.add("abcdef") + buf.add("gh")
    assert out == "abcd"  # 4 = len("STOP!") - 1 characters held back
    assert out + buf.finish() == "abcdefgh"
