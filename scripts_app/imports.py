"""Import a screenplay file into a new project, or append it to an existing one (service).

How an imported file maps onto the domain (see docs/formats.md, "Django side"):

- Each scene heading starts a scene. ``Scene.heading`` is the heading line exactly as
  written (a forcing "." and a "#12#" scene number stay in it); ``Scene.text`` is the
  exact Fountain of the scene after that line, less the one empty line that follows it.
  The export writes each scene back as heading + empty line + text.
- New project: the title (first line of the title page's Title), logline (``Logline`` or
  ``Synopsis``) and notes (``Notes``) come from the title page. The title page source and
  the text before the first heading (the preamble) are kept verbatim at the end of
  ``Project.notes``, below ``FRONT_MATTER_MARKER``; the export writes them before scene 1,
  so exporting an imported project gives the source back (line ends become LF).
- Existing project: its own title page stays; the file's title page and preamble are kept
  in the notes under a line that says they are *not* exported.
- Character cues become characters (variants merged: ``EDWARD (V.O.)``, ``@Edward`` →
  ``EDWARD``; ``MAN’S VOICE`` and ``MAN'S VOICE`` are one: ``formats.model.character_key``);
  characters the project already has are reused, by the same key. A compound cue (``JOHN
  AND MARY``) whose parts all speak alone in the file joins those characters to the
  scene's cast instead of making one (``formats/importer.py`` has the rule). Cues that
  cannot be a character name (``BOB #2``) are left out of the cast and reported.
- A heading that names no place (``INT.`` alone) does not start a scene: it stays in the
  text of the scene before it (``importer.opens_scene``).
- Everything happens in one transaction, so a rejected file changes nothing. A file with
  more than ``COWRITE_IMPORT_MAX_SCENES`` scenes is refused before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import credits, services
from .formats import FormatError, importer
from .formats.model import ElementType, character_key
from .models import Character, Project, Revision, RevisionOrigin, Scene

FRONT_MATTER_MARKER = (
    "--- Title page and opening text, exported before scene 1 (keep this line) ---"
)
NOTES_MAX_CHARS = 20_000  # Project.notes max_length


@dataclass
class ImportSummary:
    """What an import did, for the message shown after it."""

    scenes: int = 0
    characters_new: int = 0
    characters_reused: int = 0
    skipped_cues: list[str] = field(default_factory=list)
    # Compound cues linked to the characters they name ("JOHN AND MARY").
    linked_cues: list[str] = field(default_factory=list)
    kept_in_notes: bool = False


def split_notes(notes: str) -> tuple[str, str | None]:
    """Return (the user's notes, the front matter below the marker or None)."""
    notes = _lf(notes or "")  # notes saved from a browser textarea have CRLF line ends
    head, marker, front = notes.partition(FRONT_MATTER_MARKER)
    if not marker:
        return notes, None
    return head.rstrip("\n"), front.removeprefix("\n")


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _source_lf(source: str) -> str:
    """Return a piece of parsed source with LF line ends.

    The parser splits the file at "\n", so each line of a CRLF file keeps its "\r", the
    last one too: a scene's source ends "...\r\n\r" where the "\n" that follows its
    last (empty) line was the join to the next scene. Plain ``_lf`` turned that "\r" into
    one more line end, so every scene gained an empty line at export.
    """
    return _lf("\n".join(line.removesuffix("\r") for line in source.split("\n")))


def _scene_parts(source: str) -> tuple[str, str]:
    """Split an imported scene's source into its heading line and the text after it."""
    heading, _, rest = _source_lf(source).partition("\n")
    # The empty line after the heading is written back by the export.
    return heading.strip(), rest.removeprefix("\n")


def _project_title(imported, filename: str) -> str:
    for line in (imported.title or "").splitlines():
        if line.strip():
            return line.strip()[:200]
    stem = os.path.splitext(os.path.basename(filename or ""))[0].strip()
    return (stem or "Untitled script")[:200]


def _too_long_notes(length: int) -> ValidationError:
    return ValidationError(
        f"The title page and the text before the first scene heading would make the "
        f"project notes {length:,} characters long; the limit is {NOTES_MAX_CHARS:,}. "
        "Shorten that text (or move it below the first scene heading) and import again."
    )


def script_import(*, user, upload, filename: str, project: Project | None = None) -> Project:
    """Import a .fountain, .fdx or plain-text screenplay; return the project it went into.

    With ``project`` (already permission-checked: editor or owner) the scenes are appended
    after its scenes; without, a new project owned by ``user`` is created. Raise
    ``ValidationError`` with a user-facing message for any bad input; nothing is written
    then. The returned project carries ``import_summary`` (an ``ImportSummary``).
    """
    cap = settings.COWRITE_IMPORT_MAX_SCENES
    try:
        script = importer.read_script(
            upload, filename or "", max_bytes=settings.COWRITE_UPLOAD_MAX_BYTES
        )
        # Counted on the parsed elements, before the (costlier) split into scenes.
        count = sum(1 for element in script.elements if element.type is ElementType.SCENE_HEADING)
        if count > cap:
            raise ValidationError(
                f"This file has {count:,} scenes; an import takes at most {cap:,}. Split the "
                "script into parts and import them one by one. Nothing was imported."
            )
        imported = importer.split_script(script)
    except FormatError as exc:
        raise ValidationError(str(exc)) from None
    return _store(user=user, imported=imported, filename=filename or "", project=project)


@transaction.atomic
def _store(*, user, imported, filename: str, project: Project | None) -> Project:
    summary = ImportSummary()
    # Check every scene before writing anything (the transaction would undo it anyway,
    # but a clear message names the scene).
    rows: list[tuple[str, str, list[str]]] = []
    for scene in imported.scenes:
        heading, text = _scene_parts(scene.text)
        try:
            heading = services.validate_heading(heading)
            text = services.validate_scene_text(text)
        except ValidationError as exc:
            raise ValidationError(
                f"Scene {scene.index + 1} ({heading[:60]}): {' '.join(exc.messages)}"
            ) from None
        rows.append((heading, text, scene.cast))

    front = _lf(importer.assemble(imported.title_page_text, imported.preamble, []))
    if project is None:
        notes = (imported.notes or "").strip()
        if front.strip():
            notes = (notes + "\n\n" if notes else "") + FRONT_MATTER_MARKER + "\n" + front
            summary.kept_in_notes = True
        if len(notes) > NOTES_MAX_CHARS:
            raise _too_long_notes(len(notes))
        project = services.project_create(
            user=user,
            title=_project_title(imported, filename),
            logline=(imported.logline or "").strip()[:1000],
            notes=notes,
        )
        credits.fill_from_import(project, imported, only_empty=False)
    else:
        # Lock the project row: a concurrent scene create must not take our positions.
        project = Project.objects.select_for_update().get(pk=project.pk)
        credits.fill_from_import(project, imported, only_empty=True)
        if front.strip():
            when = timezone.localdate().isoformat()
            block = (
                f"--- From {os.path.basename(filename) or 'an imported file'} ({when}): "
                "its title page and opening text, not exported ---\n" + front.rstrip("\n")
            )
            user_notes, project_front = split_notes(project.notes)
            notes = (user_notes.rstrip("\n") + "\n\n" if user_notes.strip() else "") + block
            if project_front is not None:
                notes += "\n\n" + FRONT_MATTER_MARKER + "\n" + project_front
            if len(notes) > NOTES_MAX_CHARS:
                raise _too_long_notes(len(notes))
            project.notes = notes
            project.save(update_fields=["notes", "updated_at"])
            summary.kept_in_notes = True
        else:
            project.save(update_fields=["updated_at"])

    # Characters: reuse the project's (by character_key: ’ and ' alike), create the rest.
    by_name = {c.name: c for c in Character.objects.filter(project=project)}
    by_key = {character_key(name): name for name in by_name}
    stored: dict[str, str] = {}  # imported name -> the name of its Character row
    new: list[Character] = []
    for cue_name in imported.characters:
        try:
            name = services.normalize_character_name(cue_name)
        except ValidationError:
            summary.skipped_cues.append(cue_name)
            continue
        key = character_key(name)
        if key in by_key:
            if by_key[key] in by_name:
                summary.characters_reused += 1
        else:
            by_key[key] = name
            new.append(Character(project=project, name=name))
        stored[cue_name] = by_key[key]
    if new:
        Character.objects.bulk_create(new)
        new = list(Character.objects.filter(project=project, name__in=[c.name for c in new]))
        by_name.update({c.name: c for c in new})
    summary.characters_new = len(new)
    summary.linked_cues = list(imported.compound_cues)

    # Scenes, each with its first revision (origin "import"), appended in order.
    start = Scene.objects.filter(project=project).count()
    scenes = Scene.objects.bulk_create(
        Scene(
            project=project,
            position=start + i,
            heading=heading,
            text=text,
            last_edited_by=user,
        )
        for i, (heading, text, _) in enumerate(rows)
    )
    if scenes and scenes[0].pk is None:  # a backend without RETURNING
        scenes = list(
            Scene.objects.filter(project=project, position__gte=start).order_by("position")
        )
    revisions = Revision.objects.bulk_create(
        Revision(scene=scene, number=1, text=scene.text, author=user, origin=RevisionOrigin.IMPORT)
        for scene in scenes
    )
    if revisions and revisions[0].pk is None:
        by_scene = dict(
            Revision.objects.filter(scene__in=scenes, number=1).values_list("scene_id", "pk")
        )
        for scene in scenes:
            scene.head_id = by_scene[scene.pk]
    else:
        for scene, revision in zip(scenes, revisions, strict=True):
            scene.head_id = revision.pk
    Scene.objects.bulk_update(scenes, ["head"], batch_size=500)
    Through = Scene.cast.through
    Through.objects.bulk_create(
        Through(scene_id=scene.pk, character_id=by_name[name].pk)
        for scene, (_, _, cast) in zip(scenes, rows, strict=True)
        for name in dict.fromkeys(stored[n] for n in cast if n in stored)
    )
    summary.scenes = len(scenes)
    project.import_summary = summary
    return project
