"""Default backend: our own model version served by the continuous-batching ``Engine``.

One engine thread steps the batch; each ``generate`` call submits a request and waits on
its own queue of outputs, so many threads calling ``generate`` share one batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

from generation.core.backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from generation.core.checkpoint import load_version
from generation.core.engine import Engine, RequestOutput
from generation.core.instructions import parse as parse_instructions
from generation.core.prompting import format_prompt


class LocalBackend(Backend):
    name = "local"

    def __init__(self, model_dir: str, device: str | None = None, **engine_options):
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if not (Path(model_dir) / "model.safetensors").exists():
            raise BackendError(f"no model version at {model_dir}")
        self.model, self.tokenizer, self.metadata = load_version(model_dir, device)
        self.model_name = str(model_dir)
        self.engine = Engine.from_tokenizer(self.model, self.tokenizer, **engine_options)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.engine.run_forever, args=(self._stop,), daemon=True, name="cowrite-engine"
        )
        self._thread.start()

    def generate(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Generate text for ``request`` (see ``base.Backend``)."""
        ids = request.prompt_ids
        if ids is None:
            ids = format_prompt(self.tokenizer, request.prompt)
        outputs: queue.Queue[RequestOutput] = queue.Queue()
        rid = self.engine.submit(
            ids,
            request.params,
            callback=outputs.put,
            request_id=request.request_id,
            cast=request.prompt.cast,
            text_before=request.prompt.text_prefix,
            instructions=parse_instructions(request.prompt.synopsis),
        )
        parts: list[str] = []
        t0 = time.perf_counter()
        cancelled = False
        while True:
            try:
                out = outputs.get(timeout=0.05)
            except queue.Empty:
                if cancel is not None and cancel.is_set() and not cancelled:
                    self.engine.cancel(rid)
                    cancelled = True
                if not self._thread.is_alive():
                    raise BackendError("engine thread died") from None
                continue
            if out.text:
                parts.append(out.text)
                if on_text:
                    on_text(out.text)
            if out.finished:
                return GenerationResult(
                    text="".join(parts),
                    finish_reason=out.finish_reason,
                    prompt_tokens=out.prompt_tokens,
                    completion_tokens=out.completion_tokens,
                    ttft_s=out.ttft_s,
                    latency_s=time.perf_counter() - t0,
                    model=self.model_name,
                )
            if cancel is not None and cancel.is_set() and not cancelled:
                self.engine.cancel(rid)
                cancelled = True

    def close(self) -> None:
        """Stop the engine thread."""
        self._stop.set()
        self._thread.join(timeout=5)
