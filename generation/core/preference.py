"""Fine-tuning on feedback: supervised fine-tuning (SFT) and DPO, on in-memory datasets.

Two kinds of examples, both tied to a *prompt* = the request fields that ``prompting.py``
turns into tokens (``{"heading", "cast", "synopsis", "text_prefix"}``):

* ``SFTExample(prompt, completion)``: "for this request, write this". Trained with the
  usual next-token cross-entropy, but only on the completion tokens (+ ``<|end|>``).
* ``PreferencePair(prompt, chosen, rejected)``: "for this request, this completion is
  better than that one". Trained with DPO.

Token layout of one example (``encode_example``)::

    format_prompt(tok, **prompt)           completion tokens        <|end|>
    <|heading|>...<|cast|>...<|text|>...   ...........................
    \\_______ conditioning (no loss) ____/ \\__ scored: loss / log-probs __/

This is the same layout as a training document (``prompting.format_document``), so a
model fine-tuned here generates the same way through the engine. A sequence longer than
``block_size + 1`` loses prompt tokens from the *left* (the most recent context matters
most); an example whose completion alone does not fit is skipped and counted.

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
tokens only. The reference is a frozen copy of the starting model (usually the SFT model):
``beta`` (~0.1) sets how far the policy may drift from it. Use a small learning rate
(~1e-6..1e-5 for big models; tiny models tolerate more) and do SFT first.

Typical use::

    ref = frozen_copy(model)                  # the starting point, never trained
    dpo_train(model, ref, tok, pairs, steps=200, batch_size=8, lr=1e-5, seed=0, device="cpu")
    preference_eval(model, ref, tok, held_out_pairs, beta=0.1)  # {"pref_accuracy", ...}
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F

from generation.core.engine import Engine
from generation.core.examples import (  # noqa: F401 (re-exported: the public names)
    PROMPT_KEYS,
    PreferencePair,
    SFTExample,
    prompt_kwargs,
)
from generation.core.examples import prompt_key as _prompt_key
from generation.core.model import GPT
from generation.core.prompting import format_prompt
from generation.core.rater import rate
from generation.core.sampling import SamplingParams
from generation.core.tokenizer import ScriptTokenizer

ProgressCallback = Callable[[dict], None]


# --------------------------------------------------------------------------- datasets


class Encoded(NamedTuple):
    """One tokenized example: ``ids`` = prompt + completion + <|end|>; the last
    ``n_completion`` of them are the scored tokens."""

    ids: list[int]
    n_completion: int


def encode_example(
    tok: ScriptTokenizer, prompt: dict, completion: str, block_size: int
) -> Encoded | None:
    """Tokenize prompt + completion + <|end|>; return None if the completion cannot fit.

    The model reads ``ids[:-1]`` and predicts ``ids[1:]``, so a sequence may hold
    ``block_size + 1`` tokens. At least one prompt token must precede the completion
    (something has to predict its first token), so the completion + <|end|> may use at
    most ``block_size`` tokens. The prompt is cut from the left to make room.
    """
    comp = [*tok.encode(completion), tok.end_id]
    if len(comp) > block_size:
        return None
    prompt_ids = format_prompt(tok, **prompt_kwargs(prompt))
    keep = block_size + 1 - len(comp)  # >= 1
    return Encoded(prompt_ids[-keep:] + comp, len(comp))


def encode_sft(
    tok: ScriptTokenizer, examples: Iterable[SFTExample], block_size: int
) -> tuple[list[Encoded], int]:
    """Return ``(encoded examples, number skipped because the completion did not fit)``."""
    out, skipped = [], 0
    for ex in examples:
        e = encode_example(tok, ex.prompt, ex.completion, block_size)
        if e is None:
            skipped += 1
        else:
            out.append(e)
    return out, skipped


def encode_pairs(
    tok: ScriptTokenizer, pairs: Iterable[PreferencePair], block_size: int
) -> tuple[list[tuple[Encoded, Encoded]], int]:
    """Return ``([(chosen, rejected), ...], skipped)``; a pair is skipped if either side
    does not fit."""
    out, skipped = [], 0
    for p in pairs:
        c = encode_example(tok, p.prompt, p.chosen, block_size)
        r = encode_example(tok, p.prompt, p.rejected, block_size)
        if c is None or r is None:
            skipped += 1
        else:
            out.append((c, r))
    return out, skipped


def collate(
    seqs: Sequence[Encoded], pad_id: int, device="cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad sequences into ``(input_ids, completion_mask)``, both (B, L).

    ``completion_mask[b, t]`` is True where ``input_ids[b, t]`` is a completion token (or the
    closing <|end|>); padding and prompt positions are False. Right padding is safe with a
    causal model: real tokens never attend to the pads that come after them.
    """
    L = max(len(s.ids) for s in seqs)
    input_ids = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.bool)
    for b, (ids, n) in enumerate(seqs):
        input_ids[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[b, len(ids) - n : len(ids)] = True
    return input_ids.to(device), mask.to(device)


# --------------------------------------------------------------------------- helpers


def _autocast(device):
    # bfloat16 matmuls on GPU; plain float32 on CPU (CPU autocast is slower for small models).
    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


class _Batches:
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


def _make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float, device):
    # Same recipe as train.py: decay matrices, not the norms' gains.
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


def _lr_at(lr: float, step: int, warmup_steps: int) -> float:
    """Linear warmup over ``warmup_steps``, then constant (fine-tuning runs are short)."""
    return lr * (step + 1) / warmup_steps if step < warmup_steps else lr


class _Reporter:
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


def frozen_copy(model: GPT) -> GPT:
    """Return a deep copy of ``model`` in eval mode with gradients off (a DPO reference)."""
    ref = copy.deepcopy(model).eval()
    ref.requires_grad_(False)
    return ref


# --------------------------------------------------------------------------- SFT


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
    opt = _make_optimizer(model, lr, weight_decay, device)
    batches = _Batches(len(data), batch_size, seed)
    report = _Reporter(progress_cb, steps)
    losses: list[float] = []
    n_tokens = 0
    t0 = time.time()
    for step in range(steps):
        cur_lr = _lr_at(lr, step, warmup_steps)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        ids, cmask = collate([data[i] for i in batches.next()], tok.pad_id, device)
        # Shift by one: position t reads ids[:t+1] and predicts ids[t+1].
        # (contiguous: GPT.forward .view()s the targets and mask.)
        x, y, m = ids[:, :-1], ids[:, 1:].contiguous(), cmask[:, 1:].contiguous()
        with _autocast(device):
            _, loss = model(x, y, m)  # mean CE over the True positions of m
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
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
    device = _device_of(model)
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


# --------------------------------------------------------------------------- DPO


def sequence_logps(
    model: torch.nn.Module, input_ids: torch.Tensor, completion_mask: torch.Tensor
) -> torch.Tensor:
    """Return (B,) ``sum log p(token | tokens before it)`` over the completion tokens only.

    ``input_ids`` (B, L) are whole sequences (prompt + completion + <|end|> + padding);
    ``completion_mask`` (B, L) marks the scored tokens (see ``collate``). The model sees
    ``input_ids[:, :-1]``; its logits at position t are scored against ``input_ids[:, t+1]``.
    """
    x, targets = input_ids[:, :-1], input_ids[:, 1:]  # (B, L-1) each
    mask = completion_mask[:, 1:]  # (B, L-1): is the *predicted* token a completion token?
    logits = model(x)  # (B, L-1, V)
    B, T, V = logits.shape
    # cross_entropy = -log softmax(logits)[target], without materialising log_softmax (B,T,V).
    token_logps = -F.cross_entropy(
        logits.float().reshape(B * T, V), targets.reshape(B * T), reduction="none"
    ).view(B, T)  # (B, T)
    # where(), not multiply: a -inf log-prob at a masked position must not turn into NaN.
    return torch.where(mask, token_logps, torch.zeros_like(token_logps)).sum(-1)  # (B,)


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
    device = _device_of(model)
    was_training = model.training
    model.eval()
    chosen, rejected = [], []
    for i in range(0, len(data), batch_size):
        chunk = data[i : i + batch_size]
        # Chosen and rejected go through the model together: one (2b, L) batch.
        ids, cmask = collate([c for c, _ in chunk] + [r for _, r in chunk], pad_id, device)
        with _autocast(device):
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
    opt = _make_optimizer(policy, lr, weight_decay, device)
    batches = _Batches(len(data), batch_size, seed)
    report = _Reporter(progress_cb, steps)
    history: list[dict] = []
    t0 = time.time()
    for step in range(steps):
        cur_lr = _lr_at(lr, step, warmup_steps)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        idx = batches.next()
        chunk = [data[i] for i in idx]
        B = len(chunk)
        ids, cmask = collate([c for c, _ in chunk] + [r for _, r in chunk], tok.pad_id, device)
        with _autocast(device):
            logps = sequence_logps(policy, ids, cmask).float()  # (2B,)
        sel = torch.tensor(idx, device=device)
        loss, cr, rr = dpo_loss(logps[:B], logps[B:], ref_chosen[sel], ref_rejected[sel], beta)
        # Mean NLL per chosen completion token (for the optional SFT term and for logging).
        nll = -logps[:B].sum() / cmask[:B, 1:].sum().clamp(min=1)
        total = loss + sft_weight * nll if sft_weight else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), grad_clip)
        opt.step()
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


# --------------------------------------------------------------------------- feedback loop


def make_pairs_from_ratings(
    groups: Iterable[Sequence[tuple[dict, str, float]]], min_margin: float
) -> list[PreferencePair]:
    """Turn rated alternatives into preference pairs: the best of a group vs each worse one.

    A group holds ``(prompt, completion, score)`` alternatives sampled for the SAME prompt
    (pairs across prompts would teach the model about prompts, not about completions:
    ``ValueError`` if a group mixes prompts). In each group the highest score is
    ``chosen`` (the first one on a tie); every other alternative whose score is lower by at
    least ``min_margin`` becomes a ``rejected`` (a completion identical to the chosen text
    is never paired with it). Groups with fewer than two alternatives give nothing.
    """
    pairs: list[PreferencePair] = []
    for group in groups:
        group = list(group)
        if len(group) < 2:
            continue
        key = _prompt_key(group[0][0])
        if any(_prompt_key(p) != key for p, _, _ in group[1:]):
            raise ValueError("a rating group must hold alternatives for one prompt")
        # max() returns the first maximal element: ties go to the earliest alternative.
        best_prompt, best_text, best_score = max(group, key=lambda g: g[2])
        for _, text, score in group:
            if score < best_score and best_score - score >= min_margin and text != best_text:
                pairs.append(PreferencePair(dict(best_prompt), best_text, text))
    return pairs


def sample_rated_groups(
    model: GPT,
    tok: ScriptTokenizer,
    prompts: Sequence[dict],
    *,
    n: int,
    params: SamplingParams,
    seed: int = 0,
    rate_fn: Callable[[str, dict], float] | None = None,
    max_batch: int = 32,
) -> list[list[tuple[dict, str, float]]]:
    """Sample ``n`` completions per prompt and rate them; return one group per prompt.

    The groups are the input of ``make_pairs_from_ratings``. Every sample gets its own
    seed (``seed``, ``seed + 1``, ...), so a call is repeatable. ``rate_fn(text, prompt)``
    defaults to the scripted rater against the prompt's cast (``rater.rate``). All samples
    run batched through one ``Engine`` (continuous batching); the model's train/eval mode
    is restored afterwards. Note: a sample cut off by ``max_new_tokens`` is rated as is,
    and ``encode_example`` will still close it with <|end|> when it is trained on.
    """
    if rate_fn is None:

        def rate_fn(text: str, prompt: dict) -> float:
            return rate(text, prompt.get("cast", ()))

    was_training = model.training
    total = n * len(prompts)
    engine = Engine(
        model, tok.token_bytes, tok.end_id, max_batch=max_batch, max_queue=max(total, 1)
    )
    ids = [format_prompt(tok, **prompt_kwargs(p)) for p in prompts for _ in range(n)]
    sps = [replace(params, seed=seed + k) for k in range(total)]
    outs = engine.generate(ids, sps)
    model.train(was_training)
    groups = []
    for i, p in enumerate(prompts):
        texts = [o.text for o in outs[i * n : (i + 1) * n]]
        groups.append([(p, t, float(rate_fn(t, p))) for t in texts])
    return groups


# --------------------------------------------------------------------------- one retraining


def scene_windows(prompt: dict, text: str, max_chars: int = 700) -> list[SFTExample]:
    """Cut a long scene into SFT examples that fit a small context.

    A whole scene is usually longer than a tiny model's block, and ``encode_example``
    skips a completion that does not fit. So the text is cut at blank lines (Fountain
    element boundaries) into windows of at most ``max_chars`` (a single longer element is
    its own window). The first window is "write this scene" (``text_prefix`` empty);
    each later one is "continue" with the text before it as ``text_prefix``
    (``encode_example`` keeps its most recent tokens). Examples in scene order.
    """
    blocks = [b.strip("\n") for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    windows: list[str] = []
    cur: list[str] = []
    for block in blocks:
        if cur and len("\n\n".join([*cur, block])) > max_chars:
            windows.append("\n\n".join(cur) + "\n")
            cur = []
        cur.append(block)
    if cur:
        windows.append("\n\n".join(cur) + "\n")
    out, before = [], ""
    for w in windows:
        p = {k: prompt.get(k) for k in ("heading", "cast", "synopsis")}
        p["text_prefix"] = before
        out.append(SFTExample(p, w))
        before = (before + ("\n" if before else "") + w)[-4 * max_chars :]
    return out


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
