"""Page counts and reports of a project, computed once per script state and reused.

Laying out a whole script is slow for a big one (a 6,840-scene import: 11–16 s for the
project page's "N pages" header, 18 s for the reports page). The result only changes when
the script does, so it is kept in Django's cache under one key per project, together with
the *signature* of the script it was computed from:

- ``signature(project)`` is one aggregate query over the project's scenes — how many,
  the latest ``Scene.updated_at`` (every change of a scene's text or heading bumps it:
  saves, restores, accepted drafts, and the compaction that folds live typing into
  ``Scene.text``), and an order checksum (sum of position × a pseudo-random weight of the
  id: a reorder changes it) — plus ``Project.updated_at`` (notes with the opening text,
  credits). No model field, no write on the editing path.
- A live keystroke does not change ``Scene.text``: only the compaction after a burst of
  typing does (10 s quiet), so co-editing changes the signature at most once a burst, and
  the page count is recomputed at most once per such change, not per page view.
- Stale-while-revalidate: a view whose entry is from an older signature gets the old
  figures at once (marked stale) and one refresh starts in the background (a cache lock:
  one at a time per project). With no entry at all, the header shows "counting pages…"
  and polls; the reports page computes (``wait=True``).

The cache (``stats_cache``): with ``REDIS_URL``, a Redis cache on that server (shared by
every web process and worker), else ``caches["default"]`` — settings define no
``CACHES``, so that is Django's local-memory cache, which is right for the embedded mode's
single process. The same cache carries the progress of background imports
(``imports.import_job_*``). Refreshes run on a thread of the process that noticed the
change (the cache it fills is the one that process reads).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import close_old_connections
from django.db.models import Count, F, Max, Sum

from .formats import fountain, reports
from .formats.model import ElementType
from .models import Project, Scene

log = logging.getLogger(__name__)

# Entries live this long without a view (the key is per project, overwritten on change).
STATS_TTL_SECONDS = 7 * 24 * 3600
# A refresh that has not finished after this long is presumed dead (its lock expires).
REFRESH_LOCK_SECONDS = 300
# Scripts up to this many scenes are counted in the request that needs it (well under a
# second); bigger ones in the background, showing the previous figures meanwhile.
INLINE_SCENES = 300
# Weight of a scene id in the order checksum: a multiplicative hash, modulo a prime.
_HASH_MUL, _HASH_MOD = 2654435761, 2147483629

_shared: dict = {}
_shared_lock = threading.Lock()


def stats_cache():
    """Return the cache the stats and import jobs live in (see the module docstring)."""
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return caches["default"]
    with _shared_lock:
        if url not in _shared:
            from django.core.cache.backends.redis import RedisCache

            _shared[url] = RedisCache(url, {"KEY_PREFIX": "cowrite-stats"})
        return _shared[url]


@dataclass(frozen=True)
class ScriptStats:
    """The cached figures of a script: ``report`` (``reports.ScriptReport``), the scene ids
    in script order (to link report rows), and whether they are those of the script as it
    is now (``fresh``) or of an earlier state while a refresh runs."""

    report: reports.ScriptReport
    scene_ids: list[int]
    fresh: bool
    computed_at: float


def signature(project: Project) -> str:
    """Return a string that changes whenever the script's text, headings or order do
    (it starts with the number of scenes)."""
    agg = Scene.objects.filter(project_id=project.pk).aggregate(
        n=Count("id"),
        latest=Max("updated_at"),
        order=Sum(F("position") * ((F("id") * _HASH_MUL) % _HASH_MOD)),
    )
    updated = Project.objects.filter(pk=project.pk).values_list("updated_at", flat=True).first()
    latest = agg["latest"].isoformat() if agg["latest"] else "-"
    stamp = updated.isoformat() if updated else "-"
    return f"{agg['n']}:{latest}:{agg['order'] or 0}:{stamp}"


def _key(project_id: int) -> str:
    return f"script-stats:{project_id}"


def _head_key(project_id: int) -> str:
    return f"script-stats-head:{project_id}"


def _lock_key(project_id: int) -> str:
    return f"script-stats-lock:{project_id}"


def compute(project: Project) -> tuple[str, reports.ScriptReport, list[int]]:
    """Lay the script out now; store and return (signature, report, scene ids)."""
    from .exports import project_source  # exports imports this module's neighbours

    sig = signature(project)
    scenes = list(
        Scene.objects.filter(project_id=project.pk)
        .only("id", "heading", "text")
        .order_by("position", "pk")
    )
    script = fountain.parse(project_source(project, scenes))
    report = reports.script_report(script)
    ids = [s.pk for s in scenes]
    acts = _acts(script, len(ids))
    now = time.time()
    # The header reads only the totals: a small entry of their own (the whole report of a
    # 6,840-scene script takes ~50 ms to unpickle).
    stats_cache().set_many(
        {
            _key(project.pk): {"sig": sig, "report": report, "ids": ids, "at": now},
            _head_key(project.pk): {
                "sig": sig,
                "report": reports.ScriptReport(report.pages, report.seconds, [], []),
                "ids": [],
                "acts": acts,
                "at": now,
            },
        },
        STATS_TTL_SECONDS,
    )
    return sig, report, ids


MAX_ACTS = 40


def _acts(script, scene_count: int) -> list[tuple[str, int]]:
    """Return the script's top-level sections (Fountain ``# Act Two``) as (title, number
    of the scene that follows), for the project page's navigator."""
    sections = [e.level for e in script.elements if e.type is ElementType.SECTION]
    if not sections:
        return []
    top, headings, acts = min(sections), 0, []
    for element in script.elements:
        if element.type is ElementType.SCENE_HEADING:
            headings += 1
        elif element.type is ElementType.SECTION and element.level == top and element.text:
            acts.append((element.text.strip()[:60], min(headings + 1, max(scene_count, 1))))
    return acts[:MAX_ACTS]


def cached_acts(project_id: int) -> list[tuple[str, int]]:
    """Return the acts of the latest figures counted (maybe stale; [] if none): no query,
    no count started (the header's request does that)."""
    entry = stats_cache().get(_head_key(project_id))
    return entry.get("acts", []) if entry else []


def _run_once(project_id: int, lock: str, work, what: str) -> None:
    try:
        close_old_connections()
        project = Project.objects.filter(pk=project_id).first()
        if project is not None:
            work(project)
    except Exception:  # a failed refresh leaves the stale figures; the next view retries
        log.exception("%s of project %s failed", what, project_id)
    finally:
        stats_cache().delete(lock)
        close_old_connections()


def run_once_in_background(project_id: int, *, lock: str, work, what: str) -> bool:
    """Run ``work(project)`` on a thread unless one holding ``lock`` is running (the lock
    is a cache key, so one run at a time across processes too); False if one was."""
    if not stats_cache().add(lock, 1, REFRESH_LOCK_SECONDS):
        return False
    threading.Thread(
        target=_run_once,
        args=(project_id, lock, work, what),
        name=f"background:{lock}",
        daemon=True,
    ).start()
    return True


def refresh_in_background(project_id: int) -> bool:
    """Start one refresh of the project's figures on a thread unless one is running."""
    return run_once_in_background(
        project_id, lock=_lock_key(project_id), work=compute, what="Refreshing the page count"
    )


def script_stats(project: Project, *, wait: bool, totals_only: bool = False) -> ScriptStats | None:
    """Return the project's figures from the cache, fresh or stale (a refresh then starts).
    With ``totals_only`` the report has only the page count and running time (the header).

    A small script (``INLINE_SCENES``) is counted now when its entry is missing or stale.
    A big one with no entry at all: computed now if ``wait``, else a refresh starts and
    None is returned.
    """
    sig = signature(project)
    entry = stats_cache().get((_head_key if totals_only else _key)(project.pk))
    if entry is not None and entry["sig"] == sig:
        return ScriptStats(entry["report"], entry["ids"], True, entry["at"])
    if int(sig.split(":", 1)[0]) <= INLINE_SCENES:
        _, report, ids = compute(project)
        return ScriptStats(report, ids, True, time.time())
    if entry is not None:
        refresh_in_background(project.pk)
        return ScriptStats(entry["report"], entry["ids"], False, entry["at"])
    if not wait:
        refresh_in_background(project.pk)
        return None
    _, report, ids = compute(project)
    return ScriptStats(report, ids, True, time.time())


def forget(project_id: int) -> None:
    """Drop the project's cached figures (tests, benchmarks)."""
    stats_cache().delete_many([_key(project_id), _head_key(project_id), _lock_key(project_id)])
