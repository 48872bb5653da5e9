"""Background jobs of the generation app (long GPU/CPU work runs on the ``training`` queue)."""

from celery import shared_task


@shared_task(name="generation.tasks.train_version", acks_late=False)
def train_version(version_id: int, corpus_dir: str, resume: bool = False) -> dict:
    """Train a registered model version; return its final metrics."""
    from .models import ModelVersion
    from .services import training_run

    if not ModelVersion.objects.filter(pk=version_id).exists():
        return {}
    version = training_run(version_id=version_id, corpus_dir=corpus_dir, resume=resume)
    return {"version": version.name, "status": version.status, "metrics": version.metrics}
