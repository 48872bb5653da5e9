"""Who writes a project's drafts, and how many may be asked now: the limits every request
goes through (a scene's draft, a story proposal, a chapter's drafts).

- the **rate**: requests per user per window (``COWRITE_DRAFT_RATE_LIMIT``); a request
  is one whatever its alternatives, and a chapter's drafts (``chapter.py``) count once;
- the project's **concurrency**: live (queued or streaming) passages per project
  (``COWRITE_DRAFT_PROJECT_CONCURRENCY``);
- the **queue**: queued passages of every project plus API requests waiting for a worker
  (``COWRITE_GENERATION_MAX_QUEUE``).

Whatever counts a project's room and then queues passages does both under the project's
row lock (``lock_project``, in one transaction), so two requests or chapter advances at
once cannot both take the last place. The queue across projects is counted without a
lock: it may pass its limit by the few requests that race for its last places.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone

from scripts_app.models import Membership, Project, Role

from ..endpoints import project_endpoint_for_request
from ..limits import waiting_count
from ..models import ChapterDrafts, ModelVersion, Passage, PassageStatus, VersionStatus
from ..services import active_version

LIVE = (PassageStatus.QUEUED, PassageStatus.STREAMING)


def may_stop(*, project_id: int, requested_by_id: int | None, user) -> bool:
    """Who may stop what was asked (a draft, a chapter's drafts): whoever asked for it,
    and the project's owners."""
    if user is None or not user.is_authenticated:
        return False
    if requested_by_id == user.pk:
        return True
    return Membership.objects.filter(project_id=project_id, user=user, role=Role.OWNER).exists()


def writer_for(project_id: int):
    """The model that writes the project's drafts: ``(endpoint, None)`` for a model the
    project picked (``endpoints.py``), ``(None, active house version)`` otherwise (None
    while the first one trains: the request waits). Raise ValidationError if there is
    none, or the picked one is switched off."""
    endpoint = project_endpoint_for_request(project_id)
    if endpoint is not None:
        return endpoint, None
    version = active_version()
    if version is None and not ModelVersion.objects.filter(status=VersionStatus.TRAINING).exists():
        raise ValidationError("There is no model to write drafts yet (see Model).")
    return None, version


def check_rate(user) -> None:
    """Refuse a request over the user's rate. A request counts once (its first
    alternative); a chapter's drafts count once too, not once per scene."""
    window = settings.COWRITE_DRAFT_RATE_WINDOW_SECONDS
    since = timezone.now() - timedelta(seconds=window)
    recent = (
        Passage.objects.filter(
            requested_by=user, queued_at__gte=since, alternative=0, blind=False, batch__isnull=True
        ).count()
        + ChapterDrafts.objects.filter(requested_by=user, created_at__gte=since).count()
    )
    if recent >= settings.COWRITE_DRAFT_RATE_LIMIT:
        raise ValidationError(
            f"You asked for {recent} drafts in the last {window} seconds; "
            "wait a little and try again."
        )


@dataclass(frozen=True)
class Room:
    """Room for new passages in a project now: under its concurrency cap (``running`` of
    ``cap`` live) and in the shared queue (``queue_free`` places left)."""

    running: int
    cap: int
    queue_free: int

    @property
    def free(self) -> int:
        """How many passages may be queued now."""
        return max(0, min(self.cap - self.running, self.queue_free))

    def refusal(self, wanted: int) -> str:
        """Why ``wanted`` passages do not fit ("" if they do), in the writers' words."""
        if self.running + wanted > self.cap:
            return (
                f"This project already has {self.running} drafts running (the limit is "
                f"{self.cap}); wait for them to finish or cancel one."
            )
        if wanted > self.queue_free:
            return "The generation queue is full; try again in a minute."
        return ""


def lock_project(project_id: int) -> None:
    """Hold the project's row until the current transaction ends: admissions of one
    project (count the room, queue the passages) run one at a time. Takes it before any
    other row lock (the order that keeps two admissions from waiting on each other)."""
    list(Project.objects.select_for_update().filter(pk=project_id).values_list("pk"))


def room_for(project_id: int) -> Room:
    """The project's room for new passages now (``Room``)."""
    counts = Passage.objects.filter(status__in=LIVE, blind=False).aggregate(
        queued=Count("id", filter=Q(status=PassageStatus.QUEUED)),
        project=Count("id", filter=Q(project_id=project_id)),
    )
    # One queue limit for all generation: queued drafts + API requests waiting for a worker.
    queue_free = settings.COWRITE_GENERATION_MAX_QUEUE - (counts["queued"] + waiting_count())
    return Room(counts["project"], settings.COWRITE_DRAFT_PROJECT_CONCURRENCY, queue_free)


def check_limits(project_id: int, user, alternatives: int) -> None:
    """Refuse a request over the user's rate, the project's concurrency or the queue."""
    check_rate(user)
    refusal = room_for(project_id).refusal(alternatives)
    if refusal:
        raise ValidationError(refusal)
