"""Per-request sampling settings and a batched sampler.

Every row of a batch has its own settings and its own ``torch.Generator``. The filters
(repetition penalty, temperature, top-k, top-p, min-p) are vectorised over the batch; the
random draw is one uniform number per row from that row's generator, turned into a token
by inverse-CDF over the row's kept probabilities (most likely first). Nothing in a row's computation
depends on the other rows, so the same seed + settings + model give the same text
whether a request runs alone or in a batch of 64.
"""

from __future__ import annotations

import torch

from generation.core.params import SamplingParams


def apply_repetition_penalty(
    logits: torch.Tensor, seen: torch.Tensor, penalty: torch.Tensor
) -> torch.Tensor:
    """Penalise already-seen tokens (CTRL-style): divide positive logits, multiply negative."""
    # logits (B, V), seen (B, V) bool, penalty (B,)
    p = penalty[:, None]
    penalised = torch.where(logits > 0, logits / p, logits * p)
    return torch.where(seen, penalised, logits)


# Filtered rows first look at their CANDIDATES most likely tokens (a cheap top-k instead of
# sorting the whole vocabulary, which dominates a small model's step on CPU); a row falls
# back to a full sort only when its filters could keep tokens outside that set.
CANDIDATES = 256


def _inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Return the index where each row's running sum of ``probs`` (B, K) passes ``u * total``."""
    cdf = probs.cumsum(-1)
    return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).clamp(max=probs.shape[1] - 1)[:, 0]


def _filter_sorted(probs, top_k, top_p, min_p):
    """Zero the filtered-out entries of descending-sorted probabilities (B, K)."""
    ranks = torch.arange(probs.shape[1], device=probs.device)[None, :]
    remove = ranks >= top_k[:, None]
    # Nucleus: drop a token if the mass strictly before it already reaches top_p.
    remove |= (probs.cumsum(-1) - probs) >= top_p[:, None]
    remove |= probs < (min_p * probs[:, 0])[:, None]
    remove[:, 0] = False  # always keep the most likely token
    return probs.masked_fill(remove, 0.0)


def sample(
    logits: torch.Tensor,
    params: list[SamplingParams],
    generators: list[torch.Generator],
    seen: torch.Tensor | None = None,
) -> list[int]:
    """Return one sampled token id per row of ``logits`` (B, V)."""
    B, V = logits.shape
    dev = logits.device
    logits = logits.float()
    if seen is not None and any(p.repetition_penalty != 1.0 for p in params):
        pen = torch.tensor([p.repetition_penalty for p in params], device=dev)
        logits = apply_repetition_penalty(logits, seen, pen)
    # One uniform per row from that row's own generator (drawn even for greedy rows, so
    # a row's random stream never depends on its neighbours' settings).
    u = torch.stack([torch.rand((), generator=g, device="cpu") for g in generators]).to(dev)
    temp = torch.tensor([max(p.temperature, 1e-6) for p in params], device=dev)
    scaled = logits / temp[:, None]
    logp = torch.log_softmax(scaled, dim=-1)  # (B, V), normalised over the whole vocabulary
    out = [0] * B
    top_k = torch.tensor([p.top_k if 0 < p.top_k < V else V for p in params], device=dev)
    top_p = torch.tensor([p.top_p for p in params], device=dev)
    min_p = torch.tensor([p.min_p for p in params], device=dev)
    plain = [
        i
        for i, p in enumerate(params)
        if p.temperature > 0 and p.top_k == 0 and p.top_p >= 1 and p.min_p == 0
    ]
    greedy = [i for i, p in enumerate(params) if p.temperature == 0]
    filtered = [i for i in range(B) if i not in set(plain) | set(greedy)]
    if greedy:
        g = torch.tensor(greedy, device=dev)
        for i, t in zip(greedy, logits[g].argmax(-1).tolist(), strict=True):
            out[i] = t
    if plain:
        # No filter: inverse CDF over the vocabulary in its natural order (no sort needed).
        r = torch.tensor(plain, device=dev)
        for i, t in zip(plain, _inverse_cdf(logp[r].exp(), u[r]).tolist(), strict=True):
            out[i] = t
    if filtered:
        r = torch.tensor(filtered, device=dev)
        K = min(V, max(CANDIDATES, int(top_k[r].max()) if bool((top_k[r] < V).any()) else 0))
        lp, idx = torch.topk(logp[r], K, dim=-1)  # (R, K) descending
        probs = lp.exp()
        k_r, p_r, m_r = top_k[r], top_p[r], min_p[r]
        # Exact within the candidates if: top-k fits in them, or the nucleus closes inside
        # them, or min-p already excludes the last candidate.
        fits = (
            (k_r <= K) | (probs.sum(-1) >= p_r) | ((m_r > 0) & (probs[:, -1] < m_r * probs[:, 0]))
        )
        fast = [j for j in range(len(filtered)) if bool(fits[j])]
        slow = [j for j in range(len(filtered)) if not bool(fits[j])]
        if fast:
            f = torch.tensor(fast, device=dev)
            kept = _filter_sorted(probs[f], k_r[f], p_r[f], m_r[f])
            pick = _inverse_cdf(kept, u[r][f])
            for j, t in zip(fast, idx[f].gather(1, pick[:, None])[:, 0].tolist(), strict=True):
                out[filtered[j]] = t
        if slow:
            sl = torch.tensor(slow, device=dev)
            rows = r[sl]
            # stable=True keeps ties in index order, so the result is deterministic.
            slp, sidx = torch.sort(logp[rows], dim=-1, descending=True, stable=True)
            kept = _filter_sorted(slp.exp(), top_k[rows], top_p[rows], min_p[rows])
            pick = _inverse_cdf(kept, u[rows])
            for j, t in zip(slow, sidx.gather(1, pick[:, None])[:, 0].tolist(), strict=True):
                out[filtered[j]] = t
    return out
