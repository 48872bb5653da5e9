"""The coverage page: an automatic read of the script — structure and pacing, characters,
emotional tone, problems with links to their lines — now, as of a date, or compared; and
its PDF. Members of the project only (outsiders 404); read-only, any role."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import coverage as cov
from . import coverage_charts as charts
from . import panels
from .access import access_project
from .board import DEFAULT_GUIDES, parse_guides
from .formats.coverage_pdf import coverage_pdf
from .models import StoryBible

TOP_CHARACTERS = 12
NETWORK_SIZE = 10


def _day(value: str) -> datetime | None:
    """``YYYY-MM-DD`` → the end of that day here; None for nothing; ValueError otherwise."""
    value = (value or "").strip()
    if not value:
        return None
    day = datetime.strptime(value, "%Y-%m-%d").date()  # ValueError on garbage
    if day.year < 2000 or day > timezone.localdate() + timedelta(days=1):
        raise ValueError("out of range")
    return timezone.make_aware(datetime.combine(day, time.max))


def _pages_label(eighths: int) -> str:
    whole, rest = divmod(eighths, 8)
    if not rest:
        return str(whole)
    return f"{whole} {rest}/8" if whole else f"{rest}/8"


def _context(project, pc: cov.ProjectCoverage) -> dict:
    c = pc.coverage
    base = reverse("scene_detail", args=[project.pk, 0]).removesuffix("0/")
    eighths = [s.eighths for s in c.scenes]
    titles = [f"{s.index + 1}. {s.heading}" for s in c.scenes]
    total = sum(max(e, 1) for e in eighths) or 1
    # Act starts along the script, beside the page guides of the structure view.
    guides = []
    bible = StoryBible.objects.filter(project=project).first()
    try:
        page_guides = parse_guides(bible.page_guides if bible else DEFAULT_GUIDES)
    except ValidationError:  # emptied on purpose: no guides
        page_guides = []
    pages = max(c.pages, 1)
    for p in page_guides:
        if p < pages:
            guides.append((p / pages, f"Page {p}: a usual act break"))
    starts, x = [], 0
    for s in c.scenes:
        starts.append(x / total)
        x += max(s.eighths, 1)
    acts = [
        {"label": label, "scene": first + 1, "pages": _pages_label(e), "at": starts[first]}
        for label, first, e in c.structure.acts
        if first < len(starts)
    ]
    for a in acts[1:]:
        guides.append((a["at"], f"{a['label']} starts (scene {a['scene']})"))
    dialogue = [s.dialogue_share for s in c.scenes]
    main = c.characters[:TOP_CHARACTERS]
    net_names = [ch.name for ch in c.characters[:NETWORK_SIZE]]
    edges = [
        (i.a, i.b, len(i.shared_scenes) + i.exchanges)
        for i in c.interactions
        if i.a in net_names and i.b in net_names and (len(i.shared_scenes) + i.exchanges)
    ]
    problems = [
        {
            "p": p,
            "url": f"{base}{p.scene_key}/" + (f"?line={p.line}" if p.line else ""),
        }
        for p in c.problems
    ]
    kinds: dict[str, int] = {}
    for p in c.problems:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    return {
        "c": c,
        "pc": pc,
        "scene_base": base,
        "pages_label": _pages_label(c.eighths),
        "acts": acts,
        "length_chart": charts.scene_strip(
            eighths,
            [s.eighths for s in c.scenes],
            [
                f"{t} — {_pages_label(s.eighths)} pages"
                for t, s in zip(titles, c.scenes, strict=True)
            ],
            label="Scene lengths along the script",
            guides=guides,
            marks=[p.scene_index for p in c.problems if p.kind == "long-scene"],
        ),
        "dialogue_chart": charts.scene_strip(
            eighths,
            dialogue,
            [f"{t} — {v:.0%} dialogue" for t, v in zip(titles, dialogue, strict=True)],
            label="Share of dialogue in each scene, along the script",
            top=1.0,
        ),
        "int_ext_bar": charts.share_bar(
            sorted(c.structure.int_ext.items(), key=lambda kv: -kv[1]),
            label="Interior and exterior scenes, by pages",
        ),
        "time_bar": charts.share_bar(
            sorted(c.structure.times.items(), key=lambda kv: -kv[1]),
            label="Day and night scenes, by pages",
        ),
        "presence_chart": charts.presence(eighths, [(ch.name, ch.scenes) for ch in main]),
        "network_chart": charts.network(net_names, edges),
        "emotion_chart": charts.emotion_curve(
            eighths,
            [e.valence for e in c.emotion],
            [e.smoothed for e in c.emotion],
            titles,
            peaks=c.peaks,
            troughs=c.troughs,
        ),
        "peaks": [c.scenes[i] for i in c.peaks],
        "troughs": [c.scenes[i] for i in c.troughs],
        "main": main,
        "problems": problems,
        "problem_kinds": sorted(kinds.items(), key=lambda kv: -kv[1]),
        "locations": [
            {"name": name, "pages": _pages_label(e), "share": share}
            for name, e, share in c.structure.locations
        ],
    }


@login_required
@require_GET
def script_coverage(request, project_id):
    """The coverage of the script now, or ``?at=YYYY-MM-DD``; ``?compare=YYYY-MM-DD``
    lays that date's coverage beside today's."""
    membership = access_project(request.user, project_id)
    project = membership.project
    error = ""
    try:
        at = _day(request.GET.get("at", ""))
        against = _day(request.GET.get("compare", ""))
    except ValueError:
        at = against = None
        error = "Give a date as YYYY-MM-DD, no later than today."
    pc = cov.project_coverage(project, at=at)
    context = {"project": project, "at": at, "error": error, **_context(project, pc)}
    if at is None:
        context["panels"] = panels.render(
            "coverage_side", request, membership=membership, project=project, coverage=pc
        )
    if against is not None:
        before = cov.project_coverage(project, at=against)
        context["compare"] = cov.compare(before.coverage, pc.coverage)
        context["compare_at"] = against
    return render(request, "formats/coverage.html", context)


@login_required
@require_GET
def script_coverage_pdf(request, project_id):
    membership = access_project(request.user, project_id)
    project = membership.project
    pc = cov.project_coverage(project)
    data = coverage_pdf(pc.coverage, title=project.title, date=timezone.localdate().isoformat())
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="coverage-{project.pk}.pdf"'
    return response
