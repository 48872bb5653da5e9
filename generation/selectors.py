"""Read-only queries of the generation app, for other apps' pages."""

from .models import ModelVersion, VersionStatus


def model_summary() -> dict:
    """Return the model in use and any training run, in one query."""
    rows = list(
        ModelVersion.objects.filter(status__in=[VersionStatus.ACTIVE, VersionStatus.TRAINING])
        .only("name", "status", "progress", "metrics")
        .order_by("-created_at")
    )
    return {
        "active": next((v for v in rows if v.status == VersionStatus.ACTIVE), None),
        "training": next((v for v in rows if v.status == VersionStatus.TRAINING), None),
    }
