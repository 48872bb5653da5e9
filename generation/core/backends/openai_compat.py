"""Backend for an OpenAI-compatible completions server (vLLM, TGI, llama.cpp, Ollama).

Sends ``POST {base_url}/v1/completions`` with ``"stream": true`` and reads server-sent
events: ``data: {json}`` lines, each carrying ``choices[0].text`` (and finally
``finish_reason``), ending with ``data: [DONE]``. Uses only the standard library.
Stop strings are sent to the server *and* applied locally, so a server that ignores
them still never streams one. Extra sampling fields (top_k, min_p,
repetition_penalty) are sent only when set; vLLM and llama.cpp accept them.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable

from generation.core.backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from generation.core.detok import StopStringBuffer
from generation.core.prompting import prompt_text


class OpenAICompatBackend(Backend):
    name = "openai_compat"

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0
    ):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise BackendError(f"bad base_url {base_url!r}")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.path = u.path.rstrip("/") + "/v1/completions"
        if u.path.rstrip("/").endswith("/v1"):
            self.path = u.path.rstrip("/") + "/completions"
        self.model_name = model
        self.api_key = api_key
        self.timeout = timeout

    def _body(self, request: GenerationRequest) -> dict:
        p = request.params
        body = {
            "model": self.model_name,
            "prompt": prompt_text(request.prompt),
            "max_tokens": p.max_new_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "stream": True,
        }
        if p.stop:
            body["stop"] = p.stop[:4]  # OpenAI's limit; the rest are applied locally
        if p.seed is not None:
            body["seed"] = p.seed
        if p.top_k:
            body["top_k"] = p.top_k
        if p.min_p:
            body["min_p"] = p.min_p
        if p.repetition_penalty != 1.0:
            body["repetition_penalty"] = p.repetition_penalty
        return body

    def generate(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Generate text for ``request`` (see ``base.Backend``)."""
        conn_cls = (
            http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(self.host, self.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        stopbuf = StopStringBuffer(request.params.stop)
        t0 = time.perf_counter()
        ttft = None
        reason = None
        usage: dict = {}
        try:
            conn.request("POST", self.path, body=json.dumps(self._body(request)), headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raise BackendError(
                    f"{self.host}: HTTP {resp.status}: {resp.read(500).decode('utf-8', 'replace')}"
                )
            for raw in resp:
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                    break
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event: lines
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except json.JSONDecodeError as e:
                    raise BackendError(f"bad SSE payload: {data[:200]!r}") from e
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices", [])[:1]:
                    piece = choice.get("text") or ""
                    if piece and ttft is None:
                        ttft = time.perf_counter() - t0
                    delta = stopbuf.add(piece)
                    if delta and on_text:
                        on_text(delta)
                    if choice.get("finish_reason"):
                        reason = choice["finish_reason"]
                if stopbuf.stopped:
                    reason = "stop"
                    break
        except (OSError, http.client.HTTPException) as e:
            raise BackendError(f"{self.host}:{self.port}: {e}") from e
        finally:
            conn.close()  # also how a cancelled stream is abandoned
        if reason != "cancelled":
            tail = stopbuf.finish()
            if tail and on_text:
                on_text(tail)
        text = stopbuf.text[: stopbuf.sent]
        return GenerationResult(
            text=text,
            finish_reason={"eos": "stop", None: "stop"}.get(reason, reason),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            ttft_s=ttft,
            latency_s=time.perf_counter() - t0,
            model=self.model_name,
        )
