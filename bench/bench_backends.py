"""Tokens per second and time to first token for each kind of model a project can draft
with, side by side in one run on this machine:

  house   — our continuous-batching engine on a model version (random weights, 4 layers ×
            256: the tests' tiny version), in-process (``LocalBackend``);
  hf      — a Hugging Face folder through ``HFBackend`` (a tiny random Llama with a chat
            template, built on the spot: the chat path, one request at a time);
  openai  — an OpenAI-compatible server through ``OpenAICompatBackend``: this app's own
            ``/v1/completions`` (Daphne + the embedded worker serving the same house
            version, a real API token), so the figure is the house engine plus HTTP, SSE,
            the queue and the worker hop.

    .venv/bin/python bench/bench_backends.py [--requests 8] [--tokens 64]

Each backend gets the same scene prompt and the same requests, one after another (no
batching advantage for anyone); the first request of each is a warm-up, not counted.
Tokens/s is counted from the first token to the end; through ``/v1`` the text arrives in
the worker's 50 ms flushes, so compare whole-request times there too.
Absolute figures depend on the machine; compare the columns of one run.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="cowrite-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from generation.core.backends import GenerationRequest, get_backend  # noqa: E402
from generation.core.params import SamplingParams  # noqa: E402
from generation.core.prompting import Prompt  # noqa: E402
from generation.core.tokenizer import ScriptTokenizer  # noqa: E402

PROMPT = Prompt(
    "INT. KESTREL STATION - NIGHT",
    ("MARA", "JONAH"),
    "Mara tells Jonah the station is failing; he wants to leave.",
    "Alarms pulse amber.\n\nMARA\n",
)


def measure(backend, requests: int, tokens: int, count=None) -> dict:
    """Median TTFT and generation rate; ``count(text)`` counts the tokens of a reply whose
    backend does not report them (a streamed ``/v1`` reply has no usage)."""
    ttfts, rates, totals = [], [], []
    for i in range(requests + 1):
        params = SamplingParams(max_new_tokens=tokens, temperature=0.8, seed=i, stop=[])
        t0 = time.perf_counter()
        first = []

        def on_text(_piece, first=first, t0=t0):
            if not first:
                first.append(time.perf_counter() - t0)

        result = backend.generate(GenerationRequest(PROMPT, params), on_text=on_text)
        elapsed = time.perf_counter() - t0
        if i == 0:
            continue  # warm-up
        n = count(result.text) if count is not None else result.completion_tokens
        ttft = result.ttft_s if result.ttft_s is not None else (first[0] if first else elapsed)
        ttfts.append(ttft)
        totals.append(elapsed)
        rates.append(n / max(elapsed - ttft, 1e-9))
    return {
        "ttft_ms": 1000 * statistics.median(ttfts),
        "tokens_per_s": statistics.median(rates),
        "total_ms": 1000 * statistics.median(totals),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    a = ap.parse_args()

    from generation.api import token_create
    from generation.models import ModelVersion
    from tests.support.models import build_tiny_version
    from tests.support.servers import DaphneServer
    from tests.support.tiny_hf import SIMPLE_CHAT_TEMPLATE, build_tiny_llama

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    name = "bench-tiny"
    folder = build_tiny_version(Path(settings.MODEL_DIR) / name)
    ModelVersion.objects.get_or_create(
        name=name, defaults={"preset": "test", "folder": name, "status": "active"}
    )
    user = get_user_model().objects.create_user("bench", password="bench-pass-123")
    _, secret = token_create(user=user, name="bench")
    hf_dir = Path(tempfile.mkdtemp(prefix="cowrite-hf-"))
    build_tiny_llama(hf_dir, chat_template=SIMPLE_CHAT_TEMPLATE)

    rows = []
    with get_backend(
        "generation.core.backends.local.LocalBackend", model_dir=str(folder), device="cpu"
    ) as house:
        rows.append(("house engine (in-process)", measure(house, a.requests, a.tokens)))
    with get_backend("generation.core.backends.hf.HFBackend", model_dir=str(hf_dir)) as hf:
        rows.append(("HF folder (tiny Llama, chat)", measure(hf, a.requests, a.tokens)))
    env = {"DATA_DIR": os.environ.get("DATA_DIR", ""), "COWRITE_VERBOSE": ""}
    server = DaphneServer(env=env, serve=True).start(timeout=60)
    try:
        with get_backend(
            "generation.core.backends.openai_compat.OpenAICompatBackend",
            base_url=f"{server.http_url}/v1",
            model=name,
            api_key=secret,
            chat=False,
        ) as served:
            tok = ScriptTokenizer.load(folder / "tokenizer.json")
            rows.append(
                (
                    "this app's /v1 (house via HTTP)",
                    measure(served, a.requests, a.tokens, lambda t: len(tok.encode(t))),
                )
            )
    finally:
        server.stop()

    print(f"{a.requests} requests × {a.tokens} new tokens each, one at a time; medians")
    print(f"{'model':34} {'TTFT ms':>9} {'tokens/s':>9} {'request ms':>11}")
    for label, m in rows:
        print(f"{label:34} {m['ttft_ms']:9.1f} {m['tokens_per_s']:9.1f} {m['total_ms']:11.1f}")
    base = rows[0][1]
    for label, m in rows[1:]:
        print(
            f"{label}: TTFT {m['ttft_ms'] / base['ttft_ms']:.2f}× the house engine's, "
            f"tokens/s {m['tokens_per_s'] / base['tokens_per_s']:.2f}×, "
            f"whole request {m['total_ms'] / base['total_ms']:.2f}×"
        )


if __name__ == "__main__":
    main()
