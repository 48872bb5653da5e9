"""Background jobs of the scripts app."""

from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone


@shared_task(name="scripts_app.tasks.nightly_cleanup", ignore_result=False)
def nightly_cleanup() -> dict:
    """Delete expired login sessions; return what was removed.

    Idempotent, so it is safe to run twice or to retry.
    """
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return {"expired_sessions": deleted}
