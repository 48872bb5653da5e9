"""Shared counters for the API's limits: requests per token per window (a sliding log),
requests running per token, and API requests waiting for a generation slot.

With ``REDIS_URL`` (distributed) they live in Redis, so every web process counts the same
requests (each check is one Lua script: atomic). Embedded, they live in this process's
memory: the embedded mode is one process, which serves every request.

Running and waiting requests are *leases* (a member with an expiry): a web process that
dies mid-request does not hold its slots for ever; a long stream renews its lease.
"""

import asyncio
import threading
import time
import uuid
import weakref
from collections import deque

from django.conf import settings

PREFIX = "cowrite:api-limits:"
WAITING = "waiting"  # API requests sent to the generation queue that no worker started yet

_RATE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + tonumber(ARGV[2]) - tonumber(ARGV[1]))
"""

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[4]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4]) * 1000))
  return 1
end
return 0
"""


class MemoryStore:
    """This process's counters (embedded mode); thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._logs: dict[str, deque] = {}
        self._leases: dict[str, dict[str, float]] = {}

    def rate(self, key: str, limit: int, window: float) -> float:
        now = time.time()
        with self._lock:
            log = self._logs.setdefault(key, deque())
            while log and log[0] <= now - window:
                log.popleft()
            if len(log) < limit:
                log.append(now)
                return 0.0
            return log[0] + window - now

    def _live(self, key: str, now: float) -> dict[str, float]:
        leases = self._leases.setdefault(key, {})
        for member in [m for m, expiry in leases.items() if expiry <= now]:
            del leases[member]
        return leases

    def acquire(self, key: str, member: str, cap: int, lease: float) -> bool:
        now = time.time()
        with self._lock:
            leases = self._live(key, now)
            if member in leases or len(leases) < cap:
                leases[member] = now + lease
                return True
            return False

    def release(self, key: str, member: str) -> None:
        with self._lock:
            self._leases.get(key, {}).pop(member, None)

    def count(self, key: str) -> int:
        with self._lock:
            return len(self._live(key, time.time()))


class RedisStore:
    """The same counters in Redis (distributed mode): shared by every web process."""

    def __init__(self, url: str):
        self.url = url
        self._clients = weakref.WeakKeyDictionary()  # an asyncio client per event loop
        self._sync = None

    def _client(self):
        import redis.asyncio

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = redis.asyncio.Redis.from_url(self.url)
        return client

    def _sync_client(self):
        if self._sync is None:
            import redis

            self._sync = redis.Redis.from_url(self.url)
        return self._sync

    async def rate(self, key: str, limit: int, window: float) -> float:
        result = await self._client().eval(
            _RATE, 1, PREFIX + key, repr(time.time()), window, limit, uuid.uuid4().hex
        )
        return float(result)

    async def acquire(self, key: str, member: str, cap: int, lease: float) -> bool:
        return bool(
            await self._client().eval(
                _ACQUIRE, 1, PREFIX + key, repr(time.time()), cap, member, lease
            )
        )

    async def release(self, key: str, member: str) -> None:
        await self._client().zrem(PREFIX + key, member)

    def count(self, key: str) -> int:
        return int(self._sync_client().zcount(PREFIX + key, f"({time.time()!r}", "+inf"))

    async def acount(self, key: str) -> int:
        return int(await self._client().zcount(PREFIX + key, f"({time.time()!r}", "+inf"))


_store = None
_store_lock = threading.Lock()


def store():
    global _store
    with _store_lock:
        url = settings.REDIS_URL
        if _store is None or getattr(_store, "url", "") != url:
            _store = RedisStore(url) if url else MemoryStore()
        return _store


# --- what the API view and the drafts service call -----------------------------------------


async def rate_hit(token_key: str) -> float:
    """Count one request of this token; return 0 if allowed, else seconds until it would be."""
    s = store()
    limit, window = settings.COWRITE_API_RATE_LIMIT, settings.COWRITE_API_RATE_WINDOW_SECONDS
    if isinstance(s, RedisStore):
        return await s.rate(f"rate:{token_key}", limit, window)
    return s.rate(f"rate:{token_key}", limit, window)


async def acquire(key: str, member: str, cap: int, lease: float) -> bool:
    s = store()
    if isinstance(s, RedisStore):
        return await s.acquire(key, member, cap, lease)
    return s.acquire(key, member, cap, lease)


async def release(key: str, member: str) -> None:
    s = store()
    if isinstance(s, RedisStore):
        await s.release(key, member)
    else:
        s.release(key, member)


def waiting_count() -> int:
    """API requests waiting for a generation slot now (sync: the drafts service's check)."""
    return store().count(WAITING)
