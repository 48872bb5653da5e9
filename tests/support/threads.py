"""Run blocking ORM work from an async test without leaking a database connection."""

import asyncio

from django.db import connections


def _closing(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    finally:
        connections.close_all()  # this thread's connections (back to the pool, if any)


async def in_thread(fn, *args, **kwargs):
    return await asyncio.to_thread(_closing, fn, *args, **kwargs)


def run_async(coro):
    """``asyncio.run`` for tests that also use the ORM inside the coroutine.

    Django keeps connections per async context, so one opened inside the event loop is
    not the test thread's: close it there, or it outlives the test (and, with the
    PostgreSQL pool, blocks dropping the test database).
    """

    async def main():
        try:
            return await coro
        finally:
            connections.close_all()

    return asyncio.run(main())
