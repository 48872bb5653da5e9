"""Coverage of a project's script: the analysis (``formats/coverage.py``) fed from the
database, cached per script state, as of now or as of a past date, and compared.

- **Input**: the scenes in order with their heading, text, cast list and act (the act of
  the beat-board card a scene was made from, carried forward to the scenes after it);
  the characters' tags (``Character.attributes``: only what the team filled in); the
  order in which the story outline introduces characters (the cards, act by act, and
  the characters each names) when there is an outline.
- **Cache**: the same one as the page counts (``script_stats.stats_cache``), keyed by
  the script's signature (``script_stats.signature``: any change of a scene's text,
  heading or order, or of the project, gives a new one): one computation per script
  state, whoever opens the page. Tags and the outline are part of the key too (a hash),
  so filling in a character's tag shows at once.
- **As of a date**: each scene's text is its latest revision made by then (revisions are
  never rewritten); scenes made later are left out; headings and cast are today's (they
  have no history). Cached by the date and the revisions it used.
- **Compare** (``compare``): two coverages side by side — pages, scenes, dialogue share,
  each main character's share of the dialogue, and the problems fixed and added.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import OuterRef, Subquery

from .formats.coverage import Coverage, SceneInput, coverage
from .formats.model import normalize_character_name
from .models import Beat, Character, Project, Revision, Scene
from .script_stats import signature, stats_cache

CACHE_TTL_SECONDS = 7 * 24 * 3600


@dataclass
class ProjectCoverage:
    coverage: Coverage
    scene_ids: list[int]
    at: datetime | None  # None: the script as it is now
    seconds: float  # how long the analysis took when it was computed
    computed_at: float


def _acts(project: Project, scene_ids: Sequence[int]) -> dict[int, str]:
    """Each scene's act: the act of the card it was made from, carried forward."""
    by_scene = dict(
        Beat.objects.filter(project=project, scene_id__in=scene_ids).values_list("scene_id", "act")
    )
    out, act = {}, None
    for sid in scene_ids:
        if sid in by_scene:
            act = f"Act {by_scene[sid]}"
        if act is not None:
            out[sid] = act
    return out


def _introductions(project: Project) -> list[str] | None:
    """Character names in the order the outline (the beat board) first names them."""
    beats = list(
        Beat.objects.filter(project=project)
        .order_by("act", "position", "pk")
        .prefetch_related("characters")
    )
    if not beats:
        return None
    seen: list[str] = []
    for beat in beats:
        for c in sorted(beat.characters.all(), key=lambda c: c.pk):
            name = normalize_character_name(c.name)
            if name not in seen:
                seen.append(name)
    return seen or None


def _attributes(project: Project) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, attrs in Character.objects.filter(project=project).values_list("name", "attributes"):
        for key, value in (attrs or {}).items():
            if isinstance(key, str) and isinstance(value, str) and key.strip() and value.strip():
                out.setdefault(key.strip().lower(), {})[normalize_character_name(name)] = (
                    value.strip()
                )
    return out


def _inputs(project: Project, at: datetime | None) -> tuple[list[SceneInput], list[int], str]:
    """The analysis' input, and a key of what it was made from (for the cache)."""
    scenes = Scene.objects.filter(project=project).order_by("position", "pk")
    if at is not None:
        latest = (
            Revision.objects.filter(scene=OuterRef("pk"), created_at__lte=at)
            .order_by("-number")
            .values("text")[:1]
        )
        latest_n = (
            Revision.objects.filter(scene=OuterRef("pk"), created_at__lte=at)
            .order_by("-number")
            .values("number")[:1]
        )
        scenes = scenes.filter(created_at__lte=at).annotate(
            then=Subquery(latest), then_n=Subquery(latest_n)
        )
    rows = list(scenes.prefetch_related("cast").defer("doc_state"))
    ids = [s.pk for s in rows]
    acts = _acts(project, ids)
    inputs = [
        SceneInput(
            key=s.pk,
            heading=s.heading,
            text=(s.then or "") if at is not None else s.text,
            cast=tuple(c.name for c in s.cast.all()),
            act=acts.get(s.pk),
        )
        for s in rows
    ]
    used = [getattr(s, "then_n", None) for s in rows] if at is not None else []
    return inputs, ids, json.dumps(used)


def project_coverage(project: Project, *, at: datetime | None = None) -> ProjectCoverage:
    """The coverage of the script now (or as of ``at``), from the cache when nothing it
    depends on changed."""
    attributes = _attributes(project)
    introductions = _introductions(project)
    side = hashlib.sha256(
        json.dumps([attributes, introductions], sort_keys=True).encode()
    ).hexdigest()[:16]
    cache = stats_cache()
    if at is None:
        key = f"coverage:{project.pk}"
        sig = f"{signature(project)}:{side}"
        entry = cache.get(key)
        if entry and entry.get("sig") == sig:
            return entry["value"]
        inputs, ids, _ = _inputs(project, None)
    else:
        inputs, ids, used = _inputs(project, at)
        key = f"coverage:{project.pk}:at:{at.isoformat()}"
        sig = hashlib.sha256(f"{used}:{ids}:{side}".encode()).hexdigest()
        entry = cache.get(key)
        if entry and entry.get("sig") == sig:
            return entry["value"]
    started = time.perf_counter()
    result = coverage(inputs, attributes=attributes, introductions=introductions)
    value = ProjectCoverage(result, ids, at, time.perf_counter() - started, time.time())
    cache.set(key, {"sig": sig, "value": value}, CACHE_TTL_SECONDS)
    return value


# --- compare --------------------------------------------------------------------------------


@dataclass
class Change:
    label: str
    before: str
    after: str
    better: bool | None = None  # None: neither (a change, not a verdict)


@dataclass
class Comparison:
    figures: list[Change] = field(default_factory=list)
    characters: list[tuple[str, float, float]] = field(default_factory=list)  # name, before, after
    fixed: list = field(default_factory=list)  # problems gone
    added: list = field(default_factory=list)  # problems new


def _problem_key(p) -> tuple:
    return (p.kind, p.excerpt.strip().lower())


def _dialogue_share(c: Coverage) -> float:
    d = sum(s.dialogue_words for s in c.scenes)
    a = sum(s.action_words for s in c.scenes)
    return d / (d + a) if d + a else 0.0


def _shares(c: Coverage) -> dict[str, float]:
    total = sum(ch.words for ch in c.characters) or 1
    return {ch.name: ch.words / total for ch in c.characters}


def compare(before: Coverage, after: Coverage, *, top: int = 10) -> Comparison:
    """What changed from ``before`` to ``after``, in a writer's terms."""
    out = Comparison()

    def pages(c):
        whole, rest = divmod(c.eighths, 8)
        return f"{whole} {rest}/8" if rest else str(whole)

    out.figures = [
        Change("Length (pages)", pages(before), pages(after)),
        Change("Scenes", str(len(before.scenes)), str(len(after.scenes))),
        Change("Dialogue", f"{_dialogue_share(before):.0%}", f"{_dialogue_share(after):.0%}"),
        Change("Speaking characters", str(len(before.characters)), str(len(after.characters))),
        Change(
            "Problems",
            str(len(before.problems)),
            str(len(after.problems)),
            better=len(after.problems) < len(before.problems)
            if len(after.problems) != len(before.problems)
            else None,
        ),
    ]
    a, b = _shares(before), _shares(after)
    names = sorted(set(a) | set(b), key=lambda n: -(b.get(n, 0) + a.get(n, 0)))[:top]
    out.characters = [(n, a.get(n, 0.0), b.get(n, 0.0)) for n in names]
    keys_before = {_problem_key(p) for p in before.problems}
    keys_after = {_problem_key(p) for p in after.problems}
    out.fixed = [p for p in before.problems if _problem_key(p) not in keys_after]
    out.added = [p for p in after.problems if _problem_key(p) not in keys_before]
    return out
