"""The outline export: the story layer of a project as a document a producer reads
(``formats/outline.py`` writes Markdown, HTML or PDF from what this module reads)."""

from __future__ import annotations

from django.utils.text import slugify

from . import board, script_stats
from .formats import outline as doc
from .models import CharacterRole, Project

FORMATS = {
    # name: (extension, content type)
    "md": ("md", "text/markdown; charset=utf-8"),
    "html": ("html", "text/html; charset=utf-8"),
    "pdf": ("pdf", "application/pdf"),
}


def build(project: Project) -> doc.Outline:
    bible = getattr(project, "bible", None)
    stats = script_stats.script_stats(project, wait=False)
    start_pages: dict[int, int] = {}
    if stats is not None and len(stats.scene_ids) == len(stats.report.scenes):
        start_pages = {
            sid: row.start_page
            for sid, row in zip(stats.scene_ids, stats.report.scenes, strict=True)
        }
    roles = dict(CharacterRole.choices)
    characters = [
        doc.OutlineCharacter(
            name=c.name,
            role=roles.get(c.role, "") if c.role else "",
            want=c.want,
            need=c.need,
            arc_start=c.arc_start,
            arc_end=c.arc_end,
        )
        for c in project.characters.order_by("name")
    ]
    plotlines = [
        doc.OutlinePlotline(label=p.label, name=p.name, description=p.description)
        for p in project.plotlines.order_by("position", "pk")
    ]
    acts: dict[int, list[doc.OutlineCard]] = {}
    for beat in board.outline(project.pk):
        scene = beat.scene
        acts.setdefault(beat.act, []).append(
            doc.OutlineCard(
                title=beat.title,
                summary=beat.summary,
                sequence=beat.sequence,
                plotlines=tuple(p.name for p in beat.plotlines.all()),
                characters=tuple(c.name for c in beat.characters.all()),
                scene=f"{scene.number}. {scene.heading}" if scene else "",
                page=start_pages.get(scene.pk) if scene else None,
            )
        )
    return doc.Outline(
        title=project.title,
        logline=project.logline,
        genre=project.genre,
        tone=bible.tone if bible else "",
        themes=bible.themes if bible else "",
        characters=characters,
        plotlines=plotlines,
        acts=sorted(acts.items()),
    )


def export(project: Project, fmt: str) -> tuple[bytes, str, str]:
    """(content, content type, file name) of the outline in ``fmt`` ("md", "html", "pdf")."""
    ext, ctype = FORMATS[fmt]
    outline = build(project)
    if fmt == "md":
        data = doc.to_markdown(outline).encode("utf-8")
    elif fmt == "html":
        data = doc.to_html(outline).encode("utf-8")
    else:
        data = doc.to_pdf(outline)
    name = (slugify(project.title)[:80].strip("-") or "script") + f"-outline.{ext}"
    return data, ctype, name
