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


class TooManyForInline(Exception):
    """The file is small but has more scenes than an import inside a request takes
    (``INLINE_MAX_SCENES``): import it as a background job instead (nothing was written)."""


def script_import(
    *,
    user,
    upload,
    filename: str,
    project: Project | None = None,
    inline_max: int | None = None,
) -> Project:
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
        if inline_max is not None and count > inline_max:
            raise TooManyForInline(count)
        imported = importer.split_script(script)
    except FormatError as exc:
        raise ValidationError(str(exc)) from None
    outline = _take_outline(imported)
    with transaction.atomic():
        result = _store(user=user, imported=imported, filename=filename or "", project=project)
        _store_outline(result, len(imported.scenes), outline, user)
    return result


def _take_outline(imported):
    """Acts and beat cards from the file's sections and synopses (``story.take_outline``;
    a file without top-level sections is imported as it always was)."""
    from .story import take_outline  # story.py builds on the services

    return take_outline(imported)


def _store_outline(project: Project, count: int, outline, user) -> None:
    if not outline:
        return
    from .story import outline_store

    ids = Scene.objects.filter(project=project).order_by("-position", "-pk")
    ids = list(ids.values_list("pk", flat=True)[:count])[::-1]
    outline_store(project=project, scene_ids=ids, outline=outline, user=user)


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


# --- Big files: the import as a background job -------------------------------------------
#
# A file over ``BACKGROUND_BYTES`` is imported by a job (``tasks.import_script``: Celery's
# default queue with REDIS_URL, a thread of the web process in the embedded mode), so the
# upload returns at once and the importer watches a progress page. The job's state and the
# uploaded bytes live in ``script_stats.stats_cache()`` (Redis with REDIS_URL, else the
# process's memory), under a random id that only its user may read. The scenes are stored
# in steps of ``STEP_SCENES`` so the page can say how far it got, all in one transaction:
# a failing file still changes nothing.

BACKGROUND_BYTES = getattr(settings, "COWRITE_IMPORT_BACKGROUND_BYTES", 1024 * 1024)
# A smaller file with more scenes than this (short scenes, or a hostile file) is also
# imported in the background: the upload request never writes thousands of scenes.
INLINE_MAX_SCENES = 1000
STEP_SCENES = 250
JOB_TTL_SECONDS = 24 * 3600


def _job_cache():
    from .script_stats import stats_cache

    return stats_cache()


def _job_key(job_id: str) -> str:
    return f"import-job:{job_id}"


def _file_key(job_id: str) -> str:
    return f"import-file:{job_id}"


def import_job_start(
    *, user, data: bytes, filename: str, project: Project | None, kind: str = "script"
) -> str:
    """Queue the import of ``data`` (after the current transaction commits); return the
    job id. ``project`` is already permission-checked (editor or owner). ``kind``:
    "script" (a screenplay file) or "book" (prose to adapt: ``adaptation.py``)."""
    import uuid

    from . import tasks

    job_id = uuid.uuid4().hex
    cache = _job_cache()
    cache.set(_file_key(job_id), bytes(data), JOB_TTL_SECONDS)
    cache.set(
        _job_key(job_id),
        {
            "id": job_id,
            "user_id": user.pk,
            "project_id": project.pk if project else None,
            "filename": os.path.basename(filename or "")[:200],
            "kind": kind,
            "state": "queued",
            "done": 0,
            "total": None,
            "error": "",
            "result_project_id": None,
            "summary": None,
            "updated": timezone.now().isoformat(),
        },
        JOB_TTL_SECONDS,
    )
    transaction.on_commit(lambda: tasks.launch_import(job_id), robust=True)
    return job_id


def import_job_get(job_id: str) -> dict | None:
    """Return the job's state (a dict), or None if unknown or expired."""
    return _job_cache().get(_job_key(job_id))


def import_job_update(job: dict, **changes) -> None:
    job.update(changes, updated=timezone.now().isoformat())
    _job_cache().set(_job_key(job["id"]), job, JOB_TTL_SECONDS)


BREAKDOWN_SHOWN = 200  # the latest scenes of a book's breakdown the progress page lists


def _book_progress(job: dict, done: int, total: int, scenes) -> None:
    """A chapter of a book broken down: the page shows how far, and the scenes so far."""
    shown = [*job.get("scenes", []), *scenes][-BREAKDOWN_SHOWN:]
    count = int(job.get("scene_count") or 0) + len(scenes)
    import_job_update(
        job, state="adapting", done=done, total=total, scenes=shown, scene_count=count
    )


def import_job_run(job_id: str) -> None:
    """Run a queued import job (the task's body); the outcome is written to the job."""
    from django.contrib.auth import get_user_model

    job = import_job_get(job_id)
    if job is None or job["state"] != "queued":
        return  # expired, or already run (a redelivered task)
    data = _job_cache().get(_file_key(job_id))
    import_job_update(job, state="reading")
    try:
        if data is None:
            raise ValidationError("The uploaded file is no longer available; upload it again.")
        user = get_user_model().objects.get(pk=job["user_id"])
        project = None
        if job["project_id"] is not None:
            project = Project.objects.filter(pk=job["project_id"]).first()
            if project is None:
                raise ValidationError("The project was deleted.")
        if job.get("kind") == "book":
            from .adaptation import adaptation_import

            result = adaptation_import(
                user=user,
                data=data,
                filename=job["filename"],
                project=project,
                progress=lambda done, total, scenes=(): _book_progress(job, done, total, scenes),
            )
        else:
            result = script_import_in_steps(
                user=user,
                upload=data,
                filename=job["filename"],
                project=project,
                progress=lambda done, total: import_job_update(
                    job, state="storing", done=done, total=total
                ),
            )
    except ValidationError as exc:
        import_job_update(job, state="failed", error=" ".join(exc.messages))
    except Exception:  # reported to the importer, logged in full for the operator
        import logging

        logging.getLogger(__name__).exception("Import job %s failed", job_id)
        import_job_update(job, state="failed", error="The import failed because of a server error.")
    else:
        summary = result.import_summary
        import_job_update(
            job,
            state="done",
            done=summary.scenes,
            total=summary.scenes,
            result_project_id=result.pk,
            summary={
                "scenes": summary.scenes,
                "characters_new": summary.characters_new,
                "characters_reused": summary.characters_reused,
                "skipped_cues": summary.skipped_cues,
                "linked_cues": summary.linked_cues,
                "kept_in_notes": summary.kept_in_notes,
            },
        )
    finally:
        _job_cache().delete(_file_key(job_id))


def script_import_in_steps(*, user, upload, filename: str, project: Project | None, progress):
    """``script_import`` in steps of ``STEP_SCENES`` scenes, calling ``progress(done,
    total)`` after each, in one transaction (nothing is written if any step fails).

    The first step stores the title page, the opening text and the characters exactly as
    ``script_import`` does; the next ones append their scenes to that project, reusing
    its characters (no title page, so nothing more goes into the notes or credits)."""
    import dataclasses

    cap = settings.COWRITE_IMPORT_MAX_SCENES
    try:
        script = importer.read_script(
            upload, filename or "", max_bytes=settings.COWRITE_UPLOAD_MAX_BYTES
        )
        count = sum(1 for element in script.elements if element.type is ElementType.SCENE_HEADING)
        if count > cap:
            raise ValidationError(
                f"This file has {count:,} scenes; an import takes at most {cap:,}. Split the "
                "script into parts and import them one by one. Nothing was imported."
            )
        imported = importer.split_script(script)
    except FormatError as exc:
        raise ValidationError(str(exc)) from None
    outline = _take_outline(imported)
    scenes = imported.scenes
    total = len(scenes)
    progress(0, total)
    with transaction.atomic():
        first = dataclasses.replace(imported, scenes=scenes[:STEP_SCENES])
        result = _store(user=user, imported=first, filename=filename or "", project=project)
        summary = result.import_summary
        progress(min(STEP_SCENES, total), total)
        for start in range(STEP_SCENES, total, STEP_SCENES):
            part = importer.ImportedScript(
                scenes=scenes[start : start + STEP_SCENES],
                characters=imported.characters,
                character_variants=imported.character_variants,
            )
            _store(user=user, imported=part, filename=filename or "", project=result)
            summary.scenes += len(part.scenes)
            progress(min(start + STEP_SCENES, total), total)
        _store_outline(result, total, outline, user)
    result.import_summary = summary
    return result
