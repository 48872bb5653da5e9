"""Repairs of live clients that missed a relay (see ``SceneRepairs``)."""

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING

from channels.db import database_sync_to_async
from django.conf import settings
from pycrdt import (
    Doc,
)

from .. import documents

if TYPE_CHECKING:
    from .doc import SceneDocConsumer

log = logging.getLogger(__name__)


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
