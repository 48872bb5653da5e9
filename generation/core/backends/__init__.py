"""Swappable generation backends, chosen by a dotted path (like Django's session backends).

    backend = get_backend("generation.core.backends.local.LocalBackend", model_dir="models/tiny-v1")
    prompt = Prompt(heading="INT. CASTLE - NIGHT", cast=("HAMLET",))
    result = backend.generate(GenerationRequest(prompt), on_text=print)

``base.py`` states the contract; ``local`` (default) runs our engine in-process, ``hf``
wraps a Hugging Face causal LM folder (chat messages when its tokenizer has a chat
template), ``openai_compat`` talks to a vLLM/TGI/llama.cpp/Ollama server's
``/v1/completions`` (or ``/v1/chat/completions`` with ``chat=True``).
"""

from __future__ import annotations

import importlib

from generation.core.backends.base import Backend, GenerationRequest, GenerationResult

DEFAULT_BACKEND = "generation.core.backends.local.LocalBackend"

__all__ = [
    "Backend",
    "GenerationRequest",
    "GenerationResult",
    "DEFAULT_BACKEND",
    "get_backend",
    "backend_class",
]


def backend_class(path: str = DEFAULT_BACKEND) -> type[Backend]:
    """Import and return the backend class named by a dotted path."""
    module_name, _, cls_name = path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), cls_name)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{path} is not a generation Backend")
    return cls


def get_backend(path: str = DEFAULT_BACKEND, **options) -> Backend:
    """Return an instance of the backend at ``path`` built with ``options``."""
    return backend_class(path)(**options)
