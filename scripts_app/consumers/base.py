"""What every live socket of the app shares: role re-check intervals, light dispatch,
shared loads. (The role check itself is ``access.scene_role``.)"""

import asyncio
import weakref

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async

# How long an outbound relay trusts the last role check (inbound edits check every time).
ROLE_RECHECK_SECONDS = 2.0
# The same for the scene room, whose sockets are also told at once when access changes
# (``events.AccessChanged``): this is only the safety net for a lost notice.
ROOM_ROLE_RECHECK_SECONDS = 10.0


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
