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

import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from pycrdt import (
    Decoder,
    Doc,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    read_message,
    write_message,
    write_var_uint,
)

from . import documents
from .events import scene_doc_group
from .models import Membership, Role

log = logging.getLogger(__name__)

# What a malformed frame raises inside pycrdt's decoders and apply_update.
MALFORMED = (ValueError, RuntimeError, IndexError, AssertionError, UnicodeDecodeError)
# The encoding of an update with no insertions and no deletions.
EMPTY_UPDATE = b"\x00\x00"

# How long an outbound relay trusts the last role check (inbound edits check every time).
ROLE_RECHECK_SECONDS = 2.0


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


def _accept_update(user_id: int, project_id: int, scene_id: int, data: bytes) -> Role | None:
    """Re-check the role and, for an editor, log the update; return the role."""
    role = _role_for(user_id, project_id, scene_id)
    if role is not None and role.at_least(Role.EDITOR):
        documents.append_update(scene_id=scene_id, data=data, user_id=user_id)
    return role


def _awareness_removal(client_ids: dict[int, int]) -> bytes:
    """Build an awareness update that marks these clients gone (state ``null``)."""
    body = write_var_uint(len(client_ids))
    for client_id, clock in client_ids.items():
        body += write_var_uint(client_id) + write_var_uint(clock + 1) + write_message(b"null")
    return bytes([YMessageType.AWARENESS]) + write_message(body)


class SceneDocConsumer(AsyncWebsocketConsumer):
    """One socket of one collaborator on one scene's live document."""

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
        if len(documents.doc_text(self.mirror)) > settings.COWRITE_SCENE_TEXT_MAX_CHARS:
            await self._reload_mirror()
            await self.close(code=4413)
            return
        role = await database_sync_to_async(_accept_update)(
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
