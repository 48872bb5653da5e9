"""Models as records: the models beside the house model that can write a project's drafts.

Staff add a model on the Models page (or in the admin): a Hugging Face folder on disk, or
an OpenAI-compatible server (vLLM, Ollama, llama.cpp, TGI, or another Cowrite's ``/v1``).
The house model is not a record here: it is the active ``ModelVersion``, as before. A
project owner picks which model writes the project's drafts (``ProjectModelChoice``; none
= the house model); every passage records exactly which model wrote it
(``Passage.endpoint`` and ``Passage.model_record``, a snapshot that outlives edits).

Rules:

- **Secrets**: an API key is never stored; the record names the environment variable
  that holds it (``api_key_env``, e.g. ``VLLM_API_KEY``) on the machines that run the
  generation worker. Pages show only whether that variable is set.
- **Where**: a folder must be an existing directory, absolute or relative to
  ``MODEL_DIR``, and is never fetched from a hub (``local_files_only``); a server URL is
  ``http(s)://host[:port][/path]`` only.
- **Health check** (``endpoint_check``, a Celery task): one short generation through the
  very backend the worker builds (``endpoint_backend``), bounded by the record's timeout;
  it records whether it answered, the error if not, and the measured time to first token
  and tokens per second (shown on the Models page).
- **Failure stays local**: each record gets its own slots on a worker (``max_streams``);
  an unreachable or slow model fails its own drafts, with the reason on the card, within
  its timeout, and never holds the house model's slots.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .core.backends import get_backend
from .core.backends.base import BackendError, GenerationRequest
from .core.params import SamplingParams
from .core.prompting import Prompt
from .models import EndpointKind, ModelEndpoint, ProjectModelChoice

# A record's fields as staff give them (the Models page's form and the admin's).
RECORD_FIELDS = (
    "name",
    "kind",
    "folder",
    "base_url",
    "model_name",
    "api_key_env",
    "chat",
    "max_streams",
    "timeout_s",
)
ENV_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
MAX_ENDPOINTS = 50
CHECK_PROMPT = Prompt(
    "INT. KITCHEN - NIGHT", ("MARA", "JONAH"), "Mara tells Jonah the station is failing."
)
CHECK_TOKENS = 24


def resolve_folder(folder: str) -> Path:
    path = Path(folder).expanduser()
    return path if path.is_absolute() else Path(settings.MODEL_DIR) / path


def clean_endpoint(
    *,
    name: str,
    kind: str,
    folder: str = "",
    base_url: str = "",
    model_name: str = "",
    api_key_env: str = "",
    chat: str = "auto",
    max_streams=4,
    timeout_s=60,
) -> dict:
    """Validate a model record's fields (a form's strings); raise ValidationError."""
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ValidationError("Give the model a name (at most 100 characters).")
    if kind not in (EndpointKind.HF, EndpointKind.OPENAI):
        raise ValidationError("Choose a Hugging Face folder or an OpenAI-compatible server.")
    if chat not in ("auto", "chat", "completion"):
        raise ValidationError("Choose chat, plain completion, or automatic.")
    try:
        max_streams = int(max_streams)
        timeout_s = float(timeout_s)
    except (TypeError, ValueError):
        raise ValidationError("Streams and timeout are numbers.") from None
    if not 1 <= max_streams <= 64:
        raise ValidationError("Streams at once: between 1 and 64.")
    if not 1 <= timeout_s <= 600:
        raise ValidationError("The timeout is between 1 and 600 seconds.")
    folder, base_url, model_name = (
        (folder or "").strip(),
        (base_url or "").strip(),
        (model_name or "").strip(),
    )
    api_key_env = (api_key_env or "").strip()
    if api_key_env and (
        len(api_key_env) > 100 or not set(api_key_env) <= ENV_NAME_CHARS or api_key_env[0].isdigit()
    ):
        raise ValidationError(
            "Name the environment variable that holds the API key (capitals, digits and _), "
            "not the key itself."
        )
    if kind == EndpointKind.HF:
        if not folder or len(folder) > 500:
            raise ValidationError("Give the model's folder (absolute, or inside MODEL_DIR).")
        if not resolve_folder(folder).is_dir():
            raise ValidationError(f"There is no folder {folder} on this machine.")
        base_url = model_name = api_key_env = ""
    else:
        parts = urllib.parse.urlsplit(base_url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
            or parts.username
            or len(base_url) > 500
        ):
            raise ValidationError(
                "Give the server's address as http(s)://host[:port][/path], e.g. "
                "http://gpu-box:8000/v1."
            )
        if not model_name or len(model_name) > 200:
            raise ValidationError("Give the model's name as the server knows it.")
        folder = ""
        if chat == "auto":
            chat = "chat"  # servers of instruct models: /v1/chat/completions
    return {
        "name": name,
        "kind": kind,
        "folder": folder,
        "base_url": base_url,
        "model_name": model_name,
        "api_key_env": api_key_env,
        "chat": chat,
        "max_streams": max_streams,
        "timeout_s": timeout_s,
    }


@transaction.atomic
def endpoint_create(*, user, **fields) -> ModelEndpoint:
    values = clean_endpoint(**fields)
    if ModelEndpoint.objects.count() >= MAX_ENDPOINTS:
        raise ValidationError(f"At most {MAX_ENDPOINTS} models; delete one first.")
    if ModelEndpoint.objects.filter(name=values["name"]).exists():
        raise ValidationError(f"There is already a model called {values['name']}.")
    return ModelEndpoint.objects.create(created_by=user, **values)


@transaction.atomic
def endpoint_set_enabled(*, endpoint: ModelEndpoint, enabled: bool) -> ModelEndpoint:
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(enabled=enabled, updated_at=timezone.now())
    endpoint.refresh_from_db()
    return endpoint


def endpoint_backend(endpoint: ModelEndpoint):
    """The backend a worker (or the health check) runs this record's drafts on."""
    if endpoint.kind == EndpointKind.HF:
        chat = {"auto": None, "chat": True, "completion": False}[endpoint.chat]
        return get_backend(
            "generation.core.backends.hf.HFBackend",
            model_dir=str(resolve_folder(endpoint.folder)),
            chat=chat,
        )
    return get_backend(
        "generation.core.backends.openai_compat.OpenAICompatBackend",
        base_url=endpoint.base_url,
        model=endpoint.model_name,
        api_key=os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None,
        timeout=endpoint.timeout_s,
        chat=endpoint.chat != "completion",
    )


def endpoint_check(endpoint_id: int) -> ModelEndpoint:
    """Ask the model for a few tokens; record whether it answered and how fast."""
    endpoint = ModelEndpoint.objects.get(pk=endpoint_id)
    started = time.perf_counter()
    ok, error, ttft, tps = False, "", None, None
    try:
        with endpoint_backend(endpoint) as backend:
            result = backend.generate(
                GenerationRequest(
                    CHECK_PROMPT,
                    SamplingParams(max_new_tokens=CHECK_TOKENS, temperature=0.0, seed=1),
                    request_id=f"check-{endpoint.pk}",
                )
            )
        elapsed = time.perf_counter() - started
        ok = bool(result.text.strip()) and result.finish_reason != "error"
        error = "" if ok else "The model answered with no text."
        ttft = result.ttft_s
        tokens = result.completion_tokens or max(1, len(result.text.split()))
        generating = elapsed - (ttft or 0.0)
        tps = tokens / generating if generating > 0 else None
    except BackendError as exc:
        error = str(exc)[:1000]
    except Exception as exc:  # a broken folder, a bad config: said on the page
        error = f"{type(exc).__name__}: {exc}"[:1000]
    ModelEndpoint.objects.filter(pk=endpoint.pk).update(
        checked_at=timezone.now(),
        healthy=ok,
        health_error=error,
        ttft_s=ttft,
        tokens_per_s=tps,
    )
    endpoint.refresh_from_db()
    return endpoint


# --- a project's choice ---------------------------------------------------------------------


def project_endpoint(project_id: int) -> ModelEndpoint | None:
    """The model that writes this project's drafts (None: the house model)."""
    choice = (
        ProjectModelChoice.objects.filter(project_id=project_id).select_related("endpoint").first()
    )
    return choice.endpoint if choice is not None else None


def project_endpoint_for_request(project_id: int) -> ModelEndpoint | None:
    """As ``project_endpoint``, refusing a switched-off model with a clear message."""
    endpoint = project_endpoint(project_id)
    if endpoint is not None and not endpoint.enabled:
        raise ValidationError(
            f"This project drafts with {endpoint.name}, which staff have switched off; "
            "an owner can pick another model on the project page."
        )
    return endpoint


@transaction.atomic
def project_choose_endpoint(*, project, endpoint_id) -> ModelEndpoint | None:
    """Set the model that writes the project's drafts ("" / None: the house model)."""
    if endpoint_id in (None, "", "house"):
        ProjectModelChoice.objects.filter(project=project).delete()
        return None
    try:
        endpoint = ModelEndpoint.objects.get(pk=int(endpoint_id), enabled=True)
    except (ValueError, TypeError, ModelEndpoint.DoesNotExist):
        raise ValidationError("Choose one of the models on the list.") from None
    ProjectModelChoice.objects.update_or_create(project=project, defaults={"endpoint": endpoint})
    return endpoint


def model_record(endpoint: ModelEndpoint | None, version=None) -> dict:
    """What a passage records of the model that wrote it (a snapshot)."""
    if endpoint is None:
        return {"kind": "house", "name": version.name if version is not None else ""}
    record = {"kind": endpoint.kind, "name": endpoint.name, "chat": endpoint.chat}
    if endpoint.kind == EndpointKind.HF:
        record["folder"] = endpoint.folder
    else:
        record["base_url"] = endpoint.base_url
        record["model"] = endpoint.model_name
    return record
