"""The OpenAI-compatible API: ``/v1/models`` and ``/v1/completions`` (streaming or not).

Other tools (editors, scripts, the ``openai`` client) can use the team's model the way
they use vLLM, TGI, llama.cpp or Ollama. Authentication: ``Authorization: Bearer <token>``
with a personal token (``ApiToken``, made on the account page). Requests run on the
generation workers, batched with the drafts (``generation/worker.py``): the view puts the
request on the generation queue with a reply channel and relays what comes back, as
server-sent events (``data: {json}`` lines, ending ``data: [DONE]``) when ``stream`` is set.

The prompt is raw Fountain: if its first line is a scene heading it becomes the heading
the model conditions on; the rest is the text it continues.
"""

import asyncio
import hashlib
import json
import secrets
import time
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.http import JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from scripts_app import events

from .models import ApiToken, ModelVersion, VersionStatus

TOKEN_PREFIX = "cw-"
FIRST_REPLY_TIMEOUT = 30.0  # no worker answered by then: 503
IDLE_TIMEOUT = 120.0  # a stream that goes quiet this long is ended


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Make a token; return the row and the secret (shown once, never stored)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=(name or "API token")[:100], prefix=secret[:10], key_hash=_hash(secret)
    )
    return row, secret


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user_for(header: str):
    if not header.startswith("Bearer "):
        return None
    row = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(header[7:].strip()), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row.user


def _error(
    status: int, message: str, kind: str = "invalid_request_error", param=None
) -> JsonResponse:
    return JsonResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": None}}, status=status
    )


async def _authenticate(request):
    return await database_sync_to_async(_user_for)(request.headers.get("Authorization", ""))


def _served_models() -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(status=VersionStatus.ACTIVE))


@csrf_exempt
async def models_list(request):
    if request.method != "GET":
        return _error(405, "Use GET.")
    if await _authenticate(request) is None:
        return _error(
            401, "Give a valid API token: Authorization: Bearer <token>.", "authentication_error"
        )
    versions = await database_sync_to_async(_served_models)()
    return JsonResponse(
        {
            "object": "list",
            "data": [
                {
                    "id": v.name,
                    "object": "model",
                    "created": int(v.created_at.timestamp()),
                    "owned_by": "cowrite",
                }
                for v in versions
            ],
        }
    )


def _parse(body: dict) -> dict:
    """Validate a completions request; return the generation request; raise ValueError."""
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise ValueError("prompt: give one string.")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ValueError("prompt: give a string.")
    if len(prompt) > settings.COWRITE_SCENE_TEXT_MAX_CHARS:
        raise ValueError(f"prompt: at most {settings.COWRITE_SCENE_TEXT_MAX_CHARS:,} characters.")
    if body.get("n", 1) != 1 or body.get("best_of", 1) != 1:
        raise ValueError("n: only 1 completion per request is supported.")

    def number(name, default, low, high, cast=float):
        value = body.get(name, default)
        if value is None:
            return default
        try:
            value = cast(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: must be a number.") from None
        if not low <= value <= high:
            raise ValueError(f"{name}: must be between {low} and {high}.")
        return value

    stop = body.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if (
        not isinstance(stop, list)
        or len(stop) > 4
        or not all(isinstance(s, str) and len(s) <= 100 for s in stop)
    ):
        raise ValueError("stop: up to 4 strings of at most 100 characters.")
    heading, text = "", prompt
    first, _, rest = prompt.partition("\n")
    from scripts_app.services import HEADING_RE

    if HEADING_RE.match(first.strip()):
        heading, text = first.strip(), rest.lstrip("\n")
    seed = body.get("seed")
    return {
        "heading": heading,
        "text": text,
        "params": {
            "max_new_tokens": number(
                "max_tokens", 16, 1, settings.COWRITE_DRAFT_MAX_NEW_TOKENS, int
            ),
            "temperature": number("temperature", 1.0, 0.0, 2.0),
            "top_p": number("top_p", 1.0, 0.01, 1.0),
            # OpenAI's frequency penalty has no exact match: a positive one maps to a mild
            # repetition penalty.
            "repetition_penalty": 1.0 + max(0.0, number("frequency_penalty", 0.0, -2.0, 2.0)) / 10,
            "stop": stop,
            "seed": int(seed) if isinstance(seed, int) else None,
        },
    }


@csrf_exempt
async def completions(request):
    if request.method != "POST":
        return _error(405, "Use POST.")
    if await _authenticate(request) is None:
        return _error(
            401, "Give a valid API token: Authorization: Bearer <token>.", "authentication_error"
        )
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError("The body must be a JSON object.")
        generation = _parse(body)
    except (ValueError, json.JSONDecodeError) as exc:
        return _error(400, str(exc))
    versions = await database_sync_to_async(_served_models)()
    if not versions:
        return _error(
            503, "No model is ready yet (the first one may still be training).", "server_error"
        )
    model = body.get("model") or versions[0].name
    if model not in {v.name for v in versions}:
        return _error(
            404, f"The model {model!r} is not served; use {versions[0].name!r}.", param="model"
        )

    layer = get_channel_layer()
    reply_to = await layer.new_channel("api-completion")
    request_id = uuid.uuid4().hex
    await layer.send(
        events.GENERATION_QUEUE,
        {"type": "generate_api", "request": request_id, "reply_to": reply_to, **generation},
    )
    meta = {"id": f"cmpl-{request_id}", "created": int(time.time()), "model": model}
    if body.get("stream"):
        response = StreamingHttpResponse(
            _sse(layer, reply_to, request_id, meta), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
    parts, done = [], None
    try:
        async for message in _replies(layer, reply_to, request_id):
            if message["type"] == "api.delta":
                parts.append(message["text"])
            else:
                done = message
    except TimeoutError as exc:
        return _error(503, str(exc), "server_error")
    if done.get("error"):
        return _error(500, done["error"], "server_error")
    return JsonResponse(
        {
            **meta,
            "object": "text_completion",
            "choices": [
                {
                    "text": "".join(parts),
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": done["finish_reason"],
                }
            ],
            "usage": done["usage"],
        }
    )


async def _replies(layer, reply_to: str, request_id: str):
    """Yield the worker's messages for one request until it is done (or times out)."""
    timeout = FIRST_REPLY_TIMEOUT
    try:
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(reply_to), timeout)
            except TimeoutError:
                raise TimeoutError(
                    "No generation worker answered; start one (manage.py generation_worker)."
                    if timeout == FIRST_REPLY_TIMEOUT
                    else "The generation worker went quiet."
                ) from None
            timeout = IDLE_TIMEOUT
            yield message
            if message["type"] == "api.done":
                return
    except (asyncio.CancelledError, GeneratorExit):
        # The client went away: stop the generation too.
        await layer.group_send(
            events.GENERATION_WORKERS, {"type": "generation.cancel_api", "request": request_id}
        )
        raise


async def _sse(layer, reply_to: str, request_id: str, meta: dict):
    def chunk(text: str, finish_reason=None) -> str:
        payload = {
            **meta,
            "object": "text_completion",
            "choices": [
                {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        return f"data: {json.dumps(payload)}\n\n"

    try:
        async for message in _replies(layer, reply_to, request_id):
            if message["type"] == "api.delta":
                yield chunk(message["text"])
            elif message.get("error"):
                yield f"data: {json.dumps({'error': {'message': message['error'], 'type': 'server_error'}})}\n\n"
            else:
                yield chunk("", message["finish_reason"])
    except TimeoutError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
    yield "data: [DONE]\n\n"
