"""Model version lifecycle: start a retraining, promote a candidate, roll back.

Who may do what (enforced by the views; these functions trust their caller):

* **Retrain now**: staff, or an owner of any project (owners decide what their project
  contributes; a retraining only ever uses projects that allow training).
* **Promote** a candidate and **roll back** to an earlier version: staff only, since one
  model serves every project of the installation.

Exactly one version is active at any time (a database constraint); promotion and rollback
are one transaction that retires the previous active version (``services.version_activate``).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import services
from .models import ModelVersion, VersionStatus

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


def retrain_start(user=None, *, launch: bool = True, config: dict | None = None) -> ModelVersion:
    """Register a retraining of the active version and start it in the background."""
    active = services.active_version()
    if active is None:
        raise LifecycleError("There is no active model to retrain yet.")
    reap_stale_runs()
    running = running_retraining()
    if running is not None:
        raise LifecycleError(f"{running.name} is already training; wait for it to finish.")
    train_config = {"kind": "retrain", **(config or {})}
    with transaction.atomic():
        version = services.version_create(
            preset=active.preset, train_config=train_config, parent=active, user=user
        )
    if launch:
        retrain_launch(version)
    return version


def retrain_launch(version: ModelVersion) -> None:
    """Run ``retraining.retrain_run`` where this deployment runs long jobs."""
    from .tasks import retrain_version

    code = (
        f"from generation.retraining import retrain_run; retrain_run(version_id={int(version.pk)})"
    )
    services.background_launch(
        version=version,
        task=retrain_version,
        kwargs={"version_id": version.pk},
        manage_argv=["shell", "-c", code],
    )


def version_promote(
    version: ModelVersion, *, reason: str = "", user=None, require_active_parent: bool = False
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
            return services.version_activate(
                version=v, reason=reason or f"Promoted{who} on {timezone.now():%Y-%m-%d %H:%M}."
            )
        except ValueError as exc:
            raise LifecycleError(str(exc)) from exc


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
            return services.version_activate(
                version=v, reason=f"Rolled back to{who} on {timezone.now():%Y-%m-%d %H:%M}."
            )
        except ValueError as exc:
            raise LifecycleError(str(exc)) from exc


def maybe_retrain(*, launch: bool = True) -> ModelVersion | None:
    """Start a retraining if enough new feedback exists since the active version was made
    (``COWRITE_RETRAIN_MIN_FEEDBACK``) and the last retraining started at least
    ``COWRITE_RETRAIN_INTERVAL_SECONDS`` ago. Return the new version, or None."""
    from .datasets import feedback_count_since

    active = services.active_version()
    if active is None or running_retraining() is not None:
        return None
    interval = float(getattr(settings, "COWRITE_RETRAIN_INTERVAL_SECONDS", 6 * 3600))
    last = ModelVersion.objects.filter(train_config__kind="retrain").order_by("-created_at").first()
    if last is not None and (timezone.now() - last.created_at).total_seconds() < interval:
        return None
    need = int(getattr(settings, "COWRITE_RETRAIN_MIN_FEEDBACK", 20))
    if feedback_count_since(active.created_at) < need:
        return None
    try:
        return retrain_start(None, launch=launch)
    except LifecycleError:
        return None
