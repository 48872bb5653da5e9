"""The generation worker: takes draft requests and API completions from the shared queue,
runs them on the model with continuous batching, and streams their text out.

One worker per device (``manage.py generation_worker``); in the embedded default the same
coroutine runs inside the web process. How it works:

- **Jobs.** Every request runs as one ``Job``: a draft (key ``("passage", id)``) or an
  API completion (``("api", request_id)``). Its *sink* says where its text goes: a
  ``DraftSink`` saves to the passage's row and streams to the scene's room, an ``ApiSink``
  streams to the HTTP view's reply channel. Everything else (admission, batching,
  cancel, finish) is one path for both kinds.
- **Queue.** Draft requests ring a doorbell (``Generate``) on a named channel that all
  workers read (each message reaches one). The database is the queue of record: a worker
  *claims* a passage with a conditional UPDATE (runs once) and builds its prompt for the
  model that will run it (``prompts.prompt_for``); it also sweeps for queued passages
  every second, so a lost or expired doorbell only delays a draft. API requests
  (``GenerateApi``) arrive on the same channel and wait here, in arrival order, for a slot.
- **Capacity.** Drafts and API completions share the worker's ``max_streams`` slots:
  every job starts through ``_admit``, the one capacity check (``free_slots``). An API
  request that waits for a slot is dropped if its view gave up (past its ``deadline``)
  or cancelled it; starting one answers ``api.started`` (it no longer counts as queued).
- **Streaming.** ``on_text`` appends to the job's buffer; every ~50 ms ``flush`` sends
  each scene one ``DraftDelta`` with the new text of its passages, numbered (``seq``), so
  pages can spot a gap and ask for a catch-up (``GenerationCatchup``: the worker answers
  with a ``DraftSnapshot`` per passage of the scene); each API job gets one ``ApiDelta``.
  Drafts' text so far is saved every second.
- **Cancel.** ``CancelJob`` (to every worker) stops a job of either kind: a passage
  cancelled by its requester or an owner, an API request whose client went away or whose
  view timed out (503). A cancel that overtakes its request is remembered, and the
  request never starts.
- **Heartbeat.** Every ~2 s the worker beats its passages' heartbeat (and learns of
  cancels); if it dies, ``reap_stalled_drafts`` fails them.
- **Model switch.** Between batches: when another version becomes active, new jobs go
  to a backend loaded with it while the old one finishes its streams, then closes.
"""

import asyncio
import contextlib
import functools
import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from django.conf import settings

from cowrite import events
from cowrite.events import (
    ApiDelta,
    ApiDone,
    ApiStarted,
    CancelJob,
    DeltaItem,
    DraftDelta,
    DraftSnapshot,
    Event,
    EventError,
    Generate,
    GenerateApi,
    GenerationCatchup,
    apublish,
)

from . import drafts, endpoints, prompts, services
from .core.backends import GenerationRequest, get_backend
from .core.params import SamplingParams
from .core.prompting import Prompt
from .models import ModelEndpoint, Passage, PassageStatus

log = logging.getLogger(__name__)

# Generated text is untrusted: a byte-level model can emit any byte, and PostgreSQL text
# cannot hold NUL. C0 control characters other than tab and newline are dropped.
_CONTROL = {c: None for c in range(32) if c not in (9, 10)} | {127: None}


def clean_generated(text: str) -> str:
    return text.translate(_CONTROL)


JobKey = tuple[str, int | str]  # ("passage", passage_id) or ("api", request_id): CancelJob.job

# How long a cancel of a job this worker has not seen is remembered (it may be queued).
CANCEL_MEMORY_SECONDS = 600.0


@dataclass(eq=False)
class Job:
    """A request being generated: what to generate (``prompt``, its token ids if already
    tokenized for this model, ``sampling`` as stored or sent), where its text goes
    (``sink``), its buffer of text not yet sent (filled by the generating thread) and
    what was sent."""

    key: JobKey
    sink: "Sink"
    prompt: Prompt
    sampling: dict
    prompt_ids: list[int] | None = None
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
    # Whose slot it holds: the house model's (None) or a model record's (its id).
    pool: int | None = None

    @property
    def request_id(self) -> str:
        return f"{self.key[0]}-{self.key[1]}"

    def take(self) -> tuple[str, bool]:
        """The text generated since the last call, and whether generation has ended."""
        with self.lock:
            text = "".join(self.pending)
            self.pending.clear()
            return text, self.done

    def outcome(self) -> tuple[str, str]:
        """How it ended: (finish reason, error message or "")."""
        if self.error:
            return "error", f"The model failed: {self.error}"
        return (self.result.finish_reason if self.result else "error"), ""


class Outbox:
    """What one flush sends: drafts' new text merged into one ``DraftDelta`` per room,
    other events as they come."""

    def __init__(self):
        self.rooms: dict[str, list[DeltaItem]] = {}
        self.events: list[Event] = []

    def room(self, room: str, item: DeltaItem) -> None:
        self.rooms.setdefault(room, []).append(item)

    def add(self, event: Event) -> None:
        self.events.append(event)

    async def send(self) -> None:
        for event in self.events:
            await apublish(event)
        for room, items in self.rooms.items():
            await apublish(DraftDelta(room, tuple(items), sent_at=time.time()))


class Sink:
    """Where a job's text goes. The worker calls ``started`` once the job has a slot,
    ``delta`` at each flush that has new text, ``finish`` once it has ended; and, every
    so often, the class hooks over all running jobs of that sink (``save_progress``,
    ``heartbeat``). ``snapshot`` answers a page's catch-up."""

    async def started(self, job: Job) -> None:
        pass

    def delta(self, job: Job, text: str, out: Outbox) -> None:
        raise NotImplementedError

    async def finish(self, job: Job) -> None:
        raise NotImplementedError

    def snapshot(self, job: Job, room: str, reply_to: str) -> DraftSnapshot | None:
        return None

    @classmethod
    async def save_progress(cls, jobs: list[Job]) -> None:
        pass

    @classmethod
    async def heartbeat(cls, jobs: list[Job]) -> list[Job]:
        """Say the jobs are alive; return those whose cancel was asked meanwhile."""
        return []


@dataclass(frozen=True)
class DraftSink(Sink):
    """A draft: streamed to its room (``Passage.room``), saved to its Passage row."""

    passage_id: int
    room: str

    def delta(self, job: Job, text: str, out: Outbox) -> None:
        out.room(self.room, DeltaItem(self.passage_id, job.seq, text))

    async def finish(self, job: Job) -> None:
        # Records the end and tells the room (draft.final) after commit.
        reason, error = job.outcome()
        await database_sync_to_async(drafts.passage_finish)(
            passage_id=self.passage_id,
            text=job.sent_text,
            seq=job.seq,
            tokens=job.tokens,
            reason=reason,
            error=error,
            first_token_at=job.first_token_at,
            sent=getattr(job.result, "sent", None),
        )

    def snapshot(self, job: Job, room: str, reply_to: str) -> DraftSnapshot | None:
        if self.room != room:
            return None
        return DraftSnapshot(reply_to, self.passage_id, job.seq, job.sent_text)

    @classmethod
    async def save_progress(cls, jobs: list[Job]) -> None:
        await database_sync_to_async(drafts.passage_progress)(
            items=[
                {
                    "id": job.sink.passage_id,
                    "text": job.sent_text,
                    "seq": job.seq,
                    "tokens": job.tokens,
                    "first_token_at": job.first_token_at,
                }
                for job in jobs
            ]
        )

    @classmethod
    async def heartbeat(cls, jobs: list[Job]) -> list[Job]:
        cancelled = set(
            await database_sync_to_async(drafts.passage_heartbeat)(
                passage_ids=[job.sink.passage_id for job in jobs]
            )
        )
        return [job for job in jobs if job.sink.passage_id in cancelled]


@dataclass(frozen=True)
class ApiSink(Sink):
    """An API completion: streamed to the HTTP view's reply channel (``api.*``)."""

    request_id: str
    reply_to: str

    async def started(self, job: Job) -> None:
        # The view stops counting it as waiting in the queue.
        await apublish(ApiStarted(self.reply_to))

    def delta(self, job: Job, text: str, out: Outbox) -> None:
        out.add(ApiDelta(self.reply_to, text))

    async def finish(self, job: Job) -> None:
        reason, error = job.outcome()
        prompt_tokens = getattr(job.result, "prompt_tokens", None) or 0
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": job.tokens,
            "total_tokens": prompt_tokens + job.tokens,
        }
        await apublish(ApiDone(self.reply_to, reason, error, usage))


def _jobs_by_sink(jobs) -> dict[type[Sink], list[Job]]:
    grouped: dict[type[Sink], list[Job]] = {}
    for job in jobs:
        grouped.setdefault(type(job.sink), []).append(job)
    return grouped


def _decode(message: dict, kinds: dict[str, type[Event]]) -> Event | None:
    """The event a worker's channel received; None (logged) if it is not one it reads."""
    cls = kinds.get(message.get("type"))
    if cls is None:
        log.warning("Generation worker: ignored a message of type %r", message.get("type"))
        return None
    try:
        return cls.from_message(message)
    except EventError as exc:
        log.warning("Generation worker: ignored a malformed message: %s", exc)
        return None


class LoadedBackend:
    """A backend with the model version it serves and how many streams use it.
    ``house``: our engine's model (its tokenizer fits prompts to its budget), or a model
    record's backend (it tokenizes for itself; nothing is cut)."""

    def __init__(self, version, backend, house: bool = True):
        self.version, self.backend, self.house = version, backend, house
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

    @property
    def tokenizer(self):
        """The tokenizer drafts' prompts are fitted with (``prompts.prompt_for``): our
        engine's; None for a backend that tokenizes for itself (nothing is cut)."""
        if not (self.house and _uses_versions()):
            return None
        return getattr(self.backend, "tokenizer", None)

    @property
    def block_size(self) -> int | None:
        return getattr(
            getattr(getattr(self.backend, "model", None), "cfg", None), "block_size", None
        )


def _device() -> str:
    wanted = settings.COWRITE_GENERATION_DEVICE
    if wanted != "auto":
        return wanted
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _uses_versions() -> bool:
    """Say whether the configured backend serves our own model versions (local engine)."""
    return settings.COWRITE_GENERATION_BACKEND.endswith(".local.LocalBackend")


def load_house_backend(version):
    """The backend that serves a house version (also the blind comparisons' drafts)."""
    options = dict(settings.COWRITE_GENERATION_BACKEND_OPTIONS)
    if _uses_versions():
        options.update(
            model_dir=str(version.path),
            device=_device(),
            max_batch=settings.COWRITE_GENERATION_MAX_BATCH,
        )
    return get_backend(settings.COWRITE_GENERATION_BACKEND, **options)


def _active_version():
    return services.active_version()


class Pool:
    """A model record's slots on this worker (``endpoints.py``): its own backend and its
    own ``max_streams``, so a slow or unreachable model only holds its own drafts. A
    backend that could not be built (``error``) fails the drafts it is given, with the
    reason, and is tried again after ``RETRY_SECONDS``."""

    RETRY_SECONDS = 30.0

    def __init__(self, endpoint_id: int, name: str, max_streams: int, stamp):
        self.endpoint_id, self.name = endpoint_id, name
        self.max_streams, self.stamp = max_streams, stamp
        self.loaded: LoadedBackend | None = None
        self.error = ""
        self.loaded_at = 0.0
        self.admitting = 0


def _endpoint_row(endpoint_id: int) -> dict | None:
    return (
        ModelEndpoint.objects.filter(pk=endpoint_id)
        .values("name", "enabled", "max_streams", "updated_at")
        .first()
    )


def _endpoint_backend(endpoint_id: int):
    return endpoints.endpoint_backend(ModelEndpoint.objects.get(pk=endpoint_id))


def _queued() -> list[tuple[int, int | None]]:
    """The oldest queued passages (and the model record each waits for, if any)."""
    return list(
        Passage.objects.filter(status=PassageStatus.QUEUED, cancel_requested=False)
        .order_by("queued_at", "pk")
        .values_list("pk", "endpoint_id")[:SWEEP_BATCH]
    )


SWEEP_BATCH = 64
_UNKNOWN = object()


class GenerationWorker:
    # What the worker reads: the shared queue, and its control channel (every worker).
    QUEUE_EVENTS = {e.type: e for e in (Generate, GenerateApi)}
    CONTROL_EVENTS = {e.type: e for e in (CancelJob, GenerationCatchup)}

    def __init__(self, name: str | None = None, max_streams: int | None = None):
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.max_streams = max_streams or settings.COWRITE_GENERATION_MAX_BATCH
        self.jobs: dict[JobKey, Job] = {}  # running, drafts and API completions alike
        self.admitting = 0  # jobs being started (a claim in flight): their slots are taken
        self.waiting: deque[GenerateApi] = deque()  # API requests waiting for a slot
        # Jobs cancelled (by key), with when: one whose cancel overtook its request on the
        # queue, or that waits for a slot, never starts.
        self.cancelled: dict[JobKey, float] = {}
        self.current: LoadedBackend | None = None
        self.retiring: list[LoadedBackend] = []
        self.pools: dict[int, Pool] = {}  # model records' slots, by record id
        self.layer = get_channel_layer()  # the queue and control messages
        self.control_channel: str | None = None
        self.stopping = asyncio.Event()
        self.last_progress_save = 0.0
        self.wakeup = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Serve until ``stop()``; the jobs in flight end as failed if it is killed."""
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
            for job in self.jobs.values():
                job.cancel.set()
            pooled = [p.loaded for p in self.pools.values()]
            for loaded in [self.current, *self.retiring, *pooled]:
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
            request = _decode(await self.layer.receive(events.GENERATION_QUEUE), self.QUEUE_EVENTS)
            if isinstance(request, Generate):
                await self._admit_passage(request.passage)
            elif isinstance(request, GenerateApi):
                self.waiting.append(request)
                await self._start_waiting()

    def _running(self, pool: int | None) -> int:
        return sum(1 for job in self.jobs.values() if job.pool == pool)

    @property
    def free_slots(self) -> int:
        """The capacity rule of the house model: its drafts and API completions share
        ``max_streams`` slots (none before a model is loaded); a job being started holds
        its slot. A model record's drafts use that record's own slots (``Pool``)."""
        if self.current is None:
            return 0
        return self.max_streams - self._running(None) - self.admitting

    async def _pool(self, endpoint_id: int) -> Pool:
        """The slots of a model record, (re)built when the record changed or its backend
        failed a while ago."""
        row = await database_sync_to_async(_endpoint_row)(endpoint_id)
        pool = self.pools.get(endpoint_id)
        fresh = (
            pool is not None
            and row is not None
            and pool.stamp == row["updated_at"]
            and not (pool.error and time.monotonic() - pool.loaded_at > Pool.RETRY_SECONDS)
        )
        if fresh:
            return pool
        if pool is not None and pool.loaded is not None:
            self.retiring.append(pool.loaded)  # finishes its streams, then closes
        if row is None:
            pool = Pool(endpoint_id, "", 1, None)
            pool.error = "The model this draft was asked of has been deleted."
        else:
            pool = Pool(endpoint_id, row["name"], row["max_streams"], row["updated_at"])
            if not row["enabled"]:
                pool.error = f"{row['name']} was switched off by staff before this draft started."
            else:
                try:
                    backend = await asyncio.to_thread(_endpoint_backend, endpoint_id)
                    pool.loaded = LoadedBackend(None, backend, house=False)
                except Exception as exc:  # said on the drafts' cards
                    log.warning("Could not load model %s: %s", row["name"], exc)
                    pool.error = f"Could not load {row['name']}: {exc}"[:1000]
        pool.loaded_at = time.monotonic()
        self.pools[endpoint_id] = pool
        return pool

    async def _admit(self, key: JobKey, open_job, pool_id: int | None = None) -> bool:
        """Start a job if a slot is free: the worker's one capacity check, for every path
        (doorbell, sweep, waiting API requests). ``open_job(loaded)`` makes the job, or
        None when it is not to run (a passage taken by another worker or cancelled);
        ``pool_id``: the model record whose slots it takes (None: the house model's).
        Return False only when there was no slot (the caller keeps the request waiting)."""
        if key in self.jobs or key in self.cancelled:
            return True  # running already, or cancelled: nothing to wait for
        pool = None
        if pool_id is None:
            if self.free_slots <= 0:
                return False
            loaded = self.current
        else:
            pool = await self._pool(pool_id)
            if pool.max_streams - self._running(pool_id) - pool.admitting <= 0:
                return False
            loaded = pool.loaded  # None: its drafts fail with pool.error
        if pool is None:
            self.admitting += 1
        else:
            pool.admitting += 1
        try:
            job = await open_job(loaded) if pool is None else await open_job(loaded, pool)
        finally:
            if pool is None:
                self.admitting -= 1
            else:
                pool.admitting -= 1
        if job is None:
            return True
        job.pool = pool_id
        self.jobs[key] = job
        if key in self.cancelled:  # cancelled while it was being claimed
            job.cancel.set()
        try:
            await job.sink.started(job)
        except BaseException:
            self.jobs.pop(key, None)  # never started: its slot is free again
            raise
        if not job.done:  # (one that failed to open ends at the next flush)
            self._spawn(loaded, job)
        return True

    async def _admit_passage(self, passage_id: int, endpoint_id=_UNKNOWN) -> bool:
        """Start a queued passage on the model that is to write it (the house model, or
        the model record the project picked)."""
        if endpoint_id is _UNKNOWN:
            endpoint_id = await database_sync_to_async(
                lambda: (
                    Passage.objects.filter(pk=passage_id)
                    .values_list("endpoint_id", flat=True)
                    .first()
                )
            )()

        async def claim(loaded: LoadedBackend | None, pool: Pool | None = None) -> Job | None:
            return await database_sync_to_async(self._claim)(passage_id, loaded, pool)

        # A passage with no free slot stays queued in the database: the sweep takes it.
        return await self._admit(("passage", passage_id), claim, endpoint_id)

    def _claim(
        self, passage_id: int, loaded: LoadedBackend | None, pool: Pool | None = None
    ) -> Job | None:
        """Claim a queued passage and build its prompt for the model that will run it."""
        passage = drafts.passage_claim(
            passage_id=passage_id,
            worker=self.name,
            version_id=loaded.version_id if loaded is not None and pool is None else None,
        )
        if passage is None:
            return None
        job = Job(
            ("passage", passage.pk),
            DraftSink(passage.pk, passage.room),
            prompt=Prompt(),
            sampling=passage.sampling,
        )
        if loaded is None:  # a model record whose backend could not be built
            job.error = pool.error if pool is not None else "No model is loaded."
            job.done = True
            return job
        if pool is None and (passage.model_record or {}).get("kind", "house") != "house":
            # Asked of a model record that was deleted since (``endpoint`` went NULL): it
            # is not quietly written by the house model instead.
            name = passage.model_record.get("name") or "another model"
            job.error = f"{name} was deleted before this draft started; ask again."
            job.done = True
            return job
        try:
            fitted = prompts.prompt_for(passage, loaded.tokenizer, loaded.block_size)
            job.prompt, job.prompt_ids = fitted.prompt, fitted.ids or None
        except Exception as exc:  # claimed: it ends as failed at the next flush
            log.exception("Could not build the prompt of passage %s", passage.pk)
            job.error, job.done = f"{type(exc).__name__}: {exc}", True
        return job

    async def _start_waiting(self) -> None:
        """Start waiting API requests while there are free slots (in arrival order);
        drop those whose view gave up (past their deadline: it answered 503) or that were
        cancelled."""
        while self.waiting:
            request = self.waiting.popleft()
            key = ("api", request.request)
            if request.deadline < time.time() or key in self.cancelled:
                continue
            if not await self._admit(key, functools.partial(self._api_job, request)):
                self.waiting.appendleft(request)
                return

    @staticmethod
    async def _api_job(request: GenerateApi, loaded: LoadedBackend) -> Job:
        return Job(
            ("api", request.request),
            ApiSink(request.request, request.reply_to),
            prompt=Prompt.from_dict(request.prompt),
            sampling=request.sampling,
        )

    async def _sweep(self) -> None:
        """Claim queued passages whose doorbell was missed (oldest first), each on its
        model's slots: a full model skips its own passages, not the others'."""
        full: set[int | None] = set()
        for pk, endpoint_id in await database_sync_to_async(_queued)():
            if endpoint_id in full:
                continue
            if not await self._admit_passage(pk, endpoint_id):
                full.add(endpoint_id)

    def _spawn(self, loaded: LoadedBackend, job: Job) -> None:
        loaded.use(+1)
        threading.Thread(
            target=self._generate, args=(loaded, job), daemon=True, name=job.request_id
        ).start()

    def _generate(self, loaded: LoadedBackend, job: Job) -> None:
        """Run one job on the backend (on its own thread; the backend batches them)."""

        def on_text(delta: str) -> None:
            delta = clean_generated(delta)
            with job.lock:
                if job.first_token_at is None:
                    job.first_token_at = datetime.now(UTC)
                job.pending.append(delta)
                job.tokens += 1

        try:
            request = GenerationRequest(
                prompt=job.prompt,
                params=SamplingParams.from_dict(job.sampling),
                request_id=job.request_id,
                prompt_ids=job.prompt_ids,
            )
            result = loaded.backend.generate(request, on_text=on_text, cancel=job.cancel)
            with job.lock:
                job.result = result
                if result.completion_tokens:
                    job.tokens = result.completion_tokens
        except Exception as exc:  # reported to the requester; the worker goes on
            log.exception("Generation %s failed", job.request_id)
            with job.lock:
                job.error = f"{type(exc).__name__}: {exc}"
        finally:
            with job.lock:
                job.done = True
            loaded.use(-1)

    # ------------------------------------------------------------------ streaming out
    async def _flush_loop(self) -> None:
        interval = settings.COWRITE_GENERATION_FLUSH_SECONDS
        while True:
            await asyncio.sleep(interval)
            await self.flush()

    async def flush(self) -> None:
        """Send every job's new text (one ``DraftDelta`` per scene), save drafts' progress
        every second, and finish the jobs that ended."""
        out, finished = Outbox(), []
        for job in list(self.jobs.values()):
            text, done = job.take()
            if text:
                job.seq += 1
                job.sent_text += text
                job.sink.delta(job, text, out)
            if done:
                finished.append(job)
        await out.send()
        now = time.monotonic()
        if now - self.last_progress_save > 1.0 and self.jobs:
            self.last_progress_save = now
            running = [job for job in self.jobs.values() if job not in finished]
            for sink, jobs in _jobs_by_sink(running).items():
                await sink.save_progress(jobs)
        for job in finished:
            await self._finish(job)

    async def _finish(self, job: Job) -> None:
        """End a job, whatever its kind: its sink records and reports the end, then its
        slot is free (and the housekeeping loop woken to fill it)."""
        try:
            await job.sink.finish(job)
        finally:
            self.jobs.pop(job.key, None)
            self.wakeup.set()

    # ------------------------------------------------------------------ control
    async def _control_loop(self) -> None:
        while True:
            event = _decode(await self.layer.receive(self.control_channel), self.CONTROL_EVENTS)
            if isinstance(event, CancelJob):
                self._cancel(event.job)
            elif isinstance(event, GenerationCatchup):
                await self._catch_up(event.room, event.reply_to)

    def _cancel(self, key: JobKey) -> None:
        """Stop a job (a passage cancelled by its requester or an owner; an API request
        whose client went away or gave up): its thread ends at the next token, freeing the
        slot; a job that has not started (waiting, or still on the queue) never starts."""
        now = time.monotonic()
        self.cancelled = {
            k: t for k, t in self.cancelled.items() if now - t < CANCEL_MEMORY_SECONDS
        }
        self.cancelled[key] = now
        job = self.jobs.get(key)
        if job is not None:
            job.cancel.set()

    async def _catch_up(self, room: str, reply_to: str) -> None:
        """Send a page that just (re)connected the text so far of its room's streams."""
        for job in list(self.jobs.values()):
            snapshot = job.sink.snapshot(job, room, reply_to)
            if snapshot is None:
                continue
            try:
                await apublish(snapshot)
            except ChannelFull:  # that page is flooded; it asks again when it sees a gap
                log.info("Catch-up for %s dropped: its queue is full", reply_to)
                return

    # ------------------------------------------------------------------ housekeeping
    async def _housekeeping_loop(self) -> None:
        last_beat = 0.0
        while True:
            with contextlib.suppress(TimeoutError):  # woken early when a job ends
                await asyncio.wait_for(self.wakeup.wait(), timeout=1.0)
            self.wakeup.clear()
            now = time.monotonic()
            if now - last_beat >= settings.COWRITE_GENERATION_HEARTBEAT_SECONDS and self.jobs:
                last_beat = now
                for sink, jobs in _jobs_by_sink(list(self.jobs.values())).items():
                    for job in await sink.heartbeat(jobs):
                        job.cancel.set()
            await self._switch_model_if_needed()
            await self._start_waiting()
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
                self.current = LoadedBackend(
                    None, await asyncio.to_thread(load_house_backend, None)
                )
            return
        version = await database_sync_to_async(_active_version)()
        if version is None or (self.current is not None and self.current.version_id == version.pk):
            return
        try:
            backend = await asyncio.to_thread(load_house_backend, version)
        except Exception:
            log.exception("Could not load model version %s", version.name)
            return
        if self.current is not None:
            self.retiring.append(self.current)  # finishes its streams, then closes
        self.current = LoadedBackend(version, backend)
        log.info("Worker %s now serves %s", self.name, version.name)
