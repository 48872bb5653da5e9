"""Byte-level BPE tokenizer (Hugging Face ``tokenizers``) with control tokens.

Byte-level means every string is first turned into UTF-8 bytes, so any Unicode text
(emoji, combining marks, CJK, control characters) round-trips exactly: there is no
unknown token and no normalization. A single token can therefore end in the middle of a
multi-byte character; ``token_bytes`` exposes each token's raw bytes so that streaming
(``detok.py``) can decode incrementally without ever emitting half a character.

Special tokens (ids 0..5, in this order) mark the control fields of a training document;
see ``prompting.py`` for the layout. Tokenizers trained with the story recipe
(``recipe.py``) add, after those, ``<|suffix|>`` (the text after a rewritten selection,
fill-in-the-middle) and the character slots ``<|c1|>`` … ``<|c12|>`` (a scene's cast:
each name is one token wherever it is written). Older tokenizers lack them and still load
(``has_slots`` is False; the prompt then carries names as text).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

PAD = "<|pad|>"
HEADING = "<|heading|>"
CAST = "<|cast|>"
SYNOPSIS = "<|synopsis|>"
TEXT = "<|text|>"
END = "<|end|>"
SPECIAL_TOKENS = [PAD, HEADING, CAST, SYNOPSIS, TEXT, END]
SUFFIX = "<|suffix|>"
MAX_SLOTS = 12
SLOT_TOKENS = [f"<|c{k}|>" for k in range(1, MAX_SLOTS + 1)]
STORY_TOKENS = [SUFFIX, *SLOT_TOKENS]  # the story recipe's additions (``recipe.py``)
_SPECIAL_RE = re.compile(
    "(" + "|".join(re.escape(t) for t in [*SPECIAL_TOKENS, *STORY_TOKENS]) + ")"
)


def _byte_decoder() -> dict[str, int]:
    """Return GPT-2's printable-character -> byte map used by the ByteLevel pre-tokenizer."""
    bs = list(range(ord("!"), ord("~") + 1))
    bs += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


class ScriptTokenizer:
    """Thin wrapper over a ``tokenizers.Tokenizer`` with our special-token ids."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        ids = [tok.token_to_id(t) for t in SPECIAL_TOKENS]
        if any(i is None for i in ids):
            raise ValueError("tokenizer lacks the Cowrite special tokens")
        self.pad_id, self.heading_id, self.cast_id, self.synopsis_id, self.text_id, self.end_id = (
            ids
        )
        story = [tok.token_to_id(t) for t in STORY_TOKENS]
        self.has_slots = all(i is not None for i in story)
        self.suffix_id: int | None = story[0] if self.has_slots else None
        # slot_ids[k - 1] is the id of <|ck|> (empty for a tokenizer without slots).
        self.slot_ids: list[int] = story[1:] if self.has_slots else []
        self.special_ids = frozenset(ids) | frozenset(i for i in story if i is not None)

    # ------------------------------------------------------------------ construction
    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 4096,
        min_frequency: int = 2,
        story: bool = False,
    ):
        """Train a byte-level BPE tokenizer of ``vocab_size`` tokens on ``texts``
        (``story``: with the story recipe's suffix and slot tokens)."""
        tok = Tokenizer(models.BPE())
        # use_regex splits words GPT-2 style before merging; add_prefix_space=False keeps
        # encode/decode an exact round trip (no invented leading space).
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=SPECIAL_TOKENS + (STORY_TOKENS if story else []),
            # All 256 byte symbols are in the vocabulary even if unseen in training.
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Load ``tokenizer.json`` (a file, or a folder containing one)."""
        p = Path(path)
        if p.is_dir():
            p = p / "tokenizer.json"
        return cls(Tokenizer.from_file(str(p)))

    def save(self, path: str | os.PathLike) -> None:
        """Write ``tokenizer.json`` (``path`` is a file, or a folder to write it in)."""
        p = Path(path)
        if p.is_dir():
            p = p / "tokenizer.json"
        self.tok.save(str(p))

    # ------------------------------------------------------------------ use
    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """Return the token ids of ``text``; a literal "<|end|>" in it stays plain text.

        ``tokenizers`` matches special-token strings anywhere, so user text containing
        "<|end|>" would otherwise inject a control token. Each occurrence is encoded as
        "<" + "|end|>" instead: the same bytes (exact round trip), no control meaning.
        """
        if "<|" not in text:
            return self.tok.encode(text, add_special_tokens=False).ids
        parts = _SPECIAL_RE.split(text)  # specials land at odd indices
        ids: list[int] = []
        for i, part in enumerate(parts):
            if i % 2:
                ids += self.tok.encode("<", add_special_tokens=False).ids
                ids += self.tok.encode(part[1:], add_special_tokens=False).ids
            elif part:
                ids += self.tok.encode(part, add_special_tokens=False).ids
        return ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Return the text of ``ids``; bytes that are not valid UTF-8 become U+FFFD."""
        return b"".join(self.id_bytes(i, skip_special) for i in ids).decode("utf-8", "replace")

    def id_bytes(self, i: int, skip_special: bool = True) -> bytes:
        if i in self.special_ids:
            return b"" if skip_special else self.tok.id_to_token(i).encode()
        return self.token_bytes[i]

    @cached_property
    def token_bytes(self) -> list[bytes]:
        """Return, for every id, the raw bytes it stands for (b"" for special tokens)."""
        dec = _byte_decoder()
        out = []
        for i in range(self.vocab_size):
            s = self.tok.id_to_token(i)
            if i in self.special_ids or s is None:
                out.append(b"")
            else:
                out.append(bytes(dec[c] for c in s))
        return out
