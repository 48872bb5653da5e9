"""The Django side of the model: versions registered in the database.

One model serves the whole installation (every project drafts with the active version);
projects that allow it contribute their text and feedback to its training data. The
weights live on disk under ``MODEL_DIR/<folder>`` (``generation/core/checkpoint.py``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class VersionStatus(models.TextChoices):
    TRAINING = "training", "Training"
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    FAILED = "failed", "Failed"


class ModelVersion(models.Model):
    """One trained (or training) model: weights on disk, lineage and metrics here."""

    name = models.CharField(max_length=100, unique=True)
    preset = models.CharField(max_length=20)
    folder = models.CharField(max_length=255, help_text="Relative to MODEL_DIR.")
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.TRAINING
    )
    # What it was trained on and how.
    corpus_hash = models.CharField(max_length=64, blank=True)
    corpus_summary = models.JSONField(default=dict, blank=True)
    train_config = models.JSONField(default=dict, blank=True)
    steps = models.PositiveIntegerField(default=0)
    params = models.PositiveBigIntegerField(default=0)
    # val_bpb and friends; the loss curve as [[step, loss], ...].
    metrics = models.JSONField(default=dict, blank=True)
    loss_curve = models.JSONField(default=list, blank=True)
    # Live progress of a running job: step, total_steps, progress, loss, eta_s...
    progress = models.JSONField(default=dict, blank=True)
    status_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Exactly one version serves drafts at a time.
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="active"),
                name="one_active_model_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def path(self):
        return settings.MODEL_DIR / self.folder

    @property
    def val_bpb(self) -> float | None:
        return self.metrics.get("val_bpb")


class ApiToken(models.Model):
    """A personal token for the OpenAI-compatible API. Only a hash of it is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, help_text="The token's first characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
