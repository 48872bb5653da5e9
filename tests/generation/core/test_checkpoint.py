import json

import torch

from generation.core.checkpoint import load_version, save_version


def test_save_load_identical_logits_and_no_pickle(tiny_model, tok, tmp_path):
    out = save_version(
        tmp_path / "v1",
        tiny_model,
        tok,
        parent=None,
        corpus_hash="abc",
        steps=7,
        metrics={"val_bpb": 3.1},
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "metadata.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert not list(tmp_path.glob(".*tmp*"))
    model, tok2, meta = load_version(out, "cpu")
    x = torch.randint(0, tok.vocab_size, (2, 20))
    with torch.no_grad():
        assert torch.equal(model(x), tiny_model(x))
    assert model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr()
    assert meta["corpus_hash"] == "abc" and meta["steps"] == 7 and meta["metrics"]["val_bpb"] == 3.1
    assert tok2.encode("Who's there?") == tok.encode("Who's there?")
    # safetensors header is JSON, never a pickle.
    raw = (out / "model.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert "wte.weight" in json.loads(raw[8 : 8 + n])


def test_overwrite_is_atomic(tiny_model, tok, tmp_path):
    save_version(tmp_path / "v", tiny_model, tok, steps=1)
    save_version(tmp_path / "v", tiny_model, tok, steps=2)
    assert json.loads((tmp_path / "v" / "metadata.json").read_text())["steps"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["v"]
