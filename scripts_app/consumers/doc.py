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
from concurrent.futures import ThreadPoolExecutor

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
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

from cowrite import events
from cowrite.events import AccessChanged, AwarenessQuery, DocRelay, apublish, scene_doc_group

from .. import documents, presence, yprotocol
from ..access import scene_role
from ..models import Role
from .base import ROLE_RECHECK_SECONDS, LightDispatchMixin
from .logwriter import UpdateLogWriter
from .repairs import SceneRepairs

log = logging.getLogger(__name__)

# What a malformed frame raises inside pycrdt's decoders and apply_update.
MALFORMED = (ValueError, RuntimeError, IndexError, AssertionError, UnicodeDecodeError)
# The encoding of an update with no insertions and no deletions.
EMPTY_UPDATE = b"\x00\x00"


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


class SceneDocConsumer(LightDispatchMixin, AsyncWebsocketConsumer):
    """One socket of one collaborator on one scene's live document."""

    light_types = frozenset({DocRelay.type, AwarenessQuery.type})
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
        self.role = await database_sync_to_async(scene_role)(
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
        await apublish(AwarenessQuery(self.scene_id, self.channel_name))

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
            await apublish(
                DocRelay(
                    self.scene_id,
                    _awareness_removal(self.awareness_clients),
                    self.channel_name,
                    update=False,
                )
            )

    async def access_changed(self, event):
        """Re-check this socket's role now; a removed member's socket closes at once."""
        notice = AccessChanged.from_message(event)
        if self.mirror is None or notice.user not in (None, self.user_id):
            return
        self.role = await database_sync_to_async(scene_role)(
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
        await apublish(
            DocRelay(
                self.scene_id,
                bytes([YMessageType.SYNC, YSyncMessageType.SYNC_UPDATE]) + write_message(update),
                self.channel_name,
                update=True,
            )
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
        await apublish(DocRelay(self.scene_id, frame, self.channel_name, update=False))

    async def awareness_query(self, event):
        """Tell a newly connected socket who this socket's client is."""
        self._note_dropped()
        query = AwarenessQuery.from_message(event)
        if query.reply_to != self.channel_name and self.last_awareness is not None:
            try:
                await apublish(
                    DocRelay(
                        self.scene_id,
                        self.last_awareness,
                        self.channel_name,
                        update=False,
                        to=query.reply_to,
                    )
                )
            except ChannelFull:
                # The newcomer's queue is full, not this socket's fault: it is repaired
                # (the layer noted its loss) and hears this presence at the next renewal.
                log.info("Presence answer dropped: %s's queue is full", query.reply_to)

    async def doc_relay(self, event):
        """Send a relayed frame to this socket (unless it came from this socket)."""
        self._note_dropped()
        if self.mirror is None or getattr(self, "gone", False):
            return
        relay = DocRelay.from_message(event)
        if relay.update:
            self.repairs.activity()
        if relay.sender == self.channel_name:
            return
        if not await self._role_still_allows_reading():
            return
        if relay.update:
            self.mirror.apply_update(read_message(relay.data[2:]))
        if not await self._send_frame(relay.data):
            await self.disconnect(1006)
            raise StopConsumer

    async def _role_still_allows_reading(self) -> bool:
        """Re-check the role if the last check is older than ROLE_RECHECK_SECONDS."""
        if time.monotonic() - self.role_checked > ROLE_RECHECK_SECONDS:
            self.role = await database_sync_to_async(scene_role)(
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
