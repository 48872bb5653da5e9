"""The generation worker: takes draft requests from the shared queue, runs them on the
model with continuous batching, and streams their text to the scenes' rooms.

One worker per device (``manage.py generation_worker``); in the embedded default the same
coroutine runs inside the web process. How it works:

- **Queue.** Draft requests ring a doorbell on a named channel that all workers read
  (each message reaches one). The database is the queue of record: a worker *claims* a
  passage with a conditional UPDATE (runs once), and also sweeps for queued passages
  every second, so a lost or expired doorbell only delays a draft.
- **Batching.** Each claimed passage runs as ``backend.generate(...)`` on a thread of its
  own; the local backend serves them all from one engine that batches every step.
- **Capacity.** Drafts and API completions share the worker's ``max_streams`` slots: every
  path that starts a stream (claim, sweep, API start) checks ``busy`` (both kinds). An API
  request that waits for a slot is dropped if its view gave up (past its ``deadline``) or
  cancelled it; starting one answers ``api.started`` (it no longer counts as queued).
- **Streaming.** ``on_text`` appends to a per-passage buffer; every ~50 ms a flusher sends
  each scene one message with the new text of its passages, numbered (``seq``), so pages
  can spot a gap and ask for a catch-up. Text so far is saved every second.
- **Heartbeat.** Every ~2 s the worker beats its passages' heartbeat (and learns of
  cancels); if it dies, ``reap_stalled_drafts`` fails them.
- **Model switch.** Between batches: when another version becomes active, new passages go
  to a backend loaded with it while the old one finishes its streams, then closes.
"""

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from scripts_app import drafts, events
from scripts_app.models import Passage, PassageStatus

log = logging.getLogger(__name__)

# Generated text is untrusted: a byte-level model can emit any byte, and PostgreSQL text
# cannot hold NUL. C0 control characters other than tab and newline are dropped.
_CONTROL = {c: None for c in range(32) if c not in (9, 10)} | {127: None}


def clean_generated(text: str) -> str:
    return text.translate(_CONTROL)


@dataclass
class Stream:
    """A request being generated: its buffer of text not yet sent, and what was sent.

    A draft (``passage_id``, streamed to its scene's room) or an API completion
    (``api_request``, streamed to the HTTP view's ``reply_to`` channel).
    """

    passage_id: int | None = None
    scene_id: int | None = None
    api_request: str | None = None
    reply_to: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    pending: list[str] = field(default_factory=list)
    sent_text: str = ""
    seq: int = 0
    tokens: int = 0
    first_token_at: datetime | None = None
    result: object = None
    error: str = ""
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class LoadedBackend:
    """A backend with the model version it serves and how many streams use it."""

    def __init__(self, version, backend):
        self.version, self.backend = version, backend
        self._users, self._lock = 0, threading.Lock()

    @property
    def users(self) -> int:
        return self._users

    def use(self, delta: int) -> None:
        with self._lock:
            self._users += delta

    @property
    def version_id(self) -> int | None:
        return self.version.pk if self.version is not None else None


def _device() -> str:
    wanted = settings.COWRITE_GENERATION_DEVICE
    if wanted != "auto":
        return wanted
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _uses_versions() -> bool:
    """Say whether the configured backend serves our own model versions (local engine)."""
    return settings.COWRITE_GENERATION_BACKEND.endswith(".local.LocalBackend")


def _load_backend(version):
    from generation.core.backends import get_backend

    options = dict(settings.COWRITE_GENERATION_BACKEND_OPTIONS)
    if _uses_versions():
        options.update(
            model_dir=str(version.path),
            device=_device(),
            max_batch=settings.COWRITE_GENERATION_MAX_BATCH,
        )
    return get_backend(settings.COWRITE_GENERATION_BACKEND, **options)


def _active_version():
    from .services import active_version

    return active_version()


class GenerationWorker:
    def __init__(self, name: str | None = None, max_streams: int | None = None):
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.max_streams = max_streams or settings.COWRITE_GENERATION_MAX_BATCH
        self.streams: dict[int, Stream] = {}  # drafts, by passage id
        self.api_streams: dict[str, Stream] = {}  # API completions, by request id
        self.api_pending: list[dict] = []  # API requests waiting for a free slot
        # API requests cancelled (client gone, timed out) by id, with when: one whose
        # cancel overtook its request on the queue is dropped when it arrives.
        self.api_cancelled: dict[str, float] = {}
        self.current: LoadedBackend | None = None
        self.retiring: list[LoadedBackend] = []
        self.layer = get_channel_layer()  # the queue, control messages, API replies
        self.rooms = get_channel_layer(events.ROOMS_LAYER)  # draft streams to the pages
        self.control_channel: str | None = None
        self.stopping = asyncio.Event()
        self.last_progress_save = 0.0
        self.wakeup = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Serve until ``stop()``; the streams in flight end as failed if it is killed."""
        self.control_channel = await self.layer.new_channel("generation-worker.")
        await self.layer.group_add(events.GENERATION_WORKERS, self.control_channel)
        await self._switch_model_if_needed()
        tasks = [
            asyncio.create_task(self._doorbell_loop()),
            asyncio.create_task(self._control_loop()),
            asyncio.create_task(self._flush_loop()),
            asyncio.create_task(self._housekeeping_loop()),
        ]
        for task in tasks:
            task.add_done_callback(self._crashed)
        log.info("Generation worker %s ready", self.name)
        try:
            await self.stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.layer.group_discard(events.GENERATION_WORKERS, self.control_channel)
            for stream in [*self.streams.values(), *self.api_streams.values()]:
                stream.cancel.set()
            for loaded in [self.current, *self.retiring]:
                if loaded is not None:
                    loaded.backend.close()

    def stop(self) -> None:
        self.stopping.set()

    def _crashed(self, task: asyncio.Task) -> None:
        """A loop that dies takes the worker down (loudly): a supervisor restarts it, and
        its drafts are failed by the heartbeat check rather than hanging."""
        if not task.cancelled() and task.exception() is not None:
            log.error("Generation worker loop crashed", exc_info=task.exception())
            self.stop()

    # ------------------------------------------------------------------ intake
    async def _doorbell_loop(self) -> None:
        while True:
            message = await self.layer.receive(events.GENERATION_QUEUE)
            if message.get("type") == "generate":
                await self._try_claim(message["passage"])
            elif message.get("type") == "generate_api":
                if message["request"] not in self.api_cancelled:
                    self.api_pending.append(message)
                await self._start_api_requests()

    @property
    def busy(self) -> int:
        """Streams running on this worker, drafts and API completions alike: the one
        number every capacity check (claim, sweep, API start) compares to max_streams."""
        return len(self.streams) + len(self.api_streams)

    @property
    def has_room(self) -> bool:
        return self.current is not None and self.busy < self.max_streams

    async def _start_api_requests(self) -> None:
        """Start waiting API completions while there are free slots (in arrival order);
        drop those whose view gave up waiting (past their deadline: it answered 503)."""
        while self.api_pending and self.has_room:
            message = self.api_pending.pop(0)
            if message.get("deadline", float("inf")) < time.time():
                continue
            stream = Stream(api_request=message["request"], reply_to=message["reply_to"])
            self.api_streams[stream.api_request] = stream
            # The view stops counting it as waiting in the queue.
            await self.layer.send(stream.reply_to, {"type": "api.started"})
            request = {
                "prompt": {"heading": message.get("heading", ""), "text": message.get("text", "")},
                "sampling": message["params"],
                "request_id": f"api-{stream.api_request}",
            }
            self._spawn(self.current, request, stream)

    async def _sweep(self) -> None:
        """Claim queued passages whose doorbell was missed (oldest first)."""
        free = self.max_streams - self.busy
        if not self.has_room:
            return
        ids = await database_sync_to_async(
            lambda: list(
                Passage.objects.filter(status=PassageStatus.QUEUED, cancel_requested=False)
                .order_by("queued_at", "pk")
                .values_list("pk", flat=True)[:free]
            )
        )()
        for pk in ids:
            await self._try_claim(pk)

    async def _try_claim(self, passage_id: int) -> None:
        if not self.has_room or passage_id in self.streams:
            return  # the sweep picks it up when there is room
        loaded = self.current
        passage = await database_sync_to_async(drafts.passage_claim)(
            passage_id=passage_id, worker=self.name, version_id=loaded.version_id
        )
        if passage is None:
            return
        stream = Stream(passage_id=passage.pk, scene_id=passage.scene_id)
        self.streams[passage.pk] = stream
        request = {
            "prompt": passage.prompt,
            "sampling": passage.sampling,
            "request_id": f"passage-{passage.pk}",
        }
        self._spawn(loaded, request, stream)

    def _spawn(self, loaded: LoadedBackend, request: dict, stream: Stream) -> None:
        loaded.use(+1)
        threading.Thread(
            target=self._generate,
            args=(loaded, request, stream),
            daemon=True,
            name=request["request_id"],
        ).start()

    def _generate(self, loaded: LoadedBackend, req: dict, stream: Stream) -> None:
        """Run one request on the backend (on its own thread; the backend batches them)."""
        from generation.core.backends import GenerationRequest
        from generation.core.sampling import SamplingParams

        s = req["sampling"]
        prompt = req["prompt"]

        def on_text(delta: str) -> None:
            delta = clean_generated(delta)
            with stream.lock:
                if stream.first_token_at is None:
                    stream.first_token_at = datetime.now(UTC)
                stream.pending.append(delta)
                stream.tokens += 1

        try:
            params = SamplingParams(
                max_new_tokens=int(s.get("max_new_tokens", 192)),
                temperature=float(s.get("temperature", 0.8)),
                top_k=int(s.get("top_k", 0)),
                top_p=float(s.get("top_p", 1.0)),
                min_p=float(s.get("min_p", 0.0)),
                repetition_penalty=float(s.get("repetition_penalty", 1.0)),
                stop=list(s.get("stop") or []),
                seed=s.get("seed"),
            )
            request = GenerationRequest(
                heading=prompt.get("heading", ""),
                cast=prompt.get("cast", []),
                synopsis=prompt.get("synopsis", ""),
                text_prefix=prompt.get("text", ""),
                params=params,
                request_id=req["request_id"],
            )
            result = loaded.backend.generate(request, on_text=on_text, cancel=stream.cancel)
            with stream.lock:
                stream.result = result
                if result.completion_tokens:
                    stream.tokens = result.completion_tokens
        except Exception as exc:  # reported to the requester; the worker goes on
            log.exception("Generation %s failed", req["request_id"])
            with stream.lock:
                stream.error = f"{type(exc).__name__}: {exc}"
        finally:
            with stream.lock:
                stream.done = True
            loaded.use(-1)

    # ------------------------------------------------------------------ streaming out
    async def _flush_loop(self) -> None:
        interval = settings.COWRITE_GENERATION_FLUSH_SECONDS
        while True:
            await asyncio.sleep(interval)
            await self.flush()

    async def flush(self) -> None:
        """Send every stream's new text to its scene (one message per scene), end finished ones."""
        by_scene: dict[int, list[dict]] = {}
        finished: list[Stream] = []
        for stream in list(self.api_streams.values()):
            with stream.lock:
                delta = "".join(stream.pending)
                stream.pending.clear()
                done = stream.done
            if delta:
                stream.sent_text += delta
                await self.layer.send(stream.reply_to, {"type": "api.delta", "text": delta})
            if done:
                await self._finish_api(stream)
        for stream in list(self.streams.values()):
            with stream.lock:
                delta = "".join(stream.pending)
                stream.pending.clear()
                done = stream.done
            if delta:
                stream.seq += 1
                stream.sent_text += delta
                by_scene.setdefault(stream.scene_id, []).append(
                    {"passage": stream.passage_id, "seq": stream.seq, "text": delta}
                )
            if done:
                finished.append(stream)
        for scene_id, items in by_scene.items():
            await self.rooms.group_send(
                events.scene_room_group(scene_id),
                {"type": "draft.delta", "items": items, "sent_at": time.time()},
            )
        now = time.monotonic()
        if now - self.last_progress_save > 1.0 and self.streams:
            self.last_progress_save = now
            await database_sync_to_async(drafts.passage_progress)(
                items=[
                    {
                        "id": s.passage_id,
                        "text": s.sent_text,
                        "seq": s.seq,
                        "tokens": s.tokens,
                        "first_token_at": s.first_token_at,
                    }
                    for s in self.streams.values()
                    if s not in finished
                ]
            )
        for stream in finished:
            await self._finish(stream)
        if finished:
            self.wakeup.set()

    async def _finish_api(self, stream: Stream) -> None:
        result = stream.result
        usage = {
            "prompt_tokens": getattr(result, "prompt_tokens", None) or 0,
            "completion_tokens": stream.tokens,
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        await self.layer.send(
            stream.reply_to,
            {
                "type": "api.done",
                "finish_reason": result.finish_reason if result else "error",
                "error": stream.error and f"The model failed: {stream.error}",
                "usage": usage,
            },
        )
        self.api_streams.pop(stream.api_request, None)
        self.wakeup.set()

    async def _finish(self, stream: Stream) -> None:
        result = stream.result
        if stream.error:
            reason, error = "error", f"The model failed: {stream.error}"
        else:
            reason, error = (result.finish_reason if result else "error"), ""
        await database_sync_to_async(drafts.passage_finish)(
            passage_id=stream.passage_id,
            text=stream.sent_text,
            seq=stream.seq,
            tokens=stream.tokens,
            reason=reason,
            error=error,
            first_token_at=stream.first_token_at,
        )
        self.streams.pop(stream.passage_id, None)

    # ------------------------------------------------------------------ control
    async def _control_loop(self) -> None:
        while True:
            message = await self.layer.receive(self.control_channel)
            kind = message.get("type")
            if kind == "generation.cancel":
                stream = self.streams.get(message["passage"])
                if stream is not None:
                    stream.cancel.set()
            elif kind == "generation.cancel_api":
                self._cancel_api(message["request"])
            elif kind == "generation.catchup":
                await self._catch_up(message["scene"], message["reply_to"])

    def _cancel_api(self, request_id: str) -> None:
        """Stop an API completion (its client went away or gave up): its thread ends at
        the next token, freeing the slot; if it waits for a slot, it never starts."""
        now = time.monotonic()
        self.api_cancelled = {r: t for r, t in self.api_cancelled.items() if now - t < 600}
        self.api_cancelled[request_id] = now
        stream = self.api_streams.get(request_id)
        if stream is not None:
            stream.cancel.set()
        self.api_pending = [m for m in self.api_pending if m["request"] != request_id]

    async def _catch_up(self, scene_id: int, reply_to: str) -> None:
        """Send a page that just (re)connected the text so far of this scene's streams."""
        for stream in list(self.streams.values()):
            if stream.scene_id == scene_id:
                await self.rooms.send(
                    reply_to,
                    {
                        "type": "draft.snapshot",
                        "passage": stream.passage_id,
                        "seq": stream.seq,
                        "text": stream.sent_text,
                    },
                )

    # ------------------------------------------------------------------ housekeeping
    async def _housekeeping_loop(self) -> None:
        last_beat = 0.0
        while True:
            with contextlib.suppress(TimeoutError):  # woken early when a stream ends
                await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
            self.wakeup.clear()
            now = time.monotonic()
            if now - last_beat >= settings.COWRITE_GENERATION_HEARTBEAT_SECONDS and self.streams:
                last_beat = now
                cancelled = await database_sync_to_async(drafts.passage_heartbeat)(
                    passage_ids=list(self.streams)
                )
                for pk in cancelled:
                    if pk in self.streams:
                        self.streams[pk].cancel.set()
            await self._switch_model_if_needed()
            await self._start_api_requests()
            await self._sweep()

    async def _switch_model_if_needed(self) -> None:
        # Close retired backends whose streams are all done.
        for loaded in list(self.retiring):
            if loaded.users == 0:
                self.retiring.remove(loaded)
                await asyncio.to_thread(loaded.backend.close)
        if not _uses_versions():
            # An external model (Hugging Face folder, OpenAI-compatible server): load once.
            if self.current is None:
                self.current = LoadedBackend(None, await asyncio.to_thread(_load_backend, None))
            return
        version = await database_sync_to_async(_active_version)()
        if version is None or (self.current is not None and self.current.version_id == version.pk):
            return
        try:
            backend = await asyncio.to_thread(_load_backend, version)
        except Exception:
            log.exception("Could not load model version %s", version.name)
            return
        if self.current is not None:
            self.retiring.append(self.current)  # finishes its streams, then closes
        self.current = LoadedBackend(version, backend)
        log.info("Worker %s now serves %s", self.name, version.name)
