"""Services: every write to the domain goes through these functions.

Keyword-only, named ``<entity>_<action>``, atomic where they touch several rows. They take
an already permission-checked membership (from ``access.py``) where a role matters, and
raise ``django.core.exceptions.ValidationError`` with a user-facing message on bad input;
a rejected call changes nothing.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max

from cowrite import events

from . import documents
from .formats import grammar
from .models import (
    Beat,
    Character,
    Membership,
    Project,
    Revision,
    RevisionOrigin,
    Role,
    Scene,
)

# The Fountain rules live in formats/grammar.py (shared with the importer, the corpus, the
# rater and the editor). HEADING_RE matches the start of a scene heading line;
# CHARACTER_NAME_RE is a name the app stores (typographic ’ included).
HEADING_RE = grammar.ANY_SCENE_HEADING_RE
CHARACTER_NAME_RE = grammar.CHARACTER_NAME_RE


# --- validation helpers -------------------------------------------------------------------


def validate_heading(heading: str) -> str:
    heading = (heading or "").strip()
    limit = settings.COWRITE_HEADING_MAX_CHARS
    if not heading:
        raise ValidationError("A scene needs a heading, e.g. INT. STATION - NIGHT.")
    if "\n" in heading or "\r" in heading:
        raise ValidationError("A scene heading is a single line.")
    if len(heading) > limit:
        raise ValidationError(f"A scene heading is at most {limit} characters.")
    parsed = grammar.parse_scene_heading(heading)
    if parsed is None:
        raise ValidationError(
            "A scene heading starts with INT., EXT., EST., INT./EXT. or I/E "
            "(e.g. INT. STATION - NIGHT), or with a single '.' to force one."
        )
    if not parsed.location:
        raise ValidationError("A scene heading names a place, e.g. INT. STATION - NIGHT.")
    return heading


def validate_scene_text(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    limit = settings.COWRITE_SCENE_TEXT_MAX_CHARS
    if len(text) > limit:
        raise ValidationError(
            f"The scene text is {len(text):,} characters; the limit is {limit:,}. "
            "Split the scene, or shorten it."
        )
    if "\x00" in text:
        raise ValidationError("The text contains a NUL character; paste it as plain text.")
    return text


def normalize_character_name(name: str) -> str:
    name = " ".join((name or "").split()).upper()
    if not name:
        raise ValidationError("A character needs a name.")
    if len(name) > 100:
        raise ValidationError("A character name is at most 100 characters.")
    if not CHARACTER_NAME_RE.match(name):
        raise ValidationError(
            "A character name starts with a letter and uses letters, digits, spaces, "
            "dots, apostrophes and hyphens."
        )
    return name


# --- projects -----------------------------------------------------------------------------


@transaction.atomic
def project_create(
    *, user, title: str, logline: str = "", genre: str = "", notes: str = ""
) -> Project:
    title = (title or "").strip()
    if not title:
        raise ValidationError("A project needs a title.")
    project = Project.objects.create(
        title=title[:200], logline=logline, genre=genre, notes=notes, created_by=user
    )
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return project


def project_update(*, project: Project, **fields) -> Project:
    allowed = {"title", "logline", "genre", "notes", "allow_training", "auto_contd"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"Unknown project fields: {sorted(unknown)}")
    if "title" in fields and not (fields["title"] or "").strip():
        raise ValidationError("A project needs a title.")
    for name, value in fields.items():
        setattr(project, name, value.strip() if isinstance(value, str) else value)
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_delete(*, project: Project, confirm_title: str) -> None:
    if (confirm_title or "").strip() != project.title:
        raise ValidationError("Type the project's exact title to delete it.")
    events.publish(events.AccessChanged(project.pk))
    project.delete()


# --- members ------------------------------------------------------------------------------


def _owner_count(project_id: int) -> int:
    return Membership.objects.filter(project_id=project_id, role=Role.OWNER).count()


@transaction.atomic
def member_set_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError("Choose a role: owner, editor, commenter or viewer.")
    # Lock the project's owner rows so two concurrent demotions cannot both pass the check.
    list(
        Membership.objects.select_for_update()
        .filter(project_id=membership.project_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    membership.refresh_from_db()
    if (
        membership.role == Role.OWNER
        and role != Role.OWNER
        and _owner_count(membership.project_id) <= 1
    ):
        raise ValidationError("A project keeps at least one owner: make someone else owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    events.publish(events.AccessChanged(membership.project_id, membership.user_id))
    return membership


@transaction.atomic
def member_remove(*, membership: Membership) -> None:
    list(
        Membership.objects.select_for_update()
        .filter(project_id=membership.project_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    membership.refresh_from_db()
    if membership.role == Role.OWNER and _owner_count(membership.project_id) <= 1:
        raise ValidationError(
            "A project keeps at least one owner: make someone else owner first, "
            "or delete the project."
        )
    membership.delete()
    events.publish(events.AccessChanged(membership.project_id, membership.user_id))


# --- characters ---------------------------------------------------------------------------


def character_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    notes: str = "",
    tags: dict | None = None,
) -> Character:
    name = normalize_character_name(name)
    if Character.objects.filter(project=project, name=name).exists():
        raise ValidationError(f"There is already a character called {name}.")
    from .story import check_character_limit  # story.py builds on this module

    check_character_limit(project.pk)
    try:
        with transaction.atomic():
            return Character.objects.create(
                project=project,
                name=name,
                description=description,
                notes=notes,
                attributes=tags or {},
            )
    except IntegrityError:
        raise ValidationError(f"There is already a character called {name}.") from None


def character_update(
    *,
    character: Character,
    name: str,
    description: str = "",
    notes: str = "",
    tags: dict | None = None,
) -> Character:
    name = normalize_character_name(name)
    clash = Character.objects.filter(project_id=character.project_id, name=name).exclude(
        pk=character.pk
    )
    if clash.exists():
        raise ValidationError(f"There is already a character called {name}.")
    character.name, character.description, character.notes = name, description, notes
    if tags is not None:
        character.attributes = tags
    character.full_clean(exclude=["project"])
    try:
        with transaction.atomic():
            character.save()
    except IntegrityError:
        raise ValidationError(f"There is already a character called {name}.") from None
    return character


def character_delete(*, character: Character) -> None:
    character.delete()


# --- scenes -------------------------------------------------------------------------------


def _cast_for(project: Project, cast_ids) -> list[Character]:
    ids = {int(i) for i in cast_ids or []}
    cast = list(Character.objects.filter(project=project, pk__in=ids))
    if len(cast) != len(ids):
        raise ValidationError("The cast names a character that is not in this project.")
    return cast


def add_revision(
    *,
    scene: Scene,
    text: str,
    origin: str,
    author=None,
    author_id: int | None = None,
    label: str = "",
    base=None,
    restored_from=None,
) -> Revision:
    """Append a revision to the scene's history (the caller holds the scene's row lock)."""
    number = (scene.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    # Every page on the scene reloads its history once this commits.
    events.publish(events.HistoryChanged(scene.pk))
    return Revision.objects.create(
        scene=scene,
        number=number,
        text=text,
        author_id=author.pk if author is not None else author_id,
        origin=origin,
        label=label[:120],
        base=base,
        restored_from=restored_from,
    )


def scene_sync_live(*, scene_id: int, autosave: bool) -> Scene:
    """Fold the scene's live edits into its text and return the row, locked.

    With ``autosave``, live edits not yet in any revision get an auto-saved one (authored
    by whoever typed last), so a save or restore made from an older base is detected as
    a conflict instead of erasing them. Call inside a transaction.
    """
    editor_id = documents.last_editor_id(scene_id)
    if Scene.objects.filter(pk=scene_id, doc_state__isnull=False).exists():
        documents.compact(scene_id)
    scene = Scene.objects.select_for_update().defer("doc_state").get(pk=scene_id)
    if autosave and scene.head is not None and scene.head.text != scene.text:
        scene.head = add_revision(
            scene=scene,
            text=scene.text,
            author_id=editor_id or scene.last_edited_by_id,
            origin=RevisionOrigin.AUTOSAVE,
            base=scene.head,
        )
        scene.save(update_fields=["head"])
    return scene


def scene_commit_text(*, scene: Scene, text: str, user, revision: Revision) -> None:
    """Make ``text`` (just saved as ``revision``) the scene's text and head.

    The text goes through the live document when there is one, so every open editor gets
    it as an edit. Call with the scene's row locked (``scene_sync_live``).
    """
    if scene.has_live_doc():
        documents.replace_text(scene_id=scene.pk, new_text=text, user_id=user.pk if user else None)
    scene.text, scene.head, scene.last_edited_by = text, revision, user
    scene.save(update_fields=["text", "head", "last_edited_by", "updated_at"])


def scene_edit_live(
    *, scene_id: int, plan, user, label: str, origin: str = RevisionOrigin.SAVE
) -> tuple[Revision, documents.Edited]:
    """Make one edit at a place in the live text (``documents.edit_at``: ``plan`` finds it
    in the document as it is now) and save the result as a revision.

    Unlike ``scene_commit_text`` (a whole new text, diffed into the document), only that
    place changes, so what others type elsewhere meanwhile is kept. ``plan`` may refuse
    with a ValidationError (nothing is written). Call inside a transaction."""
    scene = scene_sync_live(scene_id=scene_id, autosave=True)
    edited = documents.edit_at(
        scene_id=scene.pk, plan=plan, user_id=user.pk if user else None, check=validate_scene_text
    )
    revision = add_revision(
        scene=scene, text=edited.text, author=user, origin=origin, label=label, base=scene.head
    )
    scene.text, scene.head, scene.last_edited_by = edited.text, revision, user
    scene.save(update_fields=["text", "head", "last_edited_by", "updated_at"])
    return revision, edited


@transaction.atomic
def scene_create(
    *,
    project: Project,
    user,
    heading: str,
    synopsis: str = "",
    text: str = "",
    cast_ids=(),
    position: int | None = None,
) -> Scene:
    """Create a scene (at the end, or at ``position``) with its first revision."""
    heading = validate_heading(heading)
    text = validate_scene_text(text)
    cast = _cast_for(project, cast_ids)
    # Lock the project row: concurrent creates must not take the same position.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    count = Scene.objects.filter(project=project).count()
    if position is None or position >= count:
        position = count
    else:
        position = max(0, position)
        Scene.objects.filter(project=project, position__gte=position).update(
            position=F("position") + 1
        )
    scene = Scene.objects.create(
        project=project,
        position=position,
        heading=heading,
        synopsis=synopsis,
        text=text,
        last_edited_by=user,
    )
    scene.cast.set(cast)
    scene.head = add_revision(scene=scene, text=text, author=user, origin=RevisionOrigin.CREATE)
    scene.save(update_fields=["head"])
    script_changed(project.pk)
    return scene


def script_changed(project_id: int) -> None:
    """The script's scenes changed (added, removed, moved, a heading): open whole-script
    views re-read their window (over the story room, after commit)."""
    events.publish(events.StoryChanged(project_id, "script"))


@transaction.atomic
def scene_update(*, scene: Scene, heading: str, synopsis: str = "", cast_ids=()) -> Scene:
    scene.heading = validate_heading(heading)
    if len(synopsis or "") > 2000:
        raise ValidationError("A synopsis is at most 2,000 characters.")
    scene.synopsis = (synopsis or "").strip()
    cast = _cast_for(scene.project, cast_ids)
    scene.save(update_fields=["heading", "synopsis", "updated_at"])
    scene.cast.set(cast)
    script_changed(scene.project_id)
    return scene


@transaction.atomic
def scene_delete(*, scene: Scene) -> None:
    Project.objects.select_for_update().filter(pk=scene.project_id).first()
    project_id, position = scene.project_id, scene.position
    # Its card stays, unlinked (Beat.scene is SET_NULL), and says which scene it lost.
    linked = Beat.objects.filter(scene=scene).update(scene_lost=scene.heading[:200])
    scene.delete()
    events.publish(events.AccessChanged(project_id))
    if linked:  # its card stays, unlinked (Beat.scene is SET_NULL): open boards show it
        events.publish(events.StoryChanged(project_id, "board"))
    Scene.objects.filter(project_id=project_id, position__gt=position).update(
        position=F("position") - 1
    )
    script_changed(project_id)


@transaction.atomic
def scene_reorder(*, project: Project, scene_ids: list[int]) -> None:
    """Put the project's scenes in the given order; the list must name each scene once."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    try:
        wanted = [int(i) for i in scene_ids]
    except (TypeError, ValueError):
        raise ValidationError("The new order must list scene ids.") from None
    current = dict(Scene.objects.filter(project=project).values_list("pk", "position"))
    if len(wanted) != len(set(wanted)) or set(wanted) != set(current):
        raise ValidationError(
            "The scene list changed while you were reordering; reload and try again."
        )
    changed = []
    for position, pk in enumerate(wanted):
        if current[pk] != position:
            changed.append(Scene(pk=pk, position=position))
    Scene.objects.bulk_update(changed, ["position"])
    if changed:
        script_changed(project.pk)
        from . import board  # board.py calls this module: imported here, not at the top

        # The outline follows: linked cards re-sort within their acts (board.py).
        board.cards_follow_scenes(project_id=project.pk)


@transaction.atomic
def scene_move(*, scene: Scene, to_position: int) -> None:
    """Move one scene to ``to_position`` (0-based), shifting the others."""
    order = list(
        Scene.objects.filter(project_id=scene.project_id)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )
    order.remove(scene.pk)
    order.insert(max(0, min(int(to_position), len(order))), scene.pk)
    scene_reorder(project=scene.project, scene_ids=order)


class SaveResult:
    """What a text save did: ``revision`` is new; ``conflict`` says it did not become head."""

    def __init__(self, revision: Revision, conflict: bool, head: Revision | None):
        self.revision = revision
        self.conflict = conflict
        self.head = head


@transaction.atomic
def scene_save_text(
    *, scene: Scene, user, text: str, base_revision_id: int | None, label: str = ""
) -> SaveResult:
    """Save a new text for the scene as a revision.

    If someone saved since the author loaded (``base_revision_id`` is not the head), the
    text is kept as a *conflict* revision beside the head instead of replacing it: nothing
    is lost, and the page shows both so the author can merge and save again.
    """
    text = validate_scene_text(text)
    scene = scene_sync_live(scene_id=scene.pk, autosave=True)
    base = None
    if base_revision_id not in (None, ""):
        try:
            base = Revision.objects.get(pk=int(base_revision_id), scene=scene)
        except (Revision.DoesNotExist, ValueError, TypeError):
            raise ValidationError("The base revision is not a revision of this scene.") from None
    if base is not None and scene.head_id is not None and base.pk != scene.head_id:
        revision = add_revision(
            scene=scene,
            text=text,
            author=user,
            origin=RevisionOrigin.CONFLICT,
            label=label,
            base=base,
        )
        return SaveResult(revision, conflict=True, head=scene.head)
    if scene.head is not None and text == scene.text and not label:
        # Nothing changed: no empty revision.
        return SaveResult(scene.head, conflict=False, head=scene.head)
    revision = add_revision(
        scene=scene, text=text, author=user, origin=RevisionOrigin.SAVE, label=label, base=base
    )
    scene_commit_text(scene=scene, text=text, user=user, revision=revision)
    return SaveResult(revision, conflict=False, head=revision)


@transaction.atomic
def scene_save_version(*, scene: Scene, user, label: str = "") -> Revision:
    """Save the live document's current text as a (labelled) revision.

    This is the live editor's save: the text comes from the server's document, not from
    the browser, so there is no base to be stale against.
    """
    scene = scene_sync_live(scene_id=scene.pk, autosave=False)
    if scene.head is not None and scene.head.text == scene.text and not label:
        return scene.head
    revision = add_revision(
        scene=scene,
        text=scene.text,
        author=user,
        origin=RevisionOrigin.SAVE,
        label=label,
        base=scene.head,
    )
    scene.head, scene.last_edited_by = revision, user
    scene.save(update_fields=["head", "last_edited_by", "updated_at"])
    return revision


@transaction.atomic
def revision_restore(*, revision: Revision, user) -> Revision:
    """Make an old revision's text current again, as a new revision (and a live edit)."""
    scene = scene_sync_live(scene_id=revision.scene_id, autosave=True)
    new = add_revision(
        scene=scene,
        text=revision.text,
        author=user,
        origin=RevisionOrigin.RESTORE,
        label=f"Restored r{revision.number}",
        base=scene.head,
        restored_from=revision,
    )
    scene_commit_text(scene=scene, text=revision.text, user=user, revision=new)
    return new
