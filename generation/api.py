"""The OpenAI-compatible API: ``/v1/models`` and ``/v1/completions`` (streaming or not).

Other tools (editors, scripts, the ``openai`` client) can use the team's model the way
they use vLLM, TGI, llama.cpp or Ollama. Authentication: ``Authorization: Bearer <token>``
with a personal token (``ApiToken``, made on the account page). Limits (429 with
``Retry-After``, ``generation/limits.py``): requests per token per window, requests running
per token, and the generation queue (``COWRITE_GENERATION_MAX_QUEUE``), which counts
queued drafts and waiting API requests together. A request whose client goes away, or
that times out, is cancelled on the worker. Requests run on the
generation workers, batched with the drafts (``generation/worker.py``): the view puts the
request on the generation queue with a reply channel and relays what comes back, as
server-sent events (``data: {json}`` lines, ending ``data: [DONE]``) when ``stream`` is set.

The prompt is raw Fountain: if its first line is a scene heading it becomes the heading
the model conditions on; the rest is the text it continues.
"""

import asyncio
import hashlib
import json
import math
import secrets
import time
import uuid

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from cowrite import strictjson
from cowrite.events import ApiDelta, ApiDone, ApiStarted, CancelJob, GenerateApi, apublish
from scripts_app.formats import grammar

from . import limits
from .core.params import SamplingParams, parse_number
from .core.prompting import Prompt
from .models import ApiToken, ModelVersion, Passage, PassageStatus, VersionStatus

TOKEN_PREFIX = "cw-"
# No worker took a request within settings.COWRITE_API_FIRST_REPLY_SECONDS: 503 (and the
# request is cancelled, so no worker runs it later).
IDLE_TIMEOUT = 120.0  # a stream that goes quiet this long is ended (and cancelled)
LEASE_SECONDS = IDLE_TIMEOUT + 60  # a running or waiting request's slot, renewed as it streams


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Make a token; return the row and the secret (shown once, never stored)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=(name or "API token")[:100], prefix=secret[:10], key_hash=_hash(secret)
    )
    return row, secret


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token_for(header: str):
    """The live token named by an ``Authorization`` header (with its user), or None."""
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
    return row


def _error(
    status: int, message: str, kind: str = "invalid_request_error", param=None
) -> JsonResponse:
    return JsonResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": None}}, status=status
    )


async def _authenticate(request):
    return await database_sync_to_async(_token_for)(request.headers.get("Authorization", ""))


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


class BadRequest(ValueError):
    """A request field is wrong: answered 400, naming the field (``param``)."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def _number(body: dict, name: str, default, *, range_of: str = "", low=None, high=None):
    """A JSON number field, by ``core.params.RANGES[range_of]`` unless a range is given;
    absent or null -> ``default``. Raise BadRequest naming the field."""
    value = body.get(name)
    if value is None:
        return default
    try:
        return parse_number(
            value, range_of or name, low=low, high=high, label=f"{name}:", kind=None
        )
    except ValueError as exc:
        raise BadRequest(str(exc), name) from None


def _parse(body: dict) -> tuple[Prompt, SamplingParams]:
    """Validate a completions request; return its prompt and sampling parameters (the
    same two shapes a draft has); raise BadRequest."""
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise BadRequest("prompt: give one string.", "prompt")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("prompt: give a string.", "prompt")
    if len(prompt) > settings.COWRITE_SCENE_TEXT_MAX_CHARS:
        raise BadRequest(
            f"prompt: at most {settings.COWRITE_SCENE_TEXT_MAX_CHARS:,} characters.", "prompt"
        )
    for name in ("n", "best_of"):
        if _number(body, name, 1, low=1, high=2**31, range_of="top_k") != 1:
            raise BadRequest("n: only 1 completion per request is supported.", name)
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or len(model) > 200):
        raise BadRequest("model: give a model's name (a string).", "model")
    if not isinstance(body.get("stream", False), bool | None):
        raise BadRequest("stream: give true or false.", "stream")
    options = body.get("stream_options")
    if options is not None:
        if not body.get("stream"):
            raise BadRequest("stream_options: only with stream: true.", "stream_options")
        if not isinstance(options, dict) or not isinstance(
            options.get("include_usage", False), bool
        ):
            raise BadRequest(
                'stream_options: give {"include_usage": true or false}.', "stream_options"
            )
    # OpenAI's defaults (max_tokens 16, temperature 1, top_p 1); ranges are the drafts'.
    values = {
        "max_new_tokens": _number(
            body,
            "max_tokens",
            16,
            range_of="max_new_tokens",
            high=settings.COWRITE_DRAFT_MAX_NEW_TOKENS,
        ),
        "temperature": _number(body, "temperature", 1.0),
        "top_p": _number(body, "top_p", 1.0),
        # OpenAI's frequency penalty has no exact match: a positive one maps to a mild
        # repetition penalty.
        "repetition_penalty": 1.0
        + max(0.0, _number(body, "frequency_penalty", 0.0, low=-2.0, high=2.0)) / 10,
        # What the engine's seeded generator takes (a 64-bit integer).
        "seed": _number(body, "seed", None),
        "stop": body.get("stop"),
    }
    try:
        params = SamplingParams.from_dict(values)
    except ValueError as exc:
        raise BadRequest("stop: " + str(exc).removeprefix("Stop: "), "stop") from None
    # A first line that is a scene heading is the prompt's heading (the one grammar).
    heading, text = "", prompt
    first, _, rest = prompt.partition("\n")
    if grammar.ANY_SCENE_HEADING_RE.match(first.strip()):
        heading, text = first.strip(), rest.lstrip("\n")
    return Prompt(heading=heading, text_prefix=text), params


def _read_body(request) -> dict:
    """The request's JSON object, bounded in size and depth; raise BadRequest."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.COWRITE_API_MAX_BODY_BYTES
    if not length.isdigit() or int(length) > limit:
        raise BadRequest(f"The request body is larger than {limit:,} bytes.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadRequest(f"The request body is larger than {limit:,} bytes.") from None
    if len(raw) > limit:
        raise BadRequest(f"The request body is larger than {limit:,} bytes.")
    try:
        body = strictjson.loads(raw or b"{}")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def _too_many(message: str, retry_after: float, code: str) -> JsonResponse:
    response = JsonResponse(
        {"error": {"message": message, "type": "requests", "param": None, "code": code}},
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _queued_drafts() -> int:
    return Passage.objects.filter(status=PassageStatus.QUEUED).count()


@csrf_exempt
async def completions(request):
    if request.method != "POST":
        return _error(405, "Use POST.")
    token = await _authenticate(request)
    if token is None:
        return _error(
            401, "Give a valid API token: Authorization: Bearer <token>.", "authentication_error"
        )
    token_key = token.key_hash[:32]
    wait = await limits.rate_hit(token_key)
    if wait > 0:
        return _too_many(
            f"This token made {settings.COWRITE_API_RATE_LIMIT} requests in the last "
            f"{settings.COWRITE_API_RATE_WINDOW_SECONDS:g} seconds (the limit); "
            f"try again in {math.ceil(wait)} s.",
            wait,
            "rate_limit_exceeded",
        )
    try:
        body = _read_body(request)
        prompt, params = _parse(body)
    except BadRequest as exc:
        return _error(400, str(exc), param=exc.param)
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

    request_id = uuid.uuid4().hex
    job = _Job(request_id, token_key)
    cap = settings.COWRITE_API_TOKEN_CONCURRENCY
    if not await limits.acquire(job.running_key, request_id, cap, LEASE_SECONDS):
        return _too_many(
            f"This token already has {cap} requests running (the limit); wait for one to finish.",
            1,
            "concurrency_limit_exceeded",
        )
    # One queue limit for drafts and API requests: queued drafts + waiting API requests.
    room = settings.COWRITE_GENERATION_MAX_QUEUE - await database_sync_to_async(_queued_drafts)()
    if not await limits.acquire(limits.WAITING, request_id, room, LEASE_SECONDS):
        await job.release()
        return _too_many("The generation queue is full; try again in a minute.", 30, "queue_full")
    try:
        await job.start(prompt, params)
    except BaseException:
        await job.release()
        raise
    meta = {"id": f"cmpl-{request_id}", "created": int(time.time()), "model": model}
    if body.get("stream"):
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = StreamingHttpResponse(
            _sse(job, meta, include_usage=usage), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        # A client gone before Django starts streaming never runs _sse (nor its cleanup).
        job.watchdog = asyncio.create_task(job.abandon_if_never_read())
        return response
    parts, done = [], None
    try:
        async for reply in job.replies():
            if isinstance(reply, ApiDelta):
                parts.append(reply.text)
            else:
                done = reply
    except TimeoutError as exc:
        return _error(503, str(exc), "server_error")
    if done.error:
        return _error(500, done.error, "server_error")
    return JsonResponse(
        {
            **meta,
            "object": "text_completion",
            "choices": [
                {
                    "text": "".join(parts),
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": done.finish_reason,
                }
            ],
            "usage": done.usage,
        }
    )


# What a worker sends to the view's reply channel.
_REPLIES = {e.type: e for e in (ApiStarted, ApiDelta, ApiDone)}


class _Job:
    """One API request on the generation queue: its reply channel, its slots (running
    per token, waiting for a worker), and its cancel when the client is gone."""

    def __init__(self, request_id: str, token_key: str):
        self.request_id = request_id
        self.running_key = f"running:{token_key}"
        self.layer = get_channel_layer()
        self.reply_to = None
        self.released = False
        self.reading = False
        self.watchdog = None

    async def start(self, prompt: Prompt, params: SamplingParams) -> None:
        self.reply_to = await self.layer.new_channel("api-completion")
        await apublish(
            GenerateApi(
                request=self.request_id,
                reply_to=self.reply_to,
                # A worker that takes it later than this drops it: the view gave up (503).
                deadline=time.time() + settings.COWRITE_API_FIRST_REPLY_SECONDS,
                prompt=prompt.as_dict(),
                sampling=params.as_dict(),
            )
        )

    async def release(self) -> None:
        if not self.released:
            self.released = True
            await limits.release(self.running_key, self.request_id)
            await limits.release(limits.WAITING, self.request_id)

    async def cancel(self) -> None:
        """Tell the workers to stop this request (or drop it if it waits for a slot)."""
        await apublish(CancelJob(("api", self.request_id)))

    async def abandon_if_never_read(self, after: float = 10.0) -> None:
        await asyncio.sleep(after)
        if not self.reading:
            await self.cancel()
            await self.release()

    async def replies(self):
        """Yield the worker's replies (``ApiDelta``s, then one ``ApiDone``). The client
        gone (disconnect: cancelled), the worker silent (TimeoutError: 503) or any other
        end before ``ApiDone`` cancels the generation; the slots are freed in every case."""
        self.reading = True
        first = settings.COWRITE_API_FIRST_REPLY_SECONDS
        timeout, finished = first, False
        renewed = time.monotonic()
        try:
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.reply_to), timeout)
                except TimeoutError:
                    raise TimeoutError(
                        "No generation worker took this request in time; the workers are "
                        "busy or none is running (manage.py generation_worker)."
                        if timeout == first
                        else "The generation worker went quiet."
                    ) from None
                timeout = IDLE_TIMEOUT
                if time.monotonic() - renewed > LEASE_SECONDS / 4:  # a long stream
                    renewed = time.monotonic()
                    await limits.acquire(self.running_key, self.request_id, 1, LEASE_SECONDS)
                reply = _REPLIES[message["type"]].from_message(message)
                if isinstance(reply, ApiStarted):
                    await limits.release(limits.WAITING, self.request_id)
                    continue
                finished = isinstance(reply, ApiDone)
                yield reply
                if finished:
                    return
        finally:
            try:
                if not finished:
                    await self.cancel()
            finally:
                await self.release()


async def _sse(job: _Job, meta: dict, include_usage: bool = False):
    """The stream of a completion, as OpenAI sends it: a chunk per piece of text, one with
    the finish reason, and with ``stream_options.include_usage`` every chunk carries
    ``"usage": null`` and a last chunk with no choices carries the token counts."""

    def chunk(text: str, finish_reason=None) -> str:
        payload = {
            **meta,
            "object": "text_completion",
            "choices": [
                {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            payload["usage"] = None
        return f"data: {json.dumps(payload)}\n\n"

    try:
        async for reply in job.replies():
            if isinstance(reply, ApiDelta):
                yield chunk(reply.text)
            elif reply.error:
                yield f"data: {json.dumps({'error': {'message': reply.error, 'type': 'server_error'}})}\n\n"
            else:
                yield chunk("", reply.finish_reason)
                if include_usage:
                    last = {
                        **meta,
                        "object": "text_completion",
                        "choices": [],
                        "usage": reply.usage,
                    }
                    yield f"data: {json.dumps(last)}\n\n"
    except TimeoutError as exc:
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
    yield "data: [DONE]\n\n"
