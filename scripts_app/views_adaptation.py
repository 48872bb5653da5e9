"""The book a project was adapted from (``adaptation.py``): its chapters with the scenes
made from each, the names found in it, and a chapter's text read-only with where each
scene begins. Members only (outsiders 404); nobody edits the book. Its names page: who is who, confirmed
by an editor."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET

from . import panels
from .access import access_project, can
from .adaptation import NameChoice, NamesResult, confirm_names, parse_aliases, story_spans
from .models import Character, Role, SceneSource, SourceText


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
            "matter": bool(ch.get("matter")),
        }
        for i, ch in enumerate(source.chapters or [])
    ]
    shown = None
    chapter_panels = []
    wanted = request.GET.get("chapter", "")
    if wanted.isascii() and wanted.isdigit() and int(wanted) < len(chapters):
        i = int(wanted)
        starts = {link.first: link.scene for link in by_chapter.get(i, [])}
        spans = source.chapters[i].get("paragraphs", [])
        shown = {
            "chapter": chapters[i],
            "paragraphs": [
                {"text": source.text[s:e], "scene": starts.get(n)} for n, (s, e) in enumerate(spans)
            ],
        }
        # What other apps show for the chapter (the model's drafts of its scenes).
        chapter_panels = panels.render(
            "book_side", request, membership=membership, project=project, source=source, chapter=i
        )
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
            "words": f"{source.words:,}",
            "chapters": chapters,
            "shown": shown,
            "names": names,
            "panels": chapter_panels,
        },
    )


MAX_NAME_ROWS = 80  # the names form lists the most mentioned; the rest stay as found


def first_mention(
    text: str, forms: list[str], width: int = 50, span: tuple[int, int] | None = None
) -> str:
    """Where the book first names someone by any of ``forms`` (within ``span`` of
    ``text``: the story, not the title page): the words around it ("…Miss Vance looked
    back at Ashford once…"), for the team to tell who it is."""
    forms = [f for f in forms if f]
    if not forms:
        return ""
    pattern = re.compile(
        r"\b(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + r")\b"
    )
    low, high = span or (0, len(text))
    m = pattern.search(text, low, high)
    if m is None:
        return ""
    start, end = max(low, m.start() - width), min(high, m.end() + width)
    before = text[start : m.start()]
    after = text[m.end() : end]
    if start > low:
        before = "…" + before.split(" ", 1)[-1]
    if end < high:
        after = after.rsplit(" ", 1)[0] + "…"
    return " ".join(f"{before}{m.group(0)}{after}".split())


def _story_span(source: SourceText) -> tuple[int, int]:
    """From the first paragraph to the last of the chapters that tell the story (not a
    title page, a preface or notes: ``matter`` in ``SourceText.chapters``)."""
    spans = story_spans(source)
    return (spans[0][0], spans[-1][1]) if spans else (0, len(source.text))


def _name_rows(source: SourceText, characters: set[str]) -> list[dict]:
    rows = []
    story = _story_span(source)
    for name, info in list((source.cast or {}).items())[:MAX_NAME_ROWS]:
        action = "none" if info.get("person") is False else "keep"
        rows.append(
            {
                "name": name,
                "mentions": info.get("mentions", 0),
                "aliases": ", ".join(info.get("aliases") or []),
                "action": action,
                "into": "",
                "character": name in characters,
                "confirmed": bool(info.get("confirmed")),
                "first": first_mention(
                    source.text, [name.title(), *(info.get("aliases") or [])], span=story
                ),
            }
        )
    return rows


@login_required
def book_names(request, project_id, source_id):
    """The names found in the book: who is who. Editors correct aliases, say a name is no
    person, add one as a character, or say two are one person; saving reads the untouched
    scenes' dialogue again and merges the characters (``adaptation.confirm_names``)."""
    need = Role.EDITOR if request.method == "POST" else Role.VIEWER
    membership = access_project(request.user, project_id, need)
    project = membership.project
    source = get_object_or_404(SourceText, pk=source_id, project=project)
    characters = set(Character.objects.filter(project=project).values_list("name", flat=True))
    rows = _name_rows(source, characters)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        choices, known = [], {r["name"] for r in rows} | characters
        posted = {r["name"]: r for r in rows}
        for i in range(len(rows)):
            name = request.POST.get(f"name_{i}", "")
            if name not in posted:
                continue
            row = posted[name]
            row["aliases"] = request.POST.get(f"aliases_{i}", "")[:4000]
            row["action"] = request.POST.get(f"action_{i}", "keep")
            row["into"] = " ".join(request.POST.get(f"into_{i}", "").split()).upper()[:100]
            try:
                aliases = parse_aliases(row["aliases"])
            except ValidationError as exc:
                errors.append(f"{name}: {' '.join(exc.messages)}")
                continue
            if row["action"] == "merge" and row["into"] not in known:
                errors.append(
                    f"{name}: “{row['into'] or '(empty)'}” is not a character or a name in "
                    "the book; pick one from the list."
                )
                continue
            choices.append(NameChoice(name, aliases, row["action"], row["into"]))
        if not errors:
            try:
                result = confirm_names(source=source, user=request.user, choices=choices)
            except ValidationError as exc:
                errors.append(" ".join(exc.messages))
            else:
                messages.success(request, _names_message(result))
                return redirect("book_names", project.pk, source.pk)
        status = 400
    return render(
        request,
        "formats/book_names.html",
        {
            "project": project,
            "source": source,
            "rows": rows,
            "people": sorted(characters | {r["name"] for r in rows}),
            "can_edit": can(membership, Role.EDITOR),
            "errors": errors,
        },
        status=status,
    )


def _names_message(result: NamesResult) -> str:
    parts = ["Names saved."]
    if result.reread:
        parts.append(
            f"Dialogue read again in {result.reread} scene{pluralize(result.reread)} "
            "nobody had changed."
        )
    if result.untouched:
        n = result.untouched
        parts.append(
            f"{n} scene{pluralize(n)} someone had already edited kept {'its' if n == 1 else 'their'} text."
        )
    for name, into, cues in result.merged:
        renamed = f" ({cues} more cue{pluralize(cues)} renamed)" if cues else ""
        parts.append(f"{name} merged into {into}{renamed}.")
    if result.added:
        parts.append("New characters: " + ", ".join(result.added) + ".")
    return " ".join(parts)
