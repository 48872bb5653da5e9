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
