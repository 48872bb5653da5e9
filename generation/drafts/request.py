"""The team's actions on drafts: request, cancel, retry, accept into the scene.

A request writes one ``Passage`` row per alternative (``queued``) and, after commit, puts
one message per passage on the generation queue (a named channel that every generation
worker reads: each message reaches one worker).
"""

import secrets
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cowrite.events import CancelJob, DraftCreated, DraftFinal, Generate, publish
from scripts_app import documents, positions
from scripts_app.models import RevisionOrigin, Scene
from scripts_app.services import scene_edit_live

from .. import feedback
from ..endpoints import model_record
from ..models import AcceptPlace, DraftTask, Passage, PassageStatus
from ..prompts import find_near
from . import chapter
from .admission import check_limits, lock_project, may_stop, writer_for
from .render import group_html
from .spec import DraftSpec, draft_spec_from


@dataclass(frozen=True)
class _Place:
    """Where a request was asked: a rewrite's selection, a continuation's cursor."""

    start: int | None = None
    end: int | None = None
    text: str = ""
    anchor_start: bytes | None = None
    anchor_end: bytes | None = None


def _request_place(scene: Scene, spec: DraftSpec) -> _Place:
    """The selection (or cursor) as it is in the live text now.

    The browser sends it twice: as characters and as Yjs relative positions. The
    positions win when the server's document already has the characters they name (the
    indexes are the browser's count, which may be ahead of or behind the server's); the
    positions are stored either way, for the accept to find the place again."""
    if spec.task == DraftTask.NEW or spec.selection_start is None:
        return _Place()
    resolver = None
    text = scene.text
    if scene.has_live_doc():
        resolver = positions.Resolver(documents.load(scene.pk).doc)
        text = resolver.text
    start, end = spec.selection_start, spec.selection_end
    if spec.task == DraftTask.REWRITE:
        if spec.anchor_start is not None and resolver is not None:
            found = resolver.span(spec.anchor_start, spec.anchor_end)
            if found is not None and found[1] > found[0]:
                start, end = found
        if end > len(text):
            raise ValidationError("The selection is outside the scene's text; select it again.")
        return _Place(
            start,
            end,
            text[start:end],
            spec.anchor_start.encode() if spec.anchor_start else None,
            spec.anchor_end.encode() if spec.anchor_end else None,
        )
    # A continuation: from the cursor; a cursor at the very end is "from the end".
    if spec.anchor_start is not None and resolver is not None:
        found = resolver.index(spec.anchor_start)
        if found is not None:
            start = found
    if start >= len(text.rstrip("\n")):
        return _Place()
    return _Place(start, start, "", spec.anchor_start.encode() if spec.anchor_start else None)


def draft_request(*, scene: Scene, user, spec: DraftSpec) -> list[Passage]:
    """Queue a draft request: one passage per alternative. Raise ValidationError.

    The request is stored as asked (task, instruction, selection, sampling); the worker
    that runs it builds and tokenizes the prompt (``prompts.prompt_for``). While the first
    model is still training, the request waits in the queue (no model version yet) and
    starts when that model is ready: workers take queued passages once they have a model."""
    endpoint, version = writer_for(scene.project_id)
    check_limits(scene.project_id, user, spec.alternatives)  # a quick refusal, no lock
    place = _request_place(scene, spec)
    base_seed = spec.seed if spec.seed is not None else secrets.randbits(48)
    group = uuid.uuid4()
    with transaction.atomic():
        lock_project(scene.project_id)
        check_limits(scene.project_id, user, spec.alternatives)  # again, now it counts
        # The cards offer the project's tags: give it the defaults on first use (a write,
        # so here and not in ``feedback_summary``, which only reads).
        feedback.tags_for(scene.project)
        passages = [
            Passage.objects.create(
                project_id=scene.project_id,
                scene=scene,
                group=group,
                alternative=i,
                alternatives=spec.alternatives,
                requested_by=user,
                task=spec.task,
                instruction=spec.instruction,
                sampling={**spec.sampling(), "seed": base_seed + i},
                selection_start=place.start,
                selection_end=place.end,
                selection_text=place.text,
                anchor_start=place.anchor_start,
                anchor_end=place.anchor_end,
                model_version=version,
                endpoint=endpoint,
                model_record=model_record(endpoint) if endpoint is not None else {},
            )
            for i in range(spec.alternatives)
        ]
        publish(DraftCreated(passages[0].room, str(group), group_html(passages)))
        for p in passages:  # the workers' doorbell (after commit)
            publish(Generate(p.pk))
    return passages


def can_cancel(passage: Passage, user) -> bool:
    """Who may stop a draft: whoever asked for it, and the project's owners."""
    return may_stop(
        project_id=passage.project_id, requested_by_id=passage.requested_by_id, user=user
    )


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
            publish(DraftFinal(passage.room, passage.pk))
        elif passage.status == PassageStatus.STREAMING:
            passage.cancel_requested = True
            passage.save(update_fields=["cancel_requested"])
            publish(CancelJob(("passage", passage.pk)))  # the worker running it stops
    if passage.status == PassageStatus.CANCELLED:
        # A place came free: a chapter's drafts waiting for one take it (a streaming
        # passage frees its place when its worker finishes it: ``passage_finish``).
        chapter.batches_advance(project_id=passage.project_id)
    return passage


def draft_retry(*, passage: Passage, user) -> list[Passage]:
    """Ask again with a failed (or cancelled) passage's request, as a new request."""
    data = {"task": passage.task, "instruction": passage.instruction, "alternatives": 1}
    data.update({k: v for k, v in passage.sampling.items() if k not in ("seed", "cast_cues")})
    data["speakers"] = "cast" if passage.sampling.get("cast_cues") else "any"
    # Where it was asked (a rewrite needs its selection to validate at all).
    data["selection_start"], data["selection_end"] = passage.selection_start, passage.selection_end
    spec = draft_spec_from({k: v for k, v in data.items() if v is not None})
    anchors = [positions.parse(bytes(a)) if a else None for a in _anchors(passage)]
    spec.anchor_start, spec.anchor_end = anchors
    return draft_request(scene=passage.scene, user=user, spec=spec)


def _anchors(passage: Passage) -> tuple[bytes | None, bytes | None]:
    return (
        bytes(passage.anchor_start) if passage.anchor_start is not None else None,
        bytes(passage.anchor_end) if passage.anchor_end is not None else None,
    )


ACCEPT_MODES = ("append", "replace", "insert")


def _block(text: str, left: str, right: str) -> tuple[str, int]:
    """A draft as a block of lines between ``left`` and ``right`` (a blank line on each
    side, as Fountain separates elements); return it and where its own text starts."""
    body = text.strip("\n")
    lead = "" if not left else "\n\n"[len(left) - len(left.rstrip("\n")) :]
    trail = "\n" if not right else "\n\n"[len(right) - len(right.lstrip("\n")) :]
    return lead + body + trail, len(lead)


def _line_at(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def passage_accept(
    *, passage: Passage, user, mode: str, cursor: positions.RelativePosition | None = None
):
    """Put a finished passage into the scene, once: at the end (``append``), in place of
    the selection it rewrites (``replace``), or at a cursor (``insert``: the writer's
    ``cursor`` if given, else the cursor a continuation was asked from).

    The place is found in the live document as it is now (the request's relative
    positions follow everyone's edits; with none, the rewritten text is searched near
    where it was), and the draft goes in as one edit there, so everyone editing sees it
    and nobody's typing elsewhere is lost. The result is a revision whose origin is the
    passage; the passage records where it went and exactly what went in, for its card
    and for an undo. A second accept of the same passage is refused (of two at once,
    exactly one wins: the conditional update below)."""
    if passage.status != PassageStatus.DONE:
        raise ValidationError("Only a finished draft can be accepted.")
    if not passage.text.strip():
        raise ValidationError("This draft is empty.")
    if mode not in ACCEPT_MODES:
        raise ValidationError("Accept at the end, at the cursor, or in place of the selection.")
    anchor_start, anchor_end = _anchors(passage)
    if mode == "replace" and (passage.task != DraftTask.REWRITE or not passage.selection_text):
        raise ValidationError("Only a rewrite replaces a selection; add this one at the end.")
    own_cursor = passage.task == DraftTask.CONTINUE and anchor_start is not None and cursor is None
    if mode == "insert" and cursor is None and not own_cursor:
        raise ValidationError("Put your cursor in the scene where the draft should go.")
    place = {"mode": mode}

    def plan(resolver: positions.Resolver) -> documents.Edit:
        current = resolver.text
        if mode == "replace":
            if anchor_start is not None and anchor_end is not None:
                found = resolver.span(positions.parse(anchor_start), positions.parse(anchor_end))
                if found is None:
                    raise ValidationError(
                        "The selection this draft rewrites is not in the scene any more; "
                        "add the draft at the end or at your cursor instead."
                    )
                start, end = found
                if current[start:end] != passage.selection_text:
                    raise ValidationError(
                        "The selection this draft rewrites has been edited since it was "
                        "asked for; add the draft at the end or at your cursor instead."
                    )
            else:
                start = find_near(current, passage.selection_text, passage.selection_start or 0)
                if start < 0:
                    raise ValidationError(
                        "The passage this draft rewrites has changed since; "
                        "add the draft at the end instead."
                    )
                end = start + len(passage.selection_text)
            place["line"] = _line_at(current, start)
            return documents.Edit(start, end, passage.text)
        if mode == "insert":
            at = resolver.index(cursor if cursor is not None else positions.parse(anchor_start))
            if at is None:
                raise ValidationError(
                    "That cursor is not in the scene's text as the server has it yet; "
                    "try again in a moment."
                )
            if own_cursor:  # the model continued exactly the text before it
                place["line"] = _line_at(current, at)
                return documents.Edit(at, at, passage.text)
            block, lead = _block(passage.text, current[:at], current[at:])
            place["line"] = _line_at(current, at + lead)
            return documents.Edit(at, at, block)
        block, lead = _block(passage.text, current, "")
        place["line"] = _line_at(current, len(current) + lead)
        return documents.Edit(len(current), len(current), block)

    with transaction.atomic():
        # Accept once: the first conditional update wins; a second accept (even one
        # running at the same moment) finds the passage taken and is refused.
        if not Passage.objects.filter(pk=passage.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        ):
            raise ValidationError(
                "This draft is already in the scene; undo that accept first to put it in again."
            )
        revision, edited = scene_edit_live(
            scene_id=passage.scene_id,
            plan=plan,
            user=user,
            origin=RevisionOrigin.PASSAGE,
            label=f"Accepted draft {passage.pk}",
        )
        passage.accepted_revision = revision
        passage.accepted_at = timezone.now()
        passage.accepted_by = user
        passage.accept_place = {
            "append": AcceptPlace.APPEND,
            "replace": AcceptPlace.REPLACE,
            "insert": AcceptPlace.INSERT,
        }[mode]
        passage.accept_line = place.get("line")
        passage.accepted_text = edited.inserted
        passage.accepted_removed = edited.removed
        passage.accepted_span_start, passage.accepted_span_end = edited.span or (None, None)
        passage.undone_revision = None
        passage.save(update_fields=ACCEPT_FIELDS)
        feedback.preference_from_accept(passage=passage, user=user)
        publish(DraftFinal(passage.room, passage.pk))
    return revision


ACCEPT_FIELDS = [
    "accepted_revision",
    "accepted_at",
    "accepted_by",
    "accept_place",
    "accept_line",
    "accepted_text",
    "accepted_removed",
    "accepted_span_start",
    "accepted_span_end",
    "undone_revision",
]


def passage_undo(*, passage: Passage, user):
    """Take an accepted draft out of the scene again, as a new revision.

    Exactly what the accept put in is removed (and, for a replace, the selection it
    replaced goes back), found by the relative positions that hold those characters, so
    whatever was typed around it since stays. If the accepted text was edited since,
    the undo is refused (the writer decides by hand). Others' edits are never rewound:
    this is one more edit, not a restore."""
    with transaction.atomic():
        current = Passage.objects.select_for_update().get(pk=passage.pk)
        if current.accepted_at is None:
            raise ValidationError("This draft is not in the scene; there is nothing to undo.")
        if current.accepted_span_start is None or current.accepted_span_end is None:
            raise ValidationError(
                "This draft was accepted before undo existed; take it out by hand, or "
                "restore an earlier revision from History."
            )
        start_pos = positions.parse(bytes(current.accepted_span_start))
        end_pos = positions.parse(bytes(current.accepted_span_end))

        def plan(resolver: positions.Resolver) -> documents.Edit:
            found = resolver.span(start_pos, end_pos)
            if found is None or resolver.text[found[0] : found[1]] != current.accepted_text:
                raise ValidationError(
                    "The accepted text has been edited since, so it cannot be taken out "
                    "as it went in; change it by hand, or restore an earlier revision."
                )
            return documents.Edit(found[0], found[1], current.accepted_removed)

        revision, _ = scene_edit_live(
            scene_id=current.scene_id,
            plan=plan,
            user=user,
            label=f"Undid accepted draft {current.pk}",
        )
        Passage.objects.filter(pk=current.pk).update(
            accepted_revision=None,
            accepted_at=None,
            accepted_by=None,
            accepted_span_start=None,
            accepted_span_end=None,
            undone_revision=revision,
        )
        feedback.preference_undo_accept(passage=current)
        publish(DraftFinal(current.room, current.pk))
    return revision
