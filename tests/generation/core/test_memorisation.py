"""The n-gram index that finds text a draft copied verbatim (generation.core.memorisation)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from generation.core.corpus import build_corpus, load_documents
from generation.core.memorisation import (
    MEMO_FILE,
    NgramIndex,
    index_corpus,
    index_version_folder,
    load_version_index,
    longest_copied_span,
    ngram_hashes,
    normalise_words,
)
from generation.core.shakespeare import convert_play

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[3]

SOURCE = (
    "The rain had not stopped for three days and the river was already over the road "
    "when Martha carried the last of the chairs up to the attic, counting the steps as "
    "her mother had taught her, seven and then a landing and then seven more, because a "
    "house that floods is a house you must know in the dark, and she knew this one better "
    "than she knew her own face in the glass."
)
OTHER = (
    "Nobody in the village remembered the lighthouse keeper's name, only that he rang a "
    "bell at dusk and that the gulls went quiet when he did."
)
ORIGINAL = (
    "Jonah slams the van door, kicks the flat tyre twice and sits down on the kerb. "
    "A dog watches him from across the street with undisguised contempt. He checks his "
    "phone: no signal, one percent battery, and a message from his sister that just says "
    "'well?'. The afternoon goes on being hot."
)


def _index() -> NgramIndex:
    return NgramIndex.build([("flood.txt", SOURCE), ("lighthouse.txt", OTHER)])


def test_normalise_words():
    assert normalise_words("@HAMLET (V.O.)\n*Don’t* _go_ -- well-met! ...") == [
        "hamlet",
        "v.o",
        "don't",
        "go",
        "well-met",
    ]
    assert normalise_words("") == []


def test_build_save_load_round_trip(tmp_path):
    index = _index()
    words = len(normalise_words(SOURCE)) + len(normalise_words(OTHER))
    assert len(index) == words - 2 * 7  # every 8-gram of both texts, none shared
    assert np.all(index.hashes[1:] > index.hashes[:-1])  # sorted, unique
    assert index.labels == ["flood.txt", "lighthouse.txt"]
    path = index.save(tmp_path / "i.npz")
    again = NgramIndex.load(path)
    assert again.n == 8 and again.labels == index.labels
    assert np.array_equal(again.hashes, index.hashes)
    assert np.array_equal(again.sources, index.sources)
    assert again.contains(int(index.hashes[3])) and not again.contains(12345)
    assert again.contains(index.hashes[:4]).all()
    # No pickle inside: numpy refuses object arrays when allow_pickle is False.
    with np.load(path, allow_pickle=False) as z:
        assert {"hashes", "sources", "labels", "n"} <= set(z.files)


def test_copied_span_found_with_exact_length_and_source():
    words = SOURCE.split()
    copied = " ".join(words[10:55])  # 45 words, all plain tokens
    draft = f"INT. ATTIC - NIGHT\n\nSomething new happens first. {copied} And then she laughs."
    got = longest_copied_span(_index(), draft)
    assert got.words == 45
    assert got.source == "flood.txt"
    assert got.excerpt == copied


def test_original_draft_copies_nothing():
    got = longest_copied_span(_index(), ORIGINAL)
    assert got.words < 8 + 3
    assert longest_copied_span(_index(), "too short").words == 0


def test_punctuation_case_and_markup_still_match():
    copied = " ".join(SOURCE.split()[:40])
    changed = copied.upper().replace(",", ";").replace(" the ", " *the*\n")
    got = longest_copied_span(_index(), f"Well. {changed}!!")
    assert got.words == 40
    assert got.source == "flood.txt"


def test_span_stitched_across_sources_reports_the_main_one():
    # 20 words of one source then 30 of the other: the longest run is the 30.
    draft = " ".join(OTHER.split()[:20]) + " zebra " + " ".join(SOURCE.split()[:30])
    got = longest_copied_span(_index(), draft)
    assert got.words == 30 and got.source == "flood.txt"


def test_hashing_is_stable_across_processes():
    text = "To be, or not to be, that is the question: whether 'tis nobler"
    here = [int(h) for h in ngram_hashes(text)]
    code = (
        "import json, sys\n"
        "from generation.core.memorisation import ngram_hashes\n"
        "print(json.dumps([int(h) for h in ngram_hashes(sys.argv[1])]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, text],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert json.loads(out.stdout) == here
    assert len(here) == len(normalise_words(text)) - 7


def test_index_corpus_and_version_folder(tmp_path):
    docs = convert_play((FIXTURES / "hamlet_excerpt.txt").read_text(), "hamlet_gut.txt")
    docs += convert_play((FIXTURES / "tempest_excerpt.txt").read_text(), "tempest_gut.txt")
    corpus = tmp_path / "corpus"
    build_corpus(docs, corpus, val_fraction=0.0, val_groups=["tempest_gut.txt"])
    index = index_corpus(corpus)
    assert index.labels == ["hamlet_gut.txt"]  # the training split only
    train = load_documents(corpus, "train")
    longest = max(train, key=lambda d: len(d["text"]))
    passage = " ".join(longest["text"].split()[:60])
    got = longest_copied_span(index, passage)
    assert got.words == len(normalise_words(passage))
    assert got.source == "hamlet_gut.txt"
    held_out = load_documents(corpus, "val")[0]["text"]
    assert longest_copied_span(index, held_out).words < 20  # validation is not indexed

    version = tmp_path / "v1"
    version.mkdir()
    assert load_version_index(version) is None
    path = index_version_folder(version, corpus)
    assert path == version / MEMO_FILE
    loaded = load_version_index(version)
    assert np.array_equal(loaded.hashes, index.hashes)


def test_empty_index():
    index = NgramIndex.build([("a", "two words")])
    assert len(index) == 0
    assert longest_copied_span(index, SOURCE).words == 0
    assert not index.contains(1)


def test_query_speed_on_a_million_ngrams():
    rng = np.random.default_rng(0)
    hashes = np.unique(rng.integers(0, 2**63, size=1_000_000, dtype=np.uint64))
    draft = " ".join(f"word{i % 350} " + ORIGINAL.split()[i % 40] for i in range(250))
    inside = ngram_hashes(draft)[100:300]  # plant a 207-word copy
    hashes = np.unique(np.concatenate([hashes, inside]))
    index = NgramIndex(hashes, np.zeros(len(hashes), np.int32), ["random"])
    assert len(index) >= 1_000_000
    longest_copied_span(index, draft)  # warm up
    t0 = time.perf_counter()
    for _ in range(20):
        got = longest_copied_span(index, draft)
    ms = (time.perf_counter() - t0) / 20 * 1000
    print(f"\n1M-ngram index, 500-word draft: {ms:.2f} ms per query")
    assert got.words == 200 + 7


def _train_tiny(corpus: Path, out: Path) -> dict:
    from generation.core.train import TrainConfig, train

    cfg = TrainConfig(
        steps=3,
        recipe="stream",
        batch_size=4,
        warmup_steps=1,
        vocab_size=300,
        eval_interval=1000,
        model_overrides={"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32},
        device="cpu",
        seed=3,
    )
    return train(cfg, corpus, out, console=False)


def test_training_writes_the_index_and_survives_its_failure(tmp_path, monkeypatch, caplog):
    docs = convert_play((FIXTURES / "hamlet_excerpt.txt").read_text(), "hamlet_gut.txt")
    corpus = tmp_path / "corpus"
    build_corpus(docs, corpus, val_fraction=0.0)
    _train_tiny(corpus, tmp_path / "v1")
    index = load_version_index(tmp_path / "v1")
    assert index is not None and len(index) == len(index_corpus(corpus))

    import generation.core.memorisation as memo

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(memo, "index_version_folder", broken)
    meta = _train_tiny(corpus, tmp_path / "v2")
    assert meta["steps"] == 3
    assert not (tmp_path / "v2" / MEMO_FILE).exists()
    assert "n-gram index not written: disk full" in caplog.text
