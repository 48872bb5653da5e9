"""Scoring a draft when it finishes (``draft_scores.py``), with what the worker knows:
the request (task, cast, length asked), the model that wrote it, and two indexes of text
the draft must not copy at length — the house version's training corpus (``ngrams.npz``
written with the version at the end of training) and the other projects' scenes.

Both indexes are kept in the worker process: the version's by its folder's file time,
the other projects' per project (built from the scenes of every other project on the
project's first finished draft; after ``OTHERS_TTL`` seconds the old one is served while
a thread builds a fresh one; a draft copying its own project is not memorisation). The source of
a copy is named only as "the training scripts" or "another project" — never which one.
A scoring failure is logged and leaves the draft unscored; it never fails the draft.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections

from scripts_app.models import Scene

from .core.memorisation import MEMO_FILE, NgramIndex, load_version_index
from .draft_scores import other_projects_index, score_draft
from .models import Passage

log = logging.getLogger(__name__)

OTHERS_TTL = 600.0
OTHERS_KEEP = 8  # projects whose "other projects" index is kept
_lock = threading.Lock()
_version_indexes: dict[str, tuple[float, NgramIndex | None]] = {}
_others: OrderedDict[int, tuple[float, NgramIndex]] = OrderedDict()
_building: set[int] = set()


def _version_index(passage: Passage) -> NgramIndex | None:
    version = passage.model_version
    if version is None:
        return None
    path = Path(version.path) / MEMO_FILE
    stamp = path.stat().st_mtime if path.is_file() else 0.0
    key = str(version.path)
    with _lock:
        cached = _version_indexes.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    index = load_version_index(version.path) if stamp else None
    if index is not None:  # the corpus' own labels (plays, files) are not shown
        index.labels = ["the training scripts"] * len(index.labels)
    with _lock:
        _version_indexes[key] = (stamp, index)
    return index


def _build_others(project_id: int) -> NgramIndex:
    texts = (
        ("another project", text)
        for text in Scene.objects.exclude(project_id=project_id)
        .exclude(text="")
        .values_list("text", flat=True)
        .iterator(chunk_size=500)
    )
    index = other_projects_index(texts)
    with _lock:
        _others[project_id] = (time.monotonic(), index)
        _others.move_to_end(project_id)
        while len(_others) > OTHERS_KEEP:
            _others.popitem(last=False)
        _building.discard(project_id)
    return index


def _rebuild_in_background(project_id: int) -> None:
    def run():
        try:
            _build_others(project_id)
        except Exception:
            log.exception("Could not index the other projects for %s", project_id)
            with _lock:
                _building.discard(project_id)
        finally:
            close_old_connections()

    threading.Thread(target=run, daemon=True, name=f"others-index-{project_id}").start()


def _others_index(project_id: int) -> NgramIndex:
    """The other projects' scenes as an index: built on a project's first finished draft
    in this process, then served while a fresh one is built in the background (the
    worker's database thread is never held for a rebuild)."""
    now = time.monotonic()
    with _lock:
        cached = _others.get(project_id)
        if cached is not None:
            _others.move_to_end(project_id)
            if now - cached[0] >= OTHERS_TTL and project_id not in _building:
                _building.add(project_id)
                stale = True
            else:
                stale = False
    if cached is None:
        return _build_others(project_id)
    if stale:
        _rebuild_in_background(project_id)
    return cached[1]


def scores_for(passage_id: int, text: str, tokens: int) -> dict:
    """The scores of a finished draft (``{}`` if it could not be scored)."""
    try:
        passage = Passage.objects.select_related("model_version").get(pk=passage_id)
        indexes = [i for i in (_version_index(passage),) if i is not None]
        indexes.append(_others_index(passage.project_id))
        prompt = passage.prompt or {}
        cast = prompt.get("cast") or []
        if passage.kind != "scene":  # a story proposal is not a scene: only the copy check
            cast = []
        scores = score_draft(
            text,
            cast=cast,
            task=passage.task if passage.kind == "scene" else "new",
            max_new_tokens=(passage.sampling or {}).get("max_new_tokens"),
            tokens=tokens,
            indexes=indexes,
            memorisation_words=settings.COWRITE_MEMORISATION_WORDS,
        )
        out = scores.as_dict()
        if passage.kind != "scene":
            for key in ("format_ok", "format_issues", "cast_adherence", "unknown_speakers"):
                out.pop(key, None)
        return out
    except Exception:
        log.exception("Could not score passage %s", passage_id)
        return {}


def forget() -> None:
    """Drop the cached indexes (tests)."""
    with _lock:
        _version_indexes.clear()
        _others.clear()
        _building.clear()
