"""The team's actions on drafts: request, cancel, retry, accept into the scene.

A request writes one ``Passage`` row per alternative (``queued``) and, after commit, puts
one message per passage on the generation queue (a named channel that every generation
worker reads: each message reaches one worker).
"""

import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from cowrite.events import CancelJob, DraftCreated, DraftFinal, Generate, publish
from scripts_app import documents
from scripts_app.models import Membership, RevisionOrigin, Role, Scene
from scripts_app.services import (
    add_revision,
    scene_commit_text,
    scene_sync_live,
    validate_scene_text,
)

from .. import feedback
from ..limits import waiting_count
from ..models import DraftTask, ModelVersion, Passage, PassageStatus, VersionStatus
from ..prompts import find_near
from ..services import active_version
from .queue import LIVE
from .render import group_html
from .spec import DraftSpec, draft_spec_from


def _check_limits(scene: Scene, user, spec: DraftSpec) -> None:
    since = timezone.now() - timedelta(seconds=settings.COWRITE_DRAFT_RATE_WINDOW_SECONDS)
    recent = Passage.objects.filter(requested_by=user, queued_at__gte=since, alternative=0).count()
    if recent >= settings.COWRITE_DRAFT_RATE_LIMIT:
        raise ValidationError(
            f"You asked for {recent} drafts in the last "
            f"{settings.COWRITE_DRAFT_RATE_WINDOW_SECONDS} seconds; wait a little and try again."
        )
    counts = Passage.objects.filter(status__in=LIVE).aggregate(
        queued=Count("id", filter=Q(status=PassageStatus.QUEUED)),
        project=Count("id", filter=Q(scene__project_id=scene.project_id)),
    )
    cap = settings.COWRITE_DRAFT_PROJECT_CONCURRENCY
    if counts["project"] + spec.alternatives > cap:
        raise ValidationError(
            f"This project already has {counts['project']} drafts running (the limit is {cap}); "
            "wait for them to finish or cancel one."
        )
    # One queue limit for all generation: queued drafts + API requests waiting for a worker.

    waiting = counts["queued"] + waiting_count()
    if waiting + spec.alternatives > settings.COWRITE_GENERATION_MAX_QUEUE:
        raise ValidationError("The generation queue is full; try again in a minute.")


def draft_request(*, scene: Scene, user, spec: DraftSpec) -> list[Passage]:
    """Queue a draft request: one passage per alternative. Raise ValidationError.

    The request is stored as asked (task, instruction, selection, sampling); the worker
    that runs it builds and tokenizes the prompt (``prompts.prompt_for``). While the first
    model is still training, the request waits in the queue (no model version yet) and
    starts when that model is ready: workers take queued passages once they have a model."""
    version = active_version()
    if version is None and not ModelVersion.objects.filter(status=VersionStatus.TRAINING).exists():
        raise ValidationError("There is no model to write drafts yet (see Model).")
    _check_limits(scene, user, spec)
    selection = None
    selection_text = ""
    if spec.task == DraftTask.REWRITE:  # the selection as it is now, to find it again later
        text = (
            documents.doc_text(documents.load(scene.pk).doc) if scene.has_live_doc() else scene.text
        )
        if spec.selection_end > len(text):
            raise ValidationError("The selection is outside the scene's text; select it again.")
        selection = (spec.selection_start, spec.selection_end)
        selection_text = text[spec.selection_start : spec.selection_end]
    base_seed = spec.seed if spec.seed is not None else secrets.randbits(48)
    group = uuid.uuid4()
    with transaction.atomic():
        # The cards offer the project's tags: give it the defaults on first use (a write,
        # so here and not in ``feedback_summary``, which only reads).
        feedback.tags_for(scene.project)
        passages = [
            Passage.objects.create(
                scene=scene,
                group=group,
                alternative=i,
                alternatives=spec.alternatives,
                requested_by=user,
                task=spec.task,
                instruction=spec.instruction,
                sampling={**spec.sampling(), "seed": base_seed + i},
                selection_start=selection[0] if selection else None,
                selection_end=selection[1] if selection else None,
                selection_text=selection_text,
                model_version=version,
            )
            for i in range(spec.alternatives)
        ]
        publish(DraftCreated(scene.pk, str(group), group_html(passages)))
        for p in passages:  # the workers' doorbell (after commit)
            publish(Generate(p.pk))
    return passages


def can_cancel(passage: Passage, user) -> bool:
    """Who may stop a draft: whoever asked for it, and the project's owners."""

    if user is None or not user.is_authenticated:
        return False
    if passage.requested_by_id == user.pk:
        return True
    return Membership.objects.filter(
        project_id=passage.scene.project_id, user=user, role=Role.OWNER
    ).exists()


def draft_cancel(*, passage: Passage, user) -> Passage:
    """Cancel a queued or streaming passage (a finished one is left as it is).

    Only its requester or a project owner may; anyone else gets a ValidationError and the
    draft goes on."""
    if not can_cancel(passage, user):
        raise ValidationError(
            "Only the person who asked for this draft, or a project owner, can cancel it."
        )
    with transaction.atomic():
        passage = Passage.objects.select_for_update().get(pk=passage.pk)
        if passage.status == PassageStatus.QUEUED:
            passage.status = PassageStatus.CANCELLED
            passage.finish_reason = "cancelled"
            passage.finished_at = timezone.now()
            passage.save(update_fields=["status", "finish_reason", "finished_at"])
            publish(DraftFinal(passage.scene_id, passage.pk))
        elif passage.status == PassageStatus.STREAMING:
            passage.cancel_requested = True
            passage.save(update_fields=["cancel_requested"])
            publish(CancelJob(("passage", passage.pk)))  # the worker running it stops
    return passage


def draft_retry(*, passage: Passage, user) -> list[Passage]:
    """Ask again with a failed (or cancelled) passage's request, as a new request."""
    data = {"task": passage.task, "instruction": passage.instruction, "alternatives": 1}
    data.update({k: v for k, v in passage.sampling.items() if k not in ("seed", "cast_cues")})
    data["speakers"] = "cast" if passage.sampling.get("cast_cues") else "any"
    spec = draft_spec_from({k: v for k, v in data.items() if v is not None})
    spec.selection_start, spec.selection_end = passage.selection_start, passage.selection_end
    return draft_request(scene=passage.scene, user=user, spec=spec)


def passage_accept(*, passage: Passage, user, mode: str):
    """Put a finished passage into the scene (append, or replace the rewritten selection).

    The text goes in through the live document, so everyone editing sees it at once;
    the result is a revision whose origin is the passage.
    """
    if passage.status != PassageStatus.DONE:
        raise ValidationError("Only a finished draft can be accepted.")
    if not passage.text.strip():
        raise ValidationError("This draft is empty.")
    if mode not in ("append", "replace"):
        raise ValidationError("Accept by appending, or by replacing the selection.")
    with transaction.atomic():
        scene = scene_sync_live(scene_id=passage.scene_id, autosave=True)
        current = scene.text
        if mode == "replace":
            if passage.task != DraftTask.REWRITE or not passage.selection_text:
                raise ValidationError("Only a rewrite replaces a selection; append this one.")
            start = find_near(current, passage.selection_text, passage.selection_start or 0)
            if start < 0:
                raise ValidationError(
                    "The passage this draft rewrites has changed since; append the draft instead."
                )
            new_text = (
                current[:start] + passage.text + current[start + len(passage.selection_text) :]
            )
        else:
            glue = (
                ""
                if not current or current.endswith("\n\n")
                else ("\n" if current.endswith("\n") else "\n\n")
            )
            new_text = current + glue + passage.text.strip("\n") + "\n"
        validate_scene_text(new_text)
        revision = add_revision(
            scene=scene,
            text=new_text,
            author=user,
            origin=RevisionOrigin.PASSAGE,
            label=f"Accepted draft {passage.pk}",
            base=scene.head,
        )
        scene_commit_text(scene=scene, text=new_text, user=user, revision=revision)
        passage.accepted_revision = revision
        passage.save(update_fields=["accepted_revision"])
        feedback.preference_from_accept(passage=passage, user=user)
        publish(DraftFinal(scene.pk, passage.pk))
    return revision
