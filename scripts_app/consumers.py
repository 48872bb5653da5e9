"""The co-editing websocket: the Yjs sync protocol over Channels, with pycrdt.

Frames are ``[message type, sync type, var-length payload]`` (y-protocols). This consumer
differs from pycrdt-websocket's ``YjsConsumer`` on purpose (see STACK_NOTES):

- a client's SYNC_STEP1 is answered to that client only, from the document as stored in
  the database (snapshot + log), so a socket that missed a relay heals on its next resync;
- an update is accepted only from an editor (role re-checked on every update), validated
  by applying it to this socket's mirror of the document, appended to the update log,
  and only then relayed to the scene's group, once, skipping the socket it came from;
- awareness (cursors, presence) is relayed but never stored; when a socket closes, the
  awareness clients it carried are announced gone so cursors disappear at once.

Close codes (sent after ``accept()`` so y-websocket sees a reason, not a failed
handshake): 4401 not logged in, 4404 no such scene for this user, 4403 membership lost,
4400 malformed frame, 4413 frame or document too large.
"""

import asyncio
import json
import logging
import time
import weakref
from html import escape

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from pycrdt import (
    Decoder,
    Doc,
    Text,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    read_message,
    write_message,
    write_var_uint,
)

from generation.models import ModelVersion

from . import documents, events, feedback
from . import drafts as drafts_service
from .events import scene_doc_group
from .models import Membership, Passage, Role, Scene, SceneUpdate

log = logging.getLogger(__name__)

# What a malformed frame raises inside pycrdt's decoders and apply_update.
MALFORMED = (ValueError, RuntimeError, IndexError, AssertionError, UnicodeDecodeError)
# The encoding of an update with no insertions and no deletions.
EMPTY_UPDATE = b"\x00\x00"

# How long an outbound relay trusts the last role check (inbound edits check every time).
ROLE_RECHECK_SECONDS = 2.0
# The same for the scene room, whose sockets are also told at once when access changes
# (``events.access_changed``): this is only the safety net for a lost notice.
ROOM_ROLE_RECHECK_SECONDS = 10.0


def _role_for(user_id: int, project_id: int, scene_id: int) -> Role | None:
    """Return the user's role in the project if the scene belongs to it (one query)."""
    role = (
        Membership.objects.filter(
            project_id=project_id, user_id=user_id, project__scenes__id=scene_id
        )
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def _accept_updates(batch: list[tuple[int, int, int, bytes]]) -> list[Role | None]:
    """Re-check each sender's role and log the editors' updates, in one transaction.

    ``batch`` holds (user_id, project_id, scene_id, update); return each sender's role
    (None: not a member, or the scene is not in that project). Three queries whatever
    the batch size.
    """
    scene_ids = {scene_id for _, _, scene_id, _ in batch}
    scene_project = dict(Scene.objects.filter(pk__in=scene_ids).values_list("pk", "project_id"))
    roles = {
        (user_id, project_id): Role(role)
        for user_id, project_id, role in Membership.objects.filter(
            user_id__in={u for u, _, _, _ in batch}, project_id__in=set(scene_project.values())
        ).values_list("user_id", "project_id", "role")
    }
    results, rows = [], []
    for user_id, project_id, scene_id, data in batch:
        role = (
            roles.get((user_id, project_id)) if scene_project.get(scene_id) == project_id else None
        )
        results.append(role)
        if role is not None and role.at_least(Role.EDITOR):
            rows.append(SceneUpdate(scene_id=scene_id, data=data, user_id=user_id))
    with transaction.atomic():
        SceneUpdate.objects.bulk_create(rows)
    return results


class UpdateLogWriter:
    """Writes the updates that this process's sockets accept, in batches.

    Each update still counts as saved only once its row is committed (the socket awaits
    that before relaying it), but the updates that arrive while one batch is being written
    go together in the next: one thread hop and three queries for many keystrokes, so a
    burst of typing by many editors does not queue up behind one write each. There is no
    timer: a lone keystroke is written at once.
    """

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def for_running_loop(cls) -> "UpdateLogWriter":
        loop = asyncio.get_running_loop()
        writer = cls._by_loop.get(loop)
        if writer is None:
            writer = cls._by_loop[loop] = cls()
        return writer

    def __init__(self):
        self.pending: list[tuple[tuple, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def append(
        self, user_id: int, project_id: int, scene_id: int, data: bytes
    ) -> Role | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append(((user_id, project_id, scene_id, data), future))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending, []
            try:
                roles = await database_sync_to_async(_accept_updates)([item for item, _ in batch])
            except Exception as exc:  # the database is unreachable: every sender hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), role in zip(batch, roles, strict=True):
                if not future.done():
                    future.set_result(role)


def _awareness_removal(client_ids: dict[int, int]) -> bytes:
    """Build an awareness update that marks these clients gone (state ``null``)."""
    body = write_var_uint(len(client_ids))
    for client_id, clock in client_ids.items():
        body += write_var_uint(client_id) + write_var_uint(clock + 1) + write_message(b"null")
    return bytes([YMessageType.AWARENESS]) + write_message(body)


class LightDispatchMixin:
    """Skip Channels' per-message database housekeeping for relay events.

    Channels (4.2+) runs ``close_old_connections`` on the database thread before *every*
    handler. That thread is one per process, shared by every socket's queries, so each
    relayed keystroke or token first queues behind whatever query is running (a card
    load, a draft request): measured, that hop was most of the drafts fan-out latency.
    The handlers of ``light_types`` touch the database only through
    ``database_sync_to_async``, which closes old connections itself, so they go straight
    to the handler.
    """

    light_types: frozenset[str] = frozenset()

    async def dispatch(self, message):
        if message["type"] in self.light_types:
            handler = getattr(self, get_handler_name(message), None)
            if handler is not None:
                await handler(message)
                return
        await super().dispatch(message)


class SceneDocConsumer(LightDispatchMixin, AsyncWebsocketConsumer):
    """One socket of one collaborator on one scene's live document."""

    light_types = frozenset({"doc.relay", "awareness.query"})
    channel_layer_alias = events.ROOMS_LAYER  # fan-out to the scene's sockets: pub/sub

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.project_id, self.scene_id = int(kwargs["project_id"]), int(kwargs["scene_id"])
        self.group = scene_doc_group(self.scene_id)
        self.mirror: Doc | None = None
        self.awareness_clients: dict[int, int] = {}
        self.last_awareness: bytes | None = None  # this socket's latest presence frame
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user_id = user.pk
        self.role = await database_sync_to_async(_role_for)(
            self.user_id, self.project_id, self.scene_id
        )
        self.role_checked = time.monotonic()
        if self.role is None:
            await self.close(code=4404)
            return
        # Join the group before loading, so no update falls between the load and the
        # first relay (a duplicate is harmless: updates are idempotent).
        await self.channel_layer.group_add(self.group, self.channel_name)
        state = await database_sync_to_async(documents.load_state)(self.scene_id)
        self.mirror = Doc()
        self.mirror.apply_update(state)
        # Ask the client for what it has that the server lacks (edits made offline).
        await self.send(bytes_data=create_sync_message(self.mirror))
        # Ask the other sockets for their presence, so the newcomer sees who is here now
        # rather than at their next renewal (up to 15 s later).
        await self.channel_layer.group_send(
            self.group, {"type": "awareness.query", "reply_to": self.channel_name}
        )

    async def disconnect(self, code):
        if self.mirror is None:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.awareness_clients:
            await self.channel_layer.group_send(
                self.group,
                {
                    "type": "doc.relay",
                    "data": _awareness_removal(self.awareness_clients),
                    "sender": self.channel_name,
                    "update": False,
                },
            )

    async def receive(self, text_data=None, bytes_data=None):
        if self.mirror is None:
            return
        if not bytes_data or len(bytes_data) < 2:
            await self.close(code=4400)
            return
        if len(bytes_data) > settings.COWRITE_DOC_MESSAGE_MAX_BYTES:
            await self.close(code=4413)
            return
        kind = bytes_data[0]
        try:
            if kind == YMessageType.SYNC:
                await self._on_sync(bytes_data)
            elif kind == YMessageType.AWARENESS:
                await self._on_awareness(bytes_data)
            # Other message types (auth, query-awareness) are ignored, as y-websocket does.
        except MALFORMED:
            log.warning("Malformed frame on scene %s from user %s", self.scene_id, self.user_id)
            await self.close(code=4400)

    async def _on_sync(self, frame: bytes) -> None:
        sync_type, payload = frame[1], read_message(frame[2:])
        if sync_type == YSyncMessageType.SYNC_STEP1:
            # Answer from the database, to this socket only.
            state = await database_sync_to_async(documents.load_state)(self.scene_id)
            self.mirror.apply_update(state)
            reply = self.mirror.get_update(payload)
            await self.send(
                bytes_data=bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2])
                + write_message(reply)
            )
            return
        if sync_type not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
            raise ValueError("unknown sync message")
        await self._on_update(payload)

    async def _on_update(self, update: bytes) -> None:
        if update == EMPTY_UPDATE:
            return  # an empty step 2 (the client had nothing new): nothing to store or relay
        # Not "did the state vector move": a pure deletion leaves it unchanged.
        self.mirror.apply_update(update)  # raises on a malformed update (MALFORMED)
        if self._too_long():
            await self._reload_mirror()
            await self.close(code=4413)
            return
        role = await UpdateLogWriter.for_running_loop().append(
            self.user_id, self.project_id, self.scene_id, update
        )
        self.role, self.role_checked = role, time.monotonic()
        if role is None:
            await self.close(code=4403)
            return
        if not role.at_least(Role.EDITOR):
            # Read-only member: the update is dropped, never stored or relayed; the
            # mirror goes back to the stored document.
            log.info(
                "Refused an update from read-only user %s on scene %s", self.user_id, self.scene_id
            )
            await self._reload_mirror()
            return
        await self.channel_layer.group_send(
            self.group,
            {
                "type": "doc.relay",
                "data": bytes([YMessageType.SYNC, YSyncMessageType.SYNC_UPDATE])
                + write_message(update),
                "sender": self.channel_name,
                "update": True,
            },
        )

    def _too_long(self) -> bool:
        """Say whether the document is over the scene text limit (cheaply, per keystroke).

        ``len()`` of a pycrdt Text is its UTF-8 size, which is at least its length in
        characters: only a text that big needs to be counted exactly.
        """
        limit = settings.COWRITE_SCENE_TEXT_MAX_CHARS
        ytext = self.mirror.get(documents.TEXT_NAME, type=Text)
        return len(ytext) > limit and len(str(ytext)) > limit

    async def _reload_mirror(self) -> None:
        state = await database_sync_to_async(documents.load_state)(self.scene_id)
        self.mirror = Doc()
        self.mirror.apply_update(state)

    async def _on_awareness(self, frame: bytes) -> None:
        payload = read_message(frame[1:])
        decoder = Decoder(payload)
        count = decoder.read_var_uint()
        for _ in range(count):
            client_id, clock = decoder.read_var_uint(), decoder.read_var_uint()
            decoder.read_var_string()
            self.awareness_clients[client_id] = max(clock, self.awareness_clients.get(client_id, 0))
        self.last_awareness = frame
        await self.channel_layer.group_send(
            self.group,
            {"type": "doc.relay", "data": frame, "sender": self.channel_name, "update": False},
        )

    async def awareness_query(self, event):
        """Tell a newly connected socket who this socket's client is."""
        if event["reply_to"] != self.channel_name and self.last_awareness is not None:
            await self.channel_layer.send(
                event["reply_to"],
                {
                    "type": "doc.relay",
                    "data": self.last_awareness,
                    "sender": self.channel_name,
                    "update": False,
                },
            )

    async def doc_relay(self, event):
        """Send a relayed frame to this socket (unless it came from this socket)."""
        if event["sender"] == self.channel_name or self.mirror is None:
            return
        if time.monotonic() - self.role_checked > ROLE_RECHECK_SECONDS:
            self.role = await database_sync_to_async(_role_for)(
                self.user_id, self.project_id, self.scene_id
            )
            self.role_checked = time.monotonic()
            if self.role is None:
                await self.close(code=4403)
                return
        if event["update"]:
            self.mirror.apply_update(read_message(event["data"][2:]))
        await self.send(bytes_data=event["data"])


# --- the scene room: draft requests and streams (htmx ws extension, JSON in, HTML out) --------


class SceneRoomConsumer(LightDispatchMixin, AsyncWebsocketConsumer):
    """One page open on one scene: draft events out; draft requests and cancels in.

    Incoming frames are the JSON that htmx's ws extension sends for ``ws-send`` forms
    (an ``action`` field picks the handler). Outgoing frames are HTML fragments that htmx
    swaps out of band. Role checks: on connect, on every incoming message, at once when
    the project's access changes (``events.access_changed``: a member removed or demoted,
    a scene or the project deleted), and otherwise on outgoing events at most every
    ROOM_ROLE_RECHECK_SECONDS (so the token stream does not wait on the database).
    """

    MAX_MESSAGE_BYTES = 64 * 1024
    channel_layer_alias = events.ROOMS_LAYER
    light_types = frozenset(
        {
            "access.changed",
            "draft.created",
            "draft.status",
            "draft.final",
            "draft.delta",
            "draft.snapshot",
            "feedback.changed",
        }
    )

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.project_id, self.scene_id = int(kwargs["project_id"]), int(kwargs["scene_id"])
        self.joined = False
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.user = user
        self.role = await database_sync_to_async(_role_for)(user.pk, self.project_id, self.scene_id)
        self.role_checked = time.monotonic()
        if self.role is None:
            await self.close(code=4404)
            return
        self.group = events.scene_room_group(self.scene_id)
        self.access_group = events.project_access_group(self.project_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.access_group, self.channel_name)
        self.joined = True
        # Card updates of existing passages go through their own queue (in order), so
        # the token stream never waits for a card's database load or rendering.
        self.card_jobs: asyncio.Queue = asyncio.Queue()
        self.card_task = asyncio.create_task(self._card_loop())
        await self._request_catch_up()

    async def disconnect(self, code):
        if self.joined:
            self.card_task.cancel()
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.access_group, self.channel_name)

    async def _card_loop(self) -> None:
        while True:
            passage_id, event_id = await self.card_jobs.get()
            try:
                await self._send_card(passage_id, event_id)
            except Exception:  # one card failing must not stop the others
                log.exception("Could not send the card of passage %s", passage_id)

    async def access_changed(self, event):
        if event.get("user") in (None, self.user.pk):
            await self._recheck_role(force=True)

    async def _request_catch_up(self) -> None:
        # Streams in flight send their text so far to this socket (late joiner, reconnect):
        # the request goes to the workers over the default layer, the answer comes back to
        # this socket's channel on the rooms layer.
        await get_channel_layer().group_send(
            events.GENERATION_WORKERS,
            {"type": "generation.catchup", "scene": self.scene_id, "reply_to": self.channel_name},
        )

    @property
    def _can_edit(self) -> bool:
        return self.role.at_least(Role.EDITOR)

    async def _recheck_role(self, force: bool = False) -> Role | None:
        if force or time.monotonic() - self.role_checked > ROOM_ROLE_RECHECK_SECONDS:
            self.role = await database_sync_to_async(_role_for)(
                self.user.pk, self.project_id, self.scene_id
            )
            self.role_checked = time.monotonic()
            if self.role is None:
                await self.close(code=4403)
        return self.role

    # ------------------------------------------------------------------ incoming
    async def receive(self, text_data=None, bytes_data=None):
        if not self.joined:
            return
        if text_data is None or len(text_data) > self.MAX_MESSAGE_BYTES:
            await self._error("That message was too large or not text.")
            return
        try:
            data = json.loads(text_data)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            await self._error("That message was not understood.")
            return
        action = data.get("action")
        if action == "catchup":
            await self._request_catch_up()
            return
        if action not in ("draft_request", "draft_cancel"):
            await self._error("That action is not known.")
            return
        role = await self._recheck_role(force=True)
        if role is None:
            return
        if not role.at_least(Role.EDITOR):
            await self._error("Only editors and owners can ask for or cancel drafts.")
            return
        try:
            if action == "draft_request":
                await database_sync_to_async(self._draft_request)(data)
            else:
                await database_sync_to_async(self._draft_cancel)(data.get("passage"))
        except ValidationError as exc:
            await self._error(" ".join(exc.messages))

    def _draft_request(self, data: dict) -> None:
        scene = Scene.objects.defer("doc_state").get(pk=self.scene_id)
        drafts_service.draft_request(
            scene=scene, user=self.user, spec=drafts_service.draft_spec_from(data)
        )

    def _draft_cancel(self, passage_id) -> None:
        try:
            passage = Passage.objects.get(pk=int(passage_id), scene_id=self.scene_id)
        except (Passage.DoesNotExist, TypeError, ValueError):
            raise ValidationError("No such draft in this scene.") from None
        drafts_service.draft_cancel(passage=passage)

    async def _error(self, message: str) -> None:
        await self.send(
            text_data=render_to_string("partials/draft_error.html", {"message": message})
        )

    # ------------------------------------------------------------------ outgoing
    # Every page on the scene hears each event, and nothing here may hold up the token
    # stream: deltas and snapshots are formatted from the event; a stream start swaps the
    # card's header from the event; a new request's cards come rendered in the event;
    # other card updates go through this socket's card queue, load once per server
    # process (SharedLoads) and render once per kind of viewer (_Rendered).
    async def draft_created(self, event):
        if await self._recheck_role() is None:
            return
        await self.send(text_data=event["html"]["editor" if self._can_edit else "other"])

    async def draft_status(self, event):
        if await self._recheck_role() is None:
            return
        await self.send(text_data=_head_html(int(event["passage"]), event["head"]))

    async def draft_final(self, event):
        # Safe to send after later deltas of other passages: a passage's own deltas all
        # come before its final event, and nothing streams into it afterwards.
        self.card_jobs.put_nowait((event["passage"], event.get("event")))

    async def feedback_changed(self, event):
        for passage_id in event["passages"]:
            self.card_jobs.put_nowait((passage_id, event.get("event")))

    async def _send_card(self, passage_id, event_id) -> None:
        if await self._recheck_role() is None:
            return
        passage_id = int(passage_id)
        loaded = await SharedLoads.get(
            ("card", self.scene_id, passage_id, event_id),
            lambda: _load_card(self.scene_id, passage_id),
        )
        if loaded is not None:
            await self.send(text_data=loaded.render(self._can_edit, self.user))

    async def draft_delta(self, event):
        if await self._recheck_role() is None:
            return
        # Escaped once here; the same text goes to everyone, so no template per token.
        # data-t: when the worker sent it (ms since the epoch), for latency measurements.
        sent = int(event.get("sent_at", 0) * 1000)
        await self.send(
            text_data="".join(
                f'<div hx-swap-oob="beforeend:#passage-{int(i["passage"])}-text">'
                f'<span data-seq="{int(i["seq"])}" data-t="{sent}">{escape(i["text"])}</span></div>'
                for i in event["items"]
            )
        )

    async def draft_snapshot(self, event):
        if await self._recheck_role() is None:
            return
        await self.send(
            text_data=render_to_string(
                "partials/passage_text.html",
                {
                    "passage_id": int(event["passage"]),
                    "seq": int(event["seq"]),
                    "text": event["text"],
                    "oob": True,
                },
            )
        )


class SharedLoads:
    """Loads shared by the sockets of one server process that handle the same room event.

    The first socket to handle an event starts the load (on the database thread); the
    others await the same future. Keys carry the event's id, so a later event loads
    afresh; entries are dropped after ``TTL`` seconds. An event without an id is not
    shared. One memo per event loop (a server process runs one).
    """

    TTL = 30.0
    _by_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict]" = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    async def get(cls, key: tuple, load):
        if key[-1] is None:
            return await database_sync_to_async(load)()
        loop = asyncio.get_running_loop()
        memo = cls._by_loop.setdefault(loop, {})
        future = memo.get(key)
        if future is None:
            future = asyncio.ensure_future(database_sync_to_async(load)())
            memo[key] = future
            loop.call_later(cls.TTL, memo.pop, key, None)
        return await future


class _Rendered:
    """Passages loaded for one event, rendered at most once per kind of viewer.

    A finished card's feedback part is the viewer's own (their stars, tags, pick, which
    comments they may resolve), so it is rendered per *viewer state*: viewers whose
    state is the same (e.g. every editor who has not rated yet) share one rendering.
    ``_viewer_key`` lists everything of the viewer that the feedback templates read.
    """

    def __init__(self, template: str, context: dict, per_user: bool):
        self.template, self.context, self.per_user = template, context, per_user
        self.html: dict[tuple, str] = {}

    def render(self, can_edit: bool, user) -> str:
        key = (can_edit, self._viewer_key(user) if self.per_user else None)
        html = self.html.get(key)
        if html is None:
            html = render_to_string(
                self.template, {**self.context, "can_edit": can_edit, "user": user, "oob": True}
            )
            self.html[key] = html
        return html

    def _viewer_key(self, user) -> tuple:
        fb = getattr(self.context.get("passage"), "feedback", None)
        if fb is None:
            return ("user", user.pk)  # unknown shape: do not share
        me = next((m for m in fb.members if m.user_id == user.pk), None)
        if me is None:
            return ("not a member",)
        authors = {c.user_id for th in fb.threads for c in (th.comment, *th.replies)}
        return (
            me.role,
            me.score,
            tuple(me.tag_ids),
            me.picked,
            user.pk if user.pk in authors else None,
        )


def _head_html(passage_id: int, head: dict) -> str:
    """A card's header from event data (no database): see ``drafts.head_of``."""
    passage = Passage(
        pk=passage_id,
        status=str(head.get("status", "")),
        alternative=int(head.get("alternative", 0)),
        alternatives=int(head.get("alternatives", 1)),
        settings=dict(head.get("settings") or {}),
    )
    passage.model_version = ModelVersion(name=str(head.get("model") or ""))
    return render_to_string("partials/passage_head.html", {"passage": passage, "oob": True})


def _load_card(scene_id: int, passage_id: int) -> _Rendered | None:
    passage = drafts_service.card_passage(scene_id, passage_id)
    if passage is None:
        return None
    drafts_service.with_queue_positions([passage])
    feedback.feedback_summary([passage])  # the viewer's own controls: rendered per user
    per_user = passage.status == "done"
    return _Rendered("partials/passage.html", {"passage": passage}, per_user=per_user)
