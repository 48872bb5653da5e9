"""Supervised fine-tuning (SFT) on completions, and the loop pieces DPO shares with it.

``sft_train`` trains a model in place on ``SFTExample``\\ s (the layout in ``encoding.py``):
next-token cross-entropy on the completion tokens only. ``completion_loss`` measures the
same loss without training. Replay (general text mixed into the feedback examples so a
small model does not forget how to write) is just more ``SFTExample``\\ s: see
``retrain_round.py``.

Shared with ``dpo.py``: ``Batches`` (seeded shuffled epochs), ``Reporter`` (throttled
progress events) and ``device_of``. The optimizer, learning-rate schedule, autocast and
update step are ``optim.py``'s, as in pretraining (``train.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch

from generation.core.encoding import collate, encode_sft, sequence_logps
from generation.core.examples import SFTExample
from generation.core.model import GPT
from generation.core.optim import autocast, lr_at, make_optimizer, optimizer_step, set_lr
from generation.core.tokenizer import ScriptTokenizer

ProgressCallback = Callable[[dict], None]


def device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


class Batches:
    """Yield index batches forever: shuffled epochs from a seeded generator.

    Every example is seen once per epoch (better than sampling with replacement for the
    small datasets feedback produces); a batch larger than the dataset wraps around.
    """

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.order: list[int] = []

    def next(self) -> list[int]:
        out = []
        while len(out) < self.batch_size:
            if not self.order:
                self.order = torch.randperm(self.n, generator=self.gen).tolist()
            out.append(self.order.pop())
        return out


class Reporter:
    """Send throttled ``{"event": "step", ...}`` dicts to a progress callback (every ~2 s,
    plus the first and last step), like ``train.train``."""

    def __init__(self, cb: ProgressCallback | None, total_steps: int):
        self.cb, self.total = cb, total_steps
        self.t0 = self.t_last = time.time()

    def step(self, step: int, **values) -> None:
        now = time.time()
        if self.cb is None or not (step == 1 or step == self.total or now - self.t_last >= 2.0):
            return
        elapsed = now - self.t0
        p = step / self.total
        self.cb(
            {
                "event": "step",
                "step": step,
                "total_steps": self.total,
                "progress": p,
                "elapsed_s": elapsed,
                "eta_s": elapsed / p - elapsed,
                **values,
            }
        )
        self.t_last = now

    def done(self, metrics: dict) -> None:
        if self.cb is not None:
            self.cb({"event": "done", **metrics})


def sft_train(
    model: GPT,
    tok: ScriptTokenizer,
    examples: Sequence[SFTExample],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    device,
    progress_cb: ProgressCallback | None = None,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    grad_clip: float = 1.0,
) -> dict:
    """Fine-tune ``model`` in place on completions; return metrics.

    The loss is the mean cross-entropy over completion tokens (+ <|end|>) of the batch;
    prompt and padding positions are masked out. ``torch.manual_seed(seed)`` (process-wide,
    as in ``train.py``) plus a seeded batch order make a run repeatable. The model's
    train/eval mode is restored at the end. Metrics: ``{"steps", "examples", "skipped",
    "loss_first", "loss_last" (mean of the last <=10 steps), "completion_tokens",
    "train_seconds"}``.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be >= 1")
    device = torch.device(device)
    torch.manual_seed(seed)
    data, skipped = encode_sft(tok, examples, model.cfg.block_size)
    if not data:
        raise ValueError(
            f"no SFT examples (given {len(examples)}, none fits block_size {model.cfg.block_size})"
        )
    was_training = model.training
    model.to(device).train()
    opt = make_optimizer(model, lr, weight_decay, device)
    batches = Batches(len(data), batch_size, seed)
    report = Reporter(progress_cb, steps)
    losses: list[float] = []
    n_tokens = 0
    t0 = time.time()
    for step in range(steps):
        cur_lr = lr_at(lr, step, warmup_steps)
        set_lr(opt, cur_lr)
        ids, cmask = collate([data[i] for i in batches.next()], tok.pad_id, device)
        # Shift by one: position t reads ids[:t+1] and predicts ids[t+1].
        # (contiguous: GPT.forward .view()s the targets and mask.)
        x, y, m = ids[:, :-1], ids[:, 1:].contiguous(), cmask[:, 1:].contiguous()
        with autocast(device):
            _, loss = model(x, y, m)  # mean CE over the True positions of m
        optimizer_step(opt, model, loss, grad_clip)
        losses.append(loss.item())
        n_tokens += int(m.sum())
        report.step(step + 1, loss=losses[-1], lr=cur_lr)
    model.train(was_training)
    metrics = {
        "steps": steps,
        "examples": len(data),
        "skipped": skipped,
        "loss_first": losses[0],
        "loss_last": sum(losses[-10:]) / len(losses[-10:]),
        "completion_tokens": n_tokens,
        "train_seconds": time.time() - t0,
    }
    report.done(metrics)
    return metrics


@torch.no_grad()
def completion_loss(
    model: GPT, tok: ScriptTokenizer, examples: Sequence[SFTExample], *, batch_size: int = 16
) -> dict:
    """Return ``{"loss", "tokens", "n", "skipped"}``: mean NLL (nats) per completion token."""
    data, skipped = encode_sft(tok, examples, model.cfg.block_size)
    device = device_of(model)
    was_training = model.training
    model.eval()
    total, ntok = 0.0, 0
    for i in range(0, len(data), batch_size):
        ids, cmask = collate(data[i : i + batch_size], tok.pad_id, device)
        # sequence_logps sums log-probs over completion tokens: -that is the summed NLL.
        total -= sequence_logps(model, ids, cmask).sum().item()
        ntok += int(cmask.sum())
    model.train(was_training)
    return {"loss": total / max(ntok, 1), "tokens": ntok, "n": len(data), "skipped": skipped}
