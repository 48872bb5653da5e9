"""Model versions on disk: safetensors weights + JSON, never pickles.

A version folder holds::

    model.safetensors   weights (tied embedding stored once)
    config.json         GPTConfig
    tokenizer.json      the tokenizer the model was trained with
    metadata.json       {"parent", "corpus_hash", "steps", "metrics", "created", ...}

Training checkpoints (for ``--resume``) add ``optimizer.safetensors`` and ``state.json``
(see ``train.py``); they are written the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from generation.core.model import GPT, GPTConfig
from generation.core.tokenizer import ScriptTokenizer


def _state_dict_for_save(model: GPT) -> dict[str, torch.Tensor]:
    # lm_head.weight *is* wte.weight (tied); safetensors refuses shared storage, so save
    # it once and re-tie on load.
    sd = {
        k: v.detach().contiguous().cpu()
        for k, v in model.state_dict().items()
        if k != "lm_head.weight"
    }
    return sd


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False), encoding="utf-8")


def save_version(
    out_dir: str | os.PathLike,
    model: GPT,
    tokenizer: ScriptTokenizer,
    *,
    parent: str | None = None,
    corpus_hash: str | None = None,
    steps: int = 0,
    metrics: dict | None = None,
    extra: dict | None = None,
    write_extra=None,
) -> Path:
    """Write a model version folder atomically (temp folder + rename); return its path.

    ``write_extra(tmp_folder)``, if given, adds files (e.g. resume state) before the rename.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; a version/corpus is shared read-only data
    try:
        save_file(_state_dict_for_save(model), str(tmp / "model.safetensors"))
        write_json(tmp / "config.json", model.cfg.to_dict())
        tokenizer.save(tmp / "tokenizer.json")
        meta = {
            "format": "cowrite-gpt/1",
            "parent": parent,
            "corpus_hash": corpus_hash,
            "steps": steps,
            "metrics": metrics or {},
            "params": model.num_params(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(extra or {}),
        }
        write_json(tmp / "metadata.json", meta)
        if write_extra is not None:
            write_extra(tmp)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{time.time_ns()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_version(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """Load a version folder; return ``(model, tokenizer, metadata)`` with the model in eval mode."""
    p = Path(path)
    cfg = GPTConfig.from_dict(json.loads((p / "config.json").read_text(encoding="utf-8")))
    model = GPT(cfg)
    sd = load_file(str(p / "model.safetensors"), device="cpu")
    missing, unexpected = model.load_state_dict(sd, strict=False)
    # lm_head.weight is tied to wte.weight, so it is legitimately absent from the file.
    missing = [m for m in missing if m != "lm_head.weight"]
    if missing or unexpected:
        raise ValueError(
            f"{p}: weights do not match config (missing {missing}, unexpected {unexpected})"
        )
    model.to(device).eval()
    tok = ScriptTokenizer.load(p / "tokenizer.json")
    meta = json.loads((p / "metadata.json").read_text(encoding="utf-8"))
    return model, tok, meta
