"""The story page (bible, characters overview, plotlines) and the character page's story
fields and relationships. Writes go through ``story.py``; every view enters through
``access.py``. Fields are fragments that re-fetch themselves when the story room says
their part changed (``static/js/story.js``); a save answers with the field's fragment:
200 saved, 409 a conflict (the other person's text beside the writer's), 400 bad input.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import panels, story
from .access import access_character, access_project, can
from .models import Character, CharacterRelation, CharacterRole, Plotline, Role


def _message(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- the story page -----------------------------------------------------------------------


def _bible_field_context(membership, bible, name, *, value=None, error="", conflict=None):
    project = membership.project
    stored = story.bible_value(project, bible, name)
    return {
        "project": project,
        "name": name,
        "label": story.BIBLE_LABELS[name],
        "limit": story.bible_limit(name),
        "single_line": name == "genre",
        "value": stored if value is None else value,
        "stored": stored,
        "version": story.bible_version(bible, name) if conflict is None else conflict.version,
        "error": error,
        "conflict": conflict,
        "can_edit": can(membership, Role.EDITOR),
        "get_url": reverse("story_bible_field", args=[project.pk, name]),
        "save_url": reverse("story_bible_save", args=[project.pk, name]),
        "part": "bible",
        "dom_id": f"bible-{name}",
    }


def _plotlines_context(membership, *, error="", notice=""):
    return {
        "project": membership.project,
        "plotlines": list(membership.project.plotlines.all()),
        "can_edit": can(membership, Role.EDITOR),
        "max_plotlines": story.MAX_PLOTLINES,
        "error": error,
        "notice": notice,
    }


@login_required
@require_GET
def story_page(request, project_id):
    membership = access_project(request.user, project_id)
    project = membership.project
    bible = story.bible_read(project)
    context = {
        "project": project,
        "membership": membership,
        "can_edit": can(membership, Role.EDITOR),
        "fields": [
            render_to_string(
                "story/field.html", _bible_field_context(membership, bible, n), request=request
            )
            for n in story.BIBLE_FIELDS
        ],
        "rows": story.characters_overview(project),
        **_plotlines_context(membership),
        "panels": panels.render("story_side", request, membership=membership, project=project),
    }
    return render(request, "story/page.html", context)


def _bible_name(name: str) -> str:
    if name not in story.BIBLE_FIELDS:
        raise Http404("No such field.")
    return name


@login_required
@require_GET
def story_bible_field(request, project_id, name):
    membership = access_project(request.user, project_id)
    bible = story.bible_read(membership.project)
    context = _bible_field_context(membership, bible, _bible_name(name))
    return render(request, "story/field.html", context)


@login_required
@require_POST
def story_bible_save(request, project_id, name):
    membership = access_project(request.user, project_id, Role.EDITOR)
    name = _bible_name(name)
    value = request.POST.get("value", "")
    status, error, conflict = 200, "", None
    try:
        story.bible_save_field(
            project=membership.project,
            name=name,
            value=value,
            base_version=request.POST.get("version"),
        )
    except story.FieldConflict as exc:
        status, conflict = 409, exc
    except ValidationError as exc:
        status, error = 400, _message(exc)
    membership.project.refresh_from_db()
    bible = story.bible_read(membership.project)
    keep = value if status != 200 else None
    context = _bible_field_context(
        membership, bible, name, value=keep, error=error, conflict=conflict
    )
    if status == 400:  # keep the version the writer edited from
        context["version"] = request.POST.get("version", "")
    return render(request, "story/field.html", context, status=status)


@login_required
@require_GET
def story_characters(request, project_id):
    membership = access_project(request.user, project_id)
    context = {"project": membership.project, "rows": story.characters_overview(membership.project)}
    return render(request, "story/characters.html", context)


# --- plotlines ----------------------------------------------------------------------------


@login_required
@require_GET
def story_plotlines(request, project_id):
    membership = access_project(request.user, project_id)
    return render(request, "story/plotlines.html", _plotlines_context(membership))


def _plotline(membership, plotline_id) -> Plotline:
    try:
        return Plotline.objects.get(pk=plotline_id, project=membership.project)
    except (Plotline.DoesNotExist, ValueError, TypeError):
        raise Http404("No such plotline.") from None


def _plotline_answer(request, membership, *, error="", notice=""):
    if not request.htmx:
        if error:
            messages.error(request, error)
        elif notice:
            messages.success(request, notice)
        return redirect(reverse("story_page", args=[membership.project.pk]) + "#plotlines")
    context = _plotlines_context(membership, error=error, notice=notice)
    return render(request, "story/plotlines.html", context, status=400 if error else 200)


def _plotline_fields(request) -> dict:
    return {
        "name": request.POST.get("name", ""),
        "label": request.POST.get("label", ""),
        "colour": request.POST.get("colour", ""),
        "description": request.POST.get("description", ""),
    }


@login_required
@require_POST
def plotline_create(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    try:
        plotline = story.plotline_create(project=membership.project, **_plotline_fields(request))
    except ValidationError as exc:
        return _plotline_answer(request, membership, error=_message(exc))
    return _plotline_answer(request, membership, notice=f"Plotline {plotline.name} added.")


@login_required
@require_POST
def plotline_update(request, project_id, plotline_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    plotline = _plotline(membership, plotline_id)
    try:
        story.plotline_update(plotline=plotline, **_plotline_fields(request))
    except ValidationError as exc:
        return _plotline_answer(request, membership, error=_message(exc))
    return _plotline_answer(request, membership, notice=f"Plotline {plotline.name} saved.")


@login_required
@require_POST
def plotline_move(request, project_id, plotline_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    plotline = _plotline(membership, plotline_id)
    try:
        story.plotline_move(plotline=plotline, direction=request.POST.get("direction", ""))
    except ValidationError as exc:
        return _plotline_answer(request, membership, error=_message(exc))
    return _plotline_answer(request, membership)


@login_required
@require_POST
def plotline_delete(request, project_id, plotline_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    plotline = _plotline(membership, plotline_id)
    name = plotline.name
    beats = story.plotline_delete(plotline=plotline)
    notice = f"Plotline {name} deleted."
    if beats:
        notice += f" It was removed from {beats} beat{'s' if beats != 1 else ''}."
    return _plotline_answer(request, membership, notice=notice)


# --- a character's story fields and relationships -------------------------------------


def _character_field_context(membership, character, name, *, value=None, error="", conflict=None):
    project = membership.project
    stored = getattr(character, name)
    return {
        "project": project,
        "name": name,
        "label": story.CHARACTER_LABELS[name],
        "limit": Character._meta.get_field(name).max_length,
        "choices": CharacterRole.choices if name == "role" else None,
        "display": dict(CharacterRole.choices).get(stored, "") if name == "role" else stored,
        "value": stored if value is None else value,
        "stored": stored,
        "version": story.text_version(stored) if conflict is None else conflict.version,
        "error": error,
        "conflict": conflict,
        "can_edit": can(membership, Role.EDITOR),
        "get_url": reverse("character_story_field", args=[project.pk, character.pk, name]),
        "save_url": reverse("character_story_save", args=[project.pk, character.pk, name]),
        "part": "characters",
        "dom_id": f"character-{name}",
    }


def character_story_context(request, membership, character) -> dict:
    """What the character page shows of the story layer (``views.character_detail``)."""
    found = story.character_appearances(character)
    return {
        "story_fields": [
            render_to_string(
                "story/field.html",
                _character_field_context(membership, character, n),
                request=request,
            )
            for n in story.CHARACTER_FIELDS
        ],
        "appearances": found,
        **_relations_context(membership, character),
    }


def _character_name(name: str) -> str:
    if name not in story.CHARACTER_FIELDS:
        raise Http404("No such field.")
    return name


@login_required
@require_GET
def character_story_field(request, project_id, character_id, name):
    membership, character = access_character(request.user, project_id, character_id)
    context = _character_field_context(membership, character, _character_name(name))
    return render(request, "story/field.html", context)


@login_required
@require_POST
def character_story_save(request, project_id, character_id, name):
    membership, character = access_character(request.user, project_id, character_id, Role.EDITOR)
    name = _character_name(name)
    value = request.POST.get("value", "")
    status, error, conflict = 200, "", None
    try:
        character = story.character_save_field(
            character=character, name=name, value=value, base_version=request.POST.get("version")
        )
    except story.FieldConflict as exc:
        status, conflict = 409, exc
    except ValidationError as exc:
        status, error = 400, _message(exc)
    if status != 200:
        character.refresh_from_db()
    keep = value if status != 200 else None
    context = _character_field_context(
        membership, character, name, value=keep, error=error, conflict=conflict
    )
    if status == 400:
        context["version"] = request.POST.get("version", "")
    return render(request, "story/field.html", context, status=status)


def _relations_context(membership, character, *, error="", form=None):
    relations = CharacterRelation.objects.filter(
        Q(source=character) | Q(target=character), project=membership.project
    ).select_related("source", "target")
    return {
        "project": membership.project,
        "character": character,
        "relations": list(relations),
        "others": list(membership.project.characters.exclude(pk=character.pk).only("id", "name")),
        "can_edit": can(membership, Role.EDITOR),
        "relation_error": error,
        "relation_form": form or {},
    }


@login_required
@require_GET
def character_relations(request, project_id, character_id):
    membership, character = access_character(request.user, project_id, character_id)
    return render(request, "story/relations.html", _relations_context(membership, character))


def _relations_answer(request, membership, character, *, error="", form=None):
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(
            reverse("character_detail", args=[membership.project.pk, character.pk]) + "#relations"
        )
    context = _relations_context(membership, character, error=error, form=form)
    return render(request, "story/relations.html", context, status=400 if error else 200)


@login_required
@require_POST
def relation_create(request, project_id, character_id):
    membership, character = access_character(request.user, project_id, character_id, Role.EDITOR)
    # The other character must be of this project: anything else is "no such character".
    _, target = access_character(request.user, project_id, request.POST.get("target"))
    try:
        story.relation_create(
            project=membership.project,
            source=character,
            target=target,
            kind=request.POST.get("kind", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        return _relations_answer(
            request, membership, character, error=_message(exc), form=request.POST
        )
    return _relations_answer(request, membership, character)


@login_required
@require_POST
def relation_delete(request, project_id, character_id, relation_id):
    membership, character = access_character(request.user, project_id, character_id, Role.EDITOR)
    try:
        relation = CharacterRelation.objects.get(
            Q(source=character) | Q(target=character),
            pk=relation_id,
            project=membership.project,
        )
    except (CharacterRelation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such relationship.") from None
    story.relation_delete(relation=relation)
    return _relations_answer(request, membership, character)
