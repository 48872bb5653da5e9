"""Background jobs of the generation app (long GPU/CPU work runs on the ``training`` queue)."""

from celery import shared_task
from django.conf import settings

from . import drafts, lifecycle, services
from .models import ModelVersion


@shared_task(name="generation.tasks.train_version", acks_late=False)
def train_version(version_id: int, corpus_dir: str, resume: bool = False) -> dict:
    """Train a registered model version; return its final metrics."""
    if not ModelVersion.objects.filter(pk=version_id).exists():
        return {}
    version = services.training_run(version_id=version_id, corpus_dir=corpus_dir, resume=resume)
    return {"version": version.name, "status": version.status, "metrics": version.metrics}


@shared_task(name="generation.tasks.retrain_version", acks_late=False)
def retrain_version(version_id: int) -> dict:
    """Retrain a registered version from its parent on the feedback (then the gate)."""
    # Function-level: retraining imports torch, which only a training worker may load
    # (the web process imports this module for the beat schedule's other tasks).
    from .retraining import retrain_run

    if not ModelVersion.objects.filter(pk=version_id).exists():
        return {}
    version = retrain_run(version_id=version_id)
    return {"version": version.name, "status": version.status, "metrics": version.metrics}


@shared_task(name="generation.tasks.maybe_retrain")
def maybe_retrain() -> dict:
    """Beat: start a retraining when enough new feedback exists (see lifecycle.maybe_retrain)."""
    reaped = lifecycle.reap_stale_runs()
    version = lifecycle.maybe_retrain()
    return {"started": version.name if version else None, "reaped": reaped}


@shared_task(name="generation.tasks.reap_stalled_drafts", ignore_result=False)
def reap_stalled_drafts() -> dict:
    """Fail drafts whose generation worker stopped beating (it died mid-draft)."""
    return {
        "failed": drafts.passages_reap(timeout_seconds=settings.COWRITE_GENERATION_STALE_SECONDS)
    }


@shared_task(name="generation.tasks.check_endpoint", ignore_result=False)
def check_endpoint(endpoint_id: int) -> dict:
    """Ask a model record for a few tokens; record whether it answered and how fast."""
    from . import endpoints
    from .models import ModelEndpoint

    if not ModelEndpoint.objects.filter(pk=endpoint_id).exists():
        return {}
    e = endpoints.endpoint_check(endpoint_id)
    return {"healthy": e.healthy, "ttft_s": e.ttft_s, "tokens_per_s": e.tokens_per_s}


@shared_task(name="generation.tasks.read_script", acks_late=False)
def read_script(project_id: int) -> dict:
    """The house model's surprise at each scene of a script (``surprise.py``)."""
    from .models import ScriptReading
    from .surprise import reading_run

    if not ScriptReading.objects.filter(project_id=project_id).exists():
        return {}
    r = reading_run(project_id)
    return {"project": project_id, "status": r.status, "scenes": len(r.values)}


@shared_task(name="generation.tasks.comparison_prepare", acks_late=False)
def comparison_prepare(comparison_id: int) -> dict:
    """Write a blind comparison's drafts, then open it for judging (``comparisons.py``)."""
    from .comparisons import comparison_prepare as prepare
    from .models import Comparison

    if not Comparison.objects.filter(pk=comparison_id).exists():
        return {}
    c = prepare(comparison_id)
    return {"comparison": c.pk, "status": c.status, "reason": c.status_reason}


@shared_task(name="generation.tasks.lora_retrain", acks_late=False)
def lora_retrain(endpoint_id: int) -> dict:
    """A LoRA round on a model record from the team's feedback (``lora_runs.py``)."""
    from .lora_runs import lora_run
    from .models import ModelEndpoint

    if not ModelEndpoint.objects.filter(pk=endpoint_id).exists():
        return {}
    e = lora_run(endpoint_id)
    return {"endpoint": e.name, "status": e.status, "reason": e.status_reason}
