"""Assemble a project (or one scene) into Fountain, and export it as Fountain, FDX, PDF or HTML.

The whole script is the front matter (title page and opening text) followed by the
scenes in order, each written as its heading line, an empty line and its text. The front
matter is the imported one kept in ``Project.notes`` (see ``imports.py``), with its Title
replaced if the project was renamed since; a project without one gets a title page built
from the project: Title, Credit ("Written by"), Author(s) (the owners' usernames) and
Draft date (the day the project last changed).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import slugify

from .formats import fdx, fountain, html, pdf, reports
from .formats.model import Script, TitleEntry, strip_markup
from .formats.pagination import A4, LETTER
from .imports import split_notes
from .models import Project, Role, Scene

FORMATS = {
    # name: (file extension, content type, label)
    "fountain": ("fountain", "text/plain; charset=utf-8", "Fountain"),
    "fdx": ("fdx", "application/xml; charset=utf-8", "Final Draft (.fdx)"),
    "pdf": ("pdf", "application/pdf", "PDF"),
    "html": ("html", "text/html; charset=utf-8", "HTML"),
}
PAPER = {"letter": LETTER, "a4": A4}


@dataclass(frozen=True)
class Export:
    """A file to download."""

    content: bytes
    content_type: str
    filename: str


def scene_source(scene: Scene) -> str:
    """Return one scene as Fountain: heading line, an empty line, then its text."""
    return f"{scene.heading}\n\n{scene.text}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _built_title_page(project: Project) -> str:
    owners = list(
        project.memberships.filter(role=Role.OWNER)
        .order_by("added_at", "pk")
        .values_list("user__username", flat=True)
    )
    day = project.updated_at.date() if project.updated_at else None
    entries = [TitleEntry("Title", project.title), TitleEntry("Credit", "Written by")]
    if owners:
        entries.append(TitleEntry("Author" if len(owners) == 1 else "Authors", " & ".join(owners)))
    if day:
        entries.append(TitleEntry("Draft date", f"{day:%B} {day.day}, {day.year}"))
    return fountain.dumps(Script(title_page=entries))


def front_matter(project: Project) -> str:
    """Return the Fountain written before scene 1: the title page and any opening text.

    It ends with an empty line, so the first scene heading reads as one.
    """
    _, front = split_notes(project.notes)
    if front is None or not front.strip():
        return _built_title_page(project) + "\n\n"
    parsed = fountain.parse(front)
    if parsed.title_page:
        title_text = "\n".join(e.raw or "" for e in parsed.title_page)
        stored = _first_line(strip_markup(parsed.title_field("title")))
        if stored != project.title and front.startswith(title_text):
            # Renamed since the import: write the new title, keep everything else as is.
            rest = front[len(title_text) :]
            entries = [e for e in parsed.title_page if e.key.strip().lower() != "title"]
            entries.insert(0, TitleEntry("Title", project.title))
            front = fountain.dumps(Script(title_page=entries)) + rest
    # Notes saved through the settings form lose trailing line ends; put the gap back.
    if not front.endswith("\n\n"):
        front = front.rstrip("\n") + "\n\n"
    return front


def project_source(project: Project, scenes=None) -> str:
    """Return the whole script as Fountain text."""
    if scenes is None:
        scenes = (
            Scene.objects.filter(project=project).only("heading", "text").order_by("position", "pk")
        )
    blocks = [scene_source(s) for s in scenes]
    # A heading needs an empty line before it: end every scene but the last with a newline.
    for i in range(len(blocks) - 1):
        if not blocks[i].endswith("\n"):
            blocks[i] += "\n"
    return front_matter(project) + "\n".join(blocks)


def project_report(project: Project) -> reports.ScriptReport:
    """Return page count, running time, per-scene lengths and the character report."""
    return reports.script_report(fountain.parse(project_source(project)))


def _slug(text: str, fallback: str = "script") -> str:
    return slugify(text)[:80].strip("-") or fallback


def render(source: str, fmt: str, *, title: str, paper: str = "letter", numbers: bool = False):
    """Return (bytes, content type) of Fountain ``source`` in format ``fmt``."""
    if fmt == "fountain":
        return source.encode("utf-8"), FORMATS[fmt][1]
    script = fountain.parse(source)
    if fmt == "fdx":
        data = fdx.dumps(script)
    elif fmt == "pdf":
        data = pdf.render_pdf(script, layout=PAPER.get(paper, LETTER), scene_numbers=numbers)
    elif fmt == "html":
        data = html.render_html_document(script, title=title).encode("utf-8")
    else:
        raise ValueError(f"Unknown export format {fmt!r}")
    return data, FORMATS[fmt][1]


def export_project(
    project: Project, fmt: str, *, paper: str = "letter", numbers: bool = False
) -> Export:
    """Export the whole script."""
    data, ctype = render(
        project_source(project), fmt, title=project.title, paper=paper, numbers=numbers
    )
    return Export(data, ctype, f"{_slug(project.title)}.{FORMATS[fmt][0]}")


def export_scene(scene: Scene, fmt: str, *, paper: str = "letter", numbers: bool = False) -> Export:
    """Export one scene (no title page)."""
    title = f"{scene.project.title} — {scene.heading}"
    data, ctype = render(scene_source(scene), fmt, title=title, paper=paper, numbers=numbers)
    name = f"{_slug(scene.project.title)}-scene-{scene.number}.{FORMATS[fmt][0]}"
    return Export(data, ctype, name)
