"""DPO: train on preference pairs against a frozen reference model, and measure it.

DPO in one paragraph (Rafailov et al. 2023, "Direct Preference Optimization")
-------------------------------------------------------------------------------
RLHF trains a reward model, then maximises reward minus a KL penalty that keeps the policy
near a reference model. DPO notices that the optimum of that objective gives every
completion an *implicit reward* ``r(x, y) = beta * (log pi(y|x) - log ref(y|x))``: how much
more likely the policy makes ``y`` than the reference did. Plugging it into the
Bradley-Terry preference model gives a plain classification loss on pairs::

    loss = -log sigmoid( beta * [(log pi(y+|x) - log ref(y+|x)) - (log pi(y-|x) - log ref(y-|x))] )

i.e. raise the chosen completion's likelihood *relative to the reference* more than the
rejected one's. ``log pi(y|x)`` is a sum of per-token log-probabilities over the completion
tokens only (``encoding.sequence_logps``). The reference is a frozen copy of the starting
model (usually the SFT model): ``beta`` (~0.1) sets how far the policy may drift from it.
Use a small learning rate (~1e-6..1e-5 for big models; tiny models tolerate more) and do
SFT first (``finetune.py``).

Typical use::

    ref = frozen_copy(model)                  # the starting point, never trained
    dpo_train(model, ref, tok, pairs, steps=200, batch_size=8, lr=1e-5, seed=0, device="cpu")
    preference_eval(model, ref, tok, held_out_pairs, beta=0.1)  # {"pref_accuracy", ...}
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from generation.core.encoding import Encoded, collate, encode_pairs, sequence_logps
from generation.core.examples import PreferencePair
from generation.core.finetune import Batches, ProgressCallback, Reporter, device_of
from generation.core.model import GPT
from generation.core.optim import autocast, lr_at, make_optimizer, optimizer_step, set_lr
from generation.core.tokenizer import ScriptTokenizer


def frozen_copy(model: GPT) -> GPT:
    """Return a deep copy of ``model`` in eval mode with gradients off (a DPO reference)."""
    ref = copy.deepcopy(model).eval()
    ref.requires_grad_(False)
    return ref


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(loss, chosen_rewards, rejected_rewards)`` of a batch of pairs.

    ``loss = mean(-log sigmoid(beta * [(pc - rc) - (pr - rr)]))``. The rewards are the
    implicit ones, ``beta * (policy - ref)`` per completion, detached (for logging).
    Gradient per pair: d loss / d pc = -beta * sigmoid(-z) / B (and the opposite for pr):
    pairs the model already ranks confidently (large z) contribute almost nothing.
    """
    chosen_logratio = policy_chosen_logps - ref_chosen_logps  # (B,)
    rejected_logratio = policy_rejected_logps - ref_rejected_logps  # (B,)
    z = beta * (chosen_logratio - rejected_logratio)  # (B,)
    # logsigmoid is the numerically stable log(sigmoid(z)) (no overflow for large |z|).
    loss = -F.logsigmoid(z).mean()
    chosen_rewards = (beta * chosen_logratio).detach()
    rejected_rewards = (beta * rejected_logratio).detach()
    return loss, chosen_rewards, rejected_rewards


@torch.no_grad()
def _pair_logps(
    model: torch.nn.Module, data: list[tuple[Encoded, Encoded]], pad_id: int, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (chosen, rejected) summed completion log-probs (N,) each, in eval mode."""
    device = device_of(model)
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    for i in range(0, len(data), batch_size):
        chunk = data[i : i + batch_size]
        # Chosen and rejected go through the model together: one (2b, L) batch.
        ids, cmask = collate([c for c, _ in chunk] + [r for _, r in chunk], pad_id, device)
        with autocast(device):
            lp = sequence_logps(model, ids, cmask).float().cpu()
        chosen.append(lp[: len(chunk)])
        rejected.append(lp[len(chunk) :])
    model.train(was_training)
    return torch.cat(chosen), torch.cat(rejected)


def _check_reference(policy: torch.nn.Module, ref: torch.nn.Module) -> None:
    if ref is policy:
        raise ValueError("the DPO reference must be a separate (frozen) copy of the policy")
    ref_params = {p.data_ptr() for p in ref.parameters()}
    if any(p.data_ptr() in ref_params for p in policy.parameters()):
        raise ValueError("policy and reference share parameters; use frozen_copy(policy)")


def dpo_train(
    policy: GPT,
    ref: GPT,
    tok: ScriptTokenizer,
    pairs: Sequence[PreferencePair],
    *,
    steps: int,
    batch_size: int,
    lr: float,
    beta: float = 0.1,
    seed: int,
    device,
    progress_cb: ProgressCallback | None = None,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    grad_clip: float = 1.0,
    sft_weight: float = 0.0,
) -> dict:
    """Train ``policy`` in place with DPO against the frozen ``ref``; return metrics.

    ``sft_weight`` > 0 adds ``sft_weight *`` the chosen completions' mean per-token NLL to
    the loss (the "DPO + NLL" / RPO recipe). Plain DPO only cares about the *gap* between
    chosen and rejected, and can push both likelihoods down until the text degrades (seen
    with a tiny model at lr 1e-3); the NLL term keeps the chosen text likely.

    ``ref`` is put in eval mode with ``requires_grad_(False)`` and never changes (the
    function leaves it that way). Because it is frozen and deterministic, its log-probs
    are computed once for every pair up front, under ``no_grad``, instead of every step.
    Metrics (means over the last <=10 steps, on the training batches): ``{"steps",
    "pairs", "skipped", "loss" (the DPO term), "reward_accuracy", "reward_margin",
    "chosen_reward", "rejected_reward", "chosen_nll", "loss_first", "train_seconds"}``.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError("steps and batch_size must be >= 1")
    _check_reference(policy, ref)
    device = torch.device(device)
    torch.manual_seed(seed)
    block = min(policy.cfg.block_size, ref.cfg.block_size)
    data, skipped = encode_pairs(tok, pairs, block)
    if not data:
        raise ValueError(f"no preference pairs (given {len(pairs)}, none fits block_size {block})")

    ref.to(device).eval()
    ref.requires_grad_(False)
    ref_chosen, ref_rejected = _pair_logps(ref, data, tok.pad_id, batch_size)
    ref_chosen, ref_rejected = ref_chosen.to(device), ref_rejected.to(device)

    was_training = policy.training
    policy.to(device).train()
    opt = make_optimizer(policy, lr, weight_decay, device)
    batches = Batches(len(data), batch_size, seed)
    report = Reporter(progress_cb, steps)
    history: list[dict] = []
    t0 = time.time()
    for step in range(steps):
        cur_lr = lr_at(lr, step, warmup_steps)
        set_lr(opt, cur_lr)
        idx = batches.next()
        chunk = [data[i] for i in idx]
        B = len(chunk)
        ids, cmask = collate([c for c, _ in chunk] + [r for _, r in chunk], tok.pad_id, device)
        with autocast(device):
            logps = sequence_logps(policy, ids, cmask).float()  # (2B,)
        sel = torch.tensor(idx, device=device)
        loss, cr, rr = dpo_loss(logps[:B], logps[B:], ref_chosen[sel], ref_rejected[sel], beta)
        # Mean NLL per chosen completion token (for the optional SFT term and for logging).
        nll = -logps[:B].sum() / cmask[:B, 1:].sum().clamp(min=1)
        total = loss + sft_weight * nll if sft_weight else loss
        optimizer_step(opt, policy, total, grad_clip)
        history.append(
            {
                "loss": loss.item(),
                "reward_accuracy": (cr > rr).float().mean().item(),
                "reward_margin": (cr - rr).mean().item(),
                "chosen_reward": cr.mean().item(),
                "rejected_reward": rr.mean().item(),
                "chosen_nll": nll.item(),
            }
        )
        report.step(step + 1, lr=cur_lr, **history[-1])
    policy.train(was_training)
    last = history[-10:]
    metrics = {
        "steps": steps,
        "pairs": len(data),
        "skipped": skipped,
        **{k: sum(h[k] for h in last) / len(last) for k in history[-1]},
        "loss_first": history[0]["loss"],
        "train_seconds": time.time() - t0,
    }
    report.done(metrics)
    return metrics


@torch.no_grad()
def preference_eval(
    policy: GPT,
    ref: GPT,
    tok: ScriptTokenizer,
    pairs: Sequence[PreferencePair],
    beta: float,
    *,
    batch_size: int = 16,
) -> dict:
    """Return ``{"pref_accuracy", "reward_margin", "n", "skipped"}`` on (held-out) pairs.

    Implicit reward of a completion: ``beta * (log policy(y|x) - log ref(y|x))``.
    ``pref_accuracy`` is the fraction of pairs whose chosen completion gets the higher
    reward, a tie counting half: the untrained policy (a copy of ``ref``) ties every pair
    and scores 0.5, chance level. ``reward_margin`` is the mean chosen - rejected reward.
    Both models keep their train/eval mode.
    """
    block = min(policy.cfg.block_size, ref.cfg.block_size)
    data, skipped = encode_pairs(tok, pairs, block)
    if not data:
        return {"pref_accuracy": math.nan, "reward_margin": math.nan, "n": 0, "skipped": skipped}
    pc, pr = _pair_logps(policy, data, tok.pad_id, batch_size)
    rc, rr = _pair_logps(ref, data, tok.pad_id, batch_size)
    margin = beta * ((pc - rc) - (pr - rr))  # (N,) chosen reward - rejected reward
    wins = (margin > 0).float() + 0.5 * (margin == 0).float()
    return {
        "pref_accuracy": wins.mean().item(),
        "reward_margin": margin.mean().item(),
        "n": len(data),
        "skipped": skipped,
    }
