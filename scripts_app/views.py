"""Views: thin. Each fetches what it touches through ``access.py`` (404 for outsiders, 403
for too low a role), validates with a form, and calls a service. htmx requests get the
partial they target; plain requests get the whole page, so every link works without JS.
"""

import asyncio
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, Q, Window
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import (
    adaptation,
    cast_merge,
    credits,
    documents,
    exports,
    invitations,
    panels,
    production,
    script_stats,
    services,
)
from .access import (
    access_character,
    access_membership,
    access_project,
    access_revision,
    access_scene,
    can,
)
from .diffing import diff_stats, inline_diff
from .formats import grammar
from .forms import (
    CharacterForm,
    MemberAddForm,
    MemberRoleForm,
    ProjectDeleteForm,
    ProjectForm,
    ProjectSettingsForm,
    SceneForm,
    SceneMoveForm,
    SceneReorderForm,
    SceneTextForm,
    tags_text,
)
from .models import Character, Membership, Project, Revision, Role, Scene, SourceText
from .responses import errors as _errors
from .responses import fail as _fail
from .responses import form_errors as _form_errors
from .views_story import character_story_context  # the story layer's part of the character page

# Sign-up, invitations, password views: views_accounts.py.


@login_required
@require_GET
def home(request):
    memberships = (
        Membership.objects.filter(user=request.user)
        .select_related("project")
        .annotate(scene_count=Count("project__scenes"))
        .order_by("-project__updated_at")
    )
    return render(
        request,
        "home.html",
        {
            "memberships": memberships,
            "form": ProjectForm(),
            "invitations": invitations.pending_for_user(request.user),
        },
    )


# --- projects -----------------------------------------------------------------------------


@login_required
@require_POST
def project_create(request):
    form = ProjectForm(request.POST)
    if not form.is_valid():
        return _fail(request, _form_errors(form), "home")
    try:
        project = services.project_create(user=request.user, **form.cleaned_data)
    except ValidationError as exc:
        return _fail(request, _errors(exc), "home")
    return redirect(project)


# The project page lists this many scenes at a time; the navigator above the list moves
# between pages, jumps to a scene number and searches (htmx partials, ``project_scenes``).
SCENES_PER_PAGE = 200
SEARCH_MAX_CHARS = 100


def _positive(value, default: int = 1) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default


def _scene_list(request, project) -> dict:
    """One page of the project's scenes (optionally those matching ``q``), for the page
    and for the ``project_scenes`` partial. One query: the total comes with the rows (a
    window count), so the page's query count does not grow with the script."""
    q = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]
    page = _positive(request.GET.get("page"))
    if request.GET.get("scene"):  # jump to a scene number (in the whole list)
        page = (_positive(request.GET.get("scene")) - 1) // SCENES_PER_PAGE + 1
        q = ""
    base = Scene.objects.filter(project=project)
    if q:
        in_cast = Scene.cast.through.objects.filter(
            scene__project=project, character__name__icontains=q
        ).values("scene_id")
        base = base.filter(Q(heading__icontains=q) | Q(pk__in=in_cast))
    rows_qs = (
        base.select_related("last_edited_by")
        .prefetch_related(Prefetch("cast", queryset=Character.objects.only("id", "name")))
        .only(
            "id",
            "position",
            "heading",
            "synopsis",
            "project_id",
            "updated_at",
            "last_edited_by__username",
        )
        .annotate(total=Window(Count("pk")))
        .order_by("position", "pk")
    )
    start = (page - 1) * SCENES_PER_PAGE
    scenes = list(rows_qs[start : start + SCENES_PER_PAGE])
    if scenes:
        total = scenes[0].total
    else:
        total = base.count()
        if total and start >= total:  # past the end: the last page
            page = (total - 1) // SCENES_PER_PAGE + 1
            start = (page - 1) * SCENES_PER_PAGE
            scenes = list(rows_qs[start : start + SCENES_PER_PAGE])
    pages = max(1, -(-total // SCENES_PER_PAGE))
    return {
        "scenes": scenes,
        "scene_query": q,
        "scene_page": page,
        "scene_pages": [
            {
                "number": n,
                "first": (n - 1) * SCENES_PER_PAGE + 1,
                "last": min(n * SCENES_PER_PAGE, total),
            }
            for n in range(1, pages + 1)
        ]
        if pages > 1
        else [],
        "scene_total": total,
        "scene_first": start + 1,
        "scene_last": start + len(scenes),
        "per_page": SCENES_PER_PAGE,
        # Drag to reorder works within a page of the whole list, not within search results.
        "can_drag": not q,
    }


def _project_context(request, membership):
    project = membership.project
    listing = _scene_list(request, project)
    characters = (
        Character.objects.filter(project=project)
        .annotate(scene_count=Count("scenes"))
        .order_by("name")
    )
    members = Membership.objects.filter(project=project).select_related("user").order_by("added_at")
    scene_count = listing["scene_total"]
    if listing["scene_query"]:
        scene_count = Scene.objects.filter(project=project).count()
    return {
        "project": project,
        "membership": membership,
        "panels": panels.render("project_side", request, membership=membership, project=project),
        **listing,
        "scene_count": scene_count,
        # Acts (top-level sections) from the last page count, for the navigator.
        "acts": script_stats.cached_acts(project.pk) if scene_count > SCENES_PER_PAGE else [],
        "characters": characters,
        "members": members,
        # The books the script was adapted from (their pages: chapters, names, drafts).
        "books": SourceText.objects.filter(project=project).only("pk", "title").order_by("pk"),
        "can_edit": can(membership, Role.EDITOR),
        "is_owner": can(membership, Role.OWNER),
        "roles": Role.choices,
    }


def _scene_list_url(project, listing: dict) -> str:
    params = {}
    if listing["scene_query"]:
        params["q"] = listing["scene_query"]
    if listing["scene_page"] > 1:
        params["page"] = listing["scene_page"]
    url = project.get_absolute_url()
    return (url + "?" + urlencode(params) if params else url) + "#scenes"


@login_required
@require_GET
def project_scenes(request, project_id):
    """One page of the project page's scene list (htmx partial: the list's items, the
    navigator out of band); the address bar shows the project page at that page."""
    membership = access_project(request.user, project_id)
    project = membership.project
    listing = _scene_list(request, project)
    context = {
        "project": project,
        "membership": membership,
        "can_edit": can(membership, Role.EDITOR),
        **listing,
    }
    if not request.htmx:
        return redirect(_scene_list_url(project, listing))
    response = render(request, "partials/scene_list.html", context)
    response["HX-Push-Url"] = _scene_list_url(project, listing).removesuffix("#scenes")
    return response


@login_required
@require_GET
def project_detail(request, project_id):
    membership = access_project(request.user, project_id)
    return _project_page_with(request, membership)


def _project_page_with(request, membership, *, scene_form=None, character_form=None):
    """The project page; a form given here was rejected and is shown as submitted (400)."""
    context = _project_context(request, membership)
    context["scene_form"] = scene_form or SceneForm(characters=context["characters"])
    context["character_form"] = character_form or CharacterForm()
    context["member_form"] = MemberAddForm()
    status = 400 if scene_form is not None or character_form is not None else 200
    return render(request, "project_detail.html", context, status=status)


@login_required
def project_settings(request, project_id):
    membership = access_project(request.user, project_id, Role.OWNER)
    project = membership.project
    initial = {f: getattr(project, f) for f in ProjectSettingsForm.base_fields}
    form = ProjectSettingsForm(request.POST or None, initial=initial)
    # An empty "Writers" or "Draft date" prints what the placeholder shows.
    for name, value in exports.title_page_fallbacks(project).items():
        form.fields[name].widget.attrs["placeholder"] = value
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    services.project_update(
                        project=project, **{f: data[f] for f in form.PROJECT_FIELDS}
                    )
                    # Only the credits the form sent: a post without them keeps them.
                    credits.credits_update(
                        project=project,
                        **{f: data[f] for f in credits.CREDIT_FIELDS if f in request.POST},
                    )
            except ValidationError as exc:
                project.refresh_from_db()
                form.add_error(None, exc)
            else:
                messages.success(request, "Project saved.")
                return redirect(project)
        return render(
            request,
            "project_settings.html",
            {"project": project, "form": form, "delete_form": ProjectDeleteForm()},
            status=400,
        )
    return render(
        request,
        "project_settings.html",
        {"project": project, "form": form, "delete_form": ProjectDeleteForm()},
    )


@login_required
@require_POST
def project_delete(request, project_id):
    membership = access_project(request.user, project_id, Role.OWNER)
    form = ProjectDeleteForm(request.POST)
    back = reverse("project_settings", args=[project_id])
    if not form.is_valid():
        return _fail(request, _form_errors(form), back)
    try:
        services.project_delete(project=membership.project, **form.cleaned_data)
    except ValidationError as exc:
        return _fail(request, _errors(exc), back)
    messages.success(request, "Project deleted.")
    return redirect("home")


# --- members ------------------------------------------------------------------------------


@login_required
@require_POST
def member_add(request, project_id):
    membership = access_project(request.user, project_id, Role.OWNER)
    form = MemberAddForm(request.POST)
    back = membership.project.get_absolute_url() + "#members"
    if not form.is_valid():
        return _fail(request, _form_errors(form), back)
    # An invitation, never a direct add; the answer is the same whether or not an account
    # matches (an owner must not learn who has an account).
    try:
        sent = invitations.invite(
            project=membership.project,
            by=request.user,
            who=form.cleaned_data["who"],
            role=form.cleaned_data["role"],
            link_for=lambda token: request.build_absolute_uri(reverse("invitation", args=[token])),
        )
    except ValidationError as exc:
        return _fail(request, _errors(exc), back)
    messages.success(
        request,
        f"Invitation sent to {sent.sent_to} ({sent.get_role_display().lower()}); "
        "they join when they accept it.",
    )
    return redirect(back)


@login_required
@require_POST
def member_role(request, project_id, membership_id):
    acting, target = access_membership(request.user, project_id, membership_id, Role.OWNER)
    form = MemberRoleForm(request.POST)
    back = acting.project.get_absolute_url() + "#members"
    if not form.is_valid():
        return _fail(request, _form_errors(form), back)
    try:
        services.member_set_role(membership=target, role=form.cleaned_data["role"])
    except ValidationError as exc:
        return _fail(request, _errors(exc), back)
    messages.success(request, f"{target.user.username} is now {target.get_role_display().lower()}.")
    return redirect(back)


@login_required
@require_POST
def member_remove(request, project_id, membership_id):
    acting, target = access_membership(request.user, project_id, membership_id, Role.OWNER)
    back = acting.project.get_absolute_url() + "#members"
    try:
        services.member_remove(membership=target)
    except ValidationError as exc:
        return _fail(request, _errors(exc), back)
    if target.user_id == request.user.pk:
        return redirect("home")
    messages.success(request, f"{target.user.username} was removed.")
    return redirect(back)


@login_required
@require_POST
def project_leave(request, project_id):
    membership = access_project(request.user, project_id)
    try:
        services.member_remove(membership=membership)
    except ValidationError as exc:
        return _fail(request, _errors(exc), membership.project.get_absolute_url())
    messages.success(request, f"You left {membership.project.title}.")
    return redirect("home")


# --- characters ---------------------------------------------------------------------------


@login_required
@require_POST
def character_create(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    form = CharacterForm(request.POST)
    if form.is_valid():
        try:
            services.character_create(project=membership.project, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(membership.project.get_absolute_url() + "#characters")
    return _project_page_with(request, membership, character_form=form)


@login_required
def character_detail(request, project_id, character_id):
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    membership, character = access_character(request.user, project_id, character_id, need)
    if request.method == "POST":
        form = CharacterForm(request.POST)
        if form.is_valid():
            try:
                services.character_update(character=character, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Character saved.")
                return redirect(membership.project.get_absolute_url() + "#characters")
        character.refresh_from_db()
        status = 400
    else:
        form = CharacterForm(
            initial={
                "name": character.name,
                "description": character.description,
                "notes": character.notes,
                "tags": tags_text(character.attributes),
            }
        )
        status = 200
    context = {
        "project": membership.project,
        "membership": membership,
        "character": character,
        "form": form,
        "can_edit": can(membership, Role.EDITOR),
        "others": (
            Character.objects.filter(project=membership.project)
            .exclude(pk=character.pk)
            .only("name")
            if can(membership, Role.EDITOR)
            else []
        ),
    }
    context.update(character_story_context(request, membership, character))
    return render(request, "character_detail.html", context, status=status)


@login_required
@require_POST
def character_delete(request, project_id, character_id):
    membership, character = access_character(request.user, project_id, character_id, Role.EDITOR)
    services.character_delete(character=character)
    messages.success(request, f"{character.name} deleted.")
    return redirect(membership.project.get_absolute_url() + "#characters")


@login_required
@require_POST
def character_merge(request, project_id, character_id):
    """ "The same person as…": this character is merged into the one picked (its cues
    renamed in every scene, its links moved; ``cast_merge``)."""
    membership, character = access_character(request.user, project_id, character_id, Role.EDITOR)
    project = membership.project
    into = request.POST.get("into", "")
    kept = None
    if into.isascii() and into.isdigit() and len(into) < 19:
        kept = Character.objects.filter(project=project, pk=int(into)).first()
    if kept is None:
        messages.error(request, "Pick the character this one is the same person as.")
        return redirect("character_detail", project.pk, character.pk)
    try:
        done = cast_merge.character_merge(merged=character, kept=kept, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("character_detail", project.pk, character.pk)
    messages.success(
        request,
        f"{done.merged_name} merged into {kept.name}: {done.cues} cue{pluralize(done.cues)} "
        f"renamed in {done.scenes} scene{pluralize(done.scenes)}.",
    )
    return redirect("character_detail", project.pk, kept.pk)


# --- scenes -------------------------------------------------------------------------------


@login_required
@require_POST
def scene_create(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    project = membership.project
    form = SceneForm(request.POST, characters=project.characters.all())
    if form.is_valid():
        try:
            scene = services.scene_create(
                project=project,
                user=request.user,
                heading=form.cleaned_data["heading"],
                synopsis=form.cleaned_data["synopsis"],
                cast_ids=form.cleaned_data["cast"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(scene)
    return _project_page_with(request, membership, scene_form=form)


def _navigator(project):
    return (
        Scene.objects.filter(project=project)
        .only("id", "position", "heading", "project_id")
        .order_by("position", "pk")
    )


def _scene_context(request, membership, scene, *, text_form=None, scene_form=None, conflict=None):
    project = membership.project
    characters = list(project.characters.all())
    revisions = scene.revisions.select_related("author").only(
        "id", "number", "label", "origin", "created_at", "author__username", "scene_id"
    )
    return {
        "project": project,
        "membership": membership,
        "scene": scene,
        "navigator": _navigator(project),
        "cast": list(scene.cast.all()),
        "revisions": revisions,
        "can_edit": can(membership, Role.EDITOR),
        "text_form": text_form
        or SceneTextForm(initial={"text": scene.text, "base_revision": scene.head_id}),
        "scene_form": scene_form
        or SceneForm(
            characters=characters,
            initial={
                "heading": scene.heading,
                "synopsis": scene.synopsis,
                "cast": [c.pk for c in scene.cast.all()],
            },
        ),
        "conflict": conflict,
        "panels": panels.render("scene_side", request, membership=membership, scene=scene),
        "source": adaptation.passage_view(scene),
        "editor_hints": _editor_hints(project, characters),
        # Production revisions: the scene as last issued, for the editor's revision marks.
        "production_marks": production.scene_marks(scene),
    }


EDITOR_TIMES = ("DAY", "NIGHT", "CONTINUOUS", "LATER", "MORNING", "EVENING")


def _editor_hints(project, characters):
    """What the editor's autocomplete offers (static/src/editor/autocomplete.js): the
    project's character names, and the places and times of day of its scene headings
    (``INT. PLACE - TIME``: the text between the prefix and the last `` - ``, and after it)."""
    locations, times = {}, dict.fromkeys(EDITOR_TIMES)
    for heading in project.scenes.values_list("heading", flat=True):
        parsed = grammar.parse_scene_heading(heading)
        if parsed is None or parsed.forced or not parsed.location:
            continue
        place, sep, time = parsed.location.rpartition(" - ")
        if not sep:
            place, time = parsed.location, ""
        if place.strip():
            locations.setdefault(place.strip().upper(), None)
        if time.strip():
            times.setdefault(time.strip().upper(), None)
    return {
        "characters": [c.name for c in characters],
        "locations": sorted(locations),
        "times": list(times),
        "auto_contd": project.auto_contd,  # contd.js shows what printed pages will add
    }


def _scene_page_rejected(request, membership, scene, *, save_error=None, **forms):
    """The scene page again (400) with a rejected form as submitted: nothing typed is lost
    to a redirect. ``forms``: ``text_form`` and/or ``scene_form``."""
    context = _scene_context(request, membership, scene, **forms)
    if save_error:
        context["save_error"] = save_error
    return render(request, "scene_detail.html", context, status=400)


@login_required
@require_GET
def scene_detail(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id)
    conflict = None
    number = request.GET.get("conflict")
    if number and number.isdigit():
        conflict_rev = scene.revisions.filter(number=int(number), origin="conflict").first()
        if conflict_rev is not None:
            conflict = _conflict_context(scene, conflict_rev)
    return render(
        request, "scene_detail.html", _scene_context(request, membership, scene, conflict=conflict)
    )


def _conflict_context(scene, conflict_rev):
    head_text = scene.text
    return {
        "revision": conflict_rev,
        "head_text": head_text,
        "segments": inline_diff(head_text, conflict_rev.text),
    }


@login_required
@require_POST
def scene_update(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id, Role.EDITOR)
    form = SceneForm(request.POST, characters=membership.project.characters.all())
    if form.is_valid():
        try:
            services.scene_update(
                scene=scene,
                heading=form.cleaned_data["heading"],
                synopsis=form.cleaned_data["synopsis"],
                cast_ids=form.cleaned_data["cast"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Scene details saved.")
            return redirect(scene)
    scene.refresh_from_db()
    return _scene_page_rejected(request, membership, scene, scene_form=form)


@login_required
@require_POST
def scene_save(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id, Role.EDITOR)
    form = SceneTextForm(request.POST)
    if not form.is_valid():
        return _fail(request, _form_errors(form), scene.get_absolute_url())
    try:
        result = services.scene_save_text(
            scene=scene,
            user=request.user,
            text=form.cleaned_data["text"],
            base_revision_id=form.cleaned_data["base_revision"],
            label=form.cleaned_data["label"],
        )
    except ValidationError as exc:
        return _scene_page_rejected(
            request, membership, scene, text_form=form, save_error=_errors(exc)
        )
    if result.conflict:
        messages.warning(
            request,
            f"Someone saved this scene while you were editing. Your text is kept as "
            f"revision {result.revision.number}; compare it below, merge, and save again.",
        )
        return redirect(f"{scene.get_absolute_url()}?conflict={result.revision.number}")
    messages.success(request, f"Saved as revision {result.revision.number}.")
    return redirect(scene)


# How long the live editor's save waits for the browser's last keystrokes to land.
LIVE_SAVE_WAIT_SECONDS = 3.0


@login_required
@require_POST
async def scene_version(request, project_id, scene_id):
    """Save the live document's current text as a revision (the live editor's save).

    The browser posts the text it shows. Its last keystrokes may still be on their way over
    the websocket (or in the log writer's current batch) when Ctrl+S arrives, so the save
    waits, at most LIVE_SAVE_WAIT_SECONDS, until the server's document holds that text,
    then saves the server's document. (They can also differ for good — someone else typed
    meanwhile — so after the wait the server's copy wins: it has everyone's edits.) The
    view is async so that the wait does not hold the process's database thread.
    """
    user = await request.auser()
    _, scene = await sync_to_async(access_scene)(user, project_id, scene_id, Role.EDITOR)
    label = request.POST.get("label", "")[:120]
    shown = request.POST.get("text")
    if shown is not None:
        shown = shown.replace("\r\n", "\n")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIVE_SAVE_WAIT_SECONDS
        while await sync_to_async(documents.live_text)(scene.pk) != shown:
            if loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
    revision = await sync_to_async(services.scene_save_version)(scene=scene, user=user, label=label)
    messages.success(request, f"Saved as revision {revision.number}.")
    return redirect(scene)


@login_required
@require_POST
def scene_delete(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id, Role.EDITOR)
    services.scene_delete(scene=scene)
    messages.success(request, f"Scene “{scene.heading}” deleted.")
    return redirect(membership.project.get_absolute_url() + "#scenes")


def _whole_order(project, ids: list[int]) -> list[int]:
    """Return the whole script's order for a reorder posted from one page of the list.

    The project page shows a page of scenes at a time, so a drag posts the order of that
    page's scenes only. When the posted ids are exactly the scenes of one page of the list
    (``SCENES_PER_PAGE`` from a multiple of it), they take that page's places and the rest
    stay where they are; anything
    else (the whole list, or a list that changed meanwhile) goes to the service as posted,
    which refuses a list that does not name every scene once."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    current = list(
        Scene.objects.filter(project=project)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )
    if not ids or len(ids) >= len(current) or len(set(ids)) != len(ids):
        return ids
    where = {pk: i for i, pk in enumerate(current)}
    spots = sorted(where[pk] for pk in ids if pk in where)
    first = spots[0] if len(spots) == len(ids) else -1
    page_size = min(SCENES_PER_PAGE, len(current) - first)
    if first % SCENES_PER_PAGE or spots[-1] - first + 1 != len(ids) or len(ids) != page_size:
        return ids
    return current[: spots[0]] + list(ids) + current[spots[-1] + 1 :]


@login_required
@require_POST
def scene_reorder(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    form = SceneReorderForm(request.POST)
    back = membership.project.get_absolute_url() + "#scenes"
    if not form.is_valid():
        return _fail(request, _form_errors(form), back)
    try:
        with transaction.atomic():
            order = _whole_order(membership.project, form.cleaned_data["order"])
            services.scene_reorder(project=membership.project, scene_ids=order)
    except ValidationError as exc:
        return _fail(request, _errors(exc), back, status=409)
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(back)


@login_required
@require_POST
def scene_move(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id, Role.EDITOR)
    form = SceneMoveForm(request.POST)
    back = membership.project.get_absolute_url() + "#scenes"
    if not form.is_valid():
        return _fail(request, _form_errors(form), back)
    services.scene_move(scene=scene, to_position=form.cleaned_data["to"] - 1)
    # Back to the page of the list the scene is now on.
    scene.refresh_from_db(fields=["position"])
    page = scene.position // SCENES_PER_PAGE + 1
    if page > 1:
        back = f"{membership.project.get_absolute_url()}?page={page}#scenes"
    return redirect(back)


@login_required
@require_GET
def scene_preview(request, project_id, scene_id):
    _, scene = access_scene(request.user, project_id, scene_id)
    return render(request, "partials/preview.html", {"text": scene.text})


# --- revisions ----------------------------------------------------------------------------


@login_required
@require_GET
def revision_list(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id)
    revisions = scene.revisions.select_related("author")
    context = {"scene": scene, "revisions": revisions, "can_edit": can(membership, Role.EDITOR)}
    if request.htmx:
        return render(request, "partials/revisions.html", context)
    context.update({"project": membership.project, "membership": membership})
    return render(request, "revision_list.html", context)


@login_required
@require_GET
def revision_detail(request, project_id, scene_id, number):
    membership, scene, revision = access_revision(request.user, project_id, scene_id, number)
    context = {
        "project": membership.project,
        "membership": membership,
        "scene": scene,
        "revision": revision,
        "can_edit": can(membership, Role.EDITOR),
    }
    return render(request, "revision_detail.html", context)


@login_required
@require_GET
def revision_diff(request, project_id, scene_id):
    membership, scene = access_scene(request.user, project_id, scene_id)
    numbers = []
    for key in ("a", "b"):
        value = request.GET.get(key, "")
        if not value.isdigit():
            return _fail(request, "Choose two revisions to compare.", scene.get_absolute_url())
        numbers.append(int(value))
    found = {r.number: r for r in Revision.objects.filter(scene=scene, number__in=numbers)}
    if any(n not in found for n in numbers):
        return _fail(request, "No such revision of this scene.", scene.get_absolute_url(), 404)
    old, new = found[numbers[0]], found[numbers[1]]
    segments = inline_diff(old.text, new.text)
    context = {
        "project": membership.project,
        "membership": membership,
        "scene": scene,
        "old": old,
        "new": new,
        "segments": segments,
        "stats": diff_stats(segments),
    }
    template = "partials/diff.html" if request.htmx else "revision_diff.html"
    return render(request, template, context)


@login_required
@require_POST
def revision_restore(request, project_id, scene_id, number):
    _, scene, revision = access_revision(request.user, project_id, scene_id, number, Role.EDITOR)
    new = services.revision_restore(revision=revision, user=request.user)
    messages.success(request, f"Revision {revision.number} restored as revision {new.number}.")
    return redirect(scene)
