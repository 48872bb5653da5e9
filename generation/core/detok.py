"""Incremental detokenization for streaming, with stop strings.

A byte-level BPE token can end in the middle of a UTF-8 character (an emoji is 4 bytes and
may span two tokens). ``IncrementalDecoder`` feeds token bytes through Python's
incremental UTF-8 decoder, which keeps an incomplete trailing sequence buffered until it
completes, so a half character is never emitted.

``StopStringBuffer`` then holds back the last ``len(longest stop) - 1`` characters while
streaming: whatever has been sent can never turn out to be the start of a stop string.
When a stop string appears, the text is cut just before it and the request finishes.
"""

from __future__ import annotations

import codecs


class IncrementalDecoder:
    """Turn a stream of token ids into text, never splitting a UTF-8 character."""

    def __init__(self, token_bytes: list[bytes]):
        self.token_bytes = token_bytes
        self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token_id: int) -> str:
        """Return the text completed by this token (possibly empty)."""
        return self._dec.decode(self.token_bytes[token_id])

    def flush(self) -> str:
        """Return whatever is left (an incomplete character becomes U+FFFD)."""
        return self._dec.decode(b"", final=True)


class SlotDecoder(IncrementalDecoder):
    """An ``IncrementalDecoder`` that writes character-slot tokens as their names.

    ``render(token_id, at_line_start)`` returns a slot's text (or None for other tokens):
    the story recipe writes a name in capitals where a line starts (a cue) and in title
    case inside a line (``recipe.CastSlots.render``). ``text_before`` is the text the
    draft continues (does it end at a line start?)."""

    def __init__(self, token_bytes: list[bytes], render, text_before: str = ""):
        super().__init__(token_bytes)
        self.render = render
        self.at_line_start = text_before == "" or text_before.endswith("\n")

    def push(self, token_id: int) -> str:
        name = self.render(token_id, self.at_line_start)
        text = super().push(token_id) if name is None else self._dec.decode(b"") + name
        if text:
            self.at_line_start = text.endswith("\n")
        return text


class StopStringBuffer:
    """Accumulate text, release it safely, and detect stop strings."""

    def __init__(self, stop: list[str]):
        self.stop = [s for s in stop if s]
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.text = ""  # everything accepted so far (cut at a stop string once found)
        self.sent = 0  # characters of self.text already released
        self.stopped = False

    def add(self, piece: str) -> str:
        """Append ``piece``; return the newly releasable text. Sets ``stopped`` on a stop string."""
        if self.stopped:
            return ""
        # Only the tail can contain a new match: search from where a match could start.
        search_from = max(0, len(self.text) - self.hold)
        self.text += piece
        cut = None
        for s in self.stop:
            i = self.text.find(s, search_from)
            if i != -1 and (cut is None or i < cut):
                cut = i
        if cut is not None:
            self.text = self.text[:cut]
            self.stopped = True
            return self.finish()
        upto = max(self.sent, len(self.text) - self.hold)
        out = self.text[self.sent : upto]
        self.sent = upto
        return out

    def finish(self) -> str:
        """Release everything still held back (call once the request is done)."""
        out = self.text[self.sent :]
        self.sent = len(self.text)
        return out
