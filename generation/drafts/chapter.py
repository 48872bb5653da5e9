"""A chapter's drafts: one request that drafts every scene made from a chapter of a book.

A project adapted from a book (``scripts_app/adaptation.py``) has scenes made from each
chapter (``SceneSource``). "Draft this chapter's scenes" asks for one ordinary scene
draft (task "new", one alternative: the prompt adapts the scene's passage of the book)
per scene of the chapter, in the chapter's order, as one ``ChapterDrafts`` row:

- the request is refused when the chapter has no scene left, is already being drafted,
  there is no model, or there is no room at all (project concurrency or the queue); it
  counts once against the requester's rate (``admission.check_rate``);
- it queues as many scenes as fit now (``admission.room_for``); the rest **follow** as
  drafts end: wherever a passage reaches its end (``queue.passage_finish``, the reaper
  ``queue.passages_reap``, a cancel of a queued draft ``request.draft_cancel``) the
  project's running chapter requests are advanced (``batches_advance``). An advance
  locks the batch row (``select_for_update``), so of two workers finishing at once one
  queues the next scenes and the other finds them queued: a scene is asked at most once;
  and the project's row first (``admission.lock_project``), so two chapters advancing at
  once never both take the project's last place.
  The reaper's beat also sweeps every running request (a lost advance only delays);
- each passage is asked of the model the project uses when it is queued (``writer_for``);
- a scene deleted before its turn is skipped; the request ends (``finished``) when every
  scene was asked and none is live; a cancel (the requester or an owner) cancels its
  queued and streaming drafts and stops the rest.

Each draft is an ordinary scene draft: its card is published to its scene's room, it
streams there, and is rated, compared and accepted like any other.
"""

import logging
import secrets
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cowrite.events import CancelJob, DraftCreated, DraftFinal, Generate, publish
from scripts_app.models import Scene, SceneSource, SourceText

from .. import feedback
from ..endpoints import model_record
from ..models import BatchState, ChapterDrafts, DraftTask, Passage, PassageStatus
from .admission import LIVE, check_rate, lock_project, may_stop, room_for, writer_for
from .render import group_html
from .spec import DraftSpec, draft_spec_from

log = logging.getLogger(__name__)

# The fields a chapter's request may carry (everything else is fixed: a new scene, one
# alternative each).
FIELDS = ("instruction", "preset", "length", "speakers")


def chapter_spec_from(data) -> DraftSpec:
    """Validate a chapter request's fields (a form's strings); raise ValidationError."""
    fields = {name: data.get(name) for name in FIELDS if data.get(name) not in (None, "")}
    return draft_spec_from({**fields, "mode": "new", "alternatives": 1})


def chapter_scene_ids(source: SourceText, chapter: int) -> list[int]:
    """The scenes made from a chapter, in the chapter's order (as the book page lists them)."""
    return list(
        SceneSource.objects.filter(source=source, chapter=chapter)
        .order_by("first", "scene__position")
        .values_list("scene_id", flat=True)
    )


def running_batch(source: SourceText, chapter: int) -> ChapterDrafts | None:
    return ChapterDrafts.objects.filter(
        source=source, chapter=chapter, state=BatchState.RUNNING
    ).first()


def latest_batch(source: SourceText, chapter: int) -> ChapterDrafts | None:
    """The chapter's latest request (running or not), or None."""
    return ChapterDrafts.objects.filter(source=source, chapter=chapter).order_by("-pk").first()


def chapter_drafts_request(
    *, project, source: SourceText, chapter: int, user, data
) -> ChapterDrafts:
    """Ask for a draft of every scene made from ``chapter`` of ``source`` (a book of
    ``project``); queue as many as fit now. Raise ValidationError with the reason."""
    if source.project_id != project.pk:  # the views fetch it by the project; say it here too
        raise ValidationError("That book is not this project's.")
    spec = chapter_spec_from(data)
    writer_for(project.pk)  # no model: refused now, not scene by scene
    check_rate(user)
    scene_ids = chapter_scene_ids(source, chapter)
    if not scene_ids:
        raise ValidationError("No scene made from this chapter is left to draft.")
    running = running_batch(source, chapter)
    if running is not None:
        raise ValidationError(
            f"This chapter is already being drafted ({progress(running).summary}); "
            "wait for it to finish or stop it."
        )
    room = room_for(project.pk)
    if room.free < 1:
        raise ValidationError(room.refusal(1))
    base_seed = spec.seed if spec.seed is not None else secrets.randbits(48)
    try:
        with transaction.atomic():
            lock_project(project.pk)
            room = room_for(project.pk)  # again, under the lock
            if room.free < 1:
                raise ValidationError(room.refusal(1))
            # The cards offer the project's tags: give it the defaults on first use.
            feedback.tags_for(project)
            batch = ChapterDrafts.objects.create(
                project=project,
                source=source,
                chapter=chapter,
                requested_by=user,
                scene_ids=scene_ids,
                instruction=spec.instruction,
                sampling={**spec.sampling(), "seed": base_seed},
            )
            _fill(batch)
    except IntegrityError:  # another request for this chapter won the race
        raise ValidationError(
            "This chapter is already being drafted; wait for it to finish or stop it."
        ) from None
    return batch


def batch_advance(batch_id: int) -> ChapterDrafts | None:
    """Queue a running request's next scenes, as many as fit now; end it once every
    scene was asked and none is live. Under a lock on its row: two advances at once
    never queue a scene twice."""
    project_id = ChapterDrafts.objects.filter(pk=batch_id).values_list("project_id", flat=True)
    with transaction.atomic():
        for pid in project_id:  # the project first (``lock_project``), then the request
            lock_project(pid)
        batch = ChapterDrafts.objects.select_for_update().filter(pk=batch_id).first()
        if batch is not None and batch.state == BatchState.RUNNING:
            _fill(batch)
    return batch


def batches_advance(*, project_id: int | None = None) -> int:
    """Advance the running chapter requests of a project (a place came free there), or of
    every project (the reaper's sweep); return how many were looked at. A failure is
    logged, never raised: it must not break the finish of the draft that called it."""
    running = ChapterDrafts.objects.filter(state=BatchState.RUNNING)
    if project_id is not None:
        running = running.filter(project_id=project_id)
    ids = list(running.order_by("pk").values_list("pk", flat=True))
    for batch_id in ids:
        try:
            batch_advance(batch_id)
        except Exception:
            log.exception("Could not advance the chapter drafts %s", batch_id)
    return len(ids)


def _fill(batch: ChapterDrafts) -> None:
    """The advance itself (the caller holds the row): skip deleted scenes, queue the next
    ones that fit, end the request when nothing is left."""
    existing = set(
        Scene.objects.filter(pk__in=batch.scene_ids, project_id=batch.project_id).values_list(
            "pk", flat=True
        )
    )
    pending = [
        sid for sid in batch.scene_ids if str(sid) not in batch.queued and sid not in batch.skipped
    ]
    gone = [sid for sid in pending if sid not in existing]
    pending = [sid for sid in pending if sid in existing]
    fields = set()
    if gone:
        batch.skipped = [*batch.skipped, *gone]
        fields.add("skipped")
    if pending:
        free = room_for(batch.project_id).free
        if free > 0:
            try:
                endpoint, version = writer_for(batch.project_id)
            except ValidationError as exc:  # the model went away since the request
                _end(batch, BatchState.STOPPED, exc.messages[0])
                return
            scenes = Scene.objects.in_bulk(pending[:free])
            for sid in pending[:free]:
                passage = _ask(batch, scenes[sid], batch.scene_ids.index(sid), endpoint, version)
                batch.queued = {**batch.queued, str(sid): passage.pk}
            fields.add("queued")
            pending = pending[free:]
    if not pending and not Passage.objects.filter(batch=batch, status__in=LIVE).exists():
        _end(batch, BatchState.FINISHED, "", fields)
        return
    if fields:
        batch.save(update_fields=sorted(fields))


def _ask(batch: ChapterDrafts, scene: Scene, index: int, endpoint, version) -> Passage:
    """One scene's draft, as ``draft_request`` asks it (task "new", one alternative)."""
    passage = Passage.objects.create(
        project_id=batch.project_id,
        scene=scene,
        group=uuid.uuid4(),
        alternative=0,
        alternatives=1,
        requested_by_id=batch.requested_by_id,
        task=DraftTask.NEW,
        instruction=batch.instruction,
        sampling={**batch.sampling, "seed": batch.sampling.get("seed", 0) + index},
        model_version=version,
        endpoint=endpoint,
        model_record=model_record(endpoint) if endpoint is not None else {},
        batch=batch,
    )
    publish(DraftCreated(passage.room, str(passage.group), group_html([passage])))
    publish(Generate(passage.pk))  # the workers' doorbell (after commit)
    return passage


def _end(batch: ChapterDrafts, state: str, reason: str, fields=()) -> None:
    batch.state, batch.reason, batch.finished_at = state, reason, timezone.now()
    batch.save(update_fields=sorted({*fields, "state", "reason", "finished_at"}))


def can_cancel_batch(batch: ChapterDrafts, user) -> bool:
    """Who may stop a chapter's drafts: whoever asked for them, and the project's owners."""
    return may_stop(project_id=batch.project_id, requested_by_id=batch.requested_by_id, user=user)


def batch_cancel(*, batch: ChapterDrafts, user) -> ChapterDrafts:
    """Stop a chapter's drafts: its queued drafts are cancelled, its streaming ones asked
    to stop, the scenes not asked yet never will be. Finished drafts stay. Only the
    requester or an owner may."""
    if not can_cancel_batch(batch, user):
        raise ValidationError(
            "Only the person who asked for this chapter's drafts, or a project owner, "
            "can stop them."
        )
    with transaction.atomic():
        batch = ChapterDrafts.objects.select_for_update().get(pk=batch.pk)
        if batch.state != BatchState.RUNNING:
            return batch
        _end(batch, BatchState.CANCELLED, f"Stopped by {user.get_username()}.")
        now = timezone.now()
        for passage in Passage.objects.select_for_update().filter(batch=batch, status__in=LIVE):
            if passage.status == PassageStatus.QUEUED:
                passage.status = PassageStatus.CANCELLED
                passage.finish_reason = "cancelled"
                passage.finished_at = now
                passage.save(update_fields=["status", "finish_reason", "finished_at"])
                publish(DraftFinal(passage.room, passage.pk))
            else:
                passage.cancel_requested = True
                passage.save(update_fields=["cancel_requested"])
                publish(CancelJob(("passage", passage.pk)))  # the worker running it stops
    # Places came free: another chapter of the project waiting for one takes them.
    batches_advance(project_id=batch.project_id)
    return batch


# --- reads for the chapter's panel ----------------------------------------------------------

# A scene's draft as the panel says it.
_PASSAGE_STATES = {
    PassageStatus.QUEUED: "queued",
    PassageStatus.STREAMING: "writing",
    PassageStatus.DONE: "finished",
    PassageStatus.FAILED: "failed",
    PassageStatus.CANCELLED: "cancelled",
}


@dataclass
class SceneRow:
    """One scene of a chapter's request: the scene (None if deleted), its draft's state
    (waiting / queued / writing / finished / failed / cancelled / not asked / deleted)
    and the draft (None until asked)."""

    scene: Scene | None
    state: str
    passage: Passage | None = None


@dataclass
class Progress:
    batch: ChapterDrafts
    rows: list[SceneRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(1 for r in self.rows if r.state != "deleted")

    @property
    def drafted(self) -> int:
        return sum(1 for r in self.rows if r.state == "finished")

    @property
    def live(self) -> bool:
        """Something may still change: the request runs, or a draft of it is live."""
        return self.batch.is_running or any(r.state in ("queued", "writing") for r in self.rows)

    @property
    def summary(self) -> str:
        return f"{self.drafted} of {self.total} scene{'s' if self.total != 1 else ''} drafted"

    @property
    def tally(self) -> list[tuple[str, int]]:
        """How many scenes are in each state other than finished ("2 writing"), in the
        order a writer reads them."""
        order = ("writing", "queued", "waiting", "failed", "cancelled", "not asked", "deleted")
        counts = {state: sum(1 for r in self.rows if r.state == state) for state in order}
        return [(state, n) for state, n in counts.items() if n]


def progress(batch: ChapterDrafts) -> Progress:
    """Each scene of a request with its draft's state, in the chapter's order."""
    scenes = Scene.objects.filter(project_id=batch.project_id).in_bulk(batch.scene_ids)
    passages = Passage.objects.in_bulk(list(batch.queued.values()))
    rows = []
    for sid in batch.scene_ids:
        scene = scenes.get(sid)
        passage = passages.get(batch.queued.get(str(sid)))
        if scene is None or sid in batch.skipped:
            rows.append(SceneRow(None, "deleted"))
        elif passage is not None:
            rows.append(SceneRow(scene, _PASSAGE_STATES.get(passage.status, "failed"), passage))
        elif str(sid) in batch.queued:  # its draft was deleted (with the scene, in a race)
            rows.append(SceneRow(scene, "not asked"))
        else:
            rows.append(SceneRow(scene, "waiting" if batch.is_running else "not asked"))
    return Progress(batch, rows)
