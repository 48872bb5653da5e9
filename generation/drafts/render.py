"""Reads and renderings for the drafts panel: the cards, their headers, queue positions."""

from django.conf import settings

from scripts_app.models import Scene

from .. import feedback
from ..models import Passage, PassageStatus


def group_html(passages: list[Passage]) -> dict[str, str]:
    """A new request's cards as every page shows them, rendered once here (for editors
    and for everyone else) and carried by the event: no page loads anything for it."""
    from django.template.loader import render_to_string

    with_queue_positions(passages)
    return {
        kind: render_to_string(
            "generation/drafts/draft_group.html",
            {"passages": passages, "can_edit": kind == "editor", "oob": True},
        )
        for kind in ("editor", "other")
    }


def head_of(passage: Passage) -> dict:
    """What a card's header shows, as event data: a page swaps just the header when a
    draft starts streaming (no database read per page, and the text streamed so far is
    left alone)."""
    return {
        "alternative": passage.alternative,
        "alternatives": passage.alternatives,
        "status": passage.status,
        "model": passage.model_label,
        "sampling": {k: passage.sampling.get(k) for k in ("preset", "temperature", "seed")},
        "dropped": list((passage.prompt or {}).get("dropped") or []),
    }


# --- reads for the drafts panel --------------------------------------------------------------


CARD_RELATED = ("model_version", "requested_by", "scene", "accepted_by", "beat")


def card_passage(project_id: int, scene_id: int | None, passage_id: int) -> Passage | None:
    """The passage of a room (a scene's, or with ``scene_id`` None the project's story
    proposals) with what its card shows; None if it is not in that room."""
    return (
        Passage.objects.filter(pk=passage_id, project_id=project_id, scene_id=scene_id, blind=False)
        .select_related(*CARD_RELATED)
        .first()
    )


def with_queue_positions(passages: list[Passage]) -> list[Passage]:
    """Set ``queue_position`` (1 = next) on the queued passages among ``passages``."""
    queued = [p for p in passages if p.status == PassageStatus.QUEUED]
    if queued:
        order = list(
            Passage.objects.filter(status=PassageStatus.QUEUED)
            .order_by("queued_at", "pk")
            .values_list("pk", flat=True)[: settings.COWRITE_GENERATION_MAX_QUEUE]
        )
        rank = {pk: i + 1 for i, pk in enumerate(order)}
        for p in queued:
            p.queue_position = rank.get(p.pk)
    return passages


def recent_groups(scene: Scene, limit: int = 20) -> list[list[Passage]]:
    """Return the scene's latest draft requests, newest first, each as its alternatives."""
    return _recent(Passage.objects.filter(scene=scene, blind=False), limit)


def recent_story_groups(project_id: int, limit: int = 20) -> list[list[Passage]]:
    """Return the project's latest story proposals, newest first, as their alternatives."""
    return _recent(Passage.objects.filter(project_id=project_id, scene__isnull=True), limit)


def _recent(room, limit: int) -> list[list[Passage]]:
    groups = list(
        room.order_by("-queued_at").values_list("group", flat=True).distinct()[: limit * 4]
    )
    seen, wanted = set(), []
    for g in groups:
        if g not in seen:
            seen.add(g)
            wanted.append(g)
        if len(wanted) == limit:
            break
    passages = with_queue_positions(
        list(
            room.filter(group__in=wanted)
            .select_related(*CARD_RELATED)
            .order_by("-queued_at", "alternative")
        )
    )
    feedback.feedback_summary(passages)
    by_group: dict = {}
    for p in passages:
        by_group.setdefault(p.group, []).append(p)
    return [sorted(by_group[g], key=lambda p: p.alternative) for g in wanted if g in by_group]


def group_passages(project_id: int, scene_id: int | None, group) -> list[Passage]:
    """The alternatives of one request of a room, in order (empty if none)."""
    return with_queue_positions(
        list(
            Passage.objects.filter(
                project_id=project_id, scene_id=scene_id, group=group, blind=False
            )
            .select_related(*CARD_RELATED)
            .order_by("alternative")
        )
    )
