"""The generation worker's bookkeeping on passages: claim, progress, heartbeat, finish, reap.

A worker *claims* a passage with a conditional UPDATE, so a passage runs once even if a
queue message were delivered twice; a worker that stops beating has its passages failed
by ``passages_reap`` (beat, every few seconds). Wherever a passage ends, a chapter's
drafts waiting for a place are advanced (``chapter.batches_advance``).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cowrite.events import DraftFinal, DraftStatus, publish

from ..models import Passage, PassageStatus, room_of
from . import chapter
from .render import head_of

# --- the generation worker's side ------------------------------------------------------------


def passage_claim(*, passage_id: int, worker: str, version_id: int | None) -> Passage | None:
    """Take a queued passage for this worker; None if it is gone, taken or cancelled."""
    now = timezone.now()
    updated = Passage.objects.filter(
        pk=passage_id, status=PassageStatus.QUEUED, cancel_requested=False
    ).update(
        status=PassageStatus.STREAMING,
        worker=worker,
        started_at=now,
        heartbeat_at=now,
        model_version_id=version_id,
    )
    if not updated:
        return None
    passage = Passage.objects.select_related("scene", "model_version").get(pk=passage_id)
    publish(DraftStatus(passage.room, passage.pk, head_of(passage)))
    return passage


def passage_progress(*, items: list[dict]) -> None:
    """Save streaming passages' text so far (and beat their heartbeat)."""
    now = timezone.now()
    for item in items:
        fields = {
            "text": item["text"],
            "seq": item["seq"],
            "token_count": item["tokens"],
            "heartbeat_at": now,
        }
        if item.get("first_token_at"):
            fields["first_token_at"] = item["first_token_at"]
        Passage.objects.filter(pk=item["id"], status=PassageStatus.STREAMING).update(**fields)


def passage_heartbeat(*, passage_ids: list[int]) -> list[int]:
    """Beat the heartbeat of a worker's passages; return those whose cancel was asked."""
    Passage.objects.filter(pk__in=passage_ids, status=PassageStatus.STREAMING).update(
        heartbeat_at=timezone.now()
    )
    return list(
        Passage.objects.filter(pk__in=passage_ids, cancel_requested=True).values_list(
            "pk", flat=True
        )
    )


def passage_finish(
    *,
    passage_id: int,
    text: str,
    seq: int,
    tokens: int,
    reason: str,
    error: str = "",
    first_token_at=None,
    sent: dict | None = None,
) -> None:
    """Record a passage's end (done, cancelled or failed) and tell the room. ``sent``:
    what a model record's backend actually sent (chat messages, or the plain prompt),
    kept with the stored prompt."""
    status = {
        "cancelled": PassageStatus.CANCELLED,
        "error": PassageStatus.FAILED,
    }.get(reason, PassageStatus.DONE)
    fields = {
        "status": status,
        "text": text,
        "seq": seq,
        "token_count": tokens,
        "finish_reason": reason,
        "error": error,
        "finished_at": timezone.now(),
    }
    if first_token_at:
        fields["first_token_at"] = first_token_at
    if status == PassageStatus.DONE and text.strip():
        from ..scoring import scores_for  # the indexes live in the worker process

        fields["scores"] = scores_for(passage_id, text, tokens)
    with transaction.atomic():
        if sent:
            prompt = Passage.objects.filter(pk=passage_id).values_list("prompt", flat=True).first()
            fields["prompt"] = {**(prompt or {}), "sent": sent}
        updated = Passage.objects.filter(pk=passage_id, status=PassageStatus.STREAMING).update(
            **fields
        )
        if updated:
            scene_id, project_id = (
                Passage.objects.filter(pk=passage_id).values_list("scene_id", "project_id").get()
            )
            publish(DraftFinal(room_of(scene_id, project_id), passage_id))
    if updated:
        # Its place is free: the project's chapter drafts waiting for one take it.
        chapter.batches_advance(project_id=project_id)


def passages_reap(*, timeout_seconds: float) -> int:
    """Fail streaming passages whose worker stopped beating (it died); return how many."""
    cutoff = timezone.now() - timedelta(seconds=timeout_seconds)
    stale = list(
        Passage.objects.filter(
            status=PassageStatus.STREAMING, heartbeat_at__lt=cutoff, blind=False
        ).values_list("pk", "scene_id", "project_id")
    )
    for passage_id, scene_id, project_id in stale:
        with transaction.atomic():
            if Passage.objects.filter(pk=passage_id, status=PassageStatus.STREAMING).update(
                status=PassageStatus.FAILED,
                finish_reason="error",
                error="The generation worker stopped while writing this draft. Retry it.",
                finished_at=timezone.now(),
            ):
                publish(DraftFinal(room_of(scene_id, project_id), passage_id))
    # Every running chapter request, whether or not a draft of it was reaped: one whose
    # advance was lost (a worker killed between a finish and its advance, a scene deleted
    # with its queued draft) goes on from here.
    chapter.batches_advance()
    return len(stale)
