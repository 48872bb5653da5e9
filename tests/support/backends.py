"""A slow generation backend that records what the worker asks of it, for tests that must
see inside a worker running in another process: which requests started, how many ran at
once, and whether each one finished or was cancelled (and after how many tokens).

Use it in a server or worker process through the environment::

    COWRITE_GENERATION_BACKEND=tests.support.backends.RecordingBackend
    COWRITE_GENERATION_BACKEND_OPTIONS={"record": "/tmp/x.jsonl", "delay": 0.05}
"""

import json
import threading
import time
from pathlib import Path

from generation.core.backends.base import Backend, GenerationResult


class RecordingBackend(Backend):
    name = "recording"

    def __init__(self, record: str, delay: float = 0.05, **_):
        self.record = Path(record)
        self.delay = delay
        self._lock = threading.Lock()
        self._running = 0

    def _log(self, **event) -> None:
        with self._lock, self.record.open("a") as f:
            f.write(json.dumps({**event, "t": time.time()}) + "\n")

    def generate(self, request, on_text=None, cancel=None):
        with self._lock:
            self._running += 1
            running = self._running
        self._log(id=request.request_id, event="start", running=running)
        text, reason = "", "length"
        try:
            for _ in range(request.params.max_new_tokens):
                if cancel is not None and cancel.wait(self.delay):
                    reason = "cancelled"
                    break
                if cancel is None:
                    time.sleep(self.delay)
                text += "word "
                if on_text:
                    on_text("word ")
        finally:
            with self._lock:
                self._running -= 1
            self._log(id=request.request_id, event=reason, tokens=len(text) // 5)
        return GenerationResult(
            text=text, finish_reason=reason, prompt_tokens=1, completion_tokens=len(text) // 5
        )


def read_record(path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class ScriptedBackend(Backend):
    """Writes a fixed text per kind of request (``texts``: {"logline": "...", "scene":
    "...", …}), word by word, and records each prompt it was given (kind, heading, cast,
    synopsis) to ``record``: a story proposal's test checks both what streamed and what
    the model was told (the level above it)."""

    name = "scripted"

    def __init__(self, record: str, texts: dict, delay: float = 0.01, **_):
        self.record = Path(record)
        self.texts = dict(texts)
        self.delay = delay
        self._lock = threading.Lock()

    def generate(self, request, on_text=None, cancel=None):
        prompt = request.prompt
        with self._lock, self.record.open("a") as f:
            f.write(json.dumps({"id": request.request_id, **prompt.as_dict(), "kind": prompt.kind}))
            f.write("\n")
        text = self.texts.get(prompt.kind, "Nothing scripted for this kind.")
        out, reason = "", "stop"
        for piece in text.split(" "):
            if cancel is not None and cancel.wait(self.delay):
                reason = "cancelled"
                break
            piece = piece if not out else " " + piece
            out += piece
            if on_text:
                on_text(piece)
        return GenerationResult(
            text=out, finish_reason=reason, prompt_tokens=1, completion_tokens=len(out.split())
        )
