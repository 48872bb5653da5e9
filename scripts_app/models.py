"""The domain: projects (scripts), memberships with roles, characters, scenes, revisions.

Writes go through ``services.py``; reads of user-owned objects go through ``access.py``.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from .formats.production import colour_name, swatch


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


class CharacterRole(models.TextChoices):
    """What a character is to the story (the story layer, ``story.py``)."""

    NONE = "", "—"
    PROTAGONIST = "protagonist", "Protagonist"
    ANTAGONIST = "antagonist", "Antagonist"
    DEUTERAGONIST = "deuteragonist", "Deuteragonist"
    LOVE_INTEREST = "love_interest", "Love interest"
    MENTOR = "mentor", "Mentor"
    ALLY = "ally", "Ally"
    SUPPORTING = "supporting", "Supporting"
    MINOR = "minor", "Minor"


class Character(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=5000)
    notes = models.TextField(blank=True, max_length=20_000)
    # The story layer: what drives the character and how they change.
    role = models.CharField(max_length=20, choices=CharacterRole.choices, blank=True, default="")
    want = models.TextField(blank=True, max_length=1000)  # the outer goal
    need = models.TextField(blank=True, max_length=1000)  # what they must learn or get
    flaw = models.TextField(blank=True, max_length=1000)
    arc_start = models.TextField(blank=True, max_length=1000)  # who they are at the start
    arc_end = models.TextField(blank=True, max_length=1000)  # who they are at the end
    voice = models.TextField(blank=True, max_length=2000)  # how they talk
    # Tags the team fills in for the coverage's speaking shares ({"gender": "woman"}):
    # only what people entered, never guessed.
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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


class SceneNote(models.Model):
    """A note on a span of a scene's text (``scripts_app/notes.py``), or a reply to one.

    A root note holds its span as two Yjs relative positions (base64, as the browser's
    ``place()`` makes them), so it follows the text while anyone types; ``quote`` is the
    text it covered when made (shown once those words are gone). Replies are one level
    deep: a reply's ``parent`` is a root note and it has no anchors.
    """

    scene = models.ForeignKey(Scene, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    body = models.TextField(max_length=4000)
    anchor_start = models.CharField(max_length=96, blank=True)
    anchor_end = models.CharField(max_length=96, blank=True)
    quote = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["scene", "parent"])]

    def __str__(self) -> str:
        return f"note {self.pk} on scene {self.scene_id}"

    @property
    def is_root(self) -> bool:
        return self.parent_id is None


class ProductionIssue(models.Model):
    """One issued production draft of a project's script: the locked white draft
    (``index`` 0), then each coloured revision (Blue, Pink…). ``data`` is the snapshot
    the rule in ``formats/production.py`` compares the script with (``Snapshot``): its
    printed elements with their scenes and revision marks, where its pages began, its
    scene numbers. Issues are only added (or all removed when production is unlocked).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="production_issues")
    index = models.PositiveIntegerField()
    date = models.CharField(max_length=40)  # as printed in page headers
    data = models.JSONField()
    pages = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)  # elements first marked in this issue
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    issued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        constraints = [
            models.UniqueConstraint(fields=["project", "index"], name="production_issue_unique")
        ]

    def __str__(self) -> str:
        return f"{self.colour} issue of {self.project}"

    @property
    def colour(self) -> str:
        return colour_name(self.index)

    @property
    def swatch(self) -> str:
        return swatch(self.index)


# --- The story layer: bible, relationships, plotlines, beats (``story.py``) ---------------


class StoryBible(models.Model):
    """A project's story bible beside the logline and genre the project holds: tone,
    themes, setting notes and a free-form treatment. Each field is saved on its own with
    the version it was edited from (``versions``), so two writers editing different fields
    both keep their text and two editing the same one get a conflict, not a silent loss."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="bible")
    tone = models.TextField(blank=True, max_length=1000)
    themes = models.TextField(blank=True, max_length=2000)
    setting = models.TextField(blank=True, max_length=10_000)
    treatment = models.TextField(blank=True, max_length=100_000)
    # Field name -> version number (bumped on every save of that field).
    versions = models.JSONField(default=dict, blank=True)
    # Act-break page guides for the structure view ("25,55,85,110" for a feature).
    page_guides = models.CharField(max_length=100, blank=True, default="25,55,85,110")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"story bible of {self.project}"


class CharacterRelation(models.Model):
    """A typed link between two characters of one project ("sister of", "rival")."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="character_relations"
    )
    source = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="relations_out")
    target = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="relations_in")
    kind = models.CharField(max_length=60)
    note = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "target", "kind"], name="character_relation_unique"
            ),
            models.CheckConstraint(
                condition=~Q(source=models.F("target")), name="character_relation_not_self"
            ),
        ]
        ordering = ["source__name", "kind", "target__name"]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.target}"


class Plotline(models.Model):
    """A named, coloured thread of the story (the A story, the B story…)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="plotlines")
    name = models.CharField(max_length=100)
    label = models.CharField(max_length=4, blank=True)  # "A", "B"…
    colour = models.CharField(max_length=7, default="#2f6fdd")  # "#rrggbb"
    description = models.TextField(blank=True, max_length=2000)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="plotline_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Beat(models.Model):
    """An index card of the outline: a story beat in an act, on plotlines, with characters;
    it can become a scene (``scene``), and then the card and the scene stay linked.

    ``act`` (1, 2, 3…) and ``position`` (dense 0..n-1 within the act, kept by the services
    under the project row lock, as scenes are) place it on the board; ``version`` is bumped
    on every change so an edit made from an older card is refused, not lost."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="beats")
    act = models.PositiveSmallIntegerField(default=1)
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True, max_length=5000)
    sequence = models.CharField(max_length=100, blank=True)  # a named sequence within the act
    target_eighths = models.PositiveIntegerField(null=True, blank=True)  # target length
    plotlines = models.ManyToManyField(Plotline, blank=True, related_name="beats")
    characters = models.ManyToManyField(Character, blank=True, related_name="beats")
    scene = models.OneToOneField(
        Scene, on_delete=models.SET_NULL, null=True, blank=True, related_name="beat"
    )
    # The heading of its scene when that scene was deleted (the card says so), or "".
    scene_lost = models.CharField(max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["act", "position", "pk"]
        indexes = [models.Index(fields=["project", "act", "position"])]

    def __str__(self) -> str:
        return self.title


# --- Adaptation: a book's text beside the scenes made from it (``adaptation.py``) ---------


class SourceText(models.Model):
    """A novel or story imported for adaptation: its cleaned text, read-only, with its
    chapters and paragraphs as offsets into ``text``."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="sources")
    title = models.CharField(max_length=300)
    author = models.CharField(max_length=300, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    source_format = models.CharField(max_length=10)  # text, markdown, epub
    text = models.TextField()
    words = models.PositiveIntegerField(default=0)
    # [{"title": str, "paragraphs": [[start, end], ...], "breaks": [i, ...]}, ...]
    chapters = models.JSONField(default=list)
    # The names found in it: {"ELIZABETH": {"mentions": 412, "aliases": ["Lizzy", ...]}}
    cast = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "pk"]

    def __str__(self) -> str:
        return self.title

    def paragraphs(self, chapter: int, first: int, last: int) -> list[str]:
        spans = self.chapters[chapter]["paragraphs"][first : last + 1]
        return [self.text[start:end] for start, end in spans]


class SceneSource(models.Model):
    """The passage of a book a scene was made from, and where each of its cues came
    from: ``cues`` = [{"line": n (1-based in the scene's text as imported), "paragraph":
    i (within the passage), "start": s, "end": e}]."""

    scene = models.OneToOneField(Scene, on_delete=models.CASCADE, related_name="source_passage")
    source = models.ForeignKey(SourceText, on_delete=models.CASCADE, related_name="scenes")
    chapter = models.PositiveIntegerField()
    first = models.PositiveIntegerField()  # paragraph indexes in the chapter, inclusive
    last = models.PositiveIntegerField()
    cues = models.JSONField(default=list, blank=True)
    # The heading the breakdown proposed: while the scene still has it, reading the book
    # again with the team's confirmed names may propose a better one.
    heading = models.CharField(max_length=200, blank=True, default="")
    # The last revision the machine wrote (the import, a re-read with confirmed names, a
    # merge of characters): while it is the scene's head, nobody has touched the scene.
    revision = models.ForeignKey(
        "Revision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"scene {self.scene_id} from {self.source_id}"

    def paragraphs(self) -> list[str]:
        return self.source.paragraphs(self.chapter, self.first, self.last)
