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


class StartedVia(models.TextChoices):
    """What started a training run or a retraining round (shown on the model page)."""

    FIRST_START = "first-start", "first start"
    COMMAND = "command", "command line"
    STAFF = "staff", "staff"
    SCHEDULE = "schedule", "scheduled"


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
    # Who or what started it ("" for rows older than this field).
    started_via = models.CharField(max_length=16, choices=StartedVia.choices, blank=True)
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

    @property
    def is_retraining(self) -> bool:
        return (self.train_config or {}).get("kind") == "retrain"

    @property
    def started_by_label(self) -> str:
        """ "alice", "scheduled", "first start"... for the model page."""
        if self.started_via == StartedVia.SCHEDULE:
            return "scheduled"
        if self.created_by_id:
            return self.created_by.get_username()
        return self.get_started_via_display() if self.started_via else "—"


class ModelEventKind(models.TextChoices):
    PROMOTED = "promoted", "promoted"
    AUTO_PROMOTED = "auto-promoted", "promoted by the gate"
    ROLLED_BACK = "rolled-back", "rolled back to"
    FIRST_ACTIVATED = "first-activated", "activated (first model)"


class ModelEvent(models.Model):
    """Who changed which version serves drafts, and when: the model page's history.

    ``user`` is the staff member who did it; for the gate's automatic promotion it is the
    one who started the round (None with ``scheduled`` when the schedule started it).
    """

    kind = models.CharField(max_length=20, choices=ModelEventKind.choices)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="events")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    scheduled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.version.name} {self.kind}"

    @property
    def by_label(self) -> str:
        if self.user_id:
            return self.user.get_username()
        return "scheduled" if self.scheduled else "the system"


class SuggestionStatus(models.TextChoices):
    OPEN = "open", "open"
    STARTED = "started", "retraining started"
    DISMISSED = "dismissed", "dismissed"


class RetrainSuggestion(models.Model):
    """A project owner's request that staff retrain the shared model.

    Owners cannot retrain (one model serves every project); they suggest, staff decide.
    At most one open suggestion per project (a constraint), and a project suggests at most
    once per ``COWRITE_RETRAIN_SUGGESTION_COOLDOWN_SECONDS``.
    """

    project = models.ForeignKey(
        "scripts_app.Project", on_delete=models.CASCADE, related_name="retrain_suggestions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(
        max_length=12, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    version = models.ForeignKey(
        ModelVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="suggestions",
        help_text="The retraining round that answered it.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(status="open"),
                name="one_open_retrain_suggestion_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"Suggestion for {self.project_id} ({self.status})"


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
