"""The co-editing websocket: the Yjs sync protocol over Channels, with pycrdt.

Frames are ``[message type, sync type, var-length payload]`` (y-protocols). This consumer
differs from pycrdt-websocket's ``YjsConsumer`` on purpose (see STACK_NOTES):

- a client's SYNC_STEP1 is answered to that client only, from the document as stored in
  the database (snapshot + log), so a socket that missed a relay heals on its next resync;
- an update is accepted only from an editor (role re-checked on every update), validated
  by applying it to this socket's mirror of the document, appended to the update log,
  and only then relayed to the scene's group, once, skipping the socket it came from;
- every frame is checked by ``yprotocol`` (framing and update structure, linear time)
  before pycrdt decodes it; big frames are checked and applied off the event loop;
- awareness (cursors, presence) is relayed but never stored, rebuilt by the server
  (identity from the session, ``presence.clean_state``); when a socket closes, the
  awareness clients it carried are announced gone so cursors disappear at once;
- a relay that misses a socket (full queue, a peer server dead between commit and
  publish) is made up for by ``SceneRepairs``: no live client stays behind.

Close codes (sent after ``accept()`` so y-websocket sees a reason, not a failed
handshake): 4401 not logged in, 4404 no such scene for this user, 4403 membership lost,
4400 malformed frame, 4413 frame or document too large.
"""

import asyncio
import logging
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from html import escape

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull, StopConsumer
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

from cowrite import strictjson
from generation.models import ModelVersion

from . import documents, events, feedback, presence, yprotocol
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


# Frames over COWRITE_DOC_INLINE_DECODE_BYTES are checked and applied on this thread, one at
# a time per process: a big frame holds the event loop no longer than a small one, and many
# of them queue here rather than multiply.
_DECODE_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ydoc-decode")


async def _off_loop(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_DECODE_POOL, fn, *args)


def _doc_with(base: bytes, update: bytes) -> Doc:
    """Return a new document: ``base`` (a whole document) with ``update`` applied."""
    doc = Doc()
    doc.apply_update(base)
    doc.apply_update(update)
    return doc


def _awareness_removal(client_ids: dict[int, int]) -> bytes:
    """Build an awareness update that marks these clients gone (state ``null``)."""
    body = write_var_uint(len(client_ids))
    for client_id, clock in client_ids.items():
        body += write_var_uint(client_id) + write_var_uint(clock + 1) + write_message(b"null")
    return bytes([YMessageType.AWARENESS]) + write_message(body)


def _stored_doc(scene_id: int) -> Doc:
    return documents.load(scene_id).doc


class SceneRepairs:
    """Brings this process's open editors of one scene up to the database, cheaply.

    A relay can fail to reach a client: the in-memory layer drops it when the socket's
    queue is full (``scripts_app.layers``), a server can die between committing an update
    and publishing it, Redis pub/sub loses what is published while a subscriber
    reconnects. Yjs then holds that sender's later updates as pending, so the client falls
    behind for good. Each socket's ``mirror`` is what its client has (the database as sent
    to it, its own updates, each relay applied as it is sent), so a check loads the scene
    *once* for the process and sends each socket only what its mirror lacks (usually
    nothing: no frame at all). A check runs for every socket of the scene
    ``COWRITE_DOC_REPAIR_QUIET_SECONDS`` after its last relay or join, at least every
    ``..._BUSY_SECONDS`` while it stays busy and every ``..._IDLE_SECONDS`` regardless; and
    at once (on the next tick) for a socket known to have lost a relay.
    """

    TICK = 0.25
    GRACE = 0.3
    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def for_scene(cls, scene_id: int) -> "SceneRepairs":
        scenes = cls._by_loop.setdefault(asyncio.get_running_loop(), {})
        repairs = scenes.get(scene_id)
        if repairs is None:
            repairs = scenes[scene_id] = cls(scene_id, scenes)
        return repairs

    def __init__(self, scene_id: int, registry: dict):
        self.scene_id, self.registry = scene_id, registry
        self.sockets: set[SceneDocConsumer] = set()
        self.urgent: set[SceneDocConsumer] = set()
        self.dirty = False
        self.active_at = self.checked_at = time.monotonic()
        self.task: asyncio.Task | None = None

    def join(self, consumer: "SceneDocConsumer") -> None:
        self.sockets.add(consumer)
        self.activity()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())

    def leave(self, consumer: "SceneDocConsumer") -> None:
        self.sockets.discard(consumer)
        self.urgent.discard(consumer)
        if not self.sockets:
            if self.task is not None:
                self.task.cancel()
            if self.registry.get(self.scene_id) is self:
                del self.registry[self.scene_id]

    def activity(self) -> None:
        self.dirty, self.active_at = True, time.monotonic()

    def missed(self, consumer: "SceneDocConsumer") -> None:
        if consumer in self.sockets:
            self.urgent.add(consumer)

    async def _run(self) -> None:
        while self.sockets:
            await asyncio.sleep(self.TICK)
            now = time.monotonic()
            everyone = (
                self.dirty
                and (
                    now - self.active_at >= settings.COWRITE_DOC_REPAIR_QUIET_SECONDS
                    or now - self.checked_at >= settings.COWRITE_DOC_REPAIR_BUSY_SECONDS
                )
            ) or now - self.checked_at >= settings.COWRITE_DOC_REPAIR_IDLE_SECONDS
            if not everyone and not self.urgent:
                continue
            targets = set(self.sockets) if everyone else set(self.urgent)
            self.urgent.clear()
            if everyone:
                # Before the load: anything relayed from now on marks the scene again.
                self.dirty, self.checked_at = False, now
            try:
                # Built on the database thread: a long scene's doc does not stall the loop.
                stored = await database_sync_to_async(_stored_doc)(self.scene_id)
            except Exception:  # the database is away: try again on the next round
                log.exception("Could not load scene %s to repair its editors", self.scene_id)
                self.urgent |= targets & self.sockets
                await asyncio.sleep(1.0)
                continue
            # Relays of updates committed just before the load may still be on their way
            # to some sockets: let them land rather than send those updates twice.
            await asyncio.sleep(self.GRACE)
            for consumer in targets & self.sockets:
                try:
                    await consumer.repair_from(stored)
                except Exception:  # one socket failing must not stop the others
                    log.exception("Could not repair a socket of scene %s", self.scene_id)


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
        self.display_name = user.get_username()  # presence names come from the session
        self.own_client: int | None = None  # the awareness client this socket speaks for
        # Told at once when the project's access changes (a member removed or demoted, the
        # scene or project deleted): joined before the role check, so no notice is missed.
        self.access_group = events.project_access_group(self.project_id)
        await self.channel_layer.group_add(self.access_group, self.channel_name)
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
        self.repairs = SceneRepairs.for_scene(self.scene_id)
        self.repairs.join(self)
        # Ask the client for what it has that the server lacks (edits made offline).
        await self.send(bytes_data=create_sync_message(self.mirror))
        # Ask the other sockets for their presence, so the newcomer sees who is here now
        # rather than at their next renewal (up to 15 s later).
        await self.channel_layer.group_send(
            self.group, {"type": "awareness.query", "reply_to": self.channel_name}
        )

    async def __call__(self, scope, receive, send):
        # However this consumer ends (a handler raising included), it leaves its groups: a
        # dead member would keep taking relays (in memory, filling a queue nobody reads).
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._leave()

    async def _leave(self) -> None:
        repairs = getattr(self, "repairs", None)
        if repairs is not None:
            repairs.leave(self)
        layer = getattr(self, "channel_layer", None)
        if layer is None or not getattr(self, "channel_name", None):
            return
        for group in {getattr(self, "group", None), getattr(self, "access_group", None)} - {None}:
            await layer.group_discard(group, self.channel_name)
        if hasattr(layer, "take_dropped"):
            layer.take_dropped(self.channel_name)

    async def disconnect(self, code):
        if self.mirror is None:
            return
        await self._leave()
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

    async def access_changed(self, event):
        """Re-check this socket's role now; a removed member's socket closes at once."""
        if self.mirror is None or event.get("user") not in (None, self.user_id):
            return
        self.role = await database_sync_to_async(_role_for)(
            self.user_id, self.project_id, self.scene_id
        )
        self.role_checked = time.monotonic()
        if self.role is None:
            log.info(
                "Scene %s: closing the doc socket of removed user %s", self.scene_id, self.user_id
            )
            await self.close(code=4403)

    async def receive(self, text_data=None, bytes_data=None):
        if self.mirror is None or self.role is None:
            return  # not joined, or access lost (closing)
        if not bytes_data or len(bytes_data) < 2:
            await self.close(code=4400)
            return
        size = len(bytes_data)
        if size > settings.COWRITE_DOC_MESSAGE_MAX_BYTES or (
            bytes_data[0] == YMessageType.AWARENESS
            and size > settings.COWRITE_DOC_AWARENESS_MAX_BYTES
        ):
            await self.close(code=4413)
            return
        # Nothing from the socket reaches pycrdt's decoders unchecked (its Python varint
        # reader is quadratic on a run of 0xff): the framing, and the update inside, are
        # walked first in linear time (yprotocol); a big frame on the decode thread.
        try:
            if size <= settings.COWRITE_DOC_INLINE_DECODE_BYTES:
                message = yprotocol.parse_frame(bytes_data)
            else:
                message = await _off_loop(yprotocol.parse_frame, bytes_data)
        except yprotocol.FrameError as exc:
            log.warning(
                "Refused a malformed frame on scene %s from user %s (validator: %s)",
                self.scene_id,
                self.user_id,
                exc,
            )
            await self.close(code=4400)
            return
        try:
            if message.kind == YMessageType.SYNC:
                await self._on_sync(message)
            elif message.kind == YMessageType.AWARENESS:
                await self._on_awareness(message.awareness)
            # Other message types (auth, query-awareness) are ignored, as y-websocket does.
        except MALFORMED:
            log.warning("Malformed frame on scene %s from user %s", self.scene_id, self.user_id)
            await self.close(code=4400)

    async def _on_sync(self, message: yprotocol.Message) -> None:
        sync_type, payload = message.sync_type, message.payload
        if sync_type == YSyncMessageType.SYNC_STEP1:
            # Answer from the database, to this socket only.
            state = await database_sync_to_async(documents.load_state)(self.scene_id)
            self.mirror.apply_update(state)
            reply = self.mirror.get_update(payload)  # a checked state vector
            await self.send(
                bytes_data=bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2])
                + write_message(reply)
            )
            return
        await self._on_update(payload)  # a checked step 2 or update

    async def _on_update(self, update: bytes) -> None:
        if update == EMPTY_UPDATE:
            return  # an empty step 2 (the client had nothing new): nothing to store or relay
        # Not "did the state vector move": a pure deletion leaves it unchanged.
        if len(update) <= settings.COWRITE_DOC_INLINE_DECODE_BYTES:
            self.mirror.apply_update(update)  # raises on a malformed update (MALFORMED)
        else:
            # A big update is applied on the decode thread, to a copy that then replaces
            # the mirror (the mirror itself stays the event loop's).
            base = self.mirror.get_update()
            self.mirror = await _off_loop(_doc_with, base, update)
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

    async def _on_awareness(self, entries: tuple[tuple[int, int, str], ...]) -> None:
        """Relay this socket's presence, rebuilt by the server (``presence.clean_state``).

        A socket speaks for one awareness client: the first it announces (y-websocket
        sends its own state first). Entries for other clients are dropped: y-websocket
        re-broadcasts the states it hears, which the server already relayed, and a client
        must not speak for anyone else.
        """
        out = []
        for client_id, clock, state in entries:
            if self.own_client is None and state != "null":
                self.own_client = client_id
            if client_id != self.own_client:
                continue
            cleaned = presence.clean_state(
                state,
                user_id=self.user_id,
                name=self.display_name,
                role=self.role.value,
                can_edit=self.role.at_least(Role.EDITOR),
            )
            out.append((client_id, clock, cleaned))
            self.awareness_clients[client_id] = max(clock, self.awareness_clients.get(client_id, 0))
        if not out:
            return
        frame = yprotocol.awareness_frame(out)
        self.last_awareness = frame
        await self.channel_layer.group_send(
            self.group,
            {"type": "doc.relay", "data": frame, "sender": self.channel_name, "update": False},
        )

    async def awareness_query(self, event):
        """Tell a newly connected socket who this socket's client is."""
        self._note_dropped()
        if event["reply_to"] != self.channel_name and self.last_awareness is not None:
            try:
                await self.channel_layer.send(
                    event["reply_to"],
                    {
                        "type": "doc.relay",
                        "data": self.last_awareness,
                        "sender": self.channel_name,
                        "update": False,
                    },
                )
            except ChannelFull:
                # The newcomer's queue is full, not this socket's fault: it is repaired
                # (the layer noted its loss) and hears this presence at the next renewal.
                log.info("Presence answer dropped: %s's queue is full", event["reply_to"])

    async def doc_relay(self, event):
        """Send a relayed frame to this socket (unless it came from this socket)."""
        self._note_dropped()
        if self.mirror is None or getattr(self, "gone", False):
            return
        if event["update"]:
            self.repairs.activity()
        if event["sender"] == self.channel_name:
            return
        if not await self._role_still_allows_reading():
            return
        if event["update"]:
            self.mirror.apply_update(read_message(event["data"][2:]))
        if not await self._send_frame(event["data"]):
            await self.disconnect(1006)
            raise StopConsumer

    async def _role_still_allows_reading(self) -> bool:
        """Re-check the role if the last check is older than ROLE_RECHECK_SECONDS."""
        if time.monotonic() - self.role_checked > ROLE_RECHECK_SECONDS:
            self.role = await database_sync_to_async(_role_for)(
                self.user_id, self.project_id, self.scene_id
            )
            self.role_checked = time.monotonic()
            if self.role is None:
                await self.close(code=4403)
        return self.role is not None

    async def _send_frame(self, data: bytes) -> bool:
        """Send one frame; on a socket already closing, leave the groups and return False.

        Daphne raises ``Disconnected`` ("Attempt to send on a closed protocol") between
        a close starting and the disconnect arriving; raised out of a handler it ended the
        consumer without ``disconnect()``, so the dead member stayed in its group.
        """
        try:
            await self.send(bytes_data=data)
        except Disconnected:
            self.gone = True
            await self._leave()
            return False
        return True

    def _note_dropped(self) -> None:
        """Have this socket repaired if the layer dropped a message for it (queue full)."""
        take = getattr(self.channel_layer, "take_dropped", None)
        if take is not None and take(self.channel_name) and self.mirror is not None:
            log.info("Scene %s: a socket's queue overflowed; repairing it", self.scene_id)
            self.repairs.missed(self)

    async def repair_from(self, stored: Doc) -> None:
        """Send this socket's client what the stored document has and its mirror lacks.

        Nothing is sent when the mirror already has it all (the usual case). Compared by
        state vector *and* text: a missed pure deletion leaves the state vector as it was.
        """
        if self.mirror is None or getattr(self, "gone", False):
            return
        if not await self._role_still_allows_reading():
            return
        mirror = self.mirror
        ytext = mirror.get(documents.TEXT_NAME, type=Text)
        state, text = _state_vector(mirror), str(ytext)
        diff = stored.get_update(mirror.get_state())
        mirror.apply_update(diff)
        if _state_vector(mirror) == state and str(ytext) == text:
            return
        log.info("Scene %s: repairing a socket that missed updates", self.scene_id)
        await self._send_frame(
            bytes([YMessageType.SYNC, YSyncMessageType.SYNC_UPDATE]) + write_message(diff)
        )


def _state_vector(doc: Doc) -> dict[int, int]:
    decoder = Decoder(doc.get_state())
    count = decoder.read_var_uint()
    return {decoder.read_var_uint(): decoder.read_var_uint() for _ in range(count)}


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
            # Strict: no Infinity/NaN, bounded nesting (json.loads would recurse).
            data = strictjson.loads(text_data)
            if not isinstance(data, dict):
                raise strictjson.InvalidJSON
        except strictjson.InvalidJSON:
            await self._error("That message was not understood.")
            return
        except ValueError as exc:
            await self._error(f"That message was not understood: {exc}")
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
        except Exception:  # a bad request must not take the page's socket down
            log.exception("Scene room request failed: %r", action)
            await self._error("That request could not be handled; try again.")

    def _draft_request(self, data: dict) -> None:
        scene = Scene.objects.defer("doc_state").get(pk=self.scene_id)
        drafts_service.draft_request(
            scene=scene, user=self.user, spec=drafts_service.draft_spec_from(data)
        )

    def _draft_cancel(self, passage_id) -> None:
        try:
            if isinstance(passage_id, bool) or not isinstance(passage_id, int | str):
                raise ValueError
            pk = int(passage_id)
            if not 0 < pk < 2**63:
                raise ValueError
            passage = Passage.objects.select_related("scene").get(pk=pk, scene_id=self.scene_id)
        except (Passage.DoesNotExist, TypeError, ValueError, OverflowError):
            raise ValidationError("No such draft in this scene.") from None
        # Only its requester or a project owner (refused otherwise; the draft goes on).
        drafts_service.draft_cancel(passage=passage, user=self.user)

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
        sampling=dict(head.get("sampling") or {}),
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
