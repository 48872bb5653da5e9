"""A no-model generation backend for the drafts benchmark's baseline: it streams fixed
words at a fixed rate, so the fan-out path (worker → channel layer → Daphne → sockets)
is measured without the model's cost."""

import threading
import time

from generation.core.backends.base import Backend, GenerationRequest, GenerationResult

WORDS = [
    "the",
    "station",
    "hums",
    "and",
    "MARA",
    "listens",
    "while",
    "JONAH",
    "counts",
    "the",
    "seconds",
    "out",
    "loud",
]


class EchoBackend(Backend):
    name = "echo"

    def __init__(self, tokens_per_second: float = 50.0, **_):
        self.delay = 1.0 / tokens_per_second

    def generate(
        self, request: GenerationRequest, on_text=None, cancel: threading.Event | None = None
    ):
        t0 = time.perf_counter()
        parts = []
        for i in range(request.params.max_new_tokens):
            if cancel is not None and cancel.is_set():
                return GenerationResult(
                    "".join(parts), "cancelled", 0, i, None, time.perf_counter() - t0, "echo"
                )
            time.sleep(self.delay)
            piece = WORDS[i % len(WORDS)] + (" " if i % 9 else "\n")
            parts.append(piece)
            if on_text:
                on_text(piece)
        n = request.params.max_new_tokens
        return GenerationResult(
            "".join(parts), "length", 0, n, None, time.perf_counter() - t0, "echo"
        )
