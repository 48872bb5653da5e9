"""Training throughput per preset (random weights, random tokens).

    python bench/bench_train.py                       # tiny and small on this machine
    python bench/bench_train.py --presets tiny small base --device cuda --batch-size 32

Times ``--steps`` optimizer steps (forward, backward, clip, AdamW) after ``--warmup``
untimed ones, with bf16 autocast on CUDA and float32 on CPU, and prints tokens/s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from generation.core.model import GPT, PRESETS  # noqa: E402


def bench(preset: str, batch_size: int, steps: int, warmup: int, device: str) -> dict:
    cfg = PRESETS[preset]
    torch.manual_seed(0)
    model = GPT(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.startswith("cuda"))
    T = cfg.block_size
    x = torch.randint(0, cfg.vocab_size, (batch_size, T), device=device)
    ctx = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.startswith("cuda")
        else torch.autocast("cpu", enabled=False)
    )

    def one():
        with ctx:
            _, loss = model(x, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(warmup):
        one()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        one()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    return {
        "preset": preset,
        "params_M": round(model.num_params() / 1e6, 1),
        "device": device,
        "threads": torch.get_num_threads(),
        "batch": batch_size,
        "block": T,
        "tok_s": round(steps * batch_size * T / dt, 1),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    for p in a.presets:
        print(json.dumps(bench(p, a.batch_size, a.steps, a.warmup, a.device)), flush=True)


if __name__ == "__main__":
    main()
