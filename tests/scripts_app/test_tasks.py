"""Background jobs: the nightly cleanup, directly and through a real Celery worker."""

import os
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from scripts_app.tasks import nightly_cleanup


def _sessions():
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="x", expire_date=now - timedelta(days=1))
    Session.objects.create(session_key="new", session_data="x", expire_date=now + timedelta(days=1))


def test_nightly_cleanup_removes_only_expired_sessions(db):
    _sessions()
    assert nightly_cleanup() == {"expired_sessions": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == ["new"]
    assert nightly_cleanup() == {"expired_sessions": 0}  # idempotent


@pytest.mark.redis
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (runs in CI's Redis pass)"
)
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_cleanup_over_the_real_broker(settings):
    from celery.contrib.testing.worker import start_worker

    from cowrite.celery import app

    assert not app.conf.task_always_eager and app.conf.broker_url.startswith("redis://")
    _sessions()
    # Name the queue: an earlier in-process worker may have narrowed the app's queue list.
    with start_worker(
        app, perform_ping_check=False, pool="solo", queues=["celery"], loglevel="WARNING"
    ):
        result = nightly_cleanup.delay()
        assert result.get(timeout=30) == {"expired_sessions": 1}
    assert list(Session.objects.values_list("session_key", flat=True)) == ["new"]
