"""Production revisions: the production page (lock, issue the next colour, unlock) and the
production draft as PDF. Thin: access through ``access.py``, the rest in ``production.py``.
Everyone in the project sees the page and prints; only owners change the state."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from . import production
from .access import access_project, can
from .exports import PAPER
from .models import Role


@login_required
@require_GET
def production_page(request, project_id):
    membership = access_project(request.user, project_id)
    project = membership.project
    return render(
        request,
        "production.html",
        {
            "project": project,
            "state": production.state(project),
            "is_owner": can(membership, Role.OWNER),
        },
    )


def _change(request, project_id, action) -> HttpResponse:
    membership = access_project(request.user, project_id, Role.OWNER)
    project = membership.project
    try:
        message = action(project)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, message)
    return redirect("production_page", project_id=project.pk)


@login_required
@require_POST
def production_lock(request, project_id):
    def lock(project):
        issue = production.production_lock(project=project, user=request.user)
        return (
            f"Locked for production: {issue.pages} pages and their scene numbers are the "
            "white draft. Changes from now on print with Blue revision marks."
        )

    return _change(request, project_id, lock)


@login_required
@require_POST
def production_issue(request, project_id):
    def issue(project):
        issue = production.production_issue(project=project, user=request.user)
        return (
            f"{issue.colour} revision issued ({issue.changed} revised elements). "
            "Changes from now on print in the next colour."
        )

    return _change(request, project_id, issue)


@login_required
@require_POST
def production_unlock(request, project_id):
    def unlock(project):
        production.production_unlock(project=project, confirm=request.POST.get("confirm", ""))
        return "Production unlocked: pages and scene numbers follow the text again."

    return _change(request, project_id, unlock)


@login_required
@require_GET
def production_pdf(request, project_id):
    membership = access_project(request.user, project_id)
    project = membership.project
    paper = request.GET.get("paper", "letter")
    if paper not in PAPER:
        messages.error(request, "Choose US Letter or A4.")
        return redirect("production_page", project_id=project.pk)
    data = production.render_pdf(project, layout=PAPER[paper])
    response = HttpResponse(data, content_type="application/pdf")
    name = (slugify(project.title)[:80].strip("-") or "script") + "-production.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
