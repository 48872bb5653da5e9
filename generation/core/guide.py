"""Instruction-aware decoding: a draft keeps the checkable instructions it was given.

The writer's instruction may carry the fixed phrasings of ``instructions.py`` ("Only
CLAIRE and JUNE speak.", "About 12 lines.", 'Include the word "house".', "End on a
transition."). The model is trained on them (``recipe.py``) but a small model follows
them only sometimes; as with the cast (``cues.py``), the engine keeps what a decoding rule
can keep, one ``InstructionGuide`` per engine row:

- **speakers**: not here — the engine gives the cue rule (``cues.CueConstraint``) the
  instruction's names instead of the whole cast, so only they are cued, and those who
  have not spoken yet get the refused cue mass first.
- **lines** (n): ``<|end|>`` is refused until the draft has ``ceil(0.5·n)`` non-blank
  lines; once a line ends with the draft at ``floor(1.4·n)`` lines or more, the draft
  closes (ends, or writes its transition first). The check's band is [0.5·n, 1.5·n].
- **transition**: ``<|end|>`` is refused anywhere but after a transition. The draft
  closes when the model would end (``<|end|>`` has at least ``END_WISH`` of the
  probability), when the ``lines`` rule closes it, or when at most ``RESERVE`` tokens of
  its budget are left: from then on only tokens that spell a transition on a line of its
  own (``TRANSITIONS``, the model choosing among them) can be sampled, then ``<|end|>``.
- **word**: until the word is in the draft, tokens that begin it (at least three of its
  letters, or all of a shorter word; any case, with or without a leading space) get
  ``WORD_BIAS`` added to their logits: a nudge, not a guarantee.

What the guide refuses is set to -inf; nothing else of the distribution changes (no
temperature, no renormalisation games). Pure PyTorch and the standard library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from generation.core.instructions import check

TRANSITIONS = ("CUT TO:", "DISSOLVE TO:", "SMASH CUT TO:", "MATCH CUT TO:")
END_WISH = 0.2  # p(<|end|>) at which a draft that must end on a transition starts closing
RESERVE = 20  # tokens kept for the closing transition (the longest, byte by byte, and <|end|>)
WORD_BIAS = 3.0  # logit nudge for tokens that begin the asked word
MIN_WORD_PREFIX = 3


class GuideVocab:
    """The vocabulary as bytes, grouped by first byte (built once per engine)."""

    def __init__(self, token_bytes: Sequence[bytes]):
        self.token_bytes = list(token_bytes)
        self.by_first: dict[int, list[tuple[int, bytes]]] = {}
        for i, b in enumerate(self.token_bytes):
            if b:
                self.by_first.setdefault(b[0], []).append((i, b))

    def word_starts(self, word: str) -> list[int]:
        """Ids of tokens that begin ``word`` (case-insensitive, optional leading space)
        with at least ``MIN_WORD_PREFIX`` of its letters (all of a shorter word)."""
        w = word.strip().lower()
        need = min(MIN_WORD_PREFIX, len(w))
        out = []
        for i, b in enumerate(self.token_bytes):
            try:
                s = b.decode("utf-8").lower()
            except UnicodeDecodeError:
                continue
            core = s[1:] if s[:1] == " " else s
            if len(core) >= need and w.startswith(core):
                out.append(i)
        return out


class InstructionGuide:
    """The instruction rules for one engine row (module doc): ``apply`` before sampling,
    ``advance`` with the text of each sampled token."""

    def __init__(
        self, pairs: Sequence[tuple[str, object]], vocab: GuideVocab, end_id: int, text_before=""
    ):
        self.vocab, self.end_id = vocab, end_id
        kinds = dict(pairs)
        n = kinds.get("lines")
        self.min_lines = math.ceil(0.5 * n) if isinstance(n, int) else 0
        self.close_at = math.floor(1.4 * n) if isinstance(n, int) else None
        self.transition = bool(kinds.get("transition"))
        word = kinds.get("word")
        self.word = str(word).lower() if word else None
        self.word_ids = vocab.word_starts(self.word) if self.word else []
        self.text = ""
        self.lines = 0  # complete non-blank lines written
        self.closing: list[bytes] | None = None  # the transitions still possible
        self.spelled = b""  # bytes written since closing began
        self.must_end = False
        # Where the draft starts: a blank line before a transition needs to know this.
        self._tail = text_before[-2:] if text_before else "\n\n"

    @property
    def active(self) -> bool:
        return bool(self.min_lines or self.close_at or self.transition or self.word_ids)

    # --- state ------------------------------------------------------------------------
    def advance(self, piece: str) -> None:
        """Take the decoded text of the token just sampled (it may be "")."""
        if not piece:
            return
        if self.closing is not None:
            self.spelled += piece.encode("utf-8")
            if any(t == self.spelled for t in self.closing):
                self.must_end = True
        before = self.text
        self.text += piece
        self._tail = (self._tail + piece)[-2:]
        done = self.text.split("\n")[:-1]  # complete lines
        self.lines = sum(1 for line in done if line.strip())
        if self.word_ids and self.word in self.text.lower()[max(0, len(before) - 64) :]:
            self.word_ids = []  # the word is there: stop nudging
        at_line_end = self.text.endswith("\n")
        if (
            self.close_at is not None
            and at_line_end
            and self.lines >= self.close_at
            and self.closing is None
            and not self.must_end
        ):
            if self.transition:
                self._start_closing()
            else:
                self.must_end = True

    def _start_closing(self) -> None:
        if check("transition", True, self.text):  # it already ends on one
            self.must_end = True
            return
        if self._tail.endswith("\n\n"):
            lead = ""
        elif self._tail.endswith("\n"):
            lead = "\n"
        else:
            lead = "\n\n"
        self.closing = [f"{lead}{t}\n".encode() for t in TRANSITIONS]
        self.spelled = b""

    # --- logits -----------------------------------------------------------------------
    def apply(self, row: torch.Tensor, remaining: int) -> None:
        """Edit one row of logits in place before sampling (``remaining``: tokens left)."""
        if self.transition and self.closing is None and not self.must_end:
            p_end = torch.softmax(row.float(), 0)[self.end_id].item()
            if (p_end >= END_WISH and self.lines >= self.min_lines) or remaining <= RESERVE:
                self._start_closing()
        if self.must_end:
            keep = row[self.end_id].clone()
            row.fill_(float("-inf"))
            row[self.end_id] = keep if torch.isfinite(keep) else 0.0
            return
        if self.closing is not None:
            allowed = self._spelling_ids()
            keep = row[allowed].clone()
            row.fill_(float("-inf"))
            # A token the model put no mass on still spells the transition (-inf -> 0).
            row[allowed] = torch.where(torch.isfinite(keep), keep, torch.zeros_like(keep))
            return
        if self.transition or self.lines < self.min_lines:
            row[self.end_id] = float("-inf")
        if self.word_ids:
            row[self.word_ids] += WORD_BIAS

    def _spelling_ids(self) -> list[int]:
        """Tokens that continue spelling one of the closing transitions."""
        targets = [t[len(self.spelled) :] for t in self.closing if t.startswith(self.spelled)]
        ids = []
        for first in {t[0] for t in targets if t}:
            for i, b in self.vocab.by_first.get(first, ()):
                if any(t.startswith(b) for t in targets):
                    ids.append(i)
        return ids or [self.end_id]
