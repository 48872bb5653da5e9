"""The beat board pages (``board.py`` holds the rules): the board, the outline as a list,
the structure view (plotlines across the script, act breaks against page guides), a
card's page, and the writes (editors only; viewers and commenters read)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from . import board, outline, panels, script_stats
from .access import access_project, can
from .models import Beat, Role
from .views_formats import eighths_text

VIEWS = ("board", "list", "structure")


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _board_url(project_id: int, view: str = "board") -> str:
    url = reverse("board", args=[project_id])
    return url if view == "board" else f"{url}?view={view}"


def _start_pages(project) -> tuple[dict, int | None]:
    """Scene id -> the page it starts on, and the page count, from the cached figures
    (``script_stats``; a big script not counted yet gives none, and a count starts)."""
    stats = script_stats.script_stats(project, wait=False)
    if stats is None:
        return {}, None
    pages = {
        pk: row.start_page for pk, row in zip(stats.scene_ids, stats.report.scenes, strict=False)
    }
    return pages, stats.report.pages


def _context(request, membership, *, view: str = "board", error: str = "", form=None):
    project = membership.project
    cards = list(board.outline(project.pk))
    acts = board.acts_shown(project.pk)
    by_act = {act: [] for act in acts}
    for card in cards:
        card.target_text = eighths_text(card.target_eighths) if card.target_eighths else ""
        for p in card.plotlines.all():
            p.safe_colour = board.safe_colour(p.colour)
        by_act.setdefault(card.act, []).append(card)
    plotlines = _plotlines(project)
    context = {
        "project": project,
        "membership": membership,
        "can_edit": can(membership, Role.EDITOR),
        "view": view,
        "cards": cards,
        "acts": [(act, by_act[act]) for act in sorted(by_act)],
        "act_numbers": sorted(by_act),
        "plotlines": plotlines,
        "characters": list(project.characters.only("id", "name")),
        "max_acts": board.MAX_ACTS,
        "limits": {"title": board.TITLE_MAX, "summary": board.SUMMARY_MAX},
        "error": error,
        "form": form or {},
        "fragment_url": reverse("board", args=[project.pk]) + f"?view={view}&fragment=1",
    }
    if view in ("list", "structure"):
        start_pages, pages = _start_pages(project)
        for card in cards:
            card.start_page = start_pages.get(card.scene_id) if card.scene_id else None
        context["pages"] = pages
        context["counted"] = pages is not None
    if view == "structure":
        guides = board.page_guides(project.pk)
        context["guides"] = guides
        context["guides_text"] = ",".join(str(g) for g in guides)
        used = sorted(act for act, in_act in by_act.items() if in_act)
        context["breaks"] = board.act_breaks(cards, used, guides, start_pages)
        context["grid"] = [
            (p, [p.pk in {q.pk for q in card.plotlines.all()} for card in cards]) for p in plotlines
        ]
    return context


def _plotlines(project) -> list:
    """The project's plotlines, each with a colour safe to put in a style attribute."""
    plotlines = list(project.plotlines.all())
    for p in plotlines:
        p.safe_colour = board.safe_colour(p.colour)
    return plotlines


@login_required
@require_GET
def board_page(request, project_id):
    """The board (``?view=list``: the outline as a list; ``?view=structure``: plotlines
    and act breaks). ``?fragment=1`` renders only the live part (story.js re-fetches it)."""
    membership = access_project(request.user, project_id)
    view = request.GET.get("view", "board")
    if view not in VIEWS:
        view = "board"
    context = _context(request, membership, view=view)
    if request.GET.get("fragment"):
        return render(request, "board/_live.html", context)
    context["panels"] = panels.render(
        "story_side", request, membership=membership, project=membership.project
    )
    return render(request, "board/board.html", context)


def _card_fields(post) -> dict:
    return {
        "title": post.get("title", ""),
        "summary": post.get("summary", ""),
        "sequence": post.get("sequence", ""),
        "target_eighths": board.parse_target(post.get("target", "")),
        "plotline_ids": post.getlist("plotlines"),
        "character_ids": post.getlist("characters"),
    }


def _form_echo(post) -> dict:
    """What the writer sent, to show it back in the form."""
    return {
        "title": post.get("title", "")[: board.TITLE_MAX * 2],
        "summary": post.get("summary", "")[: board.SUMMARY_MAX * 2],
        "sequence": post.get("sequence", "")[:200],
        "target": post.get("target", "")[:20],
        "act": post.get("act", ""),
        "plotlines": [str(v) for v in post.getlist("plotlines")],
        "characters": [str(v) for v in post.getlist("characters")],
    }


@login_required
@require_POST
def beat_create(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    project = membership.project
    try:
        beat = board.beat_create(
            project=project,
            user=request.user,
            act=request.POST.get("act", 1),
            **_card_fields(request.POST),
        )
    except ValidationError as exc:
        context = _context(request, membership, error=_errors(exc), form=_form_echo(request.POST))
        return render(request, "board/board.html", context, status=400)
    return redirect(_board_url(project.pk) + f"#beat-{beat.pk}")


def _beat_or_404(project, beat_id) -> Beat:
    beat = (
        Beat.objects.filter(pk=beat_id, project=project)
        .select_related("scene")
        .prefetch_related("plotlines", "characters")
        .first()
    )
    if beat is None:
        raise Http404("No such card.")
    return beat


def _card_page(request, membership, beat, *, status=200, error="", form=None, stale=None):
    project = membership.project
    if form is None:
        form = {
            "title": beat.title,
            "summary": beat.summary,
            "sequence": beat.sequence,
            "target": eighths_text(beat.target_eighths) if beat.target_eighths else "",
            "plotlines": [str(p.pk) for p in beat.plotlines.all()],
            "characters": [str(c.pk) for c in beat.characters.all()],
        }
    plotlines = _plotlines(project)
    context = {
        "project": project,
        "membership": membership,
        "can_edit": can(membership, Role.EDITOR),
        "beat": beat,
        "form": form,
        "error": error,
        "stale": stale,
        "plotlines": plotlines,
        "characters": list(project.characters.only("id", "name")),
        "limits": {"title": board.TITLE_MAX, "summary": board.SUMMARY_MAX},
        "placeholder_heading": board.PLACEHOLDER_HEADING,
        "panels": panels.render(
            "story_side", request, membership=membership, project=project, beat=beat
        ),
    }
    return render(request, "board/beat.html", context, status=status)


@login_required
def beat_detail(request, project_id, beat_id):
    """A card's page: its edit form for editors (a save names the version it started from)."""
    if request.method == "POST":
        membership = access_project(request.user, project_id, Role.EDITOR)
    else:
        membership = access_project(request.user, project_id)
    project = membership.project
    if request.method != "POST":
        return _card_page(request, membership, _beat_or_404(project, beat_id))
    echo = _form_echo(request.POST)
    try:
        board.beat_update(
            project=project,
            beat_id=beat_id,
            version=request.POST.get("version"),
            **_card_fields(request.POST),
        )
    except board.CardGone:
        context = {"project": project, "membership": membership, "form": echo}
        return render(request, "board/gone.html", context, status=410)
    except board.StaleCard as stale:
        current = _beat_or_404(project, beat_id)
        return _card_page(request, membership, current, status=409, form=echo, stale=stale)
    except ValidationError as exc:
        beat = _beat_or_404(project, beat_id)
        return _card_page(request, membership, beat, status=400, error=_errors(exc), form=echo)
    return redirect(_board_url(project.pk) + f"#beat-{beat_id}")


@login_required
@require_POST
def beat_delete(request, project_id, beat_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    board.beat_delete(project=membership.project, beat_id=beat_id)
    return redirect(_board_url(membership.project.pk))


@login_required
@require_POST
def beat_move(request, project_id, beat_id):
    """Move a card (drag or Alt+arrows): JSON {act, position} or {error} (400)."""
    membership = access_project(request.user, project_id, Role.EDITOR)
    try:
        beat = board.beat_move(
            project=membership.project,
            beat_id=beat_id,
            act=request.POST.get("act"),
            position=request.POST.get("position"),
        )
    except ValidationError as exc:
        return JsonResponse({"error": _errors(exc)}, status=400)
    count = Beat.objects.filter(project_id=project_id, act=beat.act).count()
    return JsonResponse({"id": beat.pk, "act": beat.act, "position": beat.position, "count": count})


@login_required
@require_POST
def beat_make_scene(request, project_id, beat_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    project = membership.project
    try:
        scene = board.beat_make_scene(
            project=project,
            beat_id=beat_id,
            user=request.user,
            heading=request.POST.get("heading", ""),
        )
    except ValidationError as exc:
        beat = Beat.objects.filter(pk=beat_id, project=project).first()
        if beat is None:
            context = {"project": project, "membership": membership, "form": {}}
            return render(request, "board/gone.html", context, status=410)
        return _card_page(
            request, membership, _beat_or_404(project, beat_id), status=400, error=_errors(exc)
        )
    return redirect(scene.get_absolute_url())


@login_required
@require_POST
def page_guides(request, project_id):
    membership = access_project(request.user, project_id, Role.EDITOR)
    try:
        board.page_guides_update(project=membership.project, guides=request.POST.get("guides", ""))
    except ValidationError as exc:
        context = _context(request, membership, view="structure", error=_errors(exc))
        context["guides_text"] = request.POST.get("guides", "")[:200]
        return render(request, "board/board.html", context, status=400)
    return redirect(_board_url(membership.project.pk, "structure"))


@login_required
@require_GET
def outline_export(request, project_id):
    """The outline as Markdown, HTML or PDF (``?format=md|html|pdf``), for anyone in the
    project."""
    membership = access_project(request.user, project_id)
    fmt = request.GET.get("format", "pdf")
    if fmt not in outline.FORMATS:
        return HttpResponseBadRequest("Choose md, html or pdf.")
    data, ctype, name = outline.export(membership.project, fmt)
    response = HttpResponse(data, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
