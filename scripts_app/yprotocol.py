"""Check y-protocols frames (and the Yjs updates inside them) before pycrdt sees them.

A co-editing socket receives untrusted bytes. pycrdt's Python ``Decoder`` reads a varint
of any length (a run of ``0xff`` bytes builds an ever larger integer: quadratic; a 200 kB
frame once stalled the server for seconds), so nothing from a socket reaches it: this
module walks the framing itself, in one linear pass with constant work per byte:

- a varint is at most ``MAX_VARINT_BYTES`` bytes and at most 2**53 - 1 (what lib0
  writes for a JavaScript number);
- a length prefix is never more than the bytes left, and a count of elements never more
  than the bytes left (every element takes at least one byte);
- nested values (``ContentAny``) are at most ``MAX_DEPTH`` deep;
- a frame holds exactly one message, with nothing after it.

For a sync step 1 it checks the state vector; for a step 2 or an update, the Yjs update
(v1 encoding: the structs of each client, then the delete set); for awareness, the
entries (client id, clock, JSON state). It does not decide what an update *means* (that
is still pycrdt's job, on input already known to be well formed and bounded in size).
"""

from dataclasses import dataclass

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

MAX_VARINT_BYTES = 10
MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32

# Yjs struct and content kinds (the low 5 bits of a struct's info byte).
_GC, _SKIP = 0, 10
_DELETED, _JSON, _BINARY, _STRING, _EMBED, _FORMAT, _TYPE, _ANY, _DOC = range(1, 10)
_XML_ELEMENT, _XML_HOOK = 3, 5  # type refs that carry a name
_MAX_TYPE_REF = 6


class FrameError(ValueError):
    """The frame is not well-formed y-protocols traffic (``offset``: where it went wrong)."""

    def __init__(self, reason: str, offset: int):
        super().__init__(f"{reason} at byte {offset}")
        self.reason = reason
        self.offset = offset


@dataclass(frozen=True)
class Message:
    """One checked frame. ``payload``: the sync message's bytes (state vector or update);
    ``awareness``: the awareness entries (client id, clock, JSON text of the state)."""

    kind: int
    sync_type: int | None = None
    payload: bytes = b""
    awareness: tuple[tuple[int, int, str], ...] = ()


class _Reader:
    __slots__ = ("data", "pos", "end", "base")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, base: int = 0):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.base = base  # offset of ``data`` in the whole frame, for error messages

    def fail(self, reason: str):
        raise FrameError(reason, self.base + self.pos)

    def left(self) -> int:
        return self.end - self.pos

    def u8(self) -> int:
        if self.pos >= self.end:
            self.fail("truncated")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint(self, limit: int = MAX_SAFE_INTEGER) -> int:
        data, pos, end = self.data, self.pos, self.end
        stop = min(end, pos + MAX_VARINT_BYTES)
        value = shift = 0
        while True:
            if pos >= stop:
                self.pos = pos
                self.fail("truncated varint" if pos >= end else "varint too long")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        self.pos = pos
        if value > limit:
            self.fail("number too large")
        return value

    def int(self) -> None:
        """A lib0 signed varint (sign in the first byte's 0x40 bit)."""
        first = self.u8()
        if first & 0x80:
            self.uint()  # the rest is an unsigned varint's continuation
        # The first byte holds 6 bits; the rest is bounded by uint's checks.

    def count(self) -> int:
        """A number of elements that follow, each at least one byte long."""
        n = self.uint()
        if n > self.left():
            self.fail("count larger than the bytes left")
        return n

    def skip(self, n: int) -> None:
        if n > self.left():
            self.fail("length larger than the bytes left")
        self.pos += n

    def buffer(self) -> bytes:
        n = self.uint()
        if n > self.left():
            self.fail("length larger than the bytes left")
        start = self.pos
        self.pos += n
        return self.data[start : self.pos]

    def string(self) -> str:
        raw = self.buffer()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("invalid UTF-8")

    def skip_string(self) -> None:
        self.string()

    def done(self) -> None:
        if self.pos != self.end:
            self.fail("trailing bytes")


def _any(r: _Reader, depth: int = 0) -> None:
    """Skip one lib0 ``readAny`` value."""
    if depth > MAX_DEPTH:
        r.fail("nested too deep")
    kind = r.u8()
    if kind in (127, 126, 121, 120):  # undefined, null, false, true
        return
    if kind == 125:
        r.int()
    elif kind == 124:
        r.skip(4)
    elif kind in (123, 122):  # float64, bigint64
        r.skip(8)
    elif kind == 119:
        r.skip_string()
    elif kind == 118:  # object
        for _ in range(r.count()):
            r.skip_string()
            _any(r, depth + 1)
    elif kind == 117:  # array
        for _ in range(r.count()):
            _any(r, depth + 1)
    elif kind == 116:
        r.buffer()
    else:
        r.fail("unknown value type")


def _content(r: _Reader, ref: int) -> None:
    if ref == _DELETED:
        r.uint()
    elif ref == _JSON:
        for _ in range(r.count()):
            r.skip_string()
    elif ref == _BINARY:
        r.buffer()
    elif ref in (_STRING, _EMBED):
        r.skip_string()
    elif ref == _FORMAT:
        r.skip_string()
        r.skip_string()
    elif ref == _TYPE:
        type_ref = r.uint()
        if type_ref > _MAX_TYPE_REF:
            r.fail("unknown type")
        if type_ref in (_XML_ELEMENT, _XML_HOOK):
            r.skip_string()
    elif ref == _ANY:
        for _ in range(r.count()):
            _any(r)
    elif ref == _DOC:
        r.skip_string()
        _any(r)
    else:
        r.fail("unknown content")


def check_update(update: bytes, base: int = 0) -> None:
    """Check a Yjs update (v1 encoding); raise FrameError if it is not well formed."""
    r = _Reader(update, base=base)
    uint, u8 = r.uint, r.u8
    for _ in range(r.count()):  # clients
        structs = r.count()
        uint()  # client id
        uint()  # first clock
        for _ in range(structs):
            info = u8()
            ref = info & 0x1F
            if ref in (_GC, _SKIP):
                uint()  # length
                continue
            if info & 0x80:  # origin (left) id
                uint()
                uint()
            if info & 0x40:  # right origin id
                uint()
                uint()
            if not info & 0xC0:  # no origin: the parent is named
                if uint() == 1:
                    r.skip_string()  # a root type's name
                else:
                    uint()
                    uint()
                if info & 0x20:
                    r.skip_string()  # parent sub (a map key)
            _content(r, ref)
    for _ in range(r.count()):  # delete set: clients
        uint()
        for _ in range(r.count()):
            uint()  # clock
            uint()  # length
    r.done()


def check_state_vector(data: bytes, base: int = 0) -> None:
    r = _Reader(data, base=base)
    for _ in range(r.count()):
        r.uint()
        r.uint()
    r.done()


def read_state_vector(data: bytes) -> dict[int, int]:
    """A state vector as ``{client: next clock}``."""
    r = _Reader(data)
    vector = {}
    for _ in range(r.count()):
        client = r.uint()
        vector[client] = r.uint()
    r.done()
    return vector


def parse_awareness(data: bytes, base: int = 0) -> tuple[tuple[int, int, str], ...]:
    """Return an awareness update's entries: (client id, clock, JSON text of the state)."""
    r = _Reader(data, base=base)
    entries = []
    for _ in range(r.count()):
        entries.append((r.uint(), r.uint(), r.string()))
    r.done()
    return tuple(entries)


def parse_frame(frame: bytes) -> Message:
    """Check one websocket frame of the y-protocols; return what it carries.

    Message types other than sync and awareness (auth, query-awareness) come back with
    their kind only: callers ignore them, as y-websocket does.
    """
    r = _Reader(frame)
    kind = r.uint()
    if kind == MESSAGE_SYNC:
        sync_type = r.uint()
        if sync_type not in (SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE):
            r.fail("unknown sync message")
        payload = r.buffer()
        base = r.pos - len(payload)
        r.done()
        if sync_type == SYNC_STEP1:
            check_state_vector(payload, base)
        else:
            check_update(payload, base)
        return Message(kind, sync_type, payload)
    if kind == MESSAGE_AWARENESS:
        payload = r.buffer()
        base = r.pos - len(payload)
        r.done()
        return Message(kind, awareness=parse_awareness(payload, base))
    return Message(kind)


# --- encoding (what the server sends) -------------------------------------------------------


def write_var_uint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def write_buffer(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def awareness_frame(entries: list[tuple[int, int, str]]) -> bytes:
    """Encode an awareness message (type, then the update as a length-prefixed buffer)."""
    body = bytearray(write_var_uint(len(entries)))
    for client_id, clock, state in entries:
        body += write_var_uint(client_id) + write_var_uint(clock)
        body += write_buffer(state.encode("utf-8"))  # lib0 strings: UTF-8 byte length
    return bytes([MESSAGE_AWARENESS]) + write_buffer(bytes(body))


# --- reading a document's structs (relative positions, ``positions.py``) -------------------


@dataclass(frozen=True)
class Struct:
    """One struct of a Yjs update: ``length`` clock units from ``clock`` of ``client``;
    ``text`` is the string of a string item (None for anything else: GC, deleted, …)."""

    client: int
    clock: int
    length: int
    text: str | None


def _utf16_len(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


def update_structs(update: bytes) -> list[Struct]:
    """The structs of a (well-formed) Yjs v1 update, with their clock ranges.

    Meant for what pycrdt itself encoded (``Doc.get_update()``), where the structs are the
    document's blocks; raise FrameError on anything malformed all the same."""
    r = _Reader(update)
    uint, u8 = r.uint, r.u8
    out = []
    for _ in range(r.count()):  # clients
        structs = r.count()
        client = uint()
        clock = uint()
        for _ in range(structs):
            info = u8()
            ref = info & 0x1F
            text = None
            if ref in (_GC, _SKIP):
                length = uint()
            else:
                if info & 0x80:
                    uint()
                    uint()
                if info & 0x40:
                    uint()
                    uint()
                if not info & 0xC0:
                    if uint() == 1:
                        r.skip_string()
                    else:
                        uint()
                        uint()
                    if info & 0x20:
                        r.skip_string()
                if ref == _STRING:
                    text = r.string()
                    length = _utf16_len(text)
                elif ref == _DELETED:
                    length = uint()
                elif ref in (_JSON, _ANY):
                    start = r.pos
                    n = r.count()
                    r.pos = start
                    _content(r, ref)
                    length = n
                else:
                    _content(r, ref)
                    length = 1
            out.append(Struct(client, clock, length, text))
            clock += length
    return out
