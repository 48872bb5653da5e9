"""Yjs relative positions on a scene's live text: read them, resolve them, make them.

A browser marks a place in the shared text (a selection, a cursor) with
``Y.createRelativePositionFromTypeIndex`` + ``Y.encodeRelativePosition``: the place is
tied to a character (its Yjs item id), so it stays put while others type before or after
it. The server reads those bytes here and finds the place again in its own live
document (pycrdt).

Why not just pycrdt's ``StickyIndex``: its bytes are Yjs's, but pycrdt 0.14 counts its
offsets in UTF-8 bytes for the text *left* of the character's block and in UTF-16 units
*inside* the block (pycrdt issue #382), so any accent, curly quote or em dash earlier in
that block puts the place a few characters off. So this module finds the block itself
(from the document's own encoding, ``yprotocol.update_structs``), asks pycrdt only for
the block's start (exact: no units inside a block are involved), and counts within the
block's string. It also never hands a client's bytes to pycrdt (a malformed position can
panic its Rust decoder): positions are parsed and bounded here, then re-encoded.

Indexes in and out are Python characters (code points) of the live text.
"""

import base64
import binascii
from dataclasses import dataclass

from pycrdt import Doc, StickyIndex, Text

from . import yprotocol

TEXT_NAME = "text"
# A position is a few varints (or the type's name): Yjs writes 4–20 bytes.
MAX_BYTES = 64
MAX_B64 = 96


class PositionError(ValueError):
    """Not a Yjs relative position on the scene's text (the message says what is wrong)."""


@dataclass(frozen=True)
class RelativePosition:
    """A place in the text: right before the character ``(client, clock)`` (``assoc`` 0)
    or right after it (``assoc`` -1); with no character, the text's end (0) or start (-1).
    """

    client: int | None
    clock: int | None
    assoc: int  # 0: sticks to the character on its right; -1: to the one on its left

    def encode(self) -> bytes:
        """Yjs's ``encodeRelativePosition`` bytes."""
        w = yprotocol.write_var_uint
        if self.client is None:
            head = b"\x01" + yprotocol.write_buffer(TEXT_NAME.encode())
        else:
            head = b"\x00" + w(self.client) + w(self.clock)
        return head + (b"\x41" if self.assoc < 0 else b"\x00")

    def b64(self) -> str:
        return base64.b64encode(self.encode()).decode("ascii")


def _signed(r) -> int:
    """A lib0 signed varint (the sign in the first byte's 0x40 bit)."""
    first = r.u8()
    value = first & 0x3F
    if first & 0x80:
        value |= r.uint() << 6
    return -value if first & 0x40 else value


def parse(data: bytes) -> RelativePosition:
    """Read Yjs's encoding of a relative position on the scene's text; raise
    PositionError if it is anything else."""
    if not isinstance(data, bytes | bytearray) or not 0 < len(data) <= MAX_BYTES:
        raise PositionError("a position is 1 to 64 bytes")
    r = yprotocol._Reader(bytes(data))
    try:
        kind = r.uint()
        if kind == 0:
            client, clock = r.uint(), r.uint()
        elif kind == 1:
            if r.string() != TEXT_NAME:
                raise PositionError("the position is not in the scene's text")
            client = clock = None
        else:
            raise PositionError("the position is not in the scene's text")
        assoc = _signed(r) if r.left() else 0
        r.done()
    except yprotocol.FrameError as exc:
        raise PositionError(f"malformed position ({exc.reason})") from None
    return RelativePosition(client, clock, -1 if assoc < 0 else 0)


def from_b64(value: str) -> RelativePosition:
    """A position as the browser sends it (standard base64 of Yjs's bytes)."""
    if not isinstance(value, str) or not value or len(value) > MAX_B64:
        raise PositionError("a position is a short base64 text")
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise PositionError("a position is base64") from None
    return parse(data)


class Resolver:
    """Finds relative positions in one pycrdt document as it is now (build one per
    document state: it reads the document's blocks once)."""

    def __init__(self, doc: Doc):
        self.doc = doc
        self.ytext = doc.get(TEXT_NAME, type=Text)
        self.text = str(self.ytext)
        self._blocks: dict[int, list[yprotocol.Struct]] | None = None
        self._utf8 = self.text.encode("utf-8")

    def _block(self, client: int, clock: int) -> yprotocol.Struct | None:
        if self._blocks is None:
            self._blocks = {}
            for s in yprotocol.update_structs(self.doc.get_update()):
                self._blocks.setdefault(s.client, []).append(s)
        for s in self._blocks.get(client, ()):
            if s.clock <= clock < s.clock + s.length:
                return s
        return None

    def _offset(self, client: int, clock: int, assoc: int) -> int | None:
        """pycrdt's offset for an item position (see the module's note on its units)."""
        sticky = StickyIndex.decode(RelativePosition(client, clock, assoc).encode(), self.ytext)
        with self.doc.transaction() as txn:
            return sticky.get_index(txn)

    def _chars(self, utf8_offset: int) -> int | None:
        if not 0 <= utf8_offset <= len(self._utf8):
            return None
        try:
            return len(self._utf8[:utf8_offset].decode("utf-8"))
        except UnicodeDecodeError:
            return None

    def index(self, pos: RelativePosition) -> int | None:
        """The position's index in the text now (None: its character is unknown here)."""
        if pos.client is None:
            return len(self.text) if pos.assoc >= 0 else 0
        block = self._block(pos.client, pos.clock)
        if block is None:
            return None
        start = self._offset(pos.client, block.clock, 0)  # UTF-8 bytes before the block
        if start is None:
            return None
        diff = pos.clock - block.clock + (1 if pos.assoc < 0 else 0)
        raw = self._offset(pos.client, pos.clock, pos.assoc)
        if block.text is not None and raw == start + diff:
            # A visible string block: count ``diff`` UTF-16 units into its string.
            units = size = 0
            for ch in block.text:
                if units >= diff:
                    break
                units += 2 if ord(ch) > 0xFFFF else 1
                size += len(ch.encode("utf-8"))
            return self._chars(start + size)
        if raw == start:
            # A deleted character (pycrdt and Yjs both put the place where it was).
            return self._chars(start)
        return None

    def span(self, start: RelativePosition, end: RelativePosition) -> tuple[int, int] | None:
        a, b = self.index(start), self.index(end)
        if a is None or b is None:
            return None
        return a, max(a, b)


def span_of_insert(client: int, first_clock: int, text: str) -> tuple[bytes, bytes]:
    """Positions that hold exactly the characters one insert made (one item from
    ``(client, first_clock)``): the first one's left edge and the last one's right edge,
    so typing at either edge stays outside."""
    last = first_clock + yprotocol._utf16_len(text) - 1
    return (
        RelativePosition(client, first_clock, 0).encode(),
        RelativePosition(client, last, -1).encode(),
    )
