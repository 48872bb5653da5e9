"""The feedback-loop experiment in its small, fast setting: the scripted rater's score
rises over the rounds (``generation.core.experiment``: the same loop as ``manage.py
feedback_experiment`` on the team's model; see docs/BENCHMARKS.md for that run)."""

import torch

from generation.core.experiment import run_experiment


def test_the_rater_score_rises_over_rounds():
    torch.set_num_threads(1)
    rows = run_experiment(
        rounds=3,
        prompts=16,
        held_out=16,
        alternatives=8,
        seed=0,
        base_steps=300,
        sft_steps=40,
        dpo_steps=40,
        max_new_tokens=48,
        corpus_docs=1000,
        replay=1.0,
        taste="brisk",
        log=lambda s: None,
    )
    scores = [r["score"] for r in rows]
    assert len(rows) == 4
    # The size of the rise depends on the CPU's float kernels (the same seed gave +0.5 on
    # one machine, +0.31 after a peak of +0.38 on another): a clear rise, not a fixed one.
    assert max(scores[1:]) >= scores[0] + 0.3, scores
    assert scores[-1] >= scores[0] + 0.2, scores
    assert min(scores[1:]) > scores[0], scores
    # Held-out preference accuracy moves well above chance (0.5 = the base model itself).
    assert rows[0]["pref_accuracy"] == 0.5 and rows[-1]["pref_accuracy"] > 0.65, rows
    # Replay keeps the model writing: general bits/byte stays within 3x of the base's (the
    # base is a 300-step model at ~0.37; three rounds of "brisk" preference training moved
    # it to 0.63 on one machine and 0.82 on another).
    assert rows[-1]["val_bpb"] < 3 * rows[0]["val_bpb"], rows


def test_the_corpus_setting_runs_a_round_on_a_version_and_a_corpus(tmp_path):
    """The command's setting: a saved version, a corpus folder, one whole round."""
    import json

    from generation.core.checkpoint import load_version
    from generation.core.experiment import run_corpus_experiment
    from tests.support.models import build_tiny_version

    torch.set_num_threads(1)
    doc = {
        "heading": "INT. STATION - NIGHT",
        "cast": ["MARA", "JONAH"],
        "synopsis": "Mara asks Jonah to stay.",
        "text": "MARA\nIt's holding.\n\nJONAH\nThen tell me.\n\n" * 12,
    }
    for split in ("train", "val"):
        (tmp_path / f"{split}.jsonl").write_text(json.dumps(doc) + "\n")
    model, tok, _ = load_version(build_tiny_version(tmp_path / "v"))
    rows = run_corpus_experiment(
        model, tok, tmp_path, rounds=1, prompts=2, held_out=2, alternatives=2,
        sft_steps=1, dpo_steps=1, max_new_tokens=8, taste="cast", log=lambda s: None,
    )  # fmt: skip
    assert [r["round"] for r in rows] == [0, 1]
