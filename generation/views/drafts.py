"""The scene page's drafts panel and the draft cards' own URLs.

The writers' room renders this panel through its ``scene_side`` slot
(``scripts_app.panels``; registered in ``GenerationConfig.ready``), so the room never
imports this app. The model card on the project page comes the same way.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from scripts_app import positions
from scripts_app.access import access_project, access_scene, can
from scripts_app.models import Role
from scripts_app.responses import errors as _errors
from scripts_app.responses import fail as _fail

from .. import drafts, feedback
from ..models import ModelEndpoint, ProjectModelChoice
from ..selectors import model_summary


def scene_panel(request, *, membership, scene) -> str:
    """The drafts panel beside the scene editor (the ``scene_side`` slot)."""
    context = {"project": membership.project, "scene": scene, "membership": membership}
    context.update(drafts_context(request, membership, scene))
    return render_to_string("generation/drafts/drafts_panel.html", context, request=request)


def project_panel(request, *, membership, project) -> str:
    """The model card and the member's feedback setting (the ``project_side`` slot)."""
    context = {
        "project": project,
        "membership": membership,
        "model": model_summary(),
        "is_owner": can(membership, Role.OWNER),
        **_writer_choice(project.pk),
    }
    return render_to_string("generation/drafts/model_card.html", context, request=request) + (
        render_to_string("generation/feedback/opt_out.html", context, request=request)
    )


def _writer_choice(project_id: int) -> dict:
    """The model that writes the project's drafts (``writer``; None: the house model) and
    the models an owner may pick (``endpoints``), in one query."""
    rows = list(
        ModelEndpoint.objects.filter(Q(enabled=True) | Q(projects__project_id=project_id))
        .annotate(
            chosen=Exists(
                ProjectModelChoice.objects.filter(project_id=project_id, endpoint=OuterRef("pk"))
            )
        )
        .distinct()
        .order_by("name")
    )
    return {
        "writer": next((e for e in rows if e.chosen), None),
        "endpoints": [e for e in rows if e.enabled],
    }


def _room_url(request, project_id: int, scene_id: int) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/projects/{project_id}/scenes/{scene_id}/room"


def drafts_context(request, membership, scene) -> dict:
    return {
        "groups": drafts.recent_groups(scene),
        "can_edit": can(membership, Role.EDITOR),
        "presets": list(drafts.PRESETS),
        "rewrites": [(key, label) for key, (label, _) in drafts.REWRITES.items()],
        "cast": [c.name for c in scene.cast.all()],
        "room_url": _room_url(request, scene.project_id, scene.pk),
        "list_url": reverse("drafts_list", args=[scene.project_id, scene.pk]),
    }


@login_required
@require_GET
def drafts_list(request, project_id, scene_id):
    """The scene's drafts (a page refreshes it after its socket reconnects)."""
    membership, scene = access_scene(request.user, project_id, scene_id)
    return render(
        request, "generation/drafts/drafts_list.html", drafts_context(request, membership, scene)
    )


def _room(user, project_id, scene_id, need=Role.VIEWER):
    """The membership and the scene of a draft room; ``scene_id`` None is the project's
    story proposals (the ``story_…`` URLs route here with it): no scene."""
    if scene_id is None:
        return access_project(user, project_id, need), None
    return access_scene(user, project_id, scene_id, need)


def _passage(user, project_id, scene_id, passage_id, need):
    membership, scene = _room(user, project_id, scene_id, need)
    passage = drafts.card_passage(membership.project_id, scene_id, passage_id)
    if passage is None:
        raise Http404("No such draft.")
    return membership, scene, passage


@login_required
@require_GET
def passage_card(request, project_id, scene_id, passage_id):
    membership, _, passage = _passage(request.user, project_id, scene_id, passage_id, Role.VIEWER)
    drafts.with_queue_positions([passage])
    feedback.feedback_summary([passage], viewer=request.user)
    return render(
        request,
        "generation/drafts/passage.html",
        {"passage": passage, "can_edit": can(membership, Role.EDITOR)},
    )


def _bad_request(request, message: str):
    """Malformed input (only a broken or hostile client sends it): 400 with the reason."""
    return render(request, "partials/error.html", {"message": message}, status=400)


@login_required
@require_POST
def passage_accept(request, project_id, scene_id, passage_id):
    """Accept a finished draft into the scene: ``mode`` append / replace / insert; an
    insert at the writer's own cursor sends it as a Yjs relative position (``cursor``)."""
    _, scene, passage = _passage(request.user, project_id, scene_id, passage_id, Role.EDITOR)
    mode = request.POST.get("mode", "append")
    if mode not in drafts.ACCEPT_MODES:
        return _bad_request(request, "Accept at the end, at the cursor, or over the selection.")
    cursor = None
    if request.POST.get("cursor"):
        try:
            cursor = positions.from_b64(request.POST["cursor"])
        except positions.PositionError as exc:
            return _bad_request(
                request, f"Your cursor's place in the scene was not understood ({exc})."
            )
    try:
        revision = drafts.passage_accept(
            passage=passage, user=request.user, mode=mode, cursor=cursor
        )
    except ValidationError as exc:
        return _fail(request, _errors(exc), scene.get_absolute_url())
    passage.refresh_from_db()
    message = (
        f"Draft accepted into the scene as revision {revision.number} — {passage.accept_summary}."
    )
    if request.htmx:
        return render(request, "partials/notice.html", {"message": message})
    messages.success(request, message)
    return redirect(scene)


@login_required
@require_POST
def passage_undo(request, project_id, scene_id, passage_id):
    """Take an accepted draft out again (a new revision; others' edits stay)."""
    _, scene, passage = _passage(request.user, project_id, scene_id, passage_id, Role.EDITOR)
    try:
        revision = drafts.passage_undo(passage=passage, user=request.user)
    except ValidationError as exc:
        return _fail(request, _errors(exc), scene.get_absolute_url())
    message = f"Draft taken out of the scene again (revision {revision.number})."
    if request.htmx:
        return render(request, "partials/notice.html", {"message": message})
    messages.success(request, message)
    return redirect(scene)


@login_required
@require_GET
def drafts_compare(request, project_id, scene_id, group):
    """A request's alternatives side by side (a scene draft laid out as a screenplay)."""
    membership, scene = _room(request.user, project_id, scene_id)
    passages = drafts.group_passages(membership.project_id, scene_id, group)
    if not passages:
        raise Http404("No such draft request.")
    feedback.feedback_summary(passages, viewer=request.user)
    return render(
        request,
        "generation/drafts/compare.html",
        {"passages": passages, "can_edit": can(membership, Role.EDITOR), "scene": scene},
    )


@login_required
@require_POST
def passage_retry(request, project_id, scene_id, passage_id):
    _, scene, passage = _passage(request.user, project_id, scene_id, passage_id, Role.EDITOR)
    try:
        drafts.draft_retry(passage=passage, user=request.user)
    except ValidationError as exc:
        return _fail(request, _errors(exc), scene.get_absolute_url())
    if request.htmx:
        return render(request, "partials/notice.html", {"message": "Asked again."})
    return redirect(scene)
