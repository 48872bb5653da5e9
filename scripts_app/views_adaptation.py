"""The book a project was adapted from (``adaptation.py``): its chapters with the scenes
made from each, the names found in it, and a chapter's text read-only with where each
scene begins. Members only (outsiders 404); nobody edits the book."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .access import access_project
from .models import SceneSource, SourceText


@login_required
@require_GET
def book_detail(request, project_id, source_id):
    membership = access_project(request.user, project_id)
    project = membership.project
    source = get_object_or_404(SourceText, pk=source_id, project=project)
    links = list(
        SceneSource.objects.filter(source=source)
        .select_related("scene")
        .order_by("chapter", "first", "scene__position")
    )
    by_chapter: dict[int, list] = {}
    for link in links:
        by_chapter.setdefault(link.chapter, []).append(link)
    chapters = [
        {
            "index": i,
            "title": ch.get("title") or ("Opening" if i == 0 else f"Part {i + 1}"),
            "paragraphs": len(ch.get("paragraphs", [])),
            "scenes": [link.scene for link in by_chapter.get(i, [])],
        }
        for i, ch in enumerate(source.chapters or [])
    ]
    shown = None
    wanted = request.GET.get("chapter", "")
    if wanted.isdigit() and int(wanted) < len(chapters):
        i = int(wanted)
        starts = {link.first: link.scene for link in by_chapter.get(i, [])}
        spans = source.chapters[i].get("paragraphs", [])
        shown = {
            "chapter": chapters[i],
            "paragraphs": [
                {"text": source.text[s:e], "scene": starts.get(n)} for n, (s, e) in enumerate(spans)
            ],
        }
    names = [
        {"name": name, "mentions": info.get("mentions", 0), "aliases": info.get("aliases", [])}
        for name, info in (source.cast or {}).items()
    ][:60]
    return render(
        request,
        "formats/book.html",
        {
            "project": project,
            "source": source,
            "chapters": chapters,
            "shown": shown,
            "names": names,
        },
    )
