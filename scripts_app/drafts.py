"""Services for drafts: requesting, cancelling and accepting generated passages, and the
bookkeeping a generation worker does on them.

A request writes one ``Passage`` row per alternative (``queued``) and, after commit, puts
one message per passage on the generation queue (a named channel that every generation
worker reads: each message reaches one worker). A worker *claims* a passage with a
conditional UPDATE, so a passage runs once even if a message were delivered twice.
"""

import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from . import documents, events, feedback
from .models import DraftTask, Passage, PassageStatus, RevisionOrigin, Scene
from .prompts import build_prompt
from .services import add_revision, scene_commit_text, scene_sync_live, validate_scene_text

PRESETS = {
    "balanced": {
        "temperature": 0.8,
        "top_p": 0.95,
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.1,
    },
    "focused": {
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repetition_penalty": 1.15,
    },
    "adventurous": {
        "temperature": 1.05,
        "top_p": 0.98,
        "top_k": 0,
        "min_p": 0.02,
        "repetition_penalty": 1.1,
    },
    "greedy": {
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.2,
    },
}
LENGTHS = {"short": 96, "medium": 192, "long": 384}
LIVE = (PassageStatus.QUEUED, PassageStatus.STREAMING)


@dataclass
class DraftSpec:
    """A validated draft request (from a form or a websocket message)."""

    task: str
    alternatives: int = 1
    instruction: str = ""
    preset: str = "balanced"
    max_new_tokens: int = LENGTHS["medium"]
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    selection_start: int | None = None
    selection_end: int | None = None

    def sampling(self) -> dict:
        values = dict(PRESETS[self.preset])
        for name in ("temperature", "top_k", "top_p", "min_p", "repetition_penalty"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return {**values, "max_new_tokens": self.max_new_tokens, "preset": self.preset}


def _num(data: dict, name: str, cast, low, high):
    """A number field (a form's string, or a JSON number): finite, in [low, high]."""
    raw = data.get(name)
    label = name.replace("_", " ").capitalize()
    if raw is None or raw == "":
        return None
    # JSON booleans are Python ints, and lists/objects are not numbers: refuse them.
    if (
        isinstance(raw, bool)
        or not isinstance(raw, int | float | str)
        or (isinstance(raw, str) and len(raw) > 40)
    ):
        raise ValidationError(f"{label} must be a number.")
    try:
        value = raw
        if isinstance(raw, str):
            try:
                value = int(raw) if cast is int else float(raw)
            except ValueError:
                value = float(raw)  # "2.0" for a whole number
        if isinstance(value, float) and (
            not math.isfinite(value) or (cast is int and not value.is_integer())
        ):
            raise ValueError
        value = cast(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{label} must be a number.") from None
    if not low <= value <= high:
        raise ValidationError(f"{label} must be between {low} and {high}.")
    return value


def _text(data: dict, name: str, default: str = "") -> str:
    """A text field: a string (or absent); anything else is refused."""
    raw = data.get(name)
    if raw is None or raw == "":
        return default
    if not isinstance(raw, str):
        raise ValidationError(f"{name.replace('_', ' ').capitalize()} must be text.")
    return raw


def draft_spec_from(data: dict) -> DraftSpec:
    """Validate raw request fields (strings from a form or JSON); raise ValidationError."""
    task = _text(data, "task")
    if task not in DraftTask.values:
        raise ValidationError("Choose what to write: a new scene, a continuation, or a rewrite.")
    preset = _text(data, "preset", "balanced")
    if preset not in PRESETS:
        raise ValidationError(f"Unknown settings preset “{preset}”.")
    instruction = _text(data, "instruction").strip()
    limit = settings.COWRITE_DRAFT_MAX_INSTRUCTION_CHARS
    if len(instruction) > limit:
        raise ValidationError(f"The instruction is at most {limit:,} characters.")
    length = _text(data, "length", "medium")
    max_new = _num(data, "max_new_tokens", int, 1, settings.COWRITE_DRAFT_MAX_NEW_TOKENS)
    if max_new is None:
        if length not in LENGTHS:
            raise ValidationError("Choose a length: short, medium or long.")
        max_new = LENGTHS[length]
    spec = DraftSpec(
        task=task,
        alternatives=_num(data, "alternatives", int, 1, 4) or 1,
        instruction=instruction,
        preset=preset,
        max_new_tokens=max_new,
        temperature=_num(data, "temperature", float, 0.0, 2.0),
        top_k=_num(data, "top_k", int, 0, 1000),
        top_p=_num(data, "top_p", float, 0.01, 1.0),
        min_p=_num(data, "min_p", float, 0.0, 1.0),
        repetition_penalty=_num(data, "repetition_penalty", float, 0.5, 2.0),
        seed=_num(data, "seed", int, 0, 2**62),
        selection_start=_num(data, "selection_start", int, 0, 10_000_000),
        selection_end=_num(data, "selection_end", int, 0, 10_000_000),
    )
    if task == DraftTask.REWRITE:
        if (
            spec.selection_start is None
            or spec.selection_end is None
            or spec.selection_end <= spec.selection_start
        ):
            raise ValidationError("Select the passage to rewrite first.")
        if not instruction:
            raise ValidationError("Say how to rewrite the selection.")
    return spec


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
    from generation.limits import waiting_count

    waiting = counts["queued"] + waiting_count()
    if waiting + spec.alternatives > settings.COWRITE_GENERATION_MAX_QUEUE:
        raise ValidationError("The generation queue is full; try again in a minute.")


def draft_request(*, scene: Scene, user, spec: DraftSpec) -> list[Passage]:
    """Queue a draft request: one passage per alternative. Raise ValidationError."""
    from generation.runtime import active_tokenizer

    loaded = active_tokenizer()
    if loaded is None:
        raise ValidationError("No model is ready yet: the first one is still training (see Model).")
    version, tokenizer, block_size = loaded
    _check_limits(scene, user, spec)
    text = documents.doc_text(documents.load(scene.pk).doc) if scene.has_live_doc() else scene.text
    selection = None
    selection_text = ""
    if spec.task == DraftTask.REWRITE:
        if spec.selection_end > len(text):
            raise ValidationError("The selection is outside the scene's text; select it again.")
        selection = (spec.selection_start, spec.selection_end)
        selection_text = text[spec.selection_start : spec.selection_end]
    prompt = build_prompt(
        scene=scene,
        task=spec.task,
        instruction=spec.instruction,
        scene_text=text,
        selection=selection,
        tokenizer=tokenizer,
        block_size=block_size,
        max_new_tokens=spec.max_new_tokens,
    )
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
                prompt=prompt.as_record(),
                model_version=version,
            )
            for i in range(spec.alternatives)
        ]
        events.draft_created(scene.pk, group, html=group_html(passages))
        events.enqueue_generation([p.pk for p in passages])
    return passages


def group_html(passages: list[Passage]) -> dict[str, str]:
    """A new request's cards as every page shows them, rendered once here (for editors
    and for everyone else) and carried by the event: no page loads anything for it."""
    from django.db.models import prefetch_related_objects
    from django.template.loader import render_to_string

    with_queue_positions(passages)
    prefetch_related_objects(passages, "revisions")  # one query, not one per card
    return {
        kind: render_to_string(
            "partials/draft_group.html",
            {"passages": passages, "can_edit": kind == "editor", "oob": True},
        )
        for kind in ("editor", "other")
    }


def can_cancel(passage: Passage, user) -> bool:
    """Who may stop a draft: whoever asked for it, and the project's owners."""
    from .models import Membership, Role

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
            events.draft_final(passage.scene_id, passage.pk)
        elif passage.status == PassageStatus.STREAMING:
            passage.cancel_requested = True
            passage.save(update_fields=["cancel_requested"])
            events.cancel_generation(passage.pk)
    return passage


def draft_retry(*, passage: Passage, user) -> list[Passage]:
    """Ask again with a failed (or cancelled) passage's request, as a new request."""
    data = {"task": passage.task, "instruction": passage.instruction, "alternatives": 1}
    data.update({k: v for k, v in passage.sampling.items() if k != "seed"})
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
            start = _find_near(current, passage.selection_text, passage.selection_start or 0)
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
            passage=passage,
        )
        scene_commit_text(scene=scene, text=new_text, user=user, revision=revision)
        feedback.preference_from_accept(passage=passage, user=user)
        events.draft_final(scene.pk, passage.pk)
    return revision


def _find_near(text: str, needle: str, near: int) -> int:
    """Return the occurrence of ``needle`` in ``text`` nearest to ``near`` (or -1)."""
    best, start = -1, text.find(needle)
    while start >= 0:
        if best < 0 or abs(start - near) < abs(best - near):
            best = start
        start = text.find(needle, start + 1)
    return best


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
    events.draft_status(passage.scene_id, passage.pk, head=head_of(passage))
    return passage


def head_of(passage: Passage) -> dict:
    """What a card's header shows, as event data: a page swaps just the header when a
    draft starts streaming (no database read per page, and the text streamed so far is
    left alone)."""
    return {
        "alternative": passage.alternative,
        "alternatives": passage.alternatives,
        "status": passage.status,
        "model": passage.model_version.name if passage.model_version else "",
        "sampling": {k: passage.sampling.get(k) for k in ("preset", "temperature", "seed")},
    }


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
) -> None:
    """Record a passage's end (done, cancelled or failed) and tell the room."""
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
    with transaction.atomic():
        updated = Passage.objects.filter(pk=passage_id, status=PassageStatus.STREAMING).update(
            **fields
        )
        if updated:
            scene_id = (
                Passage.objects.filter(pk=passage_id).values_list("scene_id", flat=True).get()
            )
            events.draft_final(scene_id, passage_id)


def passages_reap(*, timeout_seconds: float) -> int:
    """Fail streaming passages whose worker stopped beating (it died); return how many."""
    cutoff = timezone.now() - timedelta(seconds=timeout_seconds)
    stale = list(
        Passage.objects.filter(status=PassageStatus.STREAMING, heartbeat_at__lt=cutoff).values_list(
            "pk", "scene_id"
        )
    )
    for passage_id, scene_id in stale:
        with transaction.atomic():
            if Passage.objects.filter(pk=passage_id, status=PassageStatus.STREAMING).update(
                status=PassageStatus.FAILED,
                finish_reason="error",
                error="The generation worker stopped while writing this draft. Retry it.",
                finished_at=timezone.now(),
            ):
                events.draft_final(scene_id, passage_id)
    return len(stale)


# --- reads for the drafts panel --------------------------------------------------------------


def card_passage(scene_id: int, passage_id: int) -> Passage | None:
    """The passage of a scene with what its card shows (None if not in that scene)."""
    return (
        Passage.objects.filter(pk=passage_id, scene_id=scene_id)
        .select_related("model_version", "requested_by", "scene")
        .prefetch_related("revisions")
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
    groups = list(
        Passage.objects.filter(scene=scene)
        .order_by("-queued_at")
        .values_list("group", flat=True)
        .distinct()[: limit * 4]
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
            Passage.objects.filter(scene=scene, group__in=wanted)
            .select_related("model_version", "requested_by", "scene")
            .prefetch_related("revisions")
            .order_by("-queued_at", "alternative")
        )
    )
    feedback.feedback_summary(passages)
    by_group: dict = {}
    for p in passages:
        by_group.setdefault(p.group, []).append(p)
    return [sorted(by_group[g], key=lambda p: p.alternative) for g in wanted if g in by_group]
