"""Background jobs of the scripts app."""

from celery import shared_task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from . import documents, services


@shared_task(name="scripts_app.tasks.nightly_cleanup", ignore_result=False)
def nightly_cleanup() -> dict:
    """Delete expired login sessions; return what was removed.

    Idempotent, so it is safe to run twice or to retry.
    """
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"expired_sessions": deleted}


@shared_task(name="scripts_app.tasks.compact_scene_docs", ignore_result=False)
def compact_scene_docs() -> dict:
    """Fold the update logs of scenes whose burst of editing is over; auto-save a revision.

    Runs every few seconds (beat, or the embedded runner). Idempotent.
    """
    done = 0
    for scene_id in documents.pending_scene_ids(
        quiet_seconds=settings.COWRITE_DOC_COMPACT_QUIET_SECONDS,
        max_pending=settings.COWRITE_DOC_COMPACT_MAX_PENDING,
    ):
        with transaction.atomic():
            services.scene_sync_live(scene_id=scene_id, autosave=True)
        done += 1
    return {"compacted": done}
