"""The story proposals panel (the story page and the board) and its cards' own URLs.

The writers' room renders the panel through its ``story_side`` slot (``scripts_app
.panels``), so the room never imports this app. The cards are the drafts panel's cards
(``generation/drafts/passage.html``): the same stream, feedback and compare views, with
the accept of a story proposal (``drafts/story.py``) instead of a scene's.

Views here take the project from the URL and a passage only from that project's story
proposals (``scene`` None): a scene draft's id, or another project's, is a 404. A card
and a request's compare view are the drafts panel's own views (``views/drafts.py``,
routed with ``scene_id`` None).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from scripts_app import board
from scripts_app.access import access_project, can
from scripts_app.models import Beat, Role
from scripts_app.responses import errors as _errors
from scripts_app.responses import fail as _fail

from .. import drafts
from ..drafts import story as story_drafts
from ..models import PassageKind
from . import drafts as drafts_views


def _room_url(request, project_id: int) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/ws/projects/{project_id}/story/drafts"


def story_context(request, membership, *, beat: Beat | None = None) -> dict:
    project = membership.project
    acts = board.acts_shown(project.pk)
    cards = list(
        Beat.objects.filter(project=project)
        .order_by("act", "position", "pk")
        .only("pk", "act", "title")
    )
    return {
        "project": project,
        "groups": drafts.recent_story_groups(project.pk),
        "can_edit": can(membership, Role.EDITOR),
        "presets": list(drafts.PRESETS),
        "acts": acts,
        "cards": cards,
        "chosen_beat": beat.pk if beat is not None else None,
        "kinds": [
            (PassageKind.LOGLINE.value, "Logline"),
            (PassageKind.CHARACTERS.value, "Characters"),
            (PassageKind.BEATS.value, "Beats for an act"),
            (PassageKind.BRIEF.value, "A card's scene brief"),
        ],
        "chosen_kind": "brief" if beat is not None else "logline",
        "room_url": _room_url(request, project.pk),
        "list_url": reverse("story_drafts_list", args=[project.pk]),
        "story_room": True,
    }


def story_panel(request, *, membership, project, beat=None) -> str:
    """The story proposals panel (the ``story_side`` slot)."""
    return render_to_string(
        "generation/drafts/story_panel.html",
        story_context(request, membership, beat=beat),
        request=request,
    )


@login_required
@require_GET
def story_drafts_list(request, project_id):
    """The project's story proposals (a page refreshes it after its socket reconnects)."""
    membership = access_project(request.user, project_id)
    return render(request, "generation/drafts/drafts_list.html", story_context(request, membership))


def _passage(user, project_id, passage_id, need):
    membership, _, passage = drafts_views._passage(user, project_id, None, passage_id, need)
    return membership, passage


def _back(project_id: int) -> str:
    return reverse("story_page", args=[project_id])


@login_required
@require_POST
def story_passage_accept(request, project_id, passage_id):
    """Accept a story proposal: ``pick`` names the characters or beats to add (all of
    them if the form sends none and says so with ``all``)."""
    _, passage = _passage(request.user, project_id, passage_id, Role.EDITOR)
    pick = None if request.POST.get("all") == "1" else request.POST.getlist("pick")
    try:
        items = story_drafts.story_accept(passage=passage, user=request.user, pick=pick)
    except ValidationError as exc:
        return _fail(request, _errors(exc), _back(project_id))
    message = story_drafts.accept_message(passage.kind, items)
    if request.htmx:
        return render(request, "partials/notice.html", {"message": message})
    messages.success(request, message)
    return redirect(_back(project_id))


@login_required
@require_POST
def story_passage_retry(request, project_id, passage_id):
    _, passage = _passage(request.user, project_id, passage_id, Role.EDITOR)
    try:
        story_drafts.story_retry(passage=passage, user=request.user)
    except ValidationError as exc:
        return _fail(request, _errors(exc), _back(project_id))
    if request.htmx:
        return render(request, "partials/notice.html", {"message": "Asked again."})
    return redirect(_back(project_id))
