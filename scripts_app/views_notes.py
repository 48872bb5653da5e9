"""Views of the notes on a scene's text (``notes.py``). Thin, as ``views.py``: access through
``access.py`` (outsiders 404; viewers read, commenters and up act: 403 below), writes
through the services.

An htmx request gets the refreshed list (``partials/notes.html``, swapped over
``#notes-list``); a plain post is sent back to the scene. A refused action answers with
its message: 400 for a plain post, 422 for htmx (django-htmx's debug script replaces the
whole page with a 400 answer to an htmx request; see ``responses.fail``), aimed at the
card's message slot (``#notes-msg``). Nothing is stored then.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from . import notes
from .access import access_scene, can
from .models import Role, SceneNote
from .responses import errors as _errors


def _list(request, membership, scene, *, status: int = 200):
    found = notes.notes_for_scene(scene)
    context = {
        "project": membership.project,
        "scene": scene,
        "notes": found,
        "can_comment": can(membership, Role.COMMENTER),
        "is_owner": can(membership, Role.OWNER),
        "user_id": request.user.pk,
        "notes_data": [
            {"id": t.note.pk, "start": t.note.anchor_start, "end": t.note.anchor_end}
            for t in found.open
        ],
    }
    return render(request, "partials/notes.html", context, status=status)


def _fail(request, message: str, status: int = 400):
    response = render(
        request,
        "partials/error.html",
        {"message": message},
        status=422 if request.htmx and status == 400 else status,
    )
    if request.htmx:
        response["HX-Retarget"] = "#notes-msg"
        response["HX-Reswap"] = "innerHTML"
    return response


def _done(request, membership, scene):
    if request.htmx:
        return _list(request, membership, scene)
    return redirect(f"{scene.get_absolute_url()}#notes")


def _note(scene, note_id) -> SceneNote:
    try:
        return SceneNote.objects.select_related("scene").get(pk=note_id, scene=scene)
    except (SceneNote.DoesNotExist, ValueError, TypeError):
        raise Http404("No such note.") from None


def _act(request, project_id, scene_id, action, note_id=None):
    """Check access (commenter and up), find the note, run ``action`` and answer."""
    membership, scene = access_scene(request.user, project_id, scene_id, Role.COMMENTER)
    note = _note(scene, note_id) if note_id is not None else None
    try:
        action(membership, scene, note)
    except PermissionDenied as exc:
        return _fail(request, str(exc) or "You cannot do that here.", 403)
    except ValidationError as exc:
        return _fail(request, _errors(exc))
    return _done(request, membership, scene)


@login_required
@require_GET
def scene_notes(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id)
    if not request.htmx:
        return redirect(f"{scene.get_absolute_url()}#notes")
    return _list(request, membership, scene)


@login_required
@require_POST
def note_create(request, project_id, scene_id):
    def action(membership, scene, _):
        notes.note_create(
            scene=scene,
            user=request.user,
            body=request.POST.get("body", ""),
            anchor_start=request.POST.get("anchor_start", ""),
            anchor_end=request.POST.get("anchor_end", ""),
        )

    return _act(request, project_id, scene_id, action)


@login_required
@require_POST
def note_reply(request, project_id, scene_id, note_id):
    def action(membership, scene, note):
        notes.note_reply(note=note, user=request.user, body=request.POST.get("body", ""))

    return _act(request, project_id, scene_id, action, note_id)


@login_required
@require_POST
def note_resolve(request, project_id, scene_id, note_id):
    def action(membership, scene, note):
        notes.note_resolve(note=note, user=request.user)

    return _act(request, project_id, scene_id, action, note_id)


@login_required
@require_POST
def note_reopen(request, project_id, scene_id, note_id):
    def action(membership, scene, note):
        notes.note_reopen(note=note, user=request.user)

    return _act(request, project_id, scene_id, action, note_id)


@login_required
@require_POST
def note_edit(request, project_id, scene_id, note_id):
    def action(membership, scene, note):
        notes.note_edit(note=note, user=request.user, body=request.POST.get("body", ""))

    return _act(request, project_id, scene_id, action, note_id)


@login_required
@require_POST
def note_delete(request, project_id, scene_id, note_id):
    def action(membership, scene, note):
        notes.note_delete(note=note, user=request.user, membership=membership)

    return _act(request, project_id, scene_id, action, note_id)
