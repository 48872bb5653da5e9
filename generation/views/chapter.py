"""A chapter's drafts on the book page (``drafts/chapter.py``): the panel in the chapter
view (the ``book_side`` slot of ``scripts_app.panels``), its button and its cancel.

Every member sees the chapter's latest request with each scene's draft state; editors and
owners ask ("Draft this chapter's scenes"); its requester or an owner stops it. While
something is live the panel refreshes itself every 2 s (htmx polling, no script). A
refusal re-renders the panel with the reason (422; the panel's ``data-swap-errors`` has htmx
swap it, ``static/js/app.js``); a plain
form post is redirected back to the chapter with a message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from scripts_app.access import access_project, can
from scripts_app.models import Role, SceneSource, SourceText
from scripts_app.responses import errors as _errors

from .. import drafts
from ..models import ChapterDrafts


def _context(request, membership, project, source, chapter: int, error: str = "") -> dict:
    batch = drafts.latest_batch(source, chapter)
    shown = drafts.progress(batch) if batch is not None else None
    scenes = SceneSource.objects.filter(source=source, chapter=chapter).count()
    running = batch is not None and batch.is_running
    return {
        "project": project,
        "source": source,
        "chapter": chapter,
        "scenes": scenes,
        "batch": batch,
        "progress": shown,
        "live": shown is not None and shown.live,
        "can_start": can(membership, Role.EDITOR) and not running and scenes > 0,
        "can_cancel": running and drafts.can_cancel_batch(batch, request.user),
        "panel_url": reverse("chapter_drafts", args=[project.pk, source.pk, chapter]),
        "error": error,
    }


def _render(request, membership, project, source, chapter: int, error: str = "") -> str:
    return render_to_string(
        "generation/drafts/chapter_panel.html",
        _context(request, membership, project, source, chapter, error),
        request=request,
    )


def book_panel(request, *, membership, project, source, chapter) -> str:
    """The chapter's drafts in the book page's chapter view (the ``book_side`` slot)."""
    return _render(request, membership, project, source, chapter)


def _chapter(user, project_id: int, source_id: int, chapter: int, need: Role):
    """The membership, the book and the chapter index of a URL (outsiders, another
    project's book and a chapter the book does not have: 404; a low role: 403)."""
    membership = access_project(user, project_id, need)
    source = get_object_or_404(SourceText, pk=source_id, project=membership.project)
    if chapter >= len(source.chapters or []):
        raise Http404("No such chapter.")
    return membership, source


def _answer(request, membership, source, chapter: int, error: str = "", notice: str = ""):
    if request.htmx:
        return HttpResponse(
            _render(request, membership, membership.project, source, chapter, error),
            status=422 if error else 200,
        )
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    url = reverse("book_detail", args=[membership.project_id, source.pk])
    return redirect(f"{url}?chapter={chapter}")


@login_required
@require_http_methods(["GET", "POST"])
def chapter_drafts(request, project_id, source_id, chapter):
    """GET: the panel (it polls itself while the chapter's drafts run). POST: ask for a
    draft of every scene made from the chapter (editors and owners)."""
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    membership, source = _chapter(request.user, project_id, source_id, chapter, need)
    if request.method == "GET":
        return HttpResponse(_render(request, membership, membership.project, source, chapter))
    try:
        batch = drafts.chapter_drafts_request(
            project=membership.project,
            source=source,
            chapter=chapter,
            user=request.user,
            data=request.POST,
        )
    except ValidationError as exc:
        return _answer(request, membership, source, chapter, error=_errors(exc))
    n = len(batch.scene_ids)
    return _answer(
        request, membership, source, chapter, notice=f"Drafting {n} scene{'s' if n != 1 else ''}."
    )


@login_required
@require_POST
def chapter_drafts_cancel(request, project_id, source_id, chapter, batch_id):
    """Stop a chapter's drafts (its requester or an owner)."""
    membership, source = _chapter(request.user, project_id, source_id, chapter, Role.EDITOR)
    batch = get_object_or_404(ChapterDrafts, pk=batch_id, source=source, chapter=chapter)
    try:
        drafts.batch_cancel(batch=batch, user=request.user)
    except ValidationError as exc:
        return _answer(request, membership, source, chapter, error=_errors(exc))
    return _answer(request, membership, source, chapter, notice="Stopped this chapter's drafts.")
