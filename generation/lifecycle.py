"""Model version lifecycle: start a retraining, promote a candidate, roll back, suggestions.

Who may do what (one model serves every project of the installation, so changing it is
an installation decision):

* **Retrain**, **promote** a candidate and **roll back**: installation staff only
  (Django's ``User.is_staff``). The views check it and so does ``retrain_start``, which
  refuses any user who is not staff (``user=None`` is the schedule or an operator's shell).
* **Suggest a retraining**: an owner of a project that allows training
  (``suggestion_create``); staff see the open suggestions on the model page and start a
  round from one (``retrain_start(..., suggestion=...)``) or dismiss it. One open
  suggestion per project, and at most one per ``COWRITE_RETRAIN_SUGGESTION_COOLDOWN_SECONDS``.
* **Minimum interval**: no round starts less than ``COWRITE_RETRAIN_MIN_INTERVAL_SECONDS``
  after the previous one started (whoever started either; failed rounds count), and never
  while one is training. The beat schedule (``maybe_retrain``) obeys it too.
* **Auto-promotion** by the gate (``may_auto_promote``): only for a round started by a
  staff member (still staff when it finishes) or by the schedule/an operator; anything
  else stays a candidate for staff to review.

Every start records ``created_by`` + ``started_via``; every promotion and rollback writes
a ``ModelEvent`` (who, when): the model page shows both.

Exactly one version is active at any time (a database constraint); promotion and rollback
are one transaction that retires the previous active version (``services.version_activate``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import services
from .datasets import feedback_count_since
from .models import (
    ModelEvent,
    ModelEventKind,
    ModelVersion,
    RetrainSuggestion,
    StartedVia,
    SuggestionStatus,
    VersionStatus,
)

log = logging.getLogger(__name__)


class LifecycleError(ValueError):
    """A refused lifecycle action; the message is for the user."""


def running_retraining() -> ModelVersion | None:
    """Return a training run that is still alive, if any."""
    for v in ModelVersion.objects.filter(status=VersionStatus.TRAINING):
        if services.training_is_alive(v):
            return v
    return None


def reap_stale_runs() -> int:
    """Mark training runs that stopped reporting progress (a killed process) ``failed``."""
    n = 0
    for v in ModelVersion.objects.filter(status=VersionStatus.TRAINING):
        if not services.training_is_alive(v):
            n += ModelVersion.objects.filter(pk=v.pk, status=VersionStatus.TRAINING).update(
                status=VersionStatus.FAILED,
                status_reason="Training stopped reporting progress (the process died or was killed).",
                finished_at=timezone.now(),
            )
    return n


def min_interval_seconds() -> float:
    return float(getattr(settings, "COWRITE_RETRAIN_MIN_INTERVAL_SECONDS", 3600))


def suggestion_cooldown_seconds() -> float:
    return float(getattr(settings, "COWRITE_RETRAIN_SUGGESTION_COOLDOWN_SECONDS", 3600))


def retraining_rounds():
    """Every retraining round (a version registered with ``kind: retrain``), newest first."""
    return ModelVersion.objects.filter(train_config__kind="retrain").order_by("-created_at", "-pk")


def _minutes(seconds: float) -> str:
    m = max(1, round(seconds / 60))
    return f"{m} minute{'s' if m != 1 else ''}"


def next_round_wait(now=None) -> tuple[float, ModelVersion | None]:
    """Seconds until the minimum interval allows another round (0: now), and the last round."""
    last = retraining_rounds().first()
    if last is None:
        return 0.0, None
    elapsed = ((now or timezone.now()) - last.created_at).total_seconds()
    return max(0.0, min_interval_seconds() - elapsed), last


def retrain_start(
    user=None,
    *,
    launch: bool = True,
    config: dict | None = None,
    suggestion: RetrainSuggestion | None = None,
    scheduled: bool = False,
) -> ModelVersion:
    """Register a retraining of the active version and start it in the background.

    ``user``: the staff member starting it (anyone else is refused); None for the schedule
    (``scheduled=True``) or an operator's shell. Refused (``LifecycleError``, a message
    for staff) while a round trains or within the minimum interval. Open suggestions are
    answered by the new round (``suggestion`` is the one it was started from, if any).
    """
    if user is not None and not user.is_staff:
        raise LifecycleError(
            "Only installation staff can start a retraining; a project owner can suggest one."
        )
    if services.active_version() is None:
        raise LifecycleError("There is no active model to retrain yet.")
    reap_stale_runs()
    with transaction.atomic():
        # Serialise concurrent starts on the active row (a no-op lock on SQLite, which
        # serialises writers anyway).
        active = (
            ModelVersion.objects.select_for_update().filter(status=VersionStatus.ACTIVE).first()
        )
        if active is None:
            raise LifecycleError("There is no active model to retrain yet.")
        running = running_retraining()
        if running is not None:
            raise LifecycleError(f"{running.name} is already training; wait for it to finish.")
        wait, last = next_round_wait()
        if wait > 0:
            raise LifecycleError(
                f"Too soon: the last retraining round ({last.name}) started "
                f"{_minutes((timezone.now() - last.created_at).total_seconds())} ago, and "
                f"rounds are at least {_minutes(min_interval_seconds())} apart "
                f"(COWRITE_RETRAIN_MIN_INTERVAL_SECONDS). The next one can start in "
                f"{_minutes(wait)}."
            )
        if suggestion is not None:
            suggestion = RetrainSuggestion.objects.select_for_update().get(pk=suggestion.pk)
            if suggestion.status != SuggestionStatus.OPEN:
                raise LifecycleError("That suggestion was already answered.")
        train_config = {"kind": "retrain", **(config or {})}
        if suggestion is not None:
            train_config["suggestion"] = suggestion.pk
        via = StartedVia.SCHEDULE if scheduled else (StartedVia.STAFF if user else "")
        if not via:
            via = StartedVia.COMMAND
        version = services.version_create(
            preset=active.preset,
            train_config=train_config,
            parent=active,
            user=user,
            started_via=via,
        )
        # One round trains on every allowed project: it answers every open suggestion.
        RetrainSuggestion.objects.filter(status=SuggestionStatus.OPEN).update(
            status=SuggestionStatus.STARTED,
            handled_by=user,
            handled_at=timezone.now(),
            version=version,
        )
    if launch:
        retrain_launch(version)
    return version


def may_auto_promote(version: ModelVersion) -> bool:
    """May the gate promote this round by itself? Only when a staff member (still staff)
    or the schedule / an operator's shell started it; never from a non-staff action."""
    if version.started_via in (StartedVia.SCHEDULE, StartedVia.COMMAND):
        return version.created_by_id is None
    if version.started_via == StartedVia.STAFF and version.created_by_id:
        from django.contrib.auth import get_user_model

        return (
            get_user_model()
            .objects.filter(pk=version.created_by_id, is_staff=True, is_active=True)
            .exists()
        )
    return False


def suggestion_create(*, project, user, note: str = "") -> RetrainSuggestion:
    """Record an owner's suggestion to retrain (the caller checked the owner role)."""
    if not project.allow_training:
        raise LifecycleError(
            "This project does not let the model learn from it: allow training in the "
            "project's settings first."
        )
    note = (note or "").strip()[:1000]
    if RetrainSuggestion.objects.filter(project=project, status=SuggestionStatus.OPEN).exists():
        raise LifecycleError("Your team already suggested a retraining; staff will look at it.")
    last = RetrainSuggestion.objects.filter(project=project).order_by("-created_at").first()
    if last is not None:
        wait = suggestion_cooldown_seconds() - (timezone.now() - last.created_at).total_seconds()
        if wait > 0:
            raise LifecycleError(
                f"Your team suggested a retraining recently; you can suggest again in "
                f"{_minutes(wait)}."
            )
    try:
        with transaction.atomic():
            return RetrainSuggestion.objects.create(project=project, user=user, note=note)
    except IntegrityError:  # a concurrent suggestion for the same project
        raise LifecycleError(
            "Your team already suggested a retraining; staff will look at it."
        ) from None


def suggestion_dismiss(suggestion: RetrainSuggestion, *, user) -> None:
    n = RetrainSuggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.OPEN).update(
        status=SuggestionStatus.DISMISSED, handled_by=user, handled_at=timezone.now()
    )
    if not n:
        raise LifecycleError("That suggestion was already answered.")


def retrain_launch(version: ModelVersion) -> None:
    """Run ``retraining.retrain_run`` where this deployment runs long jobs."""
    code = (
        f"from generation.retraining import retrain_run; retrain_run(version_id={int(version.pk)})"
    )
    services.background_launch(
        name=version.name,
        task="generation.tasks.retrain_version",
        kwargs={"version_id": version.pk},
        manage_argv=["shell", "-c", code],
    )


def version_promote(
    version: ModelVersion,
    *,
    reason: str = "",
    user=None,
    require_active_parent: bool = False,
    automatic: bool = False,
) -> ModelVersion:
    """Make a candidate the active version (the previous one is retired).

    ``require_active_parent`` (the gate's automatic promotion): promote only if the
    version's parent is still the active one, so an automatic promotion never overrides a
    rollback or promotion made while it trained; otherwise it stays a candidate.
    """
    with transaction.atomic():
        v = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if v.status != VersionStatus.CANDIDATE:
            raise LifecycleError(
                f"Only a candidate can be promoted; {v.name} is {v.get_status_display().lower()}."
            )
        if require_active_parent:
            active = services.active_version()
            if active is not None and active.pk != v.parent_id:
                ModelVersion.objects.filter(pk=v.pk).update(
                    status_reason=(
                        f"Passed the gate but kept as a candidate: the active version changed "
                        f"to {active.name} while it trained."
                    )
                )
                return v
        who = f" by {user}" if user is not None else ""
        try:
            v = services.version_activate(
                version=v, reason=reason or f"Promoted{who} on {timezone.now():%Y-%m-%d %H:%M}."
            )
        except ValueError as exc:
            raise LifecycleError(str(exc)) from exc
        if automatic:  # credited to whoever started the round
            ModelEvent.objects.create(
                version=v,
                kind=ModelEventKind.AUTO_PROMOTED,
                user_id=v.created_by_id,
                scheduled=v.started_via == StartedVia.SCHEDULE,
            )
        else:
            ModelEvent.objects.create(version=v, kind=ModelEventKind.PROMOTED, user=user)
        return v


def version_rollback(to_version: ModelVersion, *, user=None) -> ModelVersion:
    """Make an earlier (retired) version active again; the current one is retired."""
    with transaction.atomic():
        v = ModelVersion.objects.select_for_update().get(pk=to_version.pk)
        if v.status != VersionStatus.RETIRED:
            raise LifecycleError(
                f"Only a retired (earlier) version can be rolled back to; {v.name} is "
                f"{v.get_status_display().lower()}."
            )
        who = f" by {user}" if user is not None else ""
        try:
            v = services.version_activate(
                version=v, reason=f"Rolled back to{who} on {timezone.now():%Y-%m-%d %H:%M}."
            )
        except ValueError as exc:
            raise LifecycleError(str(exc)) from exc
        ModelEvent.objects.create(version=v, kind=ModelEventKind.ROLLED_BACK, user=user)
        return v


def maybe_retrain(*, launch: bool = True) -> ModelVersion | None:
    """Start a retraining if enough new feedback exists since the active version was made
    (``COWRITE_RETRAIN_MIN_FEEDBACK``) and the last retraining started at least
    ``COWRITE_RETRAIN_INTERVAL_SECONDS`` ago (and the minimum interval between any two
    rounds, ``COWRITE_RETRAIN_MIN_INTERVAL_SECONDS``, has passed). Return the new version,
    or None. Its round is marked ``scheduled``; the gate may promote it."""
    active = services.active_version()
    if active is None or running_retraining() is not None:
        return None
    interval = float(getattr(settings, "COWRITE_RETRAIN_INTERVAL_SECONDS", 6 * 3600))
    last = retraining_rounds().first()
    if last is not None and (timezone.now() - last.created_at).total_seconds() < interval:
        return None
    need = int(getattr(settings, "COWRITE_RETRAIN_MIN_FEEDBACK", 20))
    if feedback_count_since(active.created_at) < need:
        return None
    try:
        return retrain_start(None, launch=launch, scheduled=True)
    except LifecycleError as exc:
        log.info("Scheduled retraining not started: %s", exc)
        return None
