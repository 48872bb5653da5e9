"""Background jobs of the scripts app."""

import logging
import threading

from celery import current_app, shared_task
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from . import documents, imports, services

log = logging.getLogger(__name__)


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


@shared_task(name="scripts_app.tasks.import_script", ignore_result=True)
def import_script(job_id: str) -> None:
    """Run a background import (``imports.import_job_run``); its outcome is in the job.

    Idempotent: a job runs once (a redelivered task finds it no longer queued)."""
    imports.import_job_run(job_id)


def _run_in_thread(job_id: str) -> None:
    from django.db import close_old_connections

    try:
        close_old_connections()
        import_script.apply(args=[job_id], throw=True)
    except Exception:
        log.exception("Import job %s failed", job_id)
    finally:
        close_old_connections()


def launch_import(job_id: str) -> None:
    """Start the import job: on Celery's default queue when there is a broker, else (the
    embedded mode, where tasks run eagerly in the caller) on a thread of this process, so
    the upload's response does not wait for it."""
    if current_app.conf.task_always_eager:
        threading.Thread(
            target=_run_in_thread, args=(job_id,), name=f"import-{job_id[:8]}", daemon=True
        ).start()
    else:
        import_script.apply_async(args=[job_id], queue="celery")
