"""The optimizer side of every training loop (pretraining, SFT, DPO), written once.

* ``make_optimizer(model, lr, weight_decay, device)``: AdamW, betas (0.9, 0.95), weight
  decay on the matrices only (not the norms' gains), fused on CUDA.
* ``lr_at(lr, step, warmup_steps, progress=, min_lr_frac=)``: linear warmup, then cosine
  decay to ``lr * min_lr_frac`` over ``progress`` (0..1); ``min_lr_frac=1`` (the default,
  what the short fine-tuning runs use) keeps it constant after warmup.
* ``set_lr(opt, lr)``: apply a learning rate to every parameter group.
* ``autocast(device)``: bfloat16 autocast on CUDA; plain float32 on CPU.
* ``optimizer_step(opt, model, loss, grad_clip)``: backward, clip the gradient norm, step.

Typical loop::

    opt = make_optimizer(model, lr, weight_decay, device)
    amp = autocast(device)
    for step in range(steps):
        set_lr(opt, lr_at(lr, step, warmup_steps))
        with amp:
            _, loss = model(x, y, m)
        optimizer_step(opt, model, loss, grad_clip)
"""

from __future__ import annotations

import math

import torch


def make_optimizer(
    model: torch.nn.Module, lr: float, weight_decay: float, device
) -> torch.optim.AdamW:
    """Return AdamW over the trainable parameters of ``model``.

    Matrices (``dim >= 2``: embeddings, linear weights) decay by ``weight_decay``; vectors
    (norm gains, biases) do not: the usual AdamW recipe.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
        betas=(0.9, 0.95),
        fused=torch.device(device).type == "cuda",
    )


def lr_at(
    lr: float,
    step: int,
    warmup_steps: int,
    *,
    progress: float = 0.0,
    min_lr_frac: float = 1.0,
) -> float:
    """Return the learning rate at ``step`` (0-based).

    Linear warmup over ``warmup_steps``; then cosine decay from ``lr`` to
    ``lr * min_lr_frac`` over ``progress`` (0..1, clamped). With ``min_lr_frac=1`` the rate
    stays at ``lr`` after warmup (fine-tuning runs are short).
    """
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if min_lr_frac == 1.0:
        return lr
    p = min(max(progress, 0.0), 1.0)
    return lr * (min_lr_frac + (1 - min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``opt``."""
    for g in opt.param_groups:
        g["lr"] = lr


def autocast(device):
    """Return the autocast context for ``device``: bfloat16 matmuls on CUDA; disabled
    (plain float32) on CPU, where autocast is slower for small models."""
    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def optimizer_step(
    opt: torch.optim.Optimizer, model: torch.nn.Module, loss: torch.Tensor, grad_clip: float
) -> None:
    """One update: clear the gradients, backpropagate ``loss``, clip the gradient norm of
    ``model``'s parameters to ``grad_clip``, step ``opt``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    opt.step()
