"""Views for screenplay import, export and reports. Thin: access checks through
``access.py``, writes through ``imports.script_import``, files from ``exports``.

Imports of files up to ``imports.BACKGROUND_BYTES`` (1 MiB) run inside the request (a
120-page script imports in about 50 ms); the form shows a progress line (htmx
``hx-indicator``) while the upload and import run. A bigger file becomes a background job
(``imports.import_job_start``) and the importer is sent to its progress page
(``script_import_progress``), which opens the project when the job is done.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from . import exports, imports, script_stats
from .access import access_project, access_scene
from .models import Project, Role, Scene

ACCEPT = ".fountain,.fdx,.pdf,.txt,.spmd,.text,.md,.markdown,.epub"
BAD_EXPORT = (
    "Choose a format (Fountain, Final Draft, PDF or HTML) and a paper size (US Letter or A4)."
)


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[(k, v[2]) for k, v in exports.FORMATS.items()],
        initial="pdf",
        widget=forms.RadioSelect,
    )
    paper = forms.ChoiceField(choices=[("letter", "US Letter"), ("a4", "A4")], required=False)
    numbers = forms.BooleanField(required=False, label="Scene numbers in the margins (PDF)")
    notes = forms.BooleanField(required=False, label="Include notes as [[notes]] (Fountain)")


class _UploadLimit(FileUploadHandler):
    """Stop reading an upload as soon as it passes the limit (nothing big hits the disk)."""

    def __init__(self, request, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_big = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.max_bytes:
            self.too_big = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def _limit_mb() -> str:
    return f"{settings.COWRITE_UPLOAD_MAX_BYTES / (1024 * 1024):g} MB"


def _import_page(request, *, project, error: str = "", status: int = 200):
    action = (
        reverse("script_import_into", args=[project.pk])
        if project
        else reverse("script_import_new")
    )
    context = {"project": project, "action": action, "error": error, "accept": ACCEPT}
    context["limit"] = _limit_mb()
    if request.htmx:
        # htmx swaps only 2xx responses: the form comes back with its message in it.
        return render(request, "formats/partials/import_form.html", context)
    return render(request, "formats/import.html", context, status=status)


def _import(request, project=None):
    if request.method == "GET":
        return _import_page(request, project=project)
    limit = _UploadLimit(request, settings.COWRITE_UPLOAD_MAX_BYTES)
    request.upload_handlers.insert(0, limit)
    return _import_post(request, project, limit)


@csrf_protect
def _import_post(request, project, limit):
    upload = request.FILES.get("file")
    if limit.too_big:
        error = f"This file is too large: the limit is {_limit_mb()}. Upload a smaller file."
        return _import_page(request, project=project, error=error, status=400)
    if upload is None:
        error = "Choose a .fountain, .fdx, .pdf or plain text file to import."
        return _import_page(request, project=project, error=error, status=400)
    if request.POST.get("kind") == "book":
        # A book to adapt: always the background job (chapters take a while; the page
        # follows them).
        return _import_in_background(request, upload, project, kind="book")
    if upload.size > imports.BACKGROUND_BYTES:
        # A big file: a background job, and a page that shows how far it got.
        return _import_in_background(request, upload, project)
    try:
        result = imports.script_import(
            user=request.user,
            upload=upload,
            filename=upload.name,
            project=project,
            inline_max=imports.INLINE_MAX_SCENES,
        )
    except imports.TooManyForInline:
        # A small file with very many scenes: the same background job.
        upload.seek(0)
        return _import_in_background(request, upload, project)
    except ValidationError as exc:
        error = " ".join(exc.messages) + " Nothing was imported."
        return _import_page(request, project=project, error=error, status=400)
    _summary_messages(request, result.import_summary)
    if request.htmx:
        return HttpResponseClientRedirect(result.get_absolute_url())
    return redirect(result)


def _import_in_background(request, upload, project, kind: str = "script"):
    job_id = imports.import_job_start(
        user=request.user, data=upload.read(), filename=upload.name, project=project, kind=kind
    )
    url = reverse("script_import_progress", args=[job_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _summary_messages(request, summary: imports.ImportSummary) -> None:
    text = (
        f"Imported {summary.scenes} scene{'s' if summary.scenes != 1 else ''} and "
        f"{summary.characters_new} new character{'s' if summary.characters_new != 1 else ''}"
    )
    if summary.characters_reused:
        text += f" ({summary.characters_reused} already in the project)"
    text += "."
    if summary.kept_in_notes:
        text += " The title page and opening text are kept in the project notes."
    messages.success(request, text)
    if summary.skipped_cues:
        messages.warning(
            request,
            "These cues are not valid character names and were left out of the cast: "
            + ", ".join(summary.skipped_cues[:10])
            + ". Rename them in the scenes, then add them as characters.",
        )


# A job whose state has not moved for this long is reported as stopped (a running job
# writes after every step of ``imports.STEP_SCENES`` scenes).
IMPORT_STALLED_SECONDS = 600


def _stalled(job: dict) -> bool:
    from datetime import datetime

    from django.utils import timezone

    updated = datetime.fromisoformat(job["updated"]) if job.get("updated") else None
    return updated is not None and (timezone.now() - updated).total_seconds() > (
        IMPORT_STALLED_SECONDS
    )


@login_required
@require_GET
def script_import_progress(request, job_id):
    """How far a background import got ("Importing… 3,200 of 6,840 scenes"); the page
    asks again every second (htmx) and opens the project when the job is done. Only the
    user who started the job sees it (anyone else: 404)."""
    job = imports.import_job_get(job_id)
    if job is None or job["user_id"] != request.user.pk:
        raise Http404("No such import.")
    if job["state"] == "done":
        project = Project.objects.filter(pk=job["result_project_id"]).first()
        if project is not None and project.memberships.filter(user=request.user).exists():
            if not job.get("announced"):
                _summary_messages(request, imports.ImportSummary(**job["summary"]))
                if job.get("kind") == "book":
                    messages.info(
                        request,
                        "The characters come from the book's dialogue. On “The book”, "
                        "check who is who: one person under several names, names that "
                        "are not people.",
                    )
                imports.import_job_update(job, announced=True)
            url = project.get_absolute_url()
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if job["state"] not in ("done", "failed") and _stalled(job):
        job = {**job, "state": "failed", "error": "The import stopped (the server restarted?)."}
    back = (
        reverse("script_import_into", args=[job["project_id"]])
        if job["project_id"]
        else reverse("script_import_new")
    )
    context = {
        "job": job,
        "back": back,
        "done": f"{job['done'] or 0:,}",
        "total": f"{job['total']:,}" if job["total"] else "",
    }
    if request.htmx:
        return render(request, "formats/partials/import_progress.html", context)
    return render(request, "formats/import_progress.html", context)


# CSRF is checked in ``_import_post``, after the upload limit is installed: Django's CSRF
# middleware would otherwise read the whole body before the view runs.
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def script_import_new(request):
    return _import(request)


@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def script_import_into(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    return _import(request, membership.project)


def _download(export: exports.Export) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def script_export(request, project_id):
    """The export form (no format chosen) or the download of the whole script."""
    membership = access_project(request.user, project_id)
    project = membership.project
    if "format" not in request.GET:
        scenes = Scene.objects.filter(project=project).only("id", "position", "heading")
        return render(
            request,
            "formats/export.html",
            {"project": project, "form": ExportForm(), "scenes": scenes},
        )
    form = ExportForm(request.GET)
    if not form.is_valid():
        messages.error(request, BAD_EXPORT)
        return redirect("script_export", project_id=project.pk)
    data = form.cleaned_data
    return _download(
        exports.export_project(
            project,
            data["format"],
            paper=data["paper"] or "letter",
            numbers=data["numbers"],
            notes=data["notes"],
        )
    )


@login_required
@require_GET
def scene_export(request, project_id, scene_id):
    _, scene = access_scene(request.user, project_id, scene_id)
    form = ExportForm(request.GET)
    if not form.is_valid():
        messages.error(request, BAD_EXPORT)
        return redirect("script_export", project_id=project_id)
    data = form.cleaned_data
    return _download(
        exports.export_scene(
            scene,
            data["format"],
            paper=data["paper"] or "letter",
            numbers=data["numbers"],
            notes=data["notes"],
        )
    )


def eighths_text(n: int) -> str:
    """A length in eighths of a page as writers say it: "3/8", "1", "1 3/8"."""
    whole, rest = divmod(max(int(n), 0), 8)
    if not rest:
        return str(whole)
    return f"{whole} {rest}/8" if whole else f"{rest}/8"


@login_required
@require_GET
def scene_length(request, project_id, scene_id):
    """The scene page's fragment "page 34 of 118 · 1 3/8 pages", loaded after the page.

    From the same cached figures as the project header (``script_stats``): never laid out
    in this request for a big script; with none yet it says so and asks again."""
    membership, scene = access_scene(request.user, project_id, scene_id)
    stats = script_stats.script_stats(membership.project, wait=False)
    context = {"scene": scene, "stats": stats, "found": None}
    if stats is not None and scene.pk in stats.scene_ids:
        found = stats.report.scenes[stats.scene_ids.index(scene.pk)]
        context.update(found=found, pages=stats.report.pages, length=eighths_text(found.eighths))
    return render(request, "formats/partials/scene_length.html", context)


def _duration(seconds: int) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{seconds} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@login_required
@require_GET
def script_reports(request, project_id):
    """The reports page, from the figures cached per script state (``script_stats``): a
    script that has not changed since they were computed is not laid out again."""
    membership = access_project(request.user, project_id)
    project = membership.project
    stats = script_stats.script_stats(project, wait=True)
    report, ids = stats.report, stats.scene_ids
    base = reverse("scene_detail", args=[project.pk, 0]).removesuffix("0/")
    same = len(report.scenes) == len(ids)
    rows = [
        {
            "r": row,
            "url": f"{base}{ids[row.index]}/" if same else "",
            "time": _duration(row.seconds),
        }
        for row in report.scenes
    ]
    return render(
        request,
        "formats/reports.html",
        {
            "project": project,
            "report": report,
            "rows": rows,
            "total_time": _duration(report.seconds),
            "mismatch": not same,
            "scene_count": len(ids),
            "stale": not stats.fresh,
        },
    )


@login_required
@require_GET
def script_length(request, project_id):
    """The header fragment "N pages · ~M min", loaded after the project page.

    From the cache (``script_stats``): never laid out in this request. With no figures yet
    the fragment says so and asks again in a moment; stale figures (the script changed
    since) are shown while a refresh runs, and asked again too.
    """
    membership = access_project(request.user, project_id)
    stats = script_stats.script_stats(membership.project, wait=False, totals_only=True)
    context = {"project": membership.project, "stats": stats}
    if stats is not None:
        context.update(report=stats.report, time=_duration(stats.report.seconds))
    return render(request, "formats/partials/length.html", context)
