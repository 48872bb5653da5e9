"""The domain: projects (scripts), memberships with roles, characters, scenes, revisions.

Writes go through ``services.py``; reads of user-owned objects go through ``access.py``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class Role(models.TextChoices):
    """A member's role in a project, from most to least powerful."""

    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    COMMENTER = "commenter", "Commenter"
    VIEWER = "viewer", "Viewer"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self.value]

    def at_least(self, other: "Role | str") -> bool:
        return ROLE_RANK[self.value] >= ROLE_RANK[Role(other).value]


ROLE_RANK = {Role.VIEWER: 0, Role.COMMENTER: 1, Role.EDITOR: 2, Role.OWNER: 3}


class Project(models.Model):
    """A script: the unit of sharing and of permission."""

    title = models.CharField(max_length=200)
    logline = models.TextField(blank=True, max_length=1000)
    genre = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True, max_length=20_000)
    allow_training = models.BooleanField(
        default=False,
        help_text="Let the team's model train on this project's text and feedback.",
    )
    # Printed pages (PDF, HTML) add "(CONT'D)" when a character speaks again after action
    # in the same scene (``pagination.auto_contd``); the text itself is not changed.
    auto_contd = models.BooleanField(
        default=False,
        help_text="Add (CONT'D) when a character speaks again after action in a scene.",
    )
    # Title page credits (exports.py writes them; imports fill them from a file's title
    # page). The title is ``title``. Multi-line fields keep their lines ("\n").
    credit = models.CharField(max_length=100, blank=True, default="Written by")
    authors = models.TextField(max_length=500, blank=True)
    based_on = models.TextField(max_length=500, blank=True)
    draft_date = models.CharField(max_length=100, blank=True)
    contact = models.TextField(max_length=1000, blank=True)
    copyright = models.CharField(max_length=200, blank=True)
    title_page_notes = models.TextField(max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("project_detail", args=[self.pk])


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    # A member may keep their ratings, comments and choices out of training data.
    feedback_opt_out = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]
        ordering = ["added_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Character(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=5000)
    notes = models.TextField(blank=True, max_length=20_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Cue names are upper-cased on save, so this is case-insensitive in effect.
            models.UniqueConstraint(fields=["project", "name"], name="character_name_unique"),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Scene(models.Model):
    """One scene of a script, in script order (``position``).

    ``text`` is the scene's Fountain text as of ``head`` (its latest revision).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="scenes")
    position = models.PositiveIntegerField()
    heading = models.CharField(max_length=200)
    synopsis = models.TextField(blank=True, max_length=2000)
    text = models.TextField(blank=True)
    cast = models.ManyToManyField(Character, blank=True, related_name="scenes")
    head = models.ForeignKey(
        "Revision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The live document (Yjs/pycrdt) as a compacted state; updates since the last
    # compaction are SceneUpdate rows. Null until the scene is first opened live.
    doc_state = models.BinaryField(null=True, blank=True, editable=False)
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "position", "pk"]
        # Positions are kept dense (0..n-1) by services.py under a lock on the project
        # row; no unique constraint, since SQLite cannot defer one during a reorder.
        indexes = [models.Index(fields=["project", "position"])]

    def __str__(self) -> str:
        return self.heading

    def get_absolute_url(self) -> str:
        return reverse("scene_detail", args=[self.project_id, self.pk])

    @property
    def number(self) -> int:
        return self.position + 1

    def has_live_doc(self) -> bool:
        """Say whether the scene has a live (co-edited) document yet."""
        return Scene.objects.filter(pk=self.pk, doc_state__isnull=False).exists()


class SceneUpdate(models.Model):
    """One accepted Yjs update of a scene's live document, kept until compaction."""

    scene = models.ForeignKey(Scene, on_delete=models.CASCADE, related_name="doc_updates")
    data = models.BinaryField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["scene", "pk"]

    def __str__(self) -> str:
        return f"update {self.pk} of scene {self.scene_id} ({len(self.data)} bytes)"


class RevisionOrigin(models.TextChoices):
    CREATE = "create", "Created"
    SAVE = "save", "Saved"
    AUTOSAVE = "autosave", "Auto-saved"
    RESTORE = "restore", "Restored"
    CONFLICT = "conflict", "Conflicting save"
    IMPORT = "import", "Imported"
    PASSAGE = "passage", "Accepted draft"


class Revision(models.Model):
    """An immutable snapshot of a scene's text. History is never rewritten."""

    scene = models.ForeignKey(Scene, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    text = models.TextField(blank=True)
    label = models.CharField(max_length=120, blank=True)
    origin = models.CharField(
        max_length=16, choices=RevisionOrigin.choices, default=RevisionOrigin.SAVE
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The revision the author's edit started from; for a conflict, the stale base.
    base = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    restored_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scene", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["scene", "number"], name="revision_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="revision_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.scene} r{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("revision_detail", args=[self.scene.project_id, self.scene_id, self.number])

    @property
    def is_conflict(self) -> bool:
        return self.origin == RevisionOrigin.CONFLICT


class InvitationKind(models.TextChoices):
    EMAIL = "email", "Email"  # sent to an address; single use
    USER = "user", "Account"  # addressed to a username; single use, accepted in the app
    LINK = "link", "Link"  # a shareable link; many uses until it expires or is revoked


class Invitation(models.Model):
    """An offer to join a project with a role (scripts_app/invitations.py).

    Nobody becomes a member until they accept. The secret token is never stored: only its
    SHA-256 (``token_hash``), looked up by equality, so a database leak yields no link.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(max_length=8, choices=InvitationKind.choices)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True)
    # What the owner typed (an email address or a username), shown in the pending list.
    sent_to = models.CharField(max_length=254, blank=True)
    # For ``user`` invitations whose username matched an account: the only one who may accept.
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations_received",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)  # last acceptance
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid"),
        ]
        indexes = [models.Index(fields=["project", "expires_at"])]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} invitation to {self.project} ({self.role})"
