import json
import os

import pytest

from generation.core import corpus as corpus_mod
from generation.core.corpus import Source, build_corpus, load_documents, read_fountain

from .conftest import FIXTURES

FOUNTAIN = """Title: The Test
Author: Someone

INT. KITCHEN - NIGHT

= Ana confronts Bo about the money.

ANA
Where is it?

BO (V.O.)
Gone — like the ’80s.

@McKAY
Mixed case, forced.

CUT TO:

EXT. ROOFTOP - DAY

Wind. Nobody speaks.

.FLASHBACK
ANA
Once.
"""


def test_read_fountain_scenes_cast_synopsis():
    docs = read_fountain(FOUNTAIN, "t.fountain")
    assert [d["heading"] for d in docs] == [
        "INT. KITCHEN - NIGHT",
        "EXT. ROOFTOP - DAY",
        "FLASHBACK",
    ]
    k = docs[0]
    assert k["cast"] == ["ANA", "BO", "MCKAY"]  # CUT TO: is a transition, not a cue
    assert k["synopsis"] == "Ana confronts Bo about the money."
    assert "= Ana" not in k["text"] and "Gone — like the ’80s." in k["text"]
    assert docs[1]["cast"] == []
    assert all(d["doc_hash"] and d["group"] == "t.fountain" for d in docs)


def _write_sources(d):
    d.mkdir()
    (d / "good.fountain").write_text(FOUNTAIN)
    (d / "hamlet_gut.txt").write_text((FIXTURES / "hamlet_excerpt.txt").read_text())
    (d / "binary.fountain").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (d / "latin1.fountain").write_bytes("INT. CAFÉ\n\nANA\nOlé\n".encode("latin-1"))
    (d / "empty.fountain").write_text("  \n")
    (d / "poem.txt").write_text("Shall I compare thee\n")
    (d / "notes.docx").write_bytes(b"PK\x03\x04")
    (d / "huge.fountain").write_text("INT. A\n\n" + "x" * 5000)


def test_build_corpus_reports_bad_files(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "MAX_SOURCE_BYTES", 4000)
    _write_sources(tmp_path / "src")
    extra = {
        "heading": "INT. DB SCENE",
        "cast": ["ZED"],
        "text": "ZED\nHi.\n",
        "source": "db:scene/7",
    }

    def fdx_reader(text, name):
        raise RuntimeError("fdx parser exploded")

    (tmp_path / "src" / "bad.fdx").write_text("<FinalDraft/>")
    m = build_corpus(
        [tmp_path / "src", extra],
        tmp_path / "corpus",
        val_fraction=0.0,
        readers={".fdx": fdx_reader},
    )
    reasons = {os.path.basename(s["name"]): s["reason"] for s in m["skipped"]}
    assert set(reasons) == {
        "binary.fountain",
        "latin1.fountain",
        "empty.fountain",
        "poem.txt",
        "notes.docx",
        "huge.fountain",
        "bad.fdx",
    }
    assert "NUL" in reasons["binary.fountain"] and "UTF-8" in reasons["latin1.fountain"]
    assert "too large" in reasons["huge.fountain"] and "exploded" in reasons["bad.fdx"]
    assert "empty" in reasons["empty.fountain"] and "no reader" in reasons["notes.docx"]
    train = load_documents(tmp_path / "corpus", "train")
    assert len(train) == 3 + 3 + 1 and m["counts"]["train"]["documents"] == 7
    assert any(d["source"] == "db:scene/7" for d in train)
    srcs = {os.path.basename(s["name"]): s for s in m["sources"]}
    assert len(srcs["good.fountain"]["sha256"]) == 64 and srcs["hamlet_gut.txt"]["documents"] == 3
    assert (
        json.loads((tmp_path / "corpus" / "manifest.json").read_text())["corpus_hash"]
        == m["corpus_hash"]
    )


def test_failure_leaves_nothing_half_written(tmp_path, monkeypatch):
    src = [Source("a.fountain", FOUNTAIN.encode())]
    out = tmp_path / "corpus"
    first = build_corpus(src, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    real_dumps = json.dumps
    calls = {"n": 0}

    def flaky_dumps(obj, **kw):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError("disk full")
        return real_dumps(obj, **kw)

    monkeypatch.setattr(corpus_mod.json, "dumps", flaky_dumps)
    with pytest.raises(OSError, match="disk full"):
        build_corpus(src + [Source("b.fountain", b"INT. B\n\nBO\nHey.\n")], out)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # old corpus intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]  # no temp folders left
    with pytest.raises(OSError):
        monkeypatch.setattr(corpus_mod.json, "dumps", flaky_dumps)
        calls["n"] = 0
        build_corpus(src, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    assert first["counts"]["train"]["documents"] + first["counts"]["val"]["documents"] == 3


def test_split_is_stable_as_corpus_grows_and_holds_out_groups(tmp_path):
    docs = [
        {"text": f"A\nline {i}\n", "group": f"play{i % 20}", "source": f"s{i}"} for i in range(200)
    ]
    m1 = build_corpus(docs[:100], tmp_path / "c1", val_fraction=0.3, seed=5)
    m2 = build_corpus(docs, tmp_path / "c2", val_fraction=0.3, seed=5)
    v1 = {d["doc_hash"] for d in load_documents(tmp_path / "c1", "val")}
    v2 = {d["doc_hash"] for d in load_documents(tmp_path / "c2", "val")}
    t2 = {d["doc_hash"] for d in load_documents(tmp_path / "c2", "train")}
    assert v1 <= v2 and not (v1 & t2)
    # Whole groups: no group has documents in both splits.
    val_groups = {d["group"] for d in load_documents(tmp_path / "c2", "val")}
    assert val_groups and not val_groups & {
        d["group"] for d in load_documents(tmp_path / "c2", "train")
    }
    assert m2["val_groups"] == sorted(val_groups) and m1["corpus_hash"] != m2["corpus_hash"]
    # Duplicates collapse; forced val groups go to validation.
    m3 = build_corpus(docs[:5] + docs[:5], tmp_path / "c3", val_fraction=0.0, val_groups=["play1"])
    assert m3["counts"]["train"]["documents"] + m3["counts"]["val"]["documents"] == 5 and m3[
        "val_groups"
    ] == ["play1"]
