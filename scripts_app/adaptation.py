"""Adapting a book: a novel or story becomes a first screenplay, scene by scene, with its
source kept beside each scene.

The path (``adaptation_import``), all in one transaction (a failing book changes nothing):

1. **Read** the file (``formats/prose.py``: plain text with Project Gutenberg's header and
   footer stripped, Markdown, EPUB parsed safely): chapters, paragraphs, scene breaks.
2. **Break down** each chapter (``formats/adaptation.py``): the book's characters and
   their aliases (one pass over the whole book, so "Lizzy" in chapter 40 is the
   ELIZABETH of chapter 1), quotations attributed to speakers, candidate scenes cut at
   breaks and changes of place or time, each with a proposed heading ("?" where the text
   does not say), the characters present and a synopsis; then Fountain: narration as
   action, quotations as cues and dialogue, each cue with its source span.
3. **Store** through the screenplay importer (``imports._store``): the Fountain becomes
   scenes, characters (reused by name when the project has them) and casts exactly as an
   imported script would; then each scene gets its synopsis and a ``SceneSource`` (the
   passage and the cue map), and the book a ``SourceText`` (its cleaned text, read-only).

A big book goes through the import job (``imports.import_job_*``, kind "book"): the upload
returns at once and a progress page follows the chapters.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from . import imports
from .formats import FormatError, fountain, importer
from .formats.adaptation import attribute, breakdown, find_cast, to_fountain
from .formats.prose import Book, read_prose
from .models import Project, Scene, SceneSource, SourceText


@dataclass
class Adapted:
    """A book broken down: the Fountain of every scene and where each came from."""

    fountain: str
    scenes: list[dict] = field(default_factory=list)  # chapter, first, last, synopsis, cues
    cast: dict = field(default_factory=dict)


def front_matter(book: Book) -> tuple[str, str, int]:
    """A title and byline before the first chapter ("The Keeper's Daughter" / "by Ann
    Example"): ``(title, author, 1)`` — that untitled opening makes no scene; else
    ``("", "", 0)``."""
    if len(book.chapters) < 2 or book.chapters[0].title:
        return "", "", 0
    paras = [p.text.strip() for p in book.chapters[0].paragraphs]
    if not paras or len(paras) > 4 or any(len(p) > 120 for p in paras):
        return "", "", 0
    author = next((p[3:].strip() for p in paras[1:] if p.lower().startswith("by ")), "")
    return paras[0], author, 1


def adapt(book: Book, *, progress: Callable[[int, int], None] | None = None) -> Adapted:
    """Break a read book down into scenes of Fountain (no database)."""
    everything = [p.text for ch in book.chapters for p in ch.paragraphs]
    cast = find_cast(everything)
    blocks: list[str] = []
    out = Adapted("")
    total = len(book.chapters)
    skip = front_matter(book)[2]
    for ci, chapter in enumerate(book.chapters):
        paragraphs = [p.text for p in chapter.paragraphs]
        if not paragraphs or ci < skip:
            continue
        quotes = attribute(paragraphs, cast)
        for cut in breakdown(paragraphs, cast, breaks=chapter.breaks):
            inside = [q for q in quotes if cut.first <= q.paragraph <= cut.last]
            text, cues = to_fountain(paragraphs, cut, inside)
            heading, _, body = text.partition("\n")
            heading = _heading(heading)
            blocks.append(f"{heading}\n{body}".rstrip("\n") + "\n")
            out.scenes.append(
                {
                    "chapter": ci,
                    "first": cut.first,
                    "last": cut.last,
                    "synopsis": cut.synopsis[:2000],
                    # Lines count from the heading in ``text``; the scene's text starts
                    # after the heading and the empty line the importer drops.
                    "cues": [
                        {**c, "line": c["line"] - 2, "paragraph": c["paragraph"] - cut.first}
                        for c in cues
                        if c["line"] > 2
                    ],
                }
            )
        if progress is not None:
            progress(ci + 1, total)
    out.fountain = "\n".join(blocks)
    aliases: dict[str, list[str]] = {}
    for alias, canonical in cast.names.items():
        if alias.upper() != canonical:
            aliases.setdefault(canonical, []).append(alias)
    out.cast = {
        name: {"mentions": n, "aliases": sorted(aliases.get(name, []))}
        for name, n in sorted(cast.counts.items(), key=lambda kv: -kv[1])
    }
    return out


def _heading(heading: str) -> str:
    """A proposed heading the scene rules accept ("INT. ? - NIGHT"), else forced."""
    heading = " ".join(heading.split())[: settings.COWRITE_HEADING_MAX_CHARS - 1]
    from .services import validate_heading

    try:
        return validate_heading(heading)
    except ValidationError:
        return "." + (heading.lstrip(".") or "SCENE")


@transaction.atomic
def adaptation_import(
    *,
    user,
    data: bytes,
    filename: str,
    project: Project | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Project:
    """Import a book as a first screenplay (see the module docstring). Raise
    ValidationError with a message a writer can act on; nothing is written then."""
    try:
        book = read_prose(data, filename or "", max_bytes=settings.COWRITE_BOOK_MAX_BYTES)
    except FormatError as exc:
        raise ValidationError(str(exc)) from None
    adapted = adapt(book, progress=progress)
    if not adapted.scenes:
        raise ValidationError("No scenes could be made from this text. Nothing was imported.")
    cap = settings.COWRITE_IMPORT_MAX_SCENES
    if len(adapted.scenes) > cap:
        raise ValidationError(
            f"This book makes {len(adapted.scenes):,} scenes; an import takes at most "
            f"{cap:,}. Import it in parts. Nothing was imported."
        )
    try:
        script = fountain.parse(adapted.fountain)
        imported = importer.split_script(script)
    except FormatError as exc:  # our own Fountain: a bug, reported plainly
        raise ValidationError(f"The breakdown could not be stored: {exc}") from None
    if len(imported.scenes) != len(adapted.scenes):
        raise ValidationError(
            "The breakdown could not be stored: a passage reads as more than one scene."
        )
    front_title, front_author, _ = front_matter(book)
    stem = os.path.basename(filename or "").rsplit(".", 1)[0]
    # The reader names an untitled book after its file; an opening title line is better.
    title = (book.title if book.title != stem else "") or front_title or stem or "Adaptation"
    author = book.author or front_author
    before = Scene.objects.filter(project=project).count() if project else 0
    result = imports._store(user=user, imported=imported, filename=filename, project=project)
    if project is None and title:
        Project.objects.filter(pk=result.pk).update(title=title[:200])
        result.title = title[:200]
    source = SourceText.objects.create(
        project=result,
        title=title[:300],
        author=author[:300],
        filename=(filename or "")[:255],
        source_format=book.source_format,
        text=book.text,
        words=book.words,
        chapters=[
            {
                "title": ch.title,
                "paragraphs": [[p.start, p.end] for p in ch.paragraphs],
                "breaks": list(ch.breaks),
            }
            for ch in book.chapters
        ],
        cast=adapted.cast,
        uploaded_by=user,
    )
    scenes = list(Scene.objects.filter(project=result, position__gte=before).order_by("position"))
    for scene, row in zip(scenes, adapted.scenes, strict=True):
        scene.synopsis = row["synopsis"]
    Scene.objects.bulk_update(scenes, ["synopsis"], batch_size=500)
    SceneSource.objects.bulk_create(
        SceneSource(
            scene=scene,
            source=source,
            chapter=row["chapter"],
            first=row["first"],
            last=row["last"],
            cues=row["cues"],
        )
        for scene, row in zip(scenes, adapted.scenes, strict=True)
    )
    result.adapted_from = source
    return result


def passage_view(scene: Scene) -> dict | None:
    """What the scene page shows of the book a scene came from: its passage, each
    paragraph as pieces, the words that became dialogue marked with their line."""
    link = SceneSource.objects.select_related("source").filter(scene=scene).first()
    if link is None:
        return None
    source = link.source
    paragraphs = link.paragraphs()
    by_para: dict[int, list[dict]] = {}
    for cue in link.cues or []:
        by_para.setdefault(int(cue.get("paragraph", -1)), []).append(cue)
    shown = []
    for i, text in enumerate(paragraphs):
        pieces, at = [], 0
        for cue in sorted(by_para.get(i, []), key=lambda c: c["start"]):
            start, end = max(int(cue["start"]), at), min(int(cue["end"]), len(text))
            if start >= end:
                continue
            if start > at:
                pieces.append({"text": text[at:start]})
            pieces.append({"text": text[start:end], "line": int(cue["line"])})
            at = end
        if at < len(text):
            pieces.append({"text": text[at:]})
        shown.append(pieces)
    chapters = source.chapters or []
    return {
        "id": source.pk,
        "project_id": source.project_id,
        "chapter": link.chapter,
        "title": source.title,
        "author": source.author,
        "chapter_title": chapters[link.chapter]["title"] if link.chapter < len(chapters) else "",
        "paragraphs": shown,
    }
