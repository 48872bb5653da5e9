"""Assemble a project (or one scene) into Fountain, and export it as Fountain, FDX, PDF or HTML.

The whole script is the front matter (title page and opening text) followed by the
scenes in order, each written as its heading line, an empty line and its text. The title
page says what the project's credits say (``credits.py``: Title, Credit, Author(s),
Source, Draft date, Contact, Copyright, Notes). A project with an imported front matter
(kept in ``Project.notes``, see ``imports.py``) exports it as it was, except the entries
whose credit was changed since; a project without one gets a title page built from its
credits, with the owners' names as Author(s) and the day the project last changed as the
Draft date when those credits are empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import slugify

from . import credits
from . import notes as scene_notes
from .formats import fdx, fountain, grammar, html, pdf, reports
from .formats.model import Element, ElementType, Script, TitleEntry, strip_markup
from .formats.pagination import A4, LETTER, auto_contd, number_scenes
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


def scene_source(scene: Scene, *, notes: bool = False) -> str:
    """Return one scene as Fountain: heading line, an empty line, then its text (with
    ``notes``: its open notes on the text as ``[[notes]]``, ``notes.with_notes``)."""
    text = scene_notes.with_notes(scene, scene.text) if notes else scene.text
    return f"{scene.heading}\n\n{text}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _owner_names(project: Project) -> str:
    owners = (
        project.memberships.filter(role=Role.OWNER)
        .select_related("user")
        .order_by("added_at", "pk")
    )
    names = [m.user.get_full_name().strip() or m.user.get_username() for m in owners]
    return " & ".join(names)


def _draft_day(project: Project) -> str:
    if not project.updated_at:
        return ""
    day = project.updated_at.date()
    return f"{day:%B} {day.day}, {day.year}"


def _has_own_title_page(project: Project) -> bool:
    _, front = split_notes(project.notes)
    return front is not None and bool(front.strip())


def title_page_fallbacks(project: Project) -> dict[str, str]:
    """Return what the title page prints for empty authors and draft date ({} if nothing:
    a project with an imported title page prints only what its credits say)."""
    if _has_own_title_page(project):
        return {}
    return {"authors": _owner_names(project), "draft_date": _draft_day(project)}


def _credit_entries(project: Project, *, fallbacks: bool) -> list[TitleEntry]:
    """Return the title page entries of the project's credits, Title first.

    With ``fallbacks`` (a title page built from scratch), empty authors read as the
    owners' names and an empty draft date as the day the project last changed.
    """
    entries = [TitleEntry("Title", project.title)]
    for credit in credits.CREDITS:
        value = getattr(project, credit.field)
        if not value and fallbacks and credit.field == "authors":
            value = _owner_names(project)
        if not value and fallbacks and credit.field == "draft_date":
            value = _draft_day(project)
        if value:
            key = credits.author_key(value) if credit.field == "authors" else credit.key
            entries.append(TitleEntry(key, value))
    return entries


def _credit_name(key: str) -> str | None:
    """Return "title" or the credit field a title page key is read as (None: neither)."""
    key = key.strip().lower()
    if key == "title":
        return "title"
    credit = credits.BY_KEY.get(key)
    return credit.field if credit else None


def _title_matches(project: Project, value: str) -> bool:
    return _first_line(strip_markup(value))[:200] == project.title


def _merged_title_page(project: Project, stored: list[TitleEntry]) -> list[TitleEntry]:
    """Return an imported title page updated to the project's credits.

    Each entry whose credit still says what the import made of it is kept as written
    (emphasis, line breaks, key spelling); a changed one is rewritten, an emptied one
    left out, a credit the page lacks added in its place. Other keys stay as they are.
    """
    # The entry each credit was read from: the first with a value (as the importer reads).
    source: dict[str, int] = {}
    for i, entry in enumerate(stored):
        name = _credit_name(entry.key)
        if name is None:
            continue
        if name not in source or (entry.value.strip() and not stored[source[name]].value.strip()):
            source[name] = i
    read_from = {i: name for name, i in source.items()}
    order = ["title", *credits.CREDIT_FIELDS]
    result: list[tuple[str | None, TitleEntry]] = []
    for i, entry in enumerate(stored):
        name = read_from.get(i)
        if name is None:
            result.append((None, entry))
        elif name == "title":
            title = entry if _title_matches(project, entry.value) else None
            result.append((name, title or TitleEntry("Title", project.title)))
        else:
            value = getattr(project, name)
            if credits.from_title_page(name, entry.value) == value:
                result.append((name, entry))
            elif value:
                result.append((name, TitleEntry(entry.key.strip(), value)))
    for entry in _credit_entries(project, fallbacks=False):
        name = _credit_name(entry.key)
        if name in source:
            continue
        rank = order.index(name)
        at = 0
        for k, (other, _) in enumerate(result):
            if other is not None and order.index(other) < rank:
                at = k + 1
        result.insert(at, (name, entry))
    return [entry for _, entry in result]


def _built_title_page(project: Project) -> str:
    return fountain.dumps(Script(title_page=_credit_entries(project, fallbacks=True)))


def front_matter(project: Project) -> str:
    """Return the Fountain written before scene 1: the title page and any opening text.

    It ends with an empty line, so the first scene heading reads as one.
    """
    if not _has_own_title_page(project):
        return _built_title_page(project) + "\n\n"
    _, front = split_notes(project.notes)
    parsed = fountain.parse(front)
    if parsed.title_page:
        title_text = "\n".join(e.raw or "" for e in parsed.title_page)
        entries = _merged_title_page(project, parsed.title_page)
        unchanged = len(entries) == len(parsed.title_page) and all(
            a is b for a, b in zip(entries, parsed.title_page, strict=True)
        )
        if not unchanged and front.startswith(title_text):
            # Credits changed since the import: rewrite those entries, keep the rest as is.
            front = fountain.dumps(Script(title_page=entries)) + front[len(title_text) :]
    elif any(getattr(project, f) for f in credits.CREDIT_FIELDS if f != "credit"):
        # An opening without a title page, and credits filled in since: put one before it.
        page = fountain.dumps(Script(title_page=_credit_entries(project, fallbacks=False)))
        front = page + ("\n" if front.startswith("\n") else "\n\n") + front
    # Notes saved through the settings form lose trailing line ends; put the gap back.
    if not front.endswith("\n\n"):
        front = front.rstrip("\n") + "\n\n"
    return front


def project_source(
    project: Project, scenes=None, *, notes: bool = False, outline: bool = False
) -> str:
    """Return the whole script as Fountain text (``notes``: with open notes on the text;
    ``outline``: with "# Act N" sections and "= summary" synopses from the beat cards,
    ``story.outline_marks``)."""
    if scenes is None:
        scenes = (
            Scene.objects.filter(project=project).only("heading", "text").order_by("position", "pk")
        )
    noted = scene_notes.scenes_with_open_notes(project) if notes else set()
    blocks = [scene_source(s, notes=s.pk in noted) for s in scenes]
    if outline:
        from .story import outline_marks  # story.py builds on the services

        marks, act = outline_marks(project.pk), 0
        for i, scene in enumerate(scenes):
            if scene.pk not in marks:
                continue
            beat_act, summary = marks[scene.pk]
            heading, _, rest = blocks[i].partition("\n")
            blocks[i] = f"{heading}\n= {summary}\n{rest}"
            if beat_act > act:
                act = beat_act
                blocks[i] = f"# Act {act}\n\n{blocks[i]}"
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


def render(
    source: str,
    fmt: str,
    *,
    title: str,
    paper: str = "letter",
    numbers: bool | list[str] = False,
    contd: bool = False,
):
    """Return (bytes, content type) of Fountain ``source`` in format ``fmt``.

    ``numbers`` (PDF): True numbers the scenes as the script reads (1..n, keeping the
    headings' own ``#12A#``); a list gives the number of each heading in order.
    ``contd`` (PDF, HTML): the project's automatic (CONT'D) (``pagination.auto_contd``).
    """
    if fmt == "fountain":
        return source.encode("utf-8"), FORMATS[fmt][1]
    script = fountain.parse(source)
    if contd and fmt in ("pdf", "html"):
        script = auto_contd(script)
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
    project: Project,
    fmt: str,
    *,
    paper: str = "letter",
    numbers: bool = False,
    notes: bool = False,
) -> Export:
    """Export the whole script (``notes``: open notes on the text, Fountain only)."""
    data, ctype = render(
        project_source(project, notes=notes and fmt == "fountain", outline=fmt == "fountain"),
        fmt,
        title=project.title,
        paper=paper,
        numbers=numbers,
        contd=project.auto_contd,
    )
    return Export(data, ctype, f"{_slug(project.title)}.{FORMATS[fmt][0]}")


def scene_number(scene: Scene) -> str:
    """Return the number ``scene`` prints with in its whole script's numbered PDF."""
    rows = list(
        Scene.objects.filter(project_id=scene.project_id)
        .order_by("position", "pk")
        .values_list("pk", "heading")
    )
    elements = []
    for _, heading in rows:
        parsed = grammar.parse_scene_heading(heading)
        number = parsed.number if parsed else None
        elements.append(Element(ElementType.SCENE_HEADING, heading, scene_number=number))
    numbers = number_scenes(Script(elements=elements))
    return next((n for (pk, _), n in zip(rows, numbers, strict=True) if pk == scene.pk), "")


def export_scene(
    scene: Scene,
    fmt: str,
    *,
    paper: str = "letter",
    numbers: bool = False,
    notes: bool = False,
) -> Export:
    """Export one scene (no title page); with ``numbers`` it carries its number in the script;
    with ``notes`` (Fountain only) its open notes on the text."""
    title = f"{scene.project.title} — {scene.heading}"
    labels = [scene_number(scene)] if numbers and fmt == "pdf" else numbers
    data, ctype = render(
        scene_source(scene, notes=notes and fmt == "fountain"),
        fmt,
        title=title,
        paper=paper,
        numbers=labels,
        contd=scene.project.auto_contd,
    )
    name = f"{_slug(scene.project.title)}-scene-{scene.number}.{FORMATS[fmt][0]}"
    return Export(data, ctype, name)
