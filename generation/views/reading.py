"""The model's reading of a script on the coverage page (``surprise.py``): the strip of
the house model's surprise per scene, and the button that asks for a new reading
(editors and owners; any member sees it). While a reading runs, the panel polls itself."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.template.loader import render_to_string

from scripts_app import coverage_charts as charts
from scripts_app.access import access_project, can
from scripts_app.coverage import project_coverage
from scripts_app.models import Role
from scripts_app.script_stats import signature

from .. import surprise
from ..models import ModelVersion, ReadingStatus, VersionStatus


def _context(request, membership, project, pc) -> dict:
    reading = surprise.reading_of(project)
    c = pc.coverage
    values = (reading.values or {}) if reading else {}
    shown = [values.get(str(sid)) for sid in pc.scene_ids]
    known = [v for v in shown if v is not None]
    top_scenes = sorted(((v, i) for i, v in enumerate(shown) if v is not None), reverse=True)[:3]
    active = ModelVersion.objects.filter(status=VersionStatus.ACTIVE).first()
    return {
        "project": project,
        "reading": reading,
        "running": reading is not None and reading.status == ReadingStatus.RUNNING,
        "chart": charts.scene_strip(
            [s.eighths for s in c.scenes],
            shown,
            [
                f"{s.index + 1}. {s.heading} — "
                + (f"{v:.2f} bits per character" if v is not None else "not read")
                for s, v in zip(c.scenes, shown, strict=True)
            ]
            if len(shown) == len(c.scenes)
            else [],
            label="How unlike the model's reading each scene is, along the script",
            marks=[i for _, i in top_scenes],
        )
        if known and len(shown) == len(c.scenes)
        else "",
        "most": [(c.scenes[i], v) for v, i in top_scenes if i < len(c.scenes)],
        "stale_script": bool(
            reading and reading.values and reading.signature != signature(project)
        ),
        "stale_model": bool(
            reading and reading.values and active and reading.version_id != active.pk
        ),
        "can_ask": can(membership, Role.EDITOR) and active is not None,
        "has_model": active is not None,
    }


def coverage_panel(request, *, membership, project, coverage) -> str:
    return render_to_string(
        "generation/reading_panel.html",
        _context(request, membership, project, coverage),
        request=request,
    )


@login_required
def reading_panel(request, project_id):
    """GET: the panel (it polls itself while a reading runs). POST: ask for a reading."""
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    membership = access_project(request.user, project_id, need)
    project = membership.project
    error = ""
    if request.method == "POST":
        try:
            surprise.reading_start(project)
        except ValidationError as exc:
            error = exc.messages[0]
    context = _context(request, membership, project, project_coverage(project))
    context["error"] = error
    return render(request, "generation/reading_panel.html", context, status=422 if error else 200)
