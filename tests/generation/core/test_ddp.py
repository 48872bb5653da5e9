"""Data-parallel training (``torchrun`` + DDP) equals the single-process run, step for step.

Both runs go through the CLI in subprocesses: one plain process, and two ``gloo`` CPU
processes launched by ``torchrun_command`` with the same seed and global batch size.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from generation.core.corpus import build_corpus
from generation.core.distributed import shard_size, torchrun_command
from generation.core.shakespeare import convert_play
from generation.core.train import TrainConfig, train

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[3]
STEPS = 6
TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32}

# Run under torchrun by the resume test: rank 0's progress callback raises at the first
# evaluation (step 4), after the step-3 checkpoint; torchrun then stops the other process.
CRASH = """
import sys
from generation.core.train import TrainConfig, train

def crash(ev):
    if ev["event"] == "eval":
        raise RuntimeError("killed at the first evaluation")

cfg = TrainConfig(steps=6, recipe="stream", batch_size=8, lr=3e-3, warmup_steps=2,
    vocab_size=300, eval_interval=4, checkpoint_interval=3, device="cpu", threads=1, seed=3,
    model_overrides=%r)
train(cfg, sys.argv[1], sys.argv[2], progress_cb=crash, console=False)
"""


def _corpus(folder: Path) -> Path:
    docs = convert_play((FIXTURES / "hamlet_excerpt.txt").read_text(), "hamlet_gut.txt")
    docs += convert_play((FIXTURES / "tempest_excerpt.txt").read_text(), "tempest_gut.txt")
    build_corpus(docs, folder, val_fraction=0.0, val_groups=["tempest_gut.txt"])
    return folder


def _args(corpus: Path, out: Path) -> list[str]:
    return [
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--steps",
        str(STEPS),
        "--recipe",
        "stream",  # a 32-token block holds no story example
        "--model-overrides",
        json.dumps(TINY),
        "--vocab-size",
        "300",
        "--batch-size",
        "8",
        "--lr",
        "3e-3",
        "--warmup-steps",
        "2",
        "--seed",
        "3",
        "--eval-interval",
        "4",  # rank 0 evaluates mid-run while the other process waits
        "--checkpoint-interval",
        "3",  # and checkpoints
        "--device",
        "cpu",
        "--threads",
        "1",
    ]


def _run(cmd: list[str], cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert (r.returncode == 0) == ok, f"{cmd}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr[-4000:]}"
    return r


def _assert_same_weights(single: Path, other: Path) -> None:
    a = load_file(str(single / "model.safetensors"))
    b = load_file(str(other / "model.safetensors"))
    assert a.keys() == b.keys()
    diffs = {k: (a[k] - b[k]).abs().max().item() for k in a}
    worst = max(diffs, key=diffs.get)
    print(f"max abs weight difference {diffs[worst]:.3g} ({worst})")
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), (k, diffs[k])


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """The corpus and a plain single-process run of it (the reference)."""
    tmp = tmp_path_factory.mktemp("ddp")
    corpus = _corpus(tmp / "corpus")
    single = tmp / "runs-single" / "v"
    _run([sys.executable, "-m", "generation.core.train", *_args(corpus, single)], ROOT)
    return corpus, single


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path, single_run):
    corpus, single = single_run
    ddp = tmp_path / "runs-ddp" / "v"
    r = _run(torchrun_command(2, _args(corpus, ddp)), ROOT)
    _assert_same_weights(single, ddp)

    ma = json.loads((single / "metadata.json").read_text())
    mb = json.loads((ddp / "metadata.json").read_text())
    assert mb["steps"] == ma["steps"] == STEPS
    assert mb["metrics"]["tokens_seen"] == ma["metrics"]["tokens_seen"] == STEPS * 8 * 32
    assert mb["metrics"]["val_bpb"] == pytest.approx(ma["metrics"]["val_bpb"], rel=1e-4)
    assert mb["metrics"]["train_loss"] == pytest.approx(ma["metrics"]["train_loss"], rel=1e-4)
    assert [h["step"] for h in mb["history"]] == [h["step"] for h in ma["history"]] == [4, 6]
    assert (single / "tokenizer.json").read_text() == (ddp / "tokenizer.json").read_text()
    # Rank 0 alone wrote: one version folder (no temp or stale copies beside it), one
    # metrics report on stdout.
    assert sorted(p.name for p in ddp.parent.iterdir()) == ["v"]
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    assert r.stdout.count('"val_bpb"') == 1


@pytest.mark.slow
def test_ddp_resume_after_a_crash_matches_single_process(tmp_path, single_run):
    corpus, single = single_run
    out = tmp_path / "v"
    script = tmp_path / "crash.py"
    script.write_text(CRASH % (TINY,))
    launch = torchrun_command(2, [])[:-2]  # python -m torch.distributed.run ... (no -m)
    r = _run([*launch, str(script), str(corpus), str(out)], ROOT, ok=False)
    assert "killed at the first evaluation" in r.stdout + r.stderr
    assert json.loads((out / "resume" / "state.json").read_text())["step"] == 3
    _run(torchrun_command(2, [*_args(corpus, out), "--resume"]), ROOT)
    assert json.loads((out / "metadata.json").read_text())["steps"] == STEPS
    _assert_same_weights(single, out)


@pytest.mark.parametrize("batch, world", [(8, 3), (2, 4), (5, 2)])
def test_batch_must_split_evenly_over_processes(batch, world):
    with pytest.raises(ValueError, match="multiple of the process count"):
        shard_size(batch, world)


def test_train_refuses_an_uneven_split_before_joining_a_group(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="does not split evenly over 2 processes"):
        train(TrainConfig(steps=1, batch_size=3), tmp_path / "corpus", tmp_path / "v")
    assert not torch.distributed.is_initialized() and not (tmp_path / "v").exists()


def test_shard_size_and_launch_line():
    assert shard_size(8, 2) == 4 and shard_size(8, 1) == 8
    cmd = torchrun_command(4, ["--steps", "3"])
    assert cmd[:2] == [sys.executable, "-m"] and "--nproc_per_node=4" in cmd
    assert cmd[-4:] == ["-m", "generation.core.train", "--steps", "3"]
