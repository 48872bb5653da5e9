"""Serving benchmark: continuous batching vs one-at-a-time vs HF static batches.

    python bench/bench_engine.py                 # tiny and small, 64 requests (minutes on CPU)
    python bench/bench_engine.py --quick         # tiny only, 16 short requests (~1 min)
    python bench/bench_engine.py --presets small --device cuda --json out.json

A trace of N requests arrives staggered (exponential gaps, fixed seed); each asks for a
random prompt of 16-64 tokens and 32-256 new tokens (end-of-text is ignored so every
request produces exactly its length; weights are random: we measure speed, not text).
The same trace is served three ways, in the same process:

* engine    our Engine, continuous batching (requests join/leave at any step)
* serial    the same model and engine, max_batch=1 (one request at a time, FIFO)
* hf        Hugging Face ``generate()`` on a GPT2 of the same shape (random weights),
            static batches of 8 in arrival order (left padding); a batch starts when its
            8 requests have arrived and the previous batch is done. Token times come from
            a streamer, i.e. we credit HF as if it streamed each token as produced.

Reported: aggregate tokens/s (all generated tokens / wall time from the first arrival to
the last completion), median per-stream decode tokens/s, TTFT and completion latency
p50/p99 (from each request's arrival).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from generation.core.engine import Engine  # noqa: E402
from generation.core.model import GPT, PRESETS, GPTConfig  # noqa: E402
from generation.core.params import SamplingParams  # noqa: E402


def make_trace(n, rate, min_new, max_new, vocab, seed=0):
    """Return [(arrival_s, prompt_ids, max_new_tokens, seed)], arrivals at ``rate`` per second."""
    rng = random.Random(seed)
    t = 0.0
    out = []
    for i in range(n):
        t += rng.expovariate(rate)
        plen = rng.randint(16, 64)
        out.append(
            (t, [rng.randrange(10, vocab) for _ in range(plen)], rng.randint(min_new, max_new), i)
        )
    return out


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


def summarize(name, trace, rows, wall):
    """rows: per request dict(arrival, first, done, tokens)."""
    total = sum(r["tokens"] for r in rows)
    ttft = [r["first"] - r["arrival"] for r in rows]
    lat = [r["done"] - r["arrival"] for r in rows]
    per_stream = [
        (r["tokens"] - 1) / max(r["done"] - r["first"], 1e-9) for r in rows if r["tokens"] > 1
    ]
    return {
        "mode": name,
        "requests": len(rows),
        "tokens": total,
        "wall_s": round(wall, 2),
        "agg_tok_s": round(total / wall, 1),
        "per_stream_tok_s_p50": round(statistics.median(per_stream), 1),
        "ttft_p50_s": round(pct(ttft, 50), 3),
        "ttft_p99_s": round(pct(ttft, 99), 3),
        "latency_p50_s": round(pct(lat, 50), 3),
        "latency_p99_s": round(pct(lat, 99), 3),
    }


def run_engine(model, trace, max_batch, name, **kw):
    eng = Engine(
        model,
        [b"x"] * model.cfg.vocab_size,
        eos_id=None,
        max_batch=max_batch,
        max_queue=len(trace),
        **kw,
    )
    rows = {}
    t0 = time.perf_counter()

    def cb(o):
        r = rows[o.request_id]
        now = time.perf_counter() - t0
        if r["first"] is None and o.token_ids:
            r["first"] = now
        r["tokens"] += len(o.token_ids)
        if o.finished:
            r["done"] = now

    pending = list(trace)
    while pending or eng.has_work():
        now = time.perf_counter() - t0
        while pending and pending[0][0] <= now:
            arr, prompt, n_new, seed = pending.pop(0)
            sp = SamplingParams(max_new_tokens=n_new, temperature=1.0, top_p=0.95, seed=seed)
            rid = f"r{seed}"
            rows[rid] = {"arrival": arr, "first": None, "done": None, "tokens": 0}
            eng.submit(prompt, sp, callback=cb, request_id=rid)
        if eng.has_work():
            eng.step()
        elif pending:
            time.sleep(max(0.0, pending[0][0] - (time.perf_counter() - t0)))
    wall = max(r["done"] for r in rows.values()) - trace[0][0]
    return summarize(name, trace, list(rows.values()), wall)


def run_hf(cfg: GPTConfig, trace, batch=8, device="cpu"):
    import transformers
    from transformers.generation.streamers import BaseStreamer

    hcfg = transformers.GPT2Config(
        vocab_size=cfg.vocab_size,
        n_positions=cfg.block_size,
        n_embd=cfg.n_embd,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
    )
    model = transformers.GPT2LMHeadModel(hcfg).to(device).eval()
    model.generation_config.eos_token_id = None  # like the engine runs: exact lengths
    model.generation_config.pad_token_id = 0

    class Clock(BaseStreamer):
        def __init__(self):
            self.times = []

        def put(self, value):
            self.times.append(time.perf_counter())

        def end(self):
            pass

    rows = []
    t0 = time.perf_counter()
    free_at = 0.0
    for i in range(0, len(trace), batch):
        group = trace[i : i + batch]
        start = max(group[-1][0], free_at)
        now = time.perf_counter() - t0
        if start > now:
            time.sleep(start - now)
        L = max(len(p) for _, p, _, _ in group)
        ids = torch.zeros(len(group), L, dtype=torch.long)
        att = torch.zeros(len(group), L, dtype=torch.long)
        for j, (_, p, _, _) in enumerate(group):  # left padding
            ids[j, L - len(p) :] = torch.tensor(p)
            att[j, L - len(p) :] = 1
        clock = Clock()
        torch.manual_seed(i)
        with torch.no_grad():
            model.generate(
                input_ids=ids.to(device),
                attention_mask=att.to(device),
                do_sample=True,
                top_p=0.95,
                temperature=1.0,
                max_new_tokens=max(n for _, _, n, _ in group),
                min_new_tokens=max(n for _, _, n, _ in group),
                streamer=clock,
            )
        steps = [t - t0 for t in clock.times[1:]]  # times[0] is the prompt
        for arr, _, n, _ in group:
            rows.append({"arrival": arr, "first": steps[0], "done": steps[n - 1], "tokens": n})
        free_at = steps[-1]
    wall = max(r["done"] for r in rows) - trace[0][0]
    return summarize("hf_static8", trace, rows, wall)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--requests", type=int, default=64)
    ap.add_argument("--rate", type=float, default=20.0, help="arrivals per second")
    ap.add_argument("--min-new", type=int, default=32)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--max-batch", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="tiny only, 16 requests of 16-64 tokens")
    ap.add_argument("--skip", nargs="*", default=[], choices=["serial", "hf"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if a.quick:
        a.presets, a.requests, a.min_new, a.max_new = ["tiny"], 16, 16, 64
    if a.threads:
        torch.set_num_threads(a.threads)
    results = []
    for preset in a.presets:
        # block_size 512 so prompt (<=64) + 256 new tokens fit every preset; weights random.
        cfg = GPTConfig.from_dict(
            {**PRESETS[preset].to_dict(), "block_size": max(512, PRESETS[preset].block_size)}
        )
        torch.manual_seed(0)
        model = GPT(cfg).to(a.device).eval()
        trace = make_trace(a.requests, a.rate, a.min_new, a.max_new, cfg.vocab_size)
        print(
            f"# {preset}: {model.num_params() / 1e6:.1f}M params, {len(trace)} requests, "
            f"{sum(t[2] for t in trace)} tokens, device {a.device}, threads {torch.get_num_threads()}",
            flush=True,
        )
        run_engine(model, trace[:4], a.max_batch, "warmup")
        modes = ["engine"] + [m for m in ("serial", "hf") if m not in a.skip]
        for mode in modes:
            if mode == "engine":
                res = run_engine(model, trace, a.max_batch, "engine")
            elif mode == "serial":
                res = run_engine(model, trace, 1, "serial")
            else:
                res = run_hf(cfg, trace, device=a.device)
            r = {"preset": preset, **res}
            results.append(r)
            print(json.dumps(r), flush=True)
        by = {r["mode"]: r for r in results if r["preset"] == preset}
        if "serial" in by:
            print(
                f"# {preset}: engine/serial throughput = {by['engine']['agg_tok_s'] / by['serial']['agg_tok_s']:.1f}x"
            )
        if "hf_static8" in by:
            print(
                f"# {preset}: engine/hf throughput = {by['engine']['agg_tok_s'] / by['hf_static8']['agg_tok_s']:.1f}x, "
                f"p99 latency {by['engine']['latency_p99_s']}s vs {by['hf_static8']['latency_p99_s']}s"
            )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
