"""Find text a draft copied verbatim from the training corpus (or from other projects).

A language model can *memorise*: hand back, word for word, a passage it was trained on.
For a writer that is a problem (the scene is not theirs, and may be somebody else's), so
every draft is checked against a word n-gram index of the texts it must not copy:

* ``normalise_words(text)`` turns text into the words compared (case, punctuation at the
  edges of words and Fountain emphasis markup do not matter);
* ``NgramIndex`` holds a 64-bit hash of every run of ``n`` consecutive words (``n = 8`` by
  default) of a set of documents, sorted, in one ``numpy.uint64`` array, with the source
  of each n-gram for reporting; it saves to and loads from one ``.npz`` file;
* ``longest_copied_span(index, text)`` returns the longest run of words of ``text`` in
  which every n-gram occurs in the index: "these 52 words are copied from *Hamlet*".

A run of ``k`` consecutive n-gram hits covers ``k + n - 1`` words. Eight words in a row
rarely match by chance (stock phrases like "I don't know what you're talking about" can),
so a span shorter than a few dozen words means nothing; the caller picks the threshold.

``index_corpus(corpus_dir)`` indexes the training split of a corpus built by
``generation.core.corpus.build_corpus``; ``index_version_folder(version_dir, corpus_dir)``
writes that index as ``ngrams.npz`` (``MEMO_FILE``) into a model version folder, where
``load_version_index`` finds it again.

Hashing is deterministic across processes and machines: each word is hashed with
BLAKE2b (8 bytes) and an n-gram's hash is a polynomial over its word hashes modulo 2**64,
finished with the splitmix64 mixer. Pure numpy + stdlib: no torch, no Django.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEMO_FILE = "ngrams.npz"
DEFAULT_N = 8
FORMAT = "cowrite-ngrams/1"

# Longest excerpt kept in a ``Copied`` (characters); a longer span is cut with "…".
EXCERPT_CHARS = 1000

_WORD_RE = re.compile(r"\S+")
# Fountain emphasis (*italic*, **bold**, _underline_) and its escapes vanish anywhere.
_MARKUP_RE = re.compile(r"[*_\\]")
# Everything that is not a letter or digit, at either edge of a word.
_EDGE_RE = re.compile(r"^[\W]+|[\W]+$")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"'})

_P = np.uint64(0x100000001B3)  # odd multiplier of the polynomial (the FNV-1 64-bit prime)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


# --------------------------------------------------------------------------- words


def _words_with_spans(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Return the normalised words of ``text`` and each one's (start, end) in ``text``."""
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in _WORD_RE.finditer(text):
        w = _EDGE_RE.sub("", _MARKUP_RE.sub("", m.group().translate(_QUOTES).lower()))
        if w:
            words.append(w)
            spans.append(m.span())
    return words, spans


def normalise_words(text: str) -> list[str]:
    """Return the words of ``text`` as compared for copying.

    Whitespace separates words. Each word is lower-cased; Fountain emphasis markup
    (``*``, ``_``) and backslashes are removed anywhere in it; curly quotes become straight
    ones; then anything that is not a letter or digit is stripped from both edges (so
    ``"Hamlet!"``, ``@HAMLET`` and ``(beat)`` become ``hamlet`` and ``beat``, while
    ``don't`` and ``well-met`` keep their inner apostrophe and hyphen). Words left empty
    (``--``, ``...``, ``>``) are dropped. Line breaks count as spaces, so a copied passage
    re-wrapped or re-punctuated still matches.
    """
    return _words_with_spans(text)[0]


# --------------------------------------------------------------------------- hashing


class _WordHasher:
    """BLAKE2b-64 of each word, cached (a corpus has few distinct words)."""

    def __init__(self) -> None:
        self.cache: dict[str, int] = {}

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        cache = self.cache
        out = np.empty(len(words), dtype=np.uint64)
        for i, w in enumerate(words):
            h = cache.get(w)
            if h is None:
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                if len(cache) < 2_000_000:
                    cache[w] = h
            out[i] = h
        return out


def _ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """Return the hash of every run of ``n`` words (``len - n + 1`` of them, or none)."""
    count = len(word_hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    h = word_hashes[:count].copy()
    for i in range(1, n):  # uint64 arrays wrap modulo 2**64 (no overflow warning)
        h *= _P
        h += word_hashes[i : i + count]
    # splitmix64 finaliser: spreads the bits so sorted hashes are uniform.
    h ^= h >> np.uint64(30)
    h *= _M1
    h ^= h >> np.uint64(27)
    h *= _M2
    h ^= h >> np.uint64(31)
    return h


def ngram_hashes(text: str, n: int = DEFAULT_N) -> np.ndarray:
    """Return the uint64 hash of every word n-gram of ``text``, in order."""
    return _ngram_hashes(_WordHasher()(normalise_words(text)), n)


# --------------------------------------------------------------------------- index


class NgramIndex:
    """A sorted set of word n-gram hashes, each with the index of the source it came from.

    ``hashes`` is sorted and unique (an n-gram found in several sources keeps the first
    source it was seen in); ``sources[i]`` indexes ``labels`` for ``hashes[i]``.
    """

    def __init__(
        self, hashes: np.ndarray, sources: np.ndarray, labels: Sequence[str], n: int = DEFAULT_N
    ) -> None:
        self.hashes = np.asarray(hashes, dtype=np.uint64)
        self.sources = np.asarray(sources, dtype=np.int32)
        self.labels = list(labels)
        self.n = int(n)
        if self.hashes.shape != self.sources.shape:
            raise ValueError("hashes and sources differ in length")

    # ---- building

    @classmethod
    def build(cls, texts: Iterable[tuple[str, str]], n: int = DEFAULT_N) -> NgramIndex:
        """Index ``(source_label, text)`` pairs, read one at a time (a generator streams).

        Texts with the same label share one entry of ``labels``.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        hasher = _WordHasher()
        label_ids: dict[str, int] = {}
        chunks: list[np.ndarray] = []
        chunk_sources: list[np.ndarray] = []
        for label, text in texts:
            h = _ngram_hashes(hasher(normalise_words(text)), n)
            if not len(h):
                continue
            sid = label_ids.setdefault(str(label), len(label_ids))
            chunks.append(h)
            chunk_sources.append(np.full(len(h), sid, dtype=np.int32))
        if not chunks:
            return cls(np.empty(0, np.uint64), np.empty(0, np.int32), list(label_ids), n)
        hashes = np.concatenate(chunks)
        del chunks
        sources = np.concatenate(chunk_sources)
        del chunk_sources
        order = np.argsort(hashes, kind="stable")  # stable: the first source seen wins
        hashes = hashes[order]
        sources = sources[order]
        del order
        keep = np.ones(len(hashes), dtype=bool)
        keep[1:] = hashes[1:] != hashes[:-1]
        return cls(hashes[keep], sources[keep], list(label_ids), n)

    # ---- storage

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index to one ``.npz`` file (atomically: temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(
                    f,
                    hashes=self.hashes,
                    sources=self.sources,
                    # JSON in a uint8 array: any label, and no pickle needed to read it.
                    labels=np.frombuffer(json.dumps(self.labels).encode(), dtype=np.uint8),
                    n=np.array(self.n, dtype=np.int64),
                    format=np.frombuffer(FORMAT.encode(), dtype=np.uint8),
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> NgramIndex:
        """Read an index written by ``save`` (``allow_pickle=False``)."""
        with np.load(path, allow_pickle=False) as z:
            fmt = bytes(z["format"]).decode()
            if fmt != FORMAT:
                raise ValueError(f"{path}: not an n-gram index ({fmt!r})")
            labels = json.loads(bytes(z["labels"]).decode())
            return cls(z["hashes"], z["sources"], labels, int(z["n"]))

    # ---- queries

    def __len__(self) -> int:
        return len(self.hashes)

    def __repr__(self) -> str:
        return f"NgramIndex(n={self.n}, ngrams={len(self)}, sources={len(self.labels)})"

    def _positions(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (hit mask, position in ``self.hashes``) for an array of hashes."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        if not len(self.hashes):
            return np.zeros(hashes.shape, dtype=bool), np.zeros(hashes.shape, dtype=np.intp)
        pos = np.searchsorted(self.hashes, hashes)
        np.minimum(pos, len(self.hashes) - 1, out=pos)
        return self.hashes[pos] == hashes, pos

    def contains(self, h):
        """Return whether hash ``h`` is in the index (an int), or a bool array for an array."""
        if np.ndim(h) == 0:
            return bool(self._positions(np.array([h], dtype=np.uint64))[0][0])
        return self._positions(h)[0]


# --------------------------------------------------------------------------- spans


@dataclass(frozen=True)
class Copied:
    """The longest stretch of a draft found word for word in indexed text.

    ``words``: how many consecutive words (0 when not even one n-gram matched);
    ``excerpt``: that stretch as written in the draft (whitespace collapsed, cut at
    ``EXCERPT_CHARS``); ``source``: the label of the document most of it came from.
    """

    words: int = 0
    excerpt: str = ""
    source: str | None = None


def longest_copied_span(index: NgramIndex, text: str) -> Copied:
    """Return the longest run of words of ``text`` whose every n-gram is in ``index``.

    A run of ``k`` consecutive n-gram hits covers ``k + n - 1`` words. (Strictly, the run
    could be stitched from overlapping n-grams of different places; at ``n = 8`` that is
    as good as a verbatim copy.) Ties go to the earliest run.
    """
    n = index.n
    words, spans = _words_with_spans(text)
    hashes = _ngram_hashes(_WordHasher()(words), n)
    if not len(hashes) or not len(index):
        return Copied()
    hit, pos = index._positions(hashes)
    if not hit.any():
        return Copied()
    # Runs of True: starts where hit goes 0 -> 1, ends where it goes 1 -> 0.
    edges = np.diff(np.concatenate(([0], hit.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)  # exclusive
    best = int(np.argmax(ends - starts))  # argmax returns the first maximum
    s, e = int(starts[best]), int(ends[best])
    count = e - s + n - 1
    src_ids = index.sources[pos[s:e]]
    source_id = int(np.bincount(src_ids).argmax())  # the most n-grams; lowest id on a tie
    source = index.labels[source_id] if source_id < len(index.labels) else None
    excerpt = " ".join(text[spans[s][0] : spans[s + count - 1][1]].split())
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[: EXCERPT_CHARS - 1].rstrip() + "…"
    return Copied(words=count, excerpt=excerpt, source=source)


# --------------------------------------------------------------------------- corpora


def _corpus_texts(corpus_dir: str | os.PathLike, split: str = "train") -> Iterable[tuple[str, str]]:
    """Yield ``(label, text)`` for each document of a corpus split, one line at a time."""
    with open(Path(corpus_dir) / f"{split}.jsonl", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            doc = json.loads(line)
            label = doc.get("group") or doc.get("title") or doc.get("source") or split
            yield str(label), str(doc.get("text", ""))


def index_corpus(corpus_dir: str | os.PathLike, n: int = DEFAULT_N) -> NgramIndex:
    """Index the training split of a built corpus; a source is the document's group
    (the play or script it came from), else its title or source."""
    return NgramIndex.build(_corpus_texts(corpus_dir, "train"), n=n)


def index_version_folder(
    version_dir: str | os.PathLike, corpus_dir: str | os.PathLike, n: int = DEFAULT_N
) -> Path:
    """Index ``corpus_dir``'s training split into ``version_dir/ngrams.npz``; return its path."""
    return index_corpus(corpus_dir, n=n).save(Path(version_dir) / MEMO_FILE)


def load_version_index(version_dir: str | os.PathLike) -> NgramIndex | None:
    """Return the index saved in a model version folder, or None when it has none."""
    path = Path(version_dir) / MEMO_FILE
    return NgramIndex.load(path) if path.is_file() else None
