"""LoRA retraining of an open-weights Hugging Face causal LM on the team's feedback.

A LoRA version is *a base model + an adapter*. The base (a ``save_pretrained`` folder of
an open-weights model: Llama, Mistral, Qwen, ...) is never changed; a round trains small
low-rank matrices added to its attention projections (Hu et al. 2021, "LoRA") and saves
only those, with ``peft``: ``adapter_config.json`` (the rank, the target modules and
``base_model_name_or_path``, the ABSOLUTE local base folder) and
``adapter_model.safetensors`` (megabytes, where the base is gigabytes), plus
``lora_round.json``, the round's metrics.

The round has the house model's shape (``retrain_round.py``), so one round code path can
call either: SFT on accepted and well-rated drafts, then DPO on preference pairs, then
held-out preference accuracy and reward margin, measured before the round (the adapter at
its init adds nothing: the base) and after (the gate's inputs). DPO's reference model is
the same network with its adapter switched off (``model.disable_adapter()``): no second
copy of the base in memory; its log-probs are computed once, up front.

What the model reads is what it is served: an example's prompt is rendered by
``backends.hf.render_prompt`` / ``prompt_ids`` (the chat template of an
instruction-tuned model, with the generation prompt, else the plain Fountain prompt), the
completion is its text + the eos token, and the loss and log-probs are taken on the
completion tokens only. A sequence longer than ``max_len`` loses prompt tokens from the
left; an example whose completion alone does not fit is skipped and counted.

Serving a version:

* ``backends.hf.HFBackend(version_dir)`` sees ``adapter_config.json``, loads the base,
  applies the adapter and merges it (``merge_and_unload``).
* vLLM serves the base once and the adapter beside it: ``export_adapter(version_dir,
  out_dir)`` copies the adapter files, then::

      vllm serve <base> --enable-lora --lora-modules team=<out_dir>

  and requests name the model ``team`` (``openai_compat`` backend, ``model="team"``).

Use from Python (``lora_round``) or the command line, on the TRL-style JSONL files the
feedback export writes (``sft.jsonl``, ``preference.jsonl``,
``preference.heldout.jsonl``; ``generation.datasets.write_export``)::

    python -m generation.core.lora --base DIR --out DIR --data DIR [--sft-steps N ...]

``peft`` (and ``transformers``) are imported only when a round runs; they are
development/training requirements (``requirements-dev.txt``), not the web process's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from generation.core.backends.hf import ADAPTER_CONFIG, prompt_ids, render_prompt
from generation.core.examples import PreferencePair, SFTExample
from generation.core.finetune import Batches, ProgressCallback, Reporter
from generation.core.prompting import Prompt

ADAPTER_WEIGHTS = "adapter_model.safetensors"
METRICS_FILE = "lora_round.json"
NO_DATA = "no accepted or well-rated drafts to learn from"
# Leaf names of attention projections, across families (Llama/Mistral/Qwen/Gemma: q/k/v/o;
# GPT-2: c_attn; GPT-NeoX/Falcon: query_key_value; Phi-3: qkv_proj; BERT-like: query...).
ATTENTION_PROJECTIONS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "qkv_proj",
    "out_proj",
    "c_attn",
    "query_key_value",
    "Wqkv",
    "query",
    "key",
    "value",
)
# torch.cuda.OutOfMemoryError is torch.OutOfMemoryError in recent PyTorch; both, in case.
_OOM = tuple({torch.OutOfMemoryError, getattr(torch.cuda, "OutOfMemoryError", MemoryError)})

__all__ = [
    "LoraError",
    "LoraRound",
    "encode_hf_example",
    "export_adapter",
    "lora_round",
    "render_prompt",
]


class LoraError(RuntimeError):
    """A round that cannot run; the message is written for the writers (the model in use
    keeps serving)."""


@dataclass
class LoraRound:
    """How one LoRA round trains (the ``peft.LoraConfig`` fields and the loop's)."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    # None: the attention projections the model has (ATTENTION_PROJECTIONS).
    target_modules: list[str] | None = None
    sft_steps: int = 60
    dpo_steps: int = 60
    batch_size: int = 4
    lr_sft: float = 2e-4
    lr_dpo: float = 2e-5
    beta: float = 0.1
    # Weight of the chosen completions' NLL added to the DPO loss (the "DPO + NLL" recipe
    # of the house round, ``dpo.dpo_train``); 0: plain DPO.
    sft_weight: float = 0.0
    grad_clip: float = 1.0
    seed: int = 1337
    device: str | None = None  # None: cuda when available, else cpu
    dtype: str | None = None  # the base's weights, e.g. "bfloat16" on a GPU; None: as saved
    max_len: int = 1024


# --------------------------------------------------------------------------- tokens


def encode_hf_example(
    tokenizer, prompt: Prompt, completion: str, max_len: int
) -> tuple[list[int], int] | None:
    """``(ids, n_completion)``: the served prompt's ids (``prompt_ids``) + the completion's
    + eos; the last ``n_completion`` ids are scored. None if the completion does not fit
    in ``max_len`` tokens with one prompt token before it; a longer prompt is cut from
    the left."""
    comp = [*tokenizer(completion, add_special_tokens=False).input_ids, tokenizer.eos_token_id]
    if len(comp) > max_len - 1:
        return None
    pids = prompt_ids(tokenizer, prompt) or [tokenizer.bos_token_id or tokenizer.eos_token_id]
    keep = max_len - len(comp)
    return pids[-keep:] + comp, len(comp)


def _collate(seqs: Sequence[tuple[list[int], int]], pad_id: int, device):
    """Right-padded ``(input_ids, attention_mask, completion_mask)``, each (B, L)."""
    L = max(len(ids) for ids, _ in seqs)
    ids_t = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), L), dtype=torch.long)
    cmask = torch.zeros((len(seqs), L), dtype=torch.bool)
    for b, (ids, n) in enumerate(seqs):
        ids_t[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attn[b, : len(ids)] = 1
        cmask[b, len(ids) - n : len(ids)] = True
    return ids_t.to(device), attn.to(device), cmask.to(device)


def _logps(model, seqs, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) summed completion log-probs and (B,) completion token counts."""
    ids, attn, cmask = _collate(seqs, pad_id, device)
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]  # (B, L-1, V)
    targets, mask = ids[:, 1:], cmask[:, 1:]
    B, T, V = logits.shape
    tok_lp = -F.cross_entropy(
        logits.float().reshape(B * T, V), targets.reshape(B * T), reduction="none"
    ).view(B, T)
    return torch.where(mask, tok_lp, torch.zeros_like(tok_lp)).sum(-1), mask.sum(-1)


@torch.no_grad()
def _pair_logps(model, data, pad_id, device, batch_size) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) chosen and (N,) rejected log-probs of encoded pairs, in eval mode."""
    was = model.training
    model.eval()
    chosen, rejected = [], []
    for i in range(0, len(data), batch_size):
        chunk = data[i : i + batch_size]
        lp, _ = _logps(model, [c for c, _ in chunk] + [r for _, r in chunk], pad_id, device)
        chosen.append(lp[: len(chunk)].cpu())
        rejected.append(lp[len(chunk) :].cpu())
    model.train(was)
    return torch.cat(chosen), torch.cat(rejected)


def _encode_pairs(tokenizer, pairs, max_len):
    out, skipped = [], 0
    for p in pairs:
        c = encode_hf_example(tokenizer, p.prompt, p.chosen, max_len)
        r = encode_hf_example(tokenizer, p.prompt, p.rejected, max_len)
        if c is None or r is None:
            skipped += 1
        else:
            out.append((c, r))
    return out, skipped


def _preference_eval(model, data, pad_id, device, beta, batch_size) -> dict:
    """Held-out ``pref_accuracy`` (ties count half) and ``reward_margin`` of the adapted
    model against the base (the adapter switched off)."""
    if not data:
        return {"pref_accuracy": None, "reward_margin": None}
    pc, pr = _pair_logps(model, data, pad_id, device, batch_size)
    with model.disable_adapter():
        rc, rr = _pair_logps(model, data, pad_id, device, batch_size)
    margin = beta * ((pc - rc) - (pr - rr))
    wins = (margin > 0).float() + 0.5 * (margin == 0).float()
    return {"pref_accuracy": wins.mean().item(), "reward_margin": margin.mean().item()}


# --------------------------------------------------------------------------- the round


def _attention_targets(model) -> list[str]:
    """Leaf names of the attention projections present (Linear or GPT-2 Conv1D layers
    inside an attention block)."""
    found = set()
    for name, mod in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        in_attention = "attn" in name.lower() or "attention" in name.lower()
        is_proj = isinstance(mod, torch.nn.Linear) or type(mod).__name__ == "Conv1D"
        if leaf in ATTENTION_PROJECTIONS and in_attention and is_proj:
            found.add(leaf)
    if not found:
        raise LoraError(
            "cannot find the attention projections of this model to adapt; "
            "give target_modules (the names of its attention layers)"
        )
    return sorted(found, key=ATTENTION_PROJECTIONS.index)


def _memory_message(base_dir, device, e: BaseException) -> str:
    detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
    return (
        f"The base model {base_dir} does not fit in memory on this machine "
        f"({device}: {detail}); the model in use keeps serving."
    )


def _dir_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file())


def lora_round(
    base_dir,
    out_dir,
    sft: Sequence[SFTExample],
    pairs: Sequence[PreferencePair],
    heldout_pairs: Sequence[PreferencePair],
    cfg: LoraRound | None = None,
    progress_cb: ProgressCallback | None = None,
) -> dict:
    """Train a LoRA adapter on ``base_dir`` (SFT on ``sft``, then DPO on ``pairs``),
    save it to ``out_dir`` and return the metrics (also written to ``lora_round.json``).

    Metrics: ``pref_accuracy_before/after`` and ``reward_margin_before/after`` on
    ``heldout_pairs`` (None without held-out pairs), ``sft_loss_first/last`` (mean NLL per
    completion token), ``dpo_loss_first/last``, ``steps``, ``sft_examples``, ``pairs``,
    ``skipped``, ``seconds``, ``adapter_bytes``, ``base_bytes``, ``base_dir`` (absolute),
    ``target_modules`` and the settings. Seeded: the same inputs give the same adapter.
    Raises ``LoraError`` (a writer-facing message) with no data, a base that cannot load,
    or one that does not fit in memory.
    """
    cfg = cfg or LoraRound()
    if not sft and not pairs:
        raise LoraError(f"Nothing to retrain on: {NO_DATA}.")
    try:
        import peft
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise LoraError(
            "LoRA retraining needs `peft` and `transformers` installed on the training machine"
        ) from e
    base = Path(base_dir).resolve()
    out = Path(out_dir)
    device = torch.device(cfg.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    t0 = time.time()
    model = None
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
            kw = {"dtype": getattr(torch, cfg.dtype)} if cfg.dtype else {}
            model = AutoModelForCausalLM.from_pretrained(str(base), local_files_only=True, **kw)
        except (OSError, ValueError) as e:
            raise LoraError(
                f"The base model {base} cannot be loaded ({e}); the model in use keeps serving."
            ) from e
        model.to(device)
        torch.manual_seed(cfg.seed)  # the adapter's init
        targets = list(cfg.target_modules or _attention_targets(model))
        lcfg = peft.LoraConfig(
            r=cfg.rank,
            lora_alpha=cfg.alpha,
            lora_dropout=cfg.dropout,
            target_modules=targets,
            bias="none",
            task_type="CAUSAL_LM",
        )
        model = peft.get_peft_model(model, lcfg)
        metrics = _train(model, tokenizer, sft, pairs, heldout_pairs, cfg, device, progress_cb)
    except _OOM as e:
        model = None
        if device.type == "cuda":
            torch.cuda.empty_cache()
        raise LoraError(_memory_message(base, device, e)) from e
    except MemoryError as e:
        model = None
        raise LoraError(_memory_message(base, device, e)) from e

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    _pin_base(out, base)
    adapter_bytes = (out / ADAPTER_WEIGHTS).stat().st_size
    metrics.update(
        {
            "seconds": round(time.time() - t0, 3),
            "adapter_bytes": adapter_bytes,
            "base_bytes": _weights_bytes(base),
            "base_dir": str(base),
            "target_modules": targets,
            "settings": asdict(cfg),
        }
    )
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def _weights_bytes(base: Path) -> int:
    return sum(
        f.stat().st_size
        for f in base.iterdir()
        if f.is_file() and f.suffix in (".safetensors", ".bin", ".pt", ".pth")
    )


def _pin_base(out: Path, base: Path) -> None:
    """Make sure the adapter config names the absolute local base folder."""
    p = out / ADAPTER_CONFIG
    conf = json.loads(p.read_text(encoding="utf-8"))
    if conf.get("base_model_name_or_path") != str(base):
        conf["base_model_name_or_path"] = str(base)
        p.write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _train(model, tokenizer, sft, pairs, heldout_pairs, cfg: LoraRound, device, progress_cb):
    """The round's loop on a peft model; returns the metrics (before saving)."""
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id
    sft_data, skipped = [], 0
    for ex in sft:
        e = encode_hf_example(tokenizer, ex.prompt, ex.completion, cfg.max_len)
        if e is None:
            skipped += 1
        else:
            sft_data.append(e)
    pair_data, skipped_pairs = _encode_pairs(tokenizer, pairs, cfg.max_len)
    held_data, _ = _encode_pairs(tokenizer, heldout_pairs, cfg.max_len)
    skipped += skipped_pairs
    if not sft_data and not pair_data:
        raise LoraError(
            f"Nothing to retrain on: {NO_DATA} (none of {len(sft) + len(pairs)} fits in "
            f"{cfg.max_len} tokens)."
        )
    bs = cfg.batch_size
    before = _preference_eval(model, held_data, pad_id, device, cfg.beta, bs)
    sft_steps = cfg.sft_steps if sft_data else 0
    dpo_steps = cfg.dpo_steps if pair_data else 0
    report = Reporter(progress_cb, max(1, sft_steps + dpo_steps))
    params = [p for p in model.parameters() if p.requires_grad]  # the adapter's only
    sft_losses: list[float] = []
    dpo_losses: list[float] = []
    model.train()
    if sft_steps:
        opt = torch.optim.AdamW(params, lr=cfg.lr_sft, weight_decay=0.0)
        batches = Batches(len(sft_data), bs, cfg.seed)
        for step in range(sft_steps):
            chunk = [sft_data[i] for i in batches.next()]
            lp, n = _logps(model, chunk, pad_id, device)
            loss = -lp.sum() / n.sum().clamp(min=1)
            _step(opt, params, loss, cfg.grad_clip)
            sft_losses.append(loss.item())
            report.step(step + 1, phase="sft", loss=sft_losses[-1])
    if dpo_steps:
        # The reference: the same network with the adapter off, scored once up front.
        with model.disable_adapter():
            ref_c, ref_r = _pair_logps(model, pair_data, pad_id, device, bs)
        ref_c, ref_r = ref_c.to(device), ref_r.to(device)
        opt = torch.optim.AdamW(params, lr=cfg.lr_dpo, weight_decay=0.0)
        batches = Batches(len(pair_data), bs, cfg.seed + 1)
        for step in range(dpo_steps):
            idx = batches.next()
            chunk = [pair_data[i] for i in idx]
            lp, n = _logps(model, [c for c, _ in chunk] + [r for _, r in chunk], pad_id, device)
            B = len(chunk)
            sel = torch.tensor(idx, device=device)
            z = cfg.beta * ((lp[:B] - ref_c[sel]) - (lp[B:] - ref_r[sel]))
            loss = -F.logsigmoid(z).mean()
            total = loss
            if cfg.sft_weight:
                total = loss + cfg.sft_weight * (-lp[:B].sum() / n[:B].sum().clamp(min=1))
            _step(opt, params, total, cfg.grad_clip)
            dpo_losses.append(loss.item())
            report.step(sft_steps + step + 1, phase="dpo", loss=dpo_losses[-1])
    model.eval()
    after = _preference_eval(model, held_data, pad_id, device, cfg.beta, bs)
    metrics = {
        "pref_accuracy_before": before["pref_accuracy"],
        "pref_accuracy_after": after["pref_accuracy"],
        "reward_margin_before": before["reward_margin"],
        "reward_margin_after": after["reward_margin"],
        "heldout_pairs": len(held_data),
        "sft_loss_first": sft_losses[0] if sft_losses else None,
        "sft_loss_last": sft_losses[-1] if sft_losses else None,
        "dpo_loss_first": dpo_losses[0] if dpo_losses else None,
        "dpo_loss_last": dpo_losses[-1] if dpo_losses else None,
        "steps": {"sft": sft_steps, "dpo": dpo_steps},
        "sft_examples": len(sft_data),
        "pairs": len(pair_data),
        "skipped": skipped,
    }
    report.done(metrics)
    return metrics


def _step(opt, params, loss, grad_clip) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    opt.step()


# --------------------------------------------------------------------------- export


def export_adapter(version_dir, out_dir) -> Path:
    """Copy a LoRA version's adapter (``adapter_config.json``,
    ``adapter_model.safetensors``) to ``out_dir`` for vLLM (``--lora-modules
    team=<out_dir>``); return ``out_dir``."""
    src, dst = Path(version_dir), Path(out_dir)
    missing = [n for n in (ADAPTER_CONFIG, ADAPTER_WEIGHTS) if not (src / n).is_file()]
    if missing:
        raise LoraError(f"{src} is not a LoRA version (missing {', '.join(missing)})")
    dst.mkdir(parents=True, exist_ok=True)
    for name in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        shutil.copy2(src / name, dst / name)
    return dst


# --------------------------------------------------------------------------- CLI


def read_jsonl(path: Path, kind: str) -> list:
    """``SFTExample`` (kind "sft") or ``PreferencePair`` records of an export's JSONL file
    (``generation.datasets.trl_records``: ``prompt_fields`` = ``Prompt.as_dict()``); a
    missing file is empty."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        prompt = Prompt.from_dict(r["prompt_fields"])
        if kind == "sft":
            out.append(SFTExample(prompt, r["completion"]))
        else:
            out.append(PreferencePair(prompt, r["chosen"], r["rejected"]))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    d = LoraRound()
    ap = argparse.ArgumentParser(
        prog="python -m generation.core.lora",
        description="LoRA retraining of a local Hugging Face model on a feedback export.",
    )
    ap.add_argument("--base", required=True, help="the base model folder (save_pretrained)")
    ap.add_argument("--out", required=True, help="where to write the adapter")
    ap.add_argument(
        "--data",
        required=True,
        help="folder with sft.jsonl, preference.jsonl, preference.heldout.jsonl",
    )
    ap.add_argument("--rank", type=int, default=d.rank)
    ap.add_argument("--alpha", type=int, default=d.alpha)
    ap.add_argument("--dropout", type=float, default=d.dropout)
    ap.add_argument("--target-modules", nargs="+", default=None)
    ap.add_argument("--sft-steps", type=int, default=d.sft_steps)
    ap.add_argument("--dpo-steps", type=int, default=d.dpo_steps)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--lr-sft", type=float, default=d.lr_sft)
    ap.add_argument("--lr-dpo", type=float, default=d.lr_dpo)
    ap.add_argument("--beta", type=float, default=d.beta)
    ap.add_argument("--sft-weight", type=float, default=d.sft_weight)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--max-len", type=int, default=d.max_len)
    a = ap.parse_args(argv)
    cfg = LoraRound(
        rank=a.rank,
        alpha=a.alpha,
        dropout=a.dropout,
        target_modules=a.target_modules,
        sft_steps=a.sft_steps,
        dpo_steps=a.dpo_steps,
        batch_size=a.batch_size,
        lr_sft=a.lr_sft,
        lr_dpo=a.lr_dpo,
        beta=a.beta,
        sft_weight=a.sft_weight,
        seed=a.seed,
        device=a.device,
        dtype=a.dtype,
        max_len=a.max_len,
    )
    data = Path(a.data)
    try:
        metrics = lora_round(
            a.base,
            a.out,
            read_jsonl(data / "sft.jsonl", "sft"),
            read_jsonl(data / "preference.jsonl", "pref"),
            read_jsonl(data / "preference.heldout.jsonl", "pref"),
            cfg,
        )
    except LoraError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
