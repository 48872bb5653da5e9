"""In-process background work for the embedded default (no Redis, no other processes).

Distributed deployments run Celery beat and workers and separate generation workers; the
embedded server instead runs, inside the web process:

- the beat schedule (``CELERY_BEAT_SCHEDULE``) on a daemon thread, calling each task;
- the generation worker coroutine on the web server's own event loop (the in-memory
  channel layer only works within one event loop), its model on a thread of its own.

Started only by ``manage.py serve`` and only when ``REDIS_URL`` is unset.

``QuietJobsFilter`` keeps the schedule's routine successes off the console (settings
``LOGGING``; README: Console). This module is imported while logging is configured, so it
imports Celery and the database layer only inside the functions that need them.
"""

import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)

# Celery logs each task it runs from here; in-process, `apply()` logs its success at INFO.
CELERY_TRACE_LOGGER = "celery.app.trace"


def beat_task_names() -> set[str]:
    """The tasks the beat schedule runs (``CELERY_BEAT_SCHEDULE``)."""
    return {entry["task"] for entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).values()}


class QuietJobsFilter(logging.Filter):
    """Drop the "Task … succeeded" (and retry) lines of the periodic background jobs.

    The schedule runs a job every few seconds (the stalled-draft reaper every 5 s), so their
    successes were most of the console. A failure is logged at ERROR and always passes, and
    so does every line of every other logger. ``COWRITE_VERBOSE=1`` leaves this filter out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != CELERY_TRACE_LOGGER or record.levelno >= logging.WARNING:
            return True
        data = record.args if isinstance(record.args, dict) else getattr(record, "data", None)
        return not isinstance(data, dict) or data.get("name") not in beat_task_names()


def _run_schedule(stop: threading.Event) -> None:
    # Function-level: see the module docstring (logging imports this module early).
    from django.db import close_old_connections

    from cowrite.celery import app

    app.loader.import_default_modules()  # autodiscovery is lazy: register the tasks now
    schedule = {
        entry["task"]: float(entry["schedule"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    next_run = {name: time.monotonic() + min(interval, 5.0) for name, interval in schedule.items()}
    while not stop.is_set():
        now = time.monotonic()
        for name, due in next_run.items():
            if now < due:
                continue
            next_run[name] = now + schedule[name]
            try:
                close_old_connections()
                app.tasks[name].apply(throw=True)
            except Exception:  # a failing job must not stop the others
                log.exception("Background job %s failed", name)
            finally:
                close_old_connections()
        stop.wait(max(0.2, min(next_run.values()) - time.monotonic()))


def start_background_jobs() -> threading.Event:
    """Start the schedule on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=_run_schedule, args=(stop,), name="cowrite-jobs", daemon=True).start()
    return stop


def start_generation_worker() -> None:
    """Run the generation worker on Daphne's event loop once the server is running."""
    import asyncio

    from daphne.server import Server  # noqa: F401 (installs the asyncio reactor first)
    from twisted.internet import reactor

    def start():
        # Function-level: the worker (and its model) is loaded once the server runs,
        # after Daphne has installed its reactor above.
        from generation.worker import GenerationWorker

        asyncio.get_event_loop().create_task(GenerationWorker(name="embedded").run())

    reactor.callWhenRunning(start)
