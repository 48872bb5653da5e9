"""The contract every generation backend fulfils.

A backend turns a ``GenerationRequest`` (a ``prompting.Prompt`` — where / who / what,
text so far — and ``SamplingParams``) into text, streaming it as it is produced:

* ``generate(request, on_text=None, cancel=None) -> GenerationResult`` blocks until the
  request finishes. ``on_text(delta)`` is called from the calling thread with each new
  piece of text: never half a character, never part of a stop string. Setting the
  ``cancel`` event stops the request soon after (``finish_reason == "cancelled"``).
* ``generate`` is safe to call from several threads at once; a backend that batches
  (``local``) serves them together, others may serialise them.
* ``close()`` releases the model/threads/connections. Backends are context managers.
* Errors reaching the model or server raise ``BackendError``.

Backends for foreign models have two ways to ask: a plain Fountain prompt
(``prompting.prompt_text``) for a completion-only model, or chat messages
(``chat.chat_messages``: a system message with the task, a user message with the labelled
context) for an instruction-tuned one — ``hf`` when the folder's tokenizer has a chat
template, ``openai_compat`` with ``chat=True`` (``/v1/chat/completions``). The result's
``sent`` records exactly what went to the model, so the stored prompt shows it as sent.

``finish_reason`` is ``"stop"`` (end of scene or a stop string), ``"length"`` (token
limit), ``"cancelled"`` or ``"error"`` (the local engine failed a step; logged).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from generation.core.params import SamplingParams
from generation.core.prompting import Prompt


class BackendError(RuntimeError):
    """Raised when a backend cannot produce text (model missing, server down, bad reply)."""


@dataclass
class GenerationRequest:
    prompt: Prompt = field(default_factory=Prompt)
    params: SamplingParams = field(default_factory=SamplingParams)
    request_id: str | None = None
    # The prompt's token ids when the caller already tokenized it with this backend's
    # tokenizer (the worker fits drafts to the model's budget): ``local`` then uses them
    # as they are, so a prompt is tokenized once. Backends with their own tokenizer
    # (``hf``, ``openai_compat``) send ``prompting.prompt_text(prompt)`` instead.
    prompt_ids: list[int] | None = None


@dataclass
class GenerationResult:
    text: str
    finish_reason: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    model: str | None = None  # the model version / name that wrote it
    # What the backend actually sent to the model: ``{"messages": [...]}`` on the chat
    # path, ``{"prompt": "..."}`` for a plain completion prompt; None for the local
    # engine (its prompt is the stored ``Prompt`` itself, as token ids).
    sent: dict | None = None


class Backend(ABC):
    """Base class: see the module docstring for the contract."""

    name = "base"

    @abstractmethod
    def generate(
        self,
        request: GenerationRequest,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        """Generate text for ``request``, streaming deltas to ``on_text``; return the result."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, models, connections)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
