"""One retraining round on feedback: SFT (with replay), then DPO against the start model.

``retrain_round`` composes ``finetune.sft_train`` and ``dpo.dpo_train`` with the settings
of ``RetrainSettings``. It is the training step of the app's retraining
(``generation.retraining``) and of the simulated-feedback experiment (``experiment.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generation.core.dpo import dpo_train
from generation.core.examples import PreferencePair, SFTExample
from generation.core.finetune import ProgressCallback, sft_train
from generation.core.model import GPT
from generation.core.tokenizer import ScriptTokenizer


@dataclass
class RetrainSettings:
    """How one retraining round trains (``generation.retraining`` and the experiment)."""

    sft_steps: int = 60
    dpo_steps: int = 60
    batch_size: int = 8
    sft_lr: float = 3e-4
    dpo_lr: float = 1e-4
    beta: float = 0.1
    sft_weight: float = 1.0
    warmup_steps: int = 5
    seed: int = 1337
    device: str = "cpu"


def retrain_round(
    model: GPT,
    ref: GPT,
    tok: ScriptTokenizer,
    sft_examples: Sequence[SFTExample],
    pairs: Sequence[PreferencePair],
    s: RetrainSettings,
    *,
    replay: Sequence[SFTExample] = (),
    on_phase: Callable[[str, int], None] | None = None,
    progress_cb: ProgressCallback | None = None,
) -> dict:
    """One retraining on feedback, in place: SFT on ``sft_examples`` + ``replay``, then DPO
    (with the ``sft_weight`` NLL term) on ``pairs`` against the frozen ``ref`` (the model
    the round started from). A phase with no data is skipped.

    ``replay`` is general text mixed into the SFT data (windows of the corpus the model was
    pretrained on): feedback data is small and narrow, and a tiny model fine-tuned on it
    alone forgets how to write anything else (general bits/byte 0.5 -> 2.2 over six
    rounds in the feedback experiment, see docs/BENCHMARKS.md). ``on_phase(name, offset)``
    is called when a phase starts, with the steps done so far. Returns
    ``{"sft": metrics, "dpo": metrics}`` for the phases that ran.
    """
    out: dict = {}
    sft = [*sft_examples, *replay]
    offset = 0
    if sft and s.sft_steps:
        if on_phase:
            on_phase("sft", offset)
        out["sft"] = sft_train(
            model,
            tok,
            sft,
            steps=s.sft_steps,
            batch_size=s.batch_size,
            lr=s.sft_lr,
            seed=s.seed,
            device=s.device,
            progress_cb=progress_cb,
            warmup_steps=s.warmup_steps,
        )
        offset += s.sft_steps
    if pairs and s.dpo_steps:
        if on_phase:
            on_phase("dpo", offset)
        out["dpo"] = dpo_train(
            model,
            ref,
            tok,
            pairs,
            steps=s.dpo_steps,
            batch_size=s.batch_size,
            lr=s.dpo_lr,
            beta=s.beta,
            seed=s.seed,
            device=s.device,
            progress_cb=progress_cb,
            warmup_steps=s.warmup_steps,
            sft_weight=s.sft_weight,
        )
    return out
