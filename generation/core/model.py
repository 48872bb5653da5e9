"""A small GPT (decoder-only transformer) in plain PyTorch, nanoGPT/gpt-fast style.

Shapes in comments: B batch, T time (tokens), C embedding width, nh heads, hs head size
(C = nh * hs), V vocabulary, N = total new tokens of one engine step (all requests
flattened), S = cache slots, L = cache length.

Two forward paths share the same weights:

* ``forward(idx)``: the training path, a dense (B, T) batch with a causal mask.
* ``forward_step(tokens, positions, plan, cache)``: the serving path used by the engine.
  Requests of different lengths are flattened into one (N,) token vector (no padding for
  the big matmuls); every token carries its own position id, so RoPE rotates it by its
  position *in its own sequence*. Keys/values are written into a preallocated
  ``KVCache`` of S slots x L positions: one slot per running request, each with its own
  length (the engine keeps active requests in slots 0..S-1, compacting on exit).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 4096
    block_size: int = 256  # longest sequence (prompt + generated) the model handles
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    dropout: float = 0.0
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


# Named sizes. vocab_size is the default for a tokenizer trained with the preset; the
# training code sets it to the real tokenizer size.
PRESETS: dict[str, GPTConfig] = {
    # ~4.2M params: trains on 2 CPU cores in minutes (tests, laptops).
    "tiny": GPTConfig(vocab_size=4096, block_size=512, n_layer=4, n_head=4, n_embd=256),
    # ~29M params: a usable CPU/GPU model.
    "small": GPTConfig(vocab_size=8192, block_size=512, n_layer=8, n_head=8, n_embd=512),
    # ~110M params (GPT-2 small size): GPU.
    "base": GPTConfig(vocab_size=32000, block_size=1024, n_layer=12, n_head=12, n_embd=768),
}


class RMSNorm(nn.Module):
    """Scale each vector to unit root-mean-square, then by a learned gain (no mean shift)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rope_tables(hs: int, max_pos: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Return cos/sin tables (max_pos, hs//2) for rotary position embeddings."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    angles = torch.outer(torch.arange(max_pos, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of ``x`` (..., hs) by position-dependent angles.

    ``cos``/``sin`` are already gathered at each token's position and broadcast against x.
    Rotating query and key by their positions makes their dot product depend only on the
    *distance* between them, which is what lets sequences of different lengths share a batch.
    """
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2).type_as(x)


@dataclass
class StepPlan:
    """How the flattened tokens of one engine step map onto cache slots.

    decode_slots/decode_index: requests generating one token this step (slot, index in N).
    prefills: (slot, start index in N, number of tokens, cache position of the first one).
    n_slots: active slots 0..n_slots-1 (decode attention runs over all of them at once).
    """

    n_slots: int
    decode_slots: torch.Tensor  # (D,) long
    decode_index: torch.Tensor  # (D,) long
    decode_lens: torch.Tensor  # (D,) long: cache length *including* this step's token
    slot_of_token: torch.Tensor | None = None  # (N,) long: the slot each token belongs to
    prefills: list[tuple[int, int, int, int]] = field(default_factory=list)


class KVCache:
    """Preallocated keys/values: per layer (S, nh, L, hs); a slot's length lives in the engine."""

    def __init__(self, cfg: GPTConfig, n_slots: int, dtype=torch.float32, device="cpu"):
        hs = cfg.n_embd // cfg.n_head
        shape = (cfg.n_layer, n_slots, cfg.n_head, cfg.block_size, hs)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)

    def move(self, src: int, dst: int) -> None:
        """Copy slot ``src`` into slot ``dst`` (used to keep active slots contiguous)."""
        self.k[:, dst] = self.k[:, src]
        self.v[:, dst] = self.v[:, src]


def decode_attention(q, k, v, mask):
    """Attention of one query per row over that row's cached keys/values.

    q (S, nh, 1, hs); k, v (S, nh, L, hs) strided views into the cache; mask (S, L) bool.
    On CPU, SDPA with a mask copies the strided cache views first (most of a decode step
    for the ``small`` preset); two matmuls read them in place, ~3-5x faster. CUDA keeps SDPA.
    """
    if q.device.type != "cpu":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    scores = torch.matmul(q, k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)  # (S, nh, 1, L)
    scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return torch.matmul(scores.softmax(-1), v)  # (S, nh, 1, hs)


class Attention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.nh, self.hs = cfg.n_head, cfg.n_embd // cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.nh, self.hs).unbind(2)  # each (B, T, nh, hs)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    def forward_step(self, x, cos, sin, plan: StepPlan, k_cache, v_cache, positions):
        # x: (N, C); k_cache/v_cache: this layer's (S, nh, L, hs); positions: (N,)
        N, C = x.shape
        q, k, v = self.qkv(x).view(N, 3, self.nh, self.hs).unbind(1)  # each (N, nh, hs)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # Write this step's keys/values at (slot, position) of each token.
        slots = plan.slot_of_token
        k_cache[slots, :, positions] = k
        v_cache[slots, :, positions] = v
        y = torch.empty_like(q)  # (N, nh, hs)
        if len(plan.decode_slots):
            # One query per active slot; slots that are prefilling this step get a dummy
            # query whose output is discarded (cheaper than gathering the cache rows).
            S = plan.n_slots
            L = int(plan.decode_lens.max())
            qd = q.new_zeros(S, self.nh, 1, self.hs)  # (S, nh, 1, hs)
            qd[plan.decode_slots] = q[plan.decode_index].unsqueeze(2)
            lens = torch.ones(S, dtype=torch.long, device=x.device)
            lens[plan.decode_slots] = plan.decode_lens
            mask = torch.arange(L, device=x.device)[None, :] < lens[:, None]  # (S, L)
            yd = decode_attention(
                qd, k_cache[:S, :, :L], v_cache[:S, :, :L], mask
            )  # (S, nh, 1, hs)
            y[plan.decode_index] = yd[plan.decode_slots, :, 0]
        for slot, start, n, pos0 in plan.prefills:
            # A chunk of n prompt tokens at cache positions pos0..pos0+n-1 attends to the
            # whole cached prefix plus, causally, itself.
            qp = q[start : start + n].transpose(0, 1).unsqueeze(0)  # (1, nh, n, hs)
            kp = k_cache[slot : slot + 1, :, : pos0 + n]  # (1, nh, pos0+n, hs)
            vp = v_cache[slot : slot + 1, :, : pos0 + n]
            qpos = torch.arange(pos0, pos0 + n, device=x.device)
            mask = torch.arange(pos0 + n, device=x.device)[None, :] <= qpos[:, None]  # (n, pos0+n)
            yp = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=mask)  # (1, nh, n, hs)
            y[start : start + n] = yp[0].transpose(0, 1)
        return self.proj(y.reshape(N, C))  # (N, C)


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=False)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.norm1 = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.norm2 = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin):
        x = x + self.attn(self.norm1(x), cos, sin)
        return x + self.mlp(self.norm2(x))

    def forward_step(self, x, cos, sin, plan, k_cache, v_cache, positions):
        x = x + self.attn.forward_step(self.norm1(x), cos, sin, plan, k_cache, v_cache, positions)
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm_f = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        # Weight tying: the output projection reuses the input embedding matrix. It saves
        # V*C parameters and helps small models generalise.
        self.lm_head.weight = self.wte.weight
        cos, sin = rope_tables(cfg.n_embd // cfg.n_head, cfg.block_size, cfg.rope_theta)
        # Buffers, not parameters; persistent=False keeps them out of checkpoints.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2 trick: shrink the residual projections so the residual stream's variance
        # does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, mask=None):
        """Return logits (B, T, V), and the mean masked cross-entropy if ``targets`` given."""
        B, T = idx.shape
        assert self.cfg.block_size >= T, f"sequence of {T} > block_size {self.cfg.block_size}"
        # (T, hs/2) -> (1, T, 1, hs/2): broadcast over batch and heads of (B, T, nh, hs/2).
        cos, sin = self.rope_cos[:T][None, :, None], self.rope_sin[:T][None, :, None]
        x = self.drop(self.wte(idx))  # (B, T, C)
        for block in self.blocks:
            x = block(x, cos, sin)
        logits = self.lm_head(self.norm_f(x))  # (B, T, V)
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.float().view(-1, logits.size(-1)), targets.view(-1), reduction="none"
        )
        if mask is None:
            return logits, loss.mean()
        mask = mask.view(-1).float()
        return logits, (loss * mask).sum() / mask.sum().clamp(min=1)

    def forward_step(self, tokens, positions, plan: StepPlan, cache: KVCache, logits_index):
        """Run one engine step; return logits (len(logits_index), V) for the selected tokens.

        tokens, positions: (N,) long. ``plan.slot_of_token`` (N,) must be set.
        logits_index: indices into N whose next-token distribution is needed (the last
        token of each request that samples this step); the LM head runs only on those.
        """
        cos = self.rope_cos[positions][:, None]  # (N, 1, hs/2): broadcast over heads
        sin = self.rope_sin[positions][:, None]
        x = self.wte(tokens)  # (N, C)
        for i, block in enumerate(self.blocks):
            x = block.forward_step(x, cos, sin, plan, cache.k[i], cache.v[i], positions)
        x = self.norm_f(x[logits_index])  # (R, C)
        return self.lm_head(x).float()  # (R, V)
