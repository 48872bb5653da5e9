"""The whole-script view: every scene of the script (a window of them) as blocks, each a
live editor on its scene's document; split, merge, headings in place; where pages break.

Thin like views.py: access through ``access.py`` (outsiders 404, too low a role 403),
the work in ``script_view.py`` and ``services.py``. The browser's calls (fetch) get JSON,
but for the side column's panels (HTML, as the scene page shows them beside its editor).
"""

import asyncio

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import documents, panels, script_stats, script_view, services
from .access import access_project, access_scene, can
from .models import Role, Scene
from .responses import errors as _errors
from .views import _editor_hints

MAX_IDS = 500


def _start_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _block(project, scene: Scene, number: int) -> dict:
    return {
        "id": scene.pk,
        "number": number,
        "heading": scene.heading,
        "text": scene.text,
        "url": scene.get_absolute_url(),
        "heading_url": reverse("script_scene_heading", args=[project.pk, scene.pk]),
        "split_url": reverse("script_scene_split", args=[project.pk, scene.pk]),
        "merge_url": reverse("script_scene_merge", args=[project.pk, scene.pk]),
        "version_url": reverse("scene_version", args=[project.pk, scene.pk]),
        "panel_url": reverse("script_scene_panel", args=[project.pk, scene.pk]),
    }


@login_required
@require_GET
def script_page(request, project_id):
    membership = access_project(request.user, project_id)
    project = membership.project
    ids = script_view.scene_ids(project)
    start = _start_id(request.GET.get("from"))
    scenes, first = script_view.scene_window(project, start_id=start)
    window = script_view.WINDOW
    acts = [
        {"title": title, "from": ids[n - 1]}
        for title, n in script_stats.cached_acts(project.pk)
        if 0 < n <= len(ids)
    ]
    return render(
        request,
        "script.html",
        {
            "project": project,
            "membership": membership,
            "can_edit": can(membership, Role.EDITOR),
            "blocks": [_block(project, s, first + i + 1) for i, s in enumerate(scenes)],
            "scene_total": len(ids),
            "first_number": first + 1,
            "last_number": first + len(scenes),
            "prev_from": ids[max(first - window, 0)] if first > 0 else None,
            "next_from": ids[first + window] if first + window < len(ids) else None,
            "start_id": ids[first] if ids else None,
            "acts": acts,
            "editor_hints": _editor_hints(project, list(project.characters.all())),
        },
    )


@login_required
@require_GET
def script_outline(request, project_id):
    """The view's window as it is now (JSON), or 204 if ``state`` is still current."""
    membership = access_project(request.user, project_id)
    project = membership.project
    state = script_view.outline_state(project)
    if request.GET.get("state") == state:
        return HttpResponse(status=204)
    scenes, first = script_view.scene_window(project, start_id=_start_id(request.GET.get("from")))
    return JsonResponse(
        {
            "state": state,
            "scenes": [_block(project, s, first + i + 1) for i, s in enumerate(scenes)],
        }
    )


@login_required
@require_GET
def script_pages(request, project_id):
    """Where the printed pages break, for the scenes asked for (``?scenes=1,2,3``)."""
    membership = access_project(request.user, project_id)
    raw = request.GET.get("scenes", "")
    try:
        ids = [int(i) for i in raw.split(",") if i.strip()][:MAX_IDS] if raw else None
    except ValueError:
        return JsonResponse({"error": "scenes is a list of scene ids."}, status=400)
    return JsonResponse(script_view.page_breaks(membership.project, ids))


@login_required
@require_GET
def scene_panel(request, project_id, scene_id):
    """The side column for the focused scene: the panels the scene page shows beside its
    editor (the ``scene_side`` slot: the drafts panel), for one scene (HTML fragment)."""
    membership, scene = access_scene(request.user, project_id, scene_id)
    return render(
        request,
        "partials/script_side.html",
        {
            "project": membership.project,
            "scene": scene,
            "panels": panels.render("scene_side", request, membership=membership, scene=scene),
        },
    )


def _refused(exc: ValidationError) -> JsonResponse:
    return JsonResponse({"error": _errors(exc)}, status=400)


# How long a split or merge waits for the browser's last keystrokes to reach the server
# (as the live editor's "Save version" does: views.scene_version).
LIVE_WAIT_SECONDS = 3.0


async def _wait_for(read, shown: str | None) -> None:
    """Wait (at most LIVE_WAIT_SECONDS) until ``read()`` gives what the browser showed."""
    if shown is None:
        return
    shown = shown.replace("\r\n", "\n")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LIVE_WAIT_SECONDS
    while await sync_to_async(read)() != shown and loop.time() < deadline:
        await asyncio.sleep(0.05)


@login_required
@require_POST
async def scene_split(request, project_id, scene_id):
    """Split at the heading line the browser shows at ``position`` (``line``: that line as
    the browser has it; the split waits until the server's document has it too, so the
    last keystrokes of the heading are not left behind)."""
    user = await request.auser()
    membership, scene = await sync_to_async(access_scene)(user, project_id, scene_id, Role.EDITOR)
    position = request.POST.get("position", "")
    await _wait_for(lambda: script_view.line_at(scene.pk, position), request.POST.get("line"))
    try:
        new = await sync_to_async(script_view.scene_split)(
            scene=scene, user=user, position=position
        )
    except ValidationError as exc:
        return _refused(exc)
    block = await sync_to_async(_new_block)(membership.project, new)
    return JsonResponse({"scene": block}, status=201)


def _new_block(project, scene: Scene) -> dict:
    return _block(project, scene, script_view.scene_ids(project).index(scene.pk) + 1)


@login_required
@require_POST
async def scene_merge(request, project_id, scene_id):
    """Merge into the scene before (``text``: the scene's text as the browser shows it;
    the merge waits until the server's document has it too)."""
    user = await request.auser()
    _, scene = await sync_to_async(access_scene)(user, project_id, scene_id, Role.EDITOR)
    await _wait_for(lambda: documents.live_text(scene.pk), request.POST.get("text"))
    try:
        into = await sync_to_async(script_view.scene_merge)(scene=scene, user=user)
    except ValidationError as exc:
        return _refused(exc)
    return JsonResponse({"into": into.pk, "removed": scene_id})


@login_required
@require_POST
def scene_heading(request, project_id, scene_id):
    """Save a scene's heading (the rest of its details as they are)."""
    _, scene = access_scene(request.user, project_id, scene_id, Role.EDITOR)
    try:
        services.scene_update(
            scene=scene,
            heading=request.POST.get("heading", ""),
            synopsis=scene.synopsis,
            cast_ids=list(scene.cast.values_list("pk", flat=True)),
        )
    except ValidationError as exc:
        return _refused(exc)
    return JsonResponse({"heading": scene.heading})
