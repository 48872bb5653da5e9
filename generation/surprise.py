"""The model's view of a script: how surprised the house model is by each scene.

For each scene, bits per byte under the active house version — the same measure the
model page uses for held-out scenes (``core.train.heldout_bpb``: the scene read as the
model's training examples are, heading and cast first). A high figure means the scene is
unlike what the model learned from: fresh writing, an unusual format, or a slip. Shown
on the coverage page as a strip along the script (the ``coverage_side`` panel), never as
a verdict.

A reading needs the model, so it runs where long jobs run (``services.background_launch``:
the ``training`` queue with Redis, else a detached ``manage.py`` child), one per project at
a time; the result is a ``ScriptReading`` row (the figures, the version, the script's
signature it read), so every process sees it. A reading of an older script or by an
older version stays shown, marked as such, until a member asks for a new one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from scripts_app.models import Project, Scene
from scripts_app.script_stats import signature

from .models import ModelVersion, ReadingStatus, ScriptReading, VersionStatus

log = logging.getLogger(__name__)

STALE_RUNNING = timedelta(minutes=30)  # a reading "running" this long has died


def reading_start(project: Project, *, launch: bool = True) -> ScriptReading:
    """Register a reading of the project's script by the active version and launch it.
    Raise ValidationError when there is no model, a reading is running, or the last one
    is of this very script by this very version."""
    active = ModelVersion.objects.filter(status=VersionStatus.ACTIVE).first()
    if active is None:
        raise ValidationError("There is no house model yet to read the script with.")
    sig = signature(project)
    now = timezone.now()
    with transaction.atomic():
        try:
            reading, _ = ScriptReading.objects.select_for_update().get_or_create(
                project=project, defaults={"status": ReadingStatus.DONE}
            )
        except IntegrityError:  # two first clicks at once
            raise ValidationError("The model is already reading this script.") from None
        if reading.status == ReadingStatus.RUNNING and (
            reading.started_at and now - reading.started_at < STALE_RUNNING
        ):
            raise ValidationError("The model is already reading this script.")
        if (
            reading.status == ReadingStatus.DONE
            and reading.signature == sig
            and reading.version_id == active.pk
            and reading.values
        ):
            raise ValidationError("The model has already read this version of the script.")
        reading.status = ReadingStatus.RUNNING
        reading.reason = ""
        reading.started_at = now
        reading.save()
    if launch:
        from . import services

        code = f"from generation.surprise import reading_run; reading_run({int(project.pk)})"
        services.background_launch(
            name=f"reading-{project.pk}",
            task="generation.tasks.read_script",
            kwargs={"project_id": project.pk},
            manage_argv=["shell", "-c", code],
        )
    return reading


def reading_run(project_id: int) -> ScriptReading:
    """Read the script with the active version; record the figures (or why not)."""
    import torch

    from .core.checkpoint import load_version
    from .core.train import heldout_bpb

    reading = ScriptReading.objects.get(project_id=project_id)
    try:
        version = ModelVersion.objects.filter(status=VersionStatus.ACTIVE).first()
        if version is None:
            raise ValueError("there is no house model")
        project = Project.objects.get(pk=project_id)
        sig = signature(project)
        scenes = list(
            Scene.objects.filter(project_id=project_id)
            .order_by("position", "pk")
            .prefetch_related("cast")
            .defer("doc_state")
        )
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model, tok, _ = load_version(version.path, device=device)
        values = {}
        for s in scenes:
            if not s.text.strip():
                continue
            doc = {
                "heading": s.heading,
                "cast": [c.name.upper() for c in s.cast.all()],
                "synopsis": s.synopsis,
                "text": s.text,
            }
            values[str(s.pk)] = round(float(heldout_bpb(model, tok, [doc], device)["bpb"]), 4)
    except Exception as exc:  # recorded for the page; nothing else changes
        log.exception("Reading the script of project %s failed", project_id)
        ScriptReading.objects.filter(pk=reading.pk).update(
            status=ReadingStatus.FAILED, reason=f"{type(exc).__name__}: {exc}"[:2000]
        )
    else:
        ScriptReading.objects.filter(pk=reading.pk).update(
            status=ReadingStatus.DONE,
            version=version,
            version_name=version.name,
            signature=sig,
            values=values,
        )
    reading.refresh_from_db()
    return reading


def reading_of(project: Project) -> ScriptReading | None:
    return ScriptReading.objects.filter(project=project).first()
