"""Every channel-layer message of the project, as a typed event, and the one way to send it.

Each message is a frozen dataclass below. Its ``type`` is the Channels handler type (a
consumer handles ``draft.delta`` in ``draft_delta``); ``to_message()`` is the wire dict;
``from_message(dict)`` checks and coerces the fields (the receiver's first step); and
``route`` says where it goes: a group or a named channel, on which layer (``rooms`` for
live pages, ``default`` for the generation queue, the workers and the API's replies).
Events are sent by ``publish`` (sync code: after the current transaction commits, so
nobody hears of a row that then rolls back) or ``apublish`` (async code: now) — nothing
else sends to a channel layer.

Both hot paths (a token to the page: ``DraftDelta``; a keystroke to a peer:
``DocRelay``) run through here; their hops are listed once, in docs/ARCHITECTURE.md
("The two hot paths, hop by hop").

This module imports neither app (``scripts_app``, ``generation``): pyproject.toml's
import contracts check it.
"""

import asyncio
import math
import re
import threading
import uuid
from dataclasses import dataclass, field, fields
from types import NoneType, UnionType
from typing import Any, ClassVar, NamedTuple, Self, Union, get_args, get_origin, get_type_hints

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from pycrdt import create_update_message

from .origin import current_origin

# The channel layer of live pages (see settings.CHANNEL_LAYERS): co-editing relays, draft
# streams, cards and access notices go through it (fan-out); the generation queue, the
# workers' control messages and the API's replies use "default" (stored, each queue
# message to one reader).
ROOMS_LAYER = "rooms"
DEFAULT_LAYER = "default"

GENERATION_QUEUE = "generation.requests"  # a named channel: each message reaches one worker
GENERATION_WORKERS = "generation-workers"  # a group: every worker (cancel, catch-up)


def scene_doc_group(scene_id: int) -> str:
    """Name the group of every socket editing one scene's document."""
    return f"scene-{int(scene_id)}-doc"


def scene_room_group(scene_id: int) -> str:
    """Name the group of every page open on one scene (draft events)."""
    return f"scene-{int(scene_id)}-room"


def project_access_group(project_id: int) -> str:
    """Name the group of every live page of one project (told when access changes)."""
    return f"project-{int(project_id)}-access"


def story_room_group(project_id: int) -> str:
    """Name the group of every page open on one project's story layer (bible, board…)."""
    return f"project-{int(project_id)}-story"


def story_drafts_group(project_id: int) -> str:
    """Name the group of the pages that show a project's story proposals (the model's
    logline, characters, beats and briefs): the story page and the board."""
    return f"project-{int(project_id)}-story-drafts"


def new_event_id() -> str:
    """A fresh id for one room event: the sockets of one server process that receive the
    same event load what it names once, together (see ``consumers.SharedLoads``)."""
    return uuid.uuid4().hex


class EventError(ValueError):
    """A channel message that is not a well-formed event (missing or mistyped field)."""


class Route(NamedTuple):
    """Where an event goes: a group (fan-out) or a named channel, on one layer."""

    layer: str
    group: str | None = None
    channel: str | None = None


# --- field checks (from_message) ------------------------------------------------------------


def _int(value):
    # JSON and msgpack booleans are ints to Python: refused.
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"expected an integer, got {type(value).__name__}")
    return int(value)


def _float(value):
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EventError(f"expected a finite number, got {value!r}")
    return float(value)


def _of(kind):
    def check(value):
        if not isinstance(value, kind):
            raise EventError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


def _dict_of(check_value):
    def check(value):
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise EventError(f"expected an object with string keys, got {type(value).__name__}")
        if check_value is not None:
            for v in value.values():
                check_value(v)
        return value

    return check


class RoomName(str):
    """A draft room's group name, as the events carry it (``scene_room_group`` or
    ``story_drafts_group``): anything else in a message is refused."""


_ROOM_RE = re.compile(r"(?:scene-[0-9]{1,19}-room|project-[0-9]{1,19}-story-drafts)")


def _room(value):
    if not isinstance(value, str) or not _ROOM_RE.fullmatch(value):
        raise EventError(f"expected a draft room's name, got {value!r}"[:200])
    return value


_SCALARS = {
    int: _int,
    float: _float,
    str: _of(str),
    bytes: _of(bytes),
    bool: _of(bool),
    RoomName: _room,
}


def _checker(tp):
    """The check-and-coerce function for one field annotation."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, UnionType):
        options = [_checker(a) for a in args if a is not NoneType]
        optional = NoneType in args

        def check_union(value):
            if value is None and optional:
                return None
            for option in options:
                try:
                    return option(value)
                except EventError:
                    pass
            raise EventError(f"expected {tp}, got {type(value).__name__}")

        return check_union
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _checker(args[0])

            def check_seq(value):
                if not isinstance(value, list | tuple):
                    raise EventError(f"expected a list, got {type(value).__name__}")
                return tuple(item(v) for v in value)

            return check_seq
        items = [_checker(a) for a in args]

        def check_fixed(value):
            if not isinstance(value, list | tuple) or len(value) != len(items):
                raise EventError(f"expected a list of {len(items)}, got {value!r}")
            return tuple(check(v) for check, v in zip(items, value, strict=True))

        return check_fixed
    if tp is dict or origin is dict:
        return _dict_of(_checker(args[1]) if args and args[1] is not Any else None)
    if isinstance(tp, type) and hasattr(tp, "from_message"):

        def check_nested(value):
            if not isinstance(value, dict):
                raise EventError(f"expected an object, got {type(value).__name__}")
            return tp.from_message(value)

        return check_nested
    raise TypeError(f"no check for a field of type {tp!r}")


_SPECS: dict[type, tuple] = {}


def _spec(cls) -> tuple:
    """(name, check, may be missing) per field of an event class, made once."""
    spec = _SPECS.get(cls)
    if spec is None:
        hints = get_type_hints(cls)
        spec = tuple(
            (
                f.name,
                _checker(hints[f.name]),
                # A field that may be None may be left out of the message (older senders).
                NoneType in get_args(hints[f.name]),
            )
            for f in fields(cls)
        )
        _SPECS[cls] = spec
    return spec


def _decode(cls, message):
    if not isinstance(message, dict):
        raise EventError(f"{cls.__name__}: not a message: {type(message).__name__}")
    values = {}
    for name, check, optional in _spec(cls):
        if name in message:
            try:
                values[name] = check(message[name])
            except EventError as exc:
                raise EventError(f"{cls.__name__}.{name}: {exc}") from None
        elif optional:
            values[name] = None
        else:
            raise EventError(f"{cls.__name__}: missing {name!r}")
    return cls(**values)


# --- events ---------------------------------------------------------------------------------


class Event:
    """Base of every channel message: a frozen dataclass with a handler ``type``."""

    __slots__ = ()
    type: ClassVar[str]  # the Channels handler type: "draft.delta" -> draft_delta()
    layer: ClassVar[str]  # the channel layer alias it travels on

    @property
    def route(self) -> Route:
        """Where it goes; by default the reply channel in its ``to`` field (snapshots, the
        API's replies). Events for a group or a shared channel say so themselves."""
        return Route(self.layer, channel=self.to)

    def to_message(self) -> dict:
        """The wire dict: ``type`` plus every field under its own name (no deep copy)."""
        message = {"type": self.type}
        for name in self.__slots__:
            message[name] = getattr(self, name)
        return message

    @classmethod
    def from_message(cls, message: dict) -> Self:
        """Decode and check a received message; raise ``EventError`` if it is malformed."""
        return _decode(cls, message)


# --- co-editing (rooms layer) ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DocRelay(Event):
    """A y-protocol frame for a scene's editors (an update or presence): to the scene's
    document group, or to one socket (``to``: an answer to ``AwarenessQuery``).

    ``sender``: the socket it came from (which skips it), None if the server made it.
    ``update``: a document update (peers apply it to their mirror), not presence.
    """

    type: ClassVar[str] = "doc.relay"
    layer: ClassVar[str] = ROOMS_LAYER
    scene: int
    data: bytes
    sender: str | None
    update: bool
    to: str | None = None

    @classmethod
    def server_update(cls, scene_id: int, update: bytes) -> "DocRelay":
        """A document update the server made (not a socket): every editor receives it."""
        return cls(int(scene_id), create_update_message(update), None, True)

    @property
    def route(self) -> Route:
        if self.to is not None:
            return Route(self.layer, channel=self.to)
        return Route(self.layer, group=scene_doc_group(self.scene))

    # Hand-written: one per keystroke, decoded by every peer socket.
    def to_message(self) -> dict:
        return {
            "type": "doc.relay",
            "scene": self.scene,
            "data": self.data,
            "sender": self.sender,
            "update": self.update,
            "to": self.to,
        }

    @classmethod
    def from_message(cls, message: dict) -> "DocRelay":
        try:
            scene, data, sender, update = (
                message["scene"],
                message["data"],
                message["sender"],
                message["update"],
            )
        except (KeyError, TypeError):
            raise EventError(f"DocRelay: malformed message {message!r:.200}") from None
        to = message.get("to")
        if (
            type(scene) is not int
            or type(data) is not bytes
            or not (sender is None or type(sender) is str)
            or type(update) is not bool
            or not (to is None or type(to) is str)
        ):
            raise EventError("DocRelay: a field has the wrong type")
        return cls(scene, data, sender, update, to)


@dataclass(frozen=True, slots=True)
class AwarenessQuery(Event):
    """A socket just joined a scene's document: every other socket sends it its latest
    presence frame (a ``DocRelay`` to ``reply_to``)."""

    type: ClassVar[str] = "awareness.query"
    layer: ClassVar[str] = ROOMS_LAYER
    scene: int
    reply_to: str

    @property
    def route(self) -> Route:
        return Route(self.layer, group=scene_doc_group(self.scene))


@dataclass(frozen=True, slots=True)
class AccessChanged(Event):
    """A member's role changed or they were removed (``user``), or scenes or the project
    went away (``user`` None: everyone): the project's sockets re-check access at once
    instead of at their next periodic check."""

    type: ClassVar[str] = "access.changed"
    layer: ClassVar[str] = ROOMS_LAYER
    project: int
    user: int | None = None

    @property
    def route(self) -> Route:
        return Route(self.layer, group=project_access_group(self.project))


@dataclass(frozen=True, slots=True)
class HistoryChanged(Event):
    """A scene's history gained a revision (a save, an autosave, an accepted draft, a
    restore): every page on the scene reloads its history list."""

    type: ClassVar[str] = "history.changed"
    layer: ClassVar[str] = ROOMS_LAYER
    scene: int

    @property
    def route(self) -> Route:
        return Route(self.layer, group=scene_room_group(self.scene))


@dataclass(frozen=True, slots=True)
class NotesChanged(Event):
    """A scene's notes on the text changed (a note made, replied to, edited, resolved,
    reopened or deleted): every page on the scene reloads its notes list."""

    type: ClassVar[str] = "notes.changed"
    layer: ClassVar[str] = ROOMS_LAYER
    scene: int

    @property
    def route(self) -> Route:
        return Route(self.layer, group=scene_room_group(self.scene))


@dataclass(frozen=True, slots=True)
class StoryChanged(Event):
    """Something of a project's story layer changed: ``part`` names what ("bible",
    "characters", "plotlines", "board", "beat"; "script": scenes added, removed, moved or
    renamed, for the whole-script view), ``item`` which one (a beat's id; 0 for
    the part as a whole). Every story page of the project is told; each page re-fetches
    the fragments that show that part (``static/js/story.js``); the page that made the
    change skips the fragment its own answer already replaced (``origin``)."""

    type: ClassVar[str] = "story.changed"
    layer: ClassVar[str] = ROOMS_LAYER
    project: int
    part: str
    item: int = 0
    # The page whose request made the change (``cowrite.origin``), taken from the request
    # being served when the event is made; None from workers, tasks and other pages.
    origin: str | None = field(default_factory=current_origin)

    @property
    def route(self) -> Route:
        return Route(self.layer, group=story_room_group(self.project))


# --- draft rooms (rooms layer) ---------------------------------------------------------------
# A draft's events go to its *room*: the group of the pages that show it (a scene draft:
# ``scene_room_group``; a story proposal: ``story_drafts_group``), named by the passage
# (``Passage.room``).


@dataclass(frozen=True, slots=True)
class DraftCreated(Event):
    """A draft request (all its alternatives) was queued. ``html``: its cards, rendered
    for editors and for others (``drafts.group_html``); ``group``: the request's id."""

    type: ClassVar[str] = "draft.created"
    layer: ClassVar[str] = ROOMS_LAYER
    room: RoomName
    group: str
    html: dict[str, str]
    event: str | None = field(default_factory=new_event_id)

    @property
    def route(self) -> Route:
        return Route(self.layer, group=self.room)

    @classmethod
    def from_message(cls, message: dict) -> "DraftCreated":
        event = _decode(cls, message)
        if not {"editor", "other"} <= event.html.keys():
            raise EventError("DraftCreated.html: needs 'editor' and 'other'")
        return event


@dataclass(frozen=True, slots=True)
class DraftStatus(Event):
    """A passage started streaming: pages swap just its card's header, rendered from
    ``head`` (``drafts.head_of``)."""

    type: ClassVar[str] = "draft.status"
    layer: ClassVar[str] = ROOMS_LAYER
    room: RoomName
    passage: int
    head: dict
    event: str | None = field(default_factory=new_event_id)

    @property
    def route(self) -> Route:
        return Route(self.layer, group=self.room)


@dataclass(frozen=True, slots=True)
class DraftFinal(Event):
    """A passage ended (done, cancelled, failed) or was accepted: re-render its card."""

    type: ClassVar[str] = "draft.final"
    layer: ClassVar[str] = ROOMS_LAYER
    room: RoomName
    passage: int
    event: str | None = field(default_factory=new_event_id)

    @property
    def route(self) -> Route:
        return Route(self.layer, group=self.room)


@dataclass(frozen=True, slots=True)
class FeedbackChanged(Event):
    """Feedback on these passages changed: re-render their cards."""

    type: ClassVar[str] = "feedback.changed"
    layer: ClassVar[str] = ROOMS_LAYER
    room: RoomName
    passages: tuple[int, ...]
    event: str | None = field(default_factory=new_event_id)

    @property
    def route(self) -> Route:
        return Route(self.layer, group=self.room)


@dataclass(frozen=True, slots=True)
class DeltaItem:
    """One passage's new text in a ``DraftDelta``, numbered (``seq``) so a page can spot
    a gap and ask for a catch-up."""

    passage: int
    seq: int
    text: str

    @classmethod
    def from_message(cls, item: dict) -> "DeltaItem":
        passage, seq, text = item.get("passage"), item.get("seq"), item.get("text")
        if type(passage) is not int or type(seq) is not int or type(text) is not str:
            raise EventError("DeltaItem: passage and seq must be integers, text a string")
        return cls(passage, seq, text)


@dataclass(frozen=True, slots=True)
class DraftDelta(Event):
    """One flush of the worker: the new text of a scene's streaming passages.
    ``sent_at``: when the worker sent it (seconds since the epoch), for latency figures."""

    type: ClassVar[str] = "draft.delta"
    layer: ClassVar[str] = ROOMS_LAYER
    room: RoomName
    items: tuple[DeltaItem, ...]
    sent_at: float

    @property
    def route(self) -> Route:
        return Route(self.layer, group=self.room)

    # Hand-written: the token stream.
    def to_message(self) -> dict:
        return {
            "type": "draft.delta",
            "room": self.room,
            "items": [{"passage": i.passage, "seq": i.seq, "text": i.text} for i in self.items],
            "sent_at": self.sent_at,
        }

    @classmethod
    def from_message(cls, message: dict) -> "DraftDelta":
        if not isinstance(message, dict):
            raise EventError(f"DraftDelta: not a message: {type(message).__name__}")
        room, items = message.get("room"), message.get("items")
        if not isinstance(items, list | tuple):
            raise EventError("DraftDelta: items must be a list")
        room = _room(room)
        if not all(isinstance(i, dict) for i in items):
            raise EventError("DraftDelta: each item must be an object")
        return cls(
            room,
            tuple(DeltaItem.from_message(i) for i in items),
            _float(message.get("sent_at")),
        )


@dataclass(frozen=True, slots=True)
class DraftSnapshot(Event):
    """A streaming passage's text so far, to one page that just (re)connected (``to``:
    its socket's channel on the rooms layer)."""

    type: ClassVar[str] = "draft.snapshot"
    layer: ClassVar[str] = ROOMS_LAYER
    to: str
    passage: int
    seq: int
    text: str


# --- the generation workers (default layer) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Generate(Event):
    """The doorbell of a queued passage (the database is the queue of record)."""

    type: ClassVar[str] = "generate"
    layer: ClassVar[str] = DEFAULT_LAYER
    passage: int

    @property
    def route(self) -> Route:
        return Route(self.layer, channel=GENERATION_QUEUE)


@dataclass(frozen=True, slots=True)
class GenerateApi(Event):
    """An API completion for a worker: replies go to ``reply_to``; a worker that takes it
    after ``deadline`` (seconds since the epoch: the view answered 503) drops it."""

    type: ClassVar[str] = "generate_api"
    layer: ClassVar[str] = DEFAULT_LAYER
    request: str
    reply_to: str
    deadline: float
    prompt: dict  # generation.core.prompting.Prompt.as_dict()
    sampling: dict  # generation.core.params.SamplingParams.as_dict()

    @property
    def route(self) -> Route:
        return Route(self.layer, channel=GENERATION_QUEUE)


JOB_KINDS = ("passage", "api")


@dataclass(frozen=True, slots=True)
class CancelJob(Event):
    """Stop a job, on whichever worker runs it, or drop it if it has not started:
    ``("passage", passage_id)`` or ``("api", request_id)``."""

    type: ClassVar[str] = "generation.cancel"
    layer: ClassVar[str] = DEFAULT_LAYER
    job: tuple[str, int | str]

    def __post_init__(self):
        kind, key = self.job
        if kind not in JOB_KINDS or not isinstance(key, int if kind == "passage" else str):
            raise EventError(f"CancelJob: not a job key: {self.job!r}")

    @property
    def route(self) -> Route:
        return Route(self.layer, group=GENERATION_WORKERS)


@dataclass(frozen=True, slots=True)
class GenerationCatchup(Event):
    """A page of a room (re)connected: the workers send it (``reply_to``, a channel of
    the rooms layer) a ``DraftSnapshot`` of each passage of that room they stream."""

    type: ClassVar[str] = "generation.catchup"
    layer: ClassVar[str] = DEFAULT_LAYER
    room: RoomName
    reply_to: str

    @property
    def route(self) -> Route:
        return Route(self.layer, group=GENERATION_WORKERS)


# --- API replies: worker -> the HTTP view's channel (default layer) ------------------------


@dataclass(frozen=True, slots=True)
class ApiStarted(Event):
    """A worker started the request: it no longer waits in the queue."""

    type: ClassVar[str] = "api.started"
    layer: ClassVar[str] = DEFAULT_LAYER
    to: str


@dataclass(frozen=True, slots=True)
class ApiDelta(Event):
    """The request's new text since the last flush."""

    type: ClassVar[str] = "api.delta"
    layer: ClassVar[str] = DEFAULT_LAYER
    to: str
    text: str


@dataclass(frozen=True, slots=True)
class ApiDone(Event):
    """The request ended: why (``finish_reason``), a failure's message (``error``, "" if
    none) and the token counts (OpenAI's ``usage``)."""

    type: ClassVar[str] = "api.done"
    layer: ClassVar[str] = DEFAULT_LAYER
    to: str
    finish_reason: str
    error: str
    usage: dict[str, int]


# Every event class by its type (each type is one class).
EVENTS: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        DocRelay,
        AwarenessQuery,
        AccessChanged,
        DraftCreated,
        DraftStatus,
        DraftFinal,
        FeedbackChanged,
        DraftDelta,
        DraftSnapshot,
        Generate,
        GenerateApi,
        CancelJob,
        GenerationCatchup,
        ApiStarted,
        ApiDelta,
        ApiDone,
    )
}


# --- sending --------------------------------------------------------------------------------


async def apublish(event: Event) -> None:
    """Send an event now, to its route (async code: consumers, the worker, the API view).

    A direct send to a full channel raises ``ChannelFull`` (a group send drops silently).
    """
    route = event.route
    layer = get_channel_layer(route.layer)
    if route.group is not None:
        await layer.group_send(route.group, event.to_message())
    else:
        await layer.send(route.channel, event.to_message())


def _send(event: Event) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(apublish)(event)
        return
    # Sync code on a thread that runs an event loop (a script or test driving Playwright's
    # sync API, say): async_to_sync refuses there, so send from a helper thread.
    sender = threading.Thread(target=async_to_sync(apublish), args=(event,))
    sender.start()
    sender.join()


def publish(event: Event, *, after_commit: bool = True) -> None:
    """Send an event from sync code: once the current transaction commits (the default;
    at once outside one), or now (``after_commit=False``)."""
    if after_commit:
        transaction.on_commit(lambda: _send(event))
    else:
        _send(event)
