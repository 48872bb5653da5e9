"""Backend for an OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, hosted APIs).

Two ways to ask, chosen by the ``chat`` option:

* completions (default): ``POST {base_url}/v1/completions`` with the plain Fountain
  prompt (``prompting.prompt_text``); each event carries ``choices[0].text``.
* chat (``chat=True``, for instruction-tuned models): ``POST {base_url}/v1/chat/completions``
  with ``messages`` = ``chat.chat_messages(prompt)`` (a system message with the task, a
  user message with the labelled context); each event carries
  ``choices[0].delta.content`` (role-only deltas, ``reasoning_content`` and empty content
  are skipped).

A ``base_url`` that already ends in ``/v1`` is not given a second one. Both stream
(``"stream": true``) and read server-sent events: ``data: {json}`` lines (finally with
``finish_reason``), ending with ``data: [DONE]``. Uses only the standard library. Stop
strings are sent to the server *and* applied locally, so a server that ignores them still
never streams one. Extra sampling fields (top_k, min_p, repetition_penalty) are sent only
when set; vLLM and llama.cpp accept them. ``GenerationResult.sent`` is the request's
``{"messages": [...]}`` or ``{"prompt": "..."}``, exactly as sent.

A server is not trusted to behave: every socket read is bounded by ``timeout`` seconds (a
server that accepts but never answers, or stalls mid-stream, raises ``BackendError``);
an endless stream is cut locally after ``max_new_tokens`` content chunks or
``max_new_tokens * 16`` characters (``finish_reason == "length"``), even if the server
ignores ``max_tokens``; an over-long line, a payload that is not a JSON object, an
``error`` event or an HTTP error status raise ``BackendError`` with a short excerpt.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable

from generation.core.backends.base import Backend, BackendError, GenerationRequest, GenerationResult
from generation.core.chat import chat_messages
from generation.core.detok import StopStringBuffer
from generation.core.prompting import prompt_text

CHARS_PER_TOKEN_CAP = 16  # the most characters a content chunk may add on average
MAX_LINE_BYTES = 1 << 20  # one SSE line longer than this is a broken server
ERROR_BODY_CHARS = 500


def _excerpt(data: str, n: int = 200) -> str:
    return repr(data[:n]) + ("…" if len(data) > n else "")


class OpenAICompatBackend(Backend):
    name = "openai_compat"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        chat: bool = False,
    ):
        u = urllib.parse.urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise BackendError(f"bad base_url {base_url!r}")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        root = u.path.rstrip("/")
        if not root.endswith("/v1"):
            root += "/v1"
        self.chat = bool(chat)
        self.path = root + ("/chat/completions" if self.chat else "/completions")
        self.model_name = model
        self.api_key = api_key
        self.timeout = timeout

    def _sent(self, request: GenerationRequest) -> dict:
        if self.chat:
            return {"messages": chat_messages(request.prompt)}
        return {"prompt": prompt_text(request.prompt)}

    def _body(self, request: GenerationRequest, sent: dict | None = None) -> dict:
        p = request.params
        body = {
            "model": self.model_name,
            **(sent if sent is not None else self._sent(request)),
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

    def _piece(self, choice) -> str:
        """The new text in one choice of a streamed chunk ('' when there is none)."""
        if not isinstance(choice, dict):
            raise BackendError(f"{self.host}: bad choice in SSE payload: {_excerpt(str(choice))}")
        if self.chat:
            delta = choice.get("delta")
            piece = delta.get("content") if isinstance(delta, dict) else None
        else:
            piece = choice.get("text")
        return piece if isinstance(piece, str) else ""

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
        # The timeout is the socket's: it bounds the connect and every single read.
        conn = conn_cls(self.host, self.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        p = request.params
        sent = self._sent(request)
        stopbuf = StopStringBuffer(p.stop)
        max_chunks = p.max_new_tokens
        max_chars = p.max_new_tokens * CHARS_PER_TOKEN_CAP
        # Events without content (comments, role/reasoning deltas) are bounded too, so a
        # server cannot keep a request open forever by sending only those.
        max_lines = 8 * p.max_new_tokens + 1024
        chunks = lines = 0
        t0 = time.perf_counter()
        ttft = None
        reason = None
        usage: dict = {}
        try:
            conn.request(
                "POST", self.path, body=json.dumps(self._body(request, sent)), headers=headers
            )
            resp = conn.getresponse()
            if resp.status != 200:
                body = resp.read(ERROR_BODY_CHARS).decode("utf-8", "replace")
                raise BackendError(f"{self.host}: HTTP {resp.status}: {body[:ERROR_BODY_CHARS]}")
            while True:
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                    break
                raw = resp.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break  # the server closed the stream without [DONE]
                if len(raw) > MAX_LINE_BYTES:
                    raise BackendError(f"{self.host}: SSE line over {MAX_LINE_BYTES} bytes")
                lines += 1
                if lines > max_lines:
                    reason = "length"
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event: lines
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = json.loads(data)
                except json.JSONDecodeError as e:
                    raise BackendError(f"{self.host}: bad SSE payload: {_excerpt(data)}") from e
                if not isinstance(chunk, dict):
                    raise BackendError(f"{self.host}: SSE payload not an object: {_excerpt(data)}")
                if chunk.get("error"):
                    raise BackendError(f"{self.host}: error in stream: {_excerpt(data, 500)}")
                if isinstance(chunk.get("usage"), dict):
                    usage = chunk["usage"]
                choices = chunk.get("choices")
                for choice in (choices if isinstance(choices, list) else [])[:1]:
                    piece = self._piece(choice)
                    if piece:
                        chunks += 1
                        if ttft is None:
                            ttft = time.perf_counter() - t0
                        room = max_chars - len(stopbuf.text)
                        if len(piece) > room:
                            piece, reason = piece[:room], "length"
                        delta = stopbuf.add(piece)
                        if delta and on_text:
                            on_text(delta)
                    fin = choice.get("finish_reason")
                    if fin and isinstance(fin, str) and reason != "length":
                        reason = fin
                if stopbuf.stopped:
                    reason = "stop"
                    break
                if reason == "length" or chunks >= max_chunks:
                    reason = reason or "length"  # cut locally: it may ignore max_tokens
                    break
        except (OSError, http.client.HTTPException) as e:
            raise BackendError(f"{self.host}:{self.port}: {e or type(e).__name__}") from e
        finally:
            conn.close()  # also how a cancelled or cut stream is abandoned
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
            sent=sent,
        )
