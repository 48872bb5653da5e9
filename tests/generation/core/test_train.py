import json

import pytest
import torch

from generation.core.checkpoint import load_version
from generation.core.corpus import build_corpus
from generation.core.shakespeare import convert_play
from generation.core.train import TrainConfig, train

from .conftest import FIXTURES

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}


def _corpus(tmp_path):
    docs = convert_play((FIXTURES / "hamlet_excerpt.txt").read_text(), "hamlet_gut.txt")
    docs += convert_play((FIXTURES / "tempest_excerpt.txt").read_text(), "tempest_gut.txt")
    return build_corpus(docs, tmp_path / "corpus", val_fraction=0.0, val_groups=["tempest_gut.txt"])


def _cfg(steps, checkpoint_interval=1000):
    return TrainConfig(
        steps=steps,
        recipe="stream",  # a 32-token block holds no story example (test_recipe.py)
        batch_size=8,
        lr=3e-3,
        warmup_steps=5,
        vocab_size=300,
        eval_interval=15,
        checkpoint_interval=checkpoint_interval,
        model_overrides=TINY,
        device="cpu",
        seed=3,
    )


class Crash(Exception):
    pass


def test_tiny_run_lowers_loss_and_saves_a_version(tmp_path):
    manifest = _corpus(tmp_path)
    events = []
    meta = train(
        _cfg(45), tmp_path / "corpus", tmp_path / "v", progress_cb=events.append, console=False
    )
    evals = [e["val_bpb"] for e in events if e["event"] == "eval"]
    steps = [e for e in events if e["event"] == "step"]
    assert steps and {"loss", "tokens_per_s", "eta_s", "progress"} <= set(steps[0])
    assert events[-1]["event"] == "done"
    assert evals[-1] < evals[0] - 0.3  # held-out bits/byte went down
    assert (
        meta["metrics"]["val_bpb"] < 8
        and meta["corpus_hash"] == manifest["corpus_hash"]
        and meta["steps"] == 45
    )
    model, tok, _ = load_version(tmp_path / "v")
    assert model.cfg.n_layer == 1 and tok.vocab_size <= 300


def test_resume_continues_exactly(tmp_path):
    _corpus(tmp_path)
    train(_cfg(30), tmp_path / "corpus", tmp_path / "straight", console=False)

    def crash_at_first_eval(ev):
        if ev["event"] == "eval":
            raise Crash  # "killed" at step 15, after the step-12 checkpoint

    with pytest.raises(Crash):
        train(
            _cfg(30, 12),
            tmp_path / "corpus",
            tmp_path / "resumed",
            progress_cb=crash_at_first_eval,
            console=False,
        )
    state = json.loads((tmp_path / "resumed" / "resume" / "state.json").read_text())
    assert state["step"] == 12
    train(_cfg(30, 12), tmp_path / "corpus", tmp_path / "resumed", resume=True, console=False)
    a, _, _ = load_version(tmp_path / "straight")
    b, _, mb = load_version(tmp_path / "resumed")
    assert mb["steps"] == 30
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(p, q, atol=1e-5), n
