"""The Django side of the model: versions registered in the database.

One model serves the whole installation (every project drafts with the active version);
projects that allow it contribute their text and feedback to its training data. The
weights live on disk under ``MODEL_DIR/<folder>`` (``generation/core/checkpoint.py``).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from cowrite.events import scene_room_group, story_drafts_group
from generation.core import storylevels
from scripts_app.models import Project, Revision, Scene, SourceText


def room_of(scene_id: int | None, project_id: int) -> str:
    """The room of a passage: its scene's page, or the project's story pages."""
    if scene_id is not None:
        return scene_room_group(scene_id)
    return story_drafts_group(project_id)


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


# --- models beside the house model (``endpoints.py``) -----------------------------------------


class EndpointKind(models.TextChoices):
    HF = "hf", "Hugging Face folder"
    OPENAI = "openai", "OpenAI-compatible server"


class EndpointChat(models.TextChoices):
    AUTO = "auto", "chat if the model has a template"
    CHAT = "chat", "chat messages"
    COMPLETION = "completion", "plain completion"


class EndpointStatus(models.TextChoices):
    READY = "ready", "ready"
    TRAINING = "training", "learning from the team"
    CANDIDATE = "candidate", "retrained: staff decide"
    FAILED = "failed", "retraining failed"


class ModelEndpoint(models.Model):
    """A model beside the house model that can write drafts (see ``endpoints.py``): a
    Hugging Face folder on the generation machine, or an OpenAI-compatible server. An API
    key is never stored: ``api_key_env`` names the environment variable that holds it."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=EndpointKind.choices)
    folder = models.CharField(max_length=500, blank=True)
    base_url = models.CharField(max_length=500, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    api_key_env = models.CharField(max_length=100, blank=True)
    chat = models.CharField(max_length=12, choices=EndpointChat.choices, default="auto")
    max_streams = models.PositiveSmallIntegerField(default=4)
    timeout_s = models.FloatField(default=60.0)
    enabled = models.BooleanField(default=True)
    # The last health check: did it answer, why not, how fast.
    checked_at = models.DateTimeField(null=True, blank=True)
    healthy = models.BooleanField(null=True, blank=True)
    health_error = models.TextField(blank=True)
    ttft_s = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    # A record retrained from the team's feedback (``lora_runs.py``): its base record, its
    # round's state, figures and the gate's verdict.
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    status = models.CharField(
        max_length=12, choices=EndpointStatus.choices, default=EndpointStatus.READY
    )
    status_reason = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProjectModelChoice(models.Model):
    """The model a project's drafts are written by (no row: the house model)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="model_choice")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="projects")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.project_id} → {self.endpoint_id}"


# --- drafts: generated passages, and the team's feedback on them -------------------------


class PassageKind(models.TextChoices):
    """What a passage proposes: a scene's text, or one level of the story above it
    (story development: logline → characters → beats for an act → a scene's brief from
    its card → the scene). Every kind streams, is rated and accepted the same way."""

    SCENE = "scene", "Scene text"
    LOGLINE = "logline", "Logline"
    CHARACTERS = "characters", "Characters"
    BEATS = "beats", "Beats"
    BRIEF = "brief", "Scene brief"


STORY_KINDS = (PassageKind.LOGLINE, PassageKind.CHARACTERS, PassageKind.BEATS, PassageKind.BRIEF)

# What a story proposal's prompt may leave out to fit (``story_prompts.py``: the labels of
# its parts), in the words its card uses ("Left out to fit: the treatment").
STORY_DROPPED_WORDS = {
    "genre": "the genre and tone",
    "themes": "the themes",
    "setting": "the setting notes",
    "treatment": "the treatment",
    "treatment (end)": "the end of the treatment",
    "setting (end)": "the end of the setting notes",
    "themes (end)": "the end of the themes",
    "characters": "the characters",
    "cast": "who is already in the cast",
    "current logline": "the current logline",
    "logline": "the logline",
    "plotlines": "the plotlines",
    "act before": "the act before",
    "act after": "the act after",
    "card before": "the card before",
    "card after": "the card after",
    "card characters": "the card's characters",
}


class DraftTask(models.TextChoices):
    NEW = "new", "Write the scene"
    CONTINUE = "continue", "Continue"
    REWRITE = "rewrite", "Rewrite the selection"


class AcceptPlace(models.TextChoices):
    """Where an accepted draft went into the scene (its card says so)."""

    INSERT = "insert", "inserted"
    REPLACE = "replace", "replaced the selection"
    APPEND = "append", "added at the end"


class PassageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    STREAMING = "streaming", "Streaming"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Passage(models.Model):
    """One generated alternative of a draft request (alternatives share ``group``).

    A scene draft (``kind`` "scene") belongs to its scene; a story proposal (a logline,
    characters, an act's beats, a card's brief) belongs to the project only (``scene``
    None), with the card it was asked for (``beat``) or the act (``act``) where it has
    one. ``project`` is always set: limits, feedback and training data go by it."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="passages")
    kind = models.CharField(
        max_length=12, choices=PassageKind.choices, default=PassageKind.SCENE, db_index=True
    )
    scene = models.ForeignKey(
        Scene, on_delete=models.CASCADE, related_name="passages", null=True, blank=True
    )
    beat = models.ForeignKey(
        "scripts_app.Beat",
        on_delete=models.SET_NULL,
        related_name="passages",
        null=True,
        blank=True,
    )
    act = models.PositiveSmallIntegerField(null=True, blank=True)
    group = models.UUIDField(db_index=True)
    alternative = models.PositiveSmallIntegerField(default=0)
    alternatives = models.PositiveSmallIntegerField(default=1)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The request.
    task = models.CharField(max_length=16, choices=DraftTask.choices)
    instruction = models.TextField(blank=True, max_length=2000)
    sampling = models.JSONField(default=dict)  # sampling parameters, preset name, seed
    # For a rewrite: the selection, as characters of the scene text at request time; for
    # a continuation from the cursor: the cursor (start = end, no text).
    selection_start = models.PositiveIntegerField(null=True, blank=True)
    selection_end = models.PositiveIntegerField(null=True, blank=True)
    selection_text = models.TextField(blank=True)
    # The same places as Yjs relative positions on the live text (the bytes of the
    # browser's ``Y.encodeRelativePosition``): they stay on the selected characters while
    # others type elsewhere, so an accept finds them again (``scripts_app/positions.py``).
    # A rewrite has both; a continuation from the cursor has ``anchor_start`` only.
    anchor_start = models.BinaryField(null=True, blank=True, max_length=64)
    anchor_end = models.BinaryField(null=True, blank=True, max_length=64)
    # The prompt exactly as the model saw it (text and the rules that built it).
    prompt = models.JSONField(default=dict)
    # The result. Who wrote it: a house version (``model_version``), or another model
    # (``endpoint``, chosen by the project; ``endpoints.py``); ``model_record`` is a snapshot
    # of exactly which ({"kind", "name", …}: it outlives edits of the record).
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, related_name="passages"
    )
    endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="passages"
    )
    model_record = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=PassageStatus.choices, default=PassageStatus.QUEUED, db_index=True
    )
    text = models.TextField(blank=True)
    seq = models.PositiveIntegerField(default=0)  # the last delta sequence number saved
    token_count = models.PositiveIntegerField(default=0)
    finish_reason = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    worker = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Once accepted into the scene (once: ``accepted_at`` is set by a conditional update,
    # so of two accepts one wins), the revision it became, where it went and exactly what
    # went in (and what it replaced), with relative positions holding the inserted
    # characters, so an undo takes out exactly those. An undo clears the accept (the
    # draft may be accepted again) and keeps the revision that took it out.
    accepted_revision = models.ForeignKey(
        Revision, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accept_place = models.CharField(max_length=8, choices=AcceptPlace.choices, blank=True)
    accept_line = models.PositiveIntegerField(null=True, blank=True)
    accepted_text = models.TextField(blank=True)
    accepted_removed = models.TextField(blank=True)
    accepted_span_start = models.BinaryField(null=True, blank=True, max_length=64)
    accepted_span_end = models.BinaryField(null=True, blank=True, max_length=64)
    undone_revision = models.ForeignKey(
        Revision, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A story proposal's accept: what it made or changed ([{"type": "character", "id": 5,
    # "name": "MARA"}, …]; "skipped" entries name what was left out and why).
    accepted_items = models.JSONField(default=list, blank=True)
    # Written for a blind comparison (``comparisons.py``): never shown in a drafts panel
    # or as a card, so no judge can learn which model wrote it.
    blind = models.BooleanField(default=False)
    # Scored when it finished (``draft_scores.py``): format, cast, repetition, length,
    # the longest span copied from the corpus or other projects. {} until then.
    scores = models.JSONField(default=dict, blank=True)
    # Asked as one of a chapter's drafts (``drafts/chapter.py``); None for a draft asked
    # on its own.
    batch = models.ForeignKey(
        "ChapterDrafts",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="passages",
    )

    class Meta:
        ordering = ["-queued_at", "group", "alternative"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "alternative"], name="passage_alternative_unique"
            ),
            # A scene draft has its scene; a story proposal has none.
            models.CheckConstraint(
                condition=Q(kind="scene", scene__isnull=False)
                | (~Q(kind="scene") & Q(scene__isnull=True)),
                name="passage_scene_matches_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["scene", "-queued_at"], name="passage_scene_recent_idx"),
            models.Index(fields=["project", "kind", "-queued_at"], name="passage_project_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"passage {self.pk} ({self.status})"

    def save(self, *args, **kwargs):
        if self.project_id is None and self.scene_id is not None:
            self.project_id = Scene.objects.values_list("project_id", flat=True).get(
                pk=self.scene_id
            )
        super().save(*args, **kwargs)

    @property
    def is_live(self) -> bool:
        return self.status in (PassageStatus.QUEUED, PassageStatus.STREAMING)

    @property
    def model_label(self) -> str:
        """The model that wrote it, as its card says ("" while unknown)."""
        if self.model_record.get("name"):
            return str(self.model_record["name"])
        if self.model_version_id is not None and self.model_version is not None:
            return self.model_version.name
        return ""

    @property
    def is_story(self) -> bool:
        """A story proposal (logline, characters, beats, brief), not a scene draft."""
        return self.kind != PassageKind.SCENE

    @property
    def page_url(self) -> str:
        """The page that shows this passage's card: its scene, or the story page."""
        if self.scene_id is not None:
            return reverse("scene_detail", args=[self.project_id, self.scene_id])
        return reverse("story_page", args=[self.project_id])

    @property
    def room(self) -> str:
        """The channel group whose pages show this passage's card and stream."""
        return room_of(self.scene_id, self.project_id)

    _DROPPED_WORDS = {
        "previous scene": "earlier scenes",
        "cast descriptions": "cast notes",
        "start of the text": "the start of the scene",
        "end of the text after the selection": "most of the scene after the selection",
        "story": "the logline",
        "card": "the scene's card",
        **STORY_DROPPED_WORDS,
    }

    @property
    def left_out(self) -> str:
        """What the model did not see to fit its context, in writers' words ("" if all)."""
        dropped = (self.prompt or {}).get("dropped") or []
        words = [self._DROPPED_WORDS.get(d, str(d)) for d in dict.fromkeys(dropped)]
        return ", ".join(words)

    @property
    def continues_from_cursor(self) -> bool:
        return self.task == DraftTask.CONTINUE and self.anchor_start is not None

    @property
    def request_label(self) -> str:
        """What was asked, in the panel's words."""
        if self.kind == PassageKind.LOGLINE:
            return "Logline"
        if self.kind == PassageKind.CHARACTERS:
            return "New characters"
        if self.kind == PassageKind.BEATS:
            return f"Beats for act {self.act or 1}"
        if self.kind == PassageKind.BRIEF:
            title = self.beat.title if self.beat_id is not None and self.beat else "a deleted card"
            return f"Brief for “{title}”"
        if self.task == DraftTask.CONTINUE:
            if self.selection_start is None:
                return "Continue from the end"
            return "Continue from the cursor"
        if self.task == DraftTask.REWRITE and self.instruction.startswith("Rewrite only "):
            return "Dialogue pass"
        return self.get_task_display()

    @property
    def is_accepted(self) -> bool:
        return self.accepted_at is not None

    @property
    def proposal(self) -> list:
        """A finished story proposal's characters or beats, as read from its text."""
        if self.kind == PassageKind.CHARACTERS:
            return storylevels.parse_characters(self.text, limit=50)
        if self.kind == PassageKind.BEATS:
            return storylevels.parse_beats(self.text, limit=50)
        return []

    @property
    def proposal_rows(self) -> list[tuple[int, object, bool]]:
        """The card's checklist: (index, item, already there) per proposed character or
        beat — a character whose name the cast already has is "already there"."""
        items = self.proposal
        taken: set[str] = set()
        if self.kind == PassageKind.CHARACTERS and items:
            from scripts_app.models import Character

            taken = {
                " ".join(n.upper().split())
                for n in Character.objects.filter(project_id=self.project_id).values_list(
                    "name", flat=True
                )
            }
        return [(i, item, getattr(item, "name", None) in taken) for i, item in enumerate(items)]

    @property
    def proposal_value(self) -> str:
        """A finished logline or brief proposal's text, as it would be used ("" if none)."""
        if self.kind == PassageKind.LOGLINE:
            return storylevels.parse_logline(self.text)
        if self.kind == PassageKind.BRIEF:
            return storylevels.parse_brief(self.text)
        return ""

    @property
    def can_undo(self) -> bool:
        return self.accepted_at is not None and self.accepted_span_start is not None

    @property
    def accept_summary(self) -> str:
        """What the accept did, in the card's words ("inserted at line 12")."""
        if self.accept_place == AcceptPlace.INSERT:
            return f"inserted at line {self.accept_line}" if self.accept_line else "inserted"
        return self.get_accept_place_display() if self.accept_place else "put into the scene"


class BatchState(models.TextChoices):
    RUNNING = "running", "Drafting"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    STOPPED = "stopped", "Stopped"


class ChapterDrafts(models.Model):
    """One request for the scene drafts of a whole chapter of a book (``drafts/chapter.py``):
    one scene draft (task "new", one alternative) per scene made from the chapter, in the
    chapter's order. The scenes are queued as the project's limits allow and the rest
    follow as earlier drafts end (``batch_advance``, under a lock on this row).

    ``scene_ids``: the chapter's scenes at request time, in order; ``queued``: {scene id
    (a string, as JSON keys are): the passage asked for it}, each scene at most once;
    ``skipped``: scenes deleted before their turn. ``sampling``: the passages' sampling
    (``DraftSpec.sampling()``) with the base ``seed`` (a scene's seed = base + its index)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="chapter_drafts")
    source = models.ForeignKey(SourceText, on_delete=models.CASCADE, related_name="+")
    chapter = models.PositiveIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    scene_ids = models.JSONField(default=list)
    queued = models.JSONField(default=dict, blank=True)
    skipped = models.JSONField(default=list, blank=True)
    instruction = models.TextField(blank=True, max_length=2000)
    sampling = models.JSONField(default=dict)
    state = models.CharField(
        max_length=10, choices=BatchState.choices, default=BatchState.RUNNING, db_index=True
    )
    reason = models.TextField(blank=True)  # why it stopped (cancelled, no model any more)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One running request per chapter: a second is refused ("already being drafted").
            models.UniqueConstraint(
                fields=["source", "chapter"],
                condition=Q(state="running"),
                name="chapter_drafts_one_running",
            ),
        ]
        indexes = [
            models.Index(fields=["requested_by", "created_at"], name="chapter_drafts_rate_idx")
        ]

    def __str__(self) -> str:
        return f"drafts of chapter {self.chapter} of {self.source_id} ({self.state})"

    @property
    def is_running(self) -> bool:
        return self.state == BatchState.RUNNING


# --- feedback on generated passages ------------------------------------------------------


class FeedbackTag(models.Model):
    """A tag collaborators can put on passages; each project edits its own set."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="feedback_tags")
    name = models.CharField(max_length=40)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="feedback_tag_unique")
        ]

    def __str__(self) -> str:
        return self.name


DEFAULT_FEEDBACK_TAGS = ["great dialogue", "off-character", "repetitive", "wrong tone", "too long"]


class Rating(models.Model):
    """One collaborator's 1–5 rating of a passage (changeable: one row per user)."""

    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField()
    tags = models.ManyToManyField(FeedbackTag, blank=True, related_name="ratings")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["passage", "user"], name="rating_one_per_user"),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5), name="rating_score_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} rated passage {self.passage_id}: {self.score}"


class PassageComment(models.Model):
    """A comment on a passage, or on a span of it (``anchor_*`` in characters); threaded."""

    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    body = models.TextField(max_length=5000)
    anchor_start = models.PositiveIntegerField(null=True, blank=True)
    anchor_end = models.PositiveIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(anchor_start__isnull=True, anchor_end__isnull=True)
                | Q(
                    anchor_start__isnull=False,
                    anchor_end__isnull=False,
                    anchor_end__gt=F("anchor_start"),
                ),
                name="comment_anchor_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"comment {self.pk} on passage {self.passage_id}"


class PreferenceSource(models.TextChoices):
    PICK = "pick", "Picked as best"
    RANK = "rank", "Ranked higher"
    ACCEPT = "accept", "Accepted into the scene"
    EDIT = "edit", "Edited after acceptance"
    BLIND = "blind", "Picked in a blind comparison"


class Preference(models.Model):
    """``chosen`` was preferred to ``rejected`` for the same prompt.

    For an edit (``source=edit``), the chosen side is the human's text (``chosen_text``)
    and ``rejected`` is what the model wrote.
    """

    rejected = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="preferences_lost")
    chosen = models.ForeignKey(
        Passage, on_delete=models.CASCADE, null=True, blank=True, related_name="preferences_won"
    )
    chosen_text = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    source = models.CharField(max_length=10, choices=PreferenceSource.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(chosen__isnull=False) | ~Q(chosen_text=""), name="preference_has_chosen"
            ),
            models.CheckConstraint(condition=~Q(chosen=F("rejected")), name="preference_distinct"),
            models.UniqueConstraint(
                fields=["user", "chosen", "rejected", "source"],
                condition=Q(chosen__isnull=False),
                name="preference_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chosen_id or 'edit'} > {self.rejected_id} ({self.source})"


# --- blind comparisons (``comparisons.py``) -----------------------------------------------------


class ComparisonStatus(models.TextChoices):
    PREPARING = "preparing", "Writing the drafts"
    OPEN = "open", "Open for judging"
    CLOSED = "closed", "Closed"
    FAILED = "failed", "Failed"


class Comparison(models.Model):
    """Two models (a house version or a model record each) write drafts for the same
    scene briefs; the team judges the pairs blind."""

    a_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    a_endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    b_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    b_endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Stable keys ("v12", "e3") and names, kept when a model is deleted (the ranking).
    a_key = models.CharField(max_length=20)
    b_key = models.CharField(max_length=20)
    a_name = models.CharField(max_length=200)
    b_name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=ComparisonStatus.choices, default=ComparisonStatus.PREPARING
    )
    status_reason = models.TextField(blank=True)
    progress = models.JSONField(default=dict, blank=True)  # {"done": n, "total": m}
    pairs_wanted = models.PositiveSmallIntegerField(default=12)
    votes_wanted = models.PositiveSmallIntegerField(default=30)
    seed = models.PositiveBigIntegerField(default=0)
    # The candidate version whose automatic promotion waits for this comparison.
    gate_version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="gates"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(a_key=F("b_key")), name="comparison_two_models"),
        ]

    def __str__(self) -> str:
        return f"{self.a_name} vs {self.b_name}"


class ComparisonPair(models.Model):
    """One brief (a scene of a project that allows training) and the two drafts for it:
    ``a`` by the comparison's model A, ``b`` by model B (same prompt, same seed)."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="pairs")
    scene = models.ForeignKey(Scene, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()
    group = models.UUIDField(default=uuid.uuid4)  # both drafts' ``Passage.group``
    a = models.ForeignKey(
        Passage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    b = models.ForeignKey(
        Passage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["comparison", "position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "scene"], name="comparison_pair_scene"),
        ]

    def __str__(self) -> str:
        return f"pair {self.position} of comparison {self.comparison_id}"


class VoteChoice(models.TextChoices):
    A = "a", "A wrote the better draft"
    B = "b", "B wrote the better draft"
    BOTH_BAD = "both_bad", "Both bad"


class ComparisonVote(models.Model):
    pair = models.ForeignKey(ComparisonPair, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8, choices=VoteChoice.choices)
    a_on_left = models.BooleanField()  # where the judge saw A (for side-bias checks)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pair", "user"], name="comparison_vote_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.pair_id}: {self.choice}"


class BlindJudge(models.Model):
    """A member who opted in to judge blind comparisons (of their own projects' scenes)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blind_judge"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"judge {self.user_id}"


# --- the model's view of a script (``surprise.py``) ------------------------------------------


class ReadingStatus(models.TextChoices):
    RUNNING = "running", "Reading"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ScriptReading(models.Model):
    """The house model's surprise at each scene of a project's script (bits per byte):
    where the script is least like what the model learned from."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="reading")
    version = models.ForeignKey(
        ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    version_name = models.CharField(max_length=100, blank=True)
    signature = models.CharField(max_length=200, blank=True)  # the script it read
    values = models.JSONField(default=dict, blank=True)  # {scene id: bits per byte}
    status = models.CharField(max_length=8, choices=ReadingStatus.choices)
    reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"reading of project {self.project_id}"
