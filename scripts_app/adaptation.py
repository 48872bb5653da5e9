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

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction

from . import documents, imports, services
from .cast_merge import character_merge, fold_name
from .formats import FormatError, fountain, importer
from .formats.adaptation import SceneCut, attribute, breakdown, find_cast, to_fountain
from .formats.prose import Book, read_prose
from .models import Character, Project, RevisionOrigin, Scene, SceneSource, SourceText
from .story import check_character_limit


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


def story_chapters(book: Book) -> set[int]:
    """The chapters the breakdown reads: not the title page (``front_matter``) nor the
    book's apparatus (a preface, contents, notes: ``Chapter.matter``), and not empty."""
    skip = front_matter(book)[2]
    return {
        i for i, ch in enumerate(book.chapters) if i >= skip and not ch.matter and ch.paragraphs
    }


def story_spans(source: SourceText) -> list[list[int]]:
    """The ``[start, end]`` of every paragraph of a stored book's story chapters, in order
    (the chapters the import broke down: ``matter`` ones left out)."""
    return [
        span
        for ch in source.chapters or []
        if not ch.get("matter")
        for span in ch.get("paragraphs", [])
    ]


def adapt(book: Book, *, progress: Callable[..., None] | None = None) -> Adapted:
    """Break a read book down into scenes of Fountain (no database). ``progress(done,
    total, scenes)`` after each chapter: chapters done, chapters in all, and the scenes
    that chapter made (``{"heading", "synopsis", "chapter"}``), for the import page to
    show the breakdown as it grows."""
    story = story_chapters(book)
    everything = [p.text for i in sorted(story) for p in book.chapters[i].paragraphs]
    cast = find_cast(everything)
    blocks: list[str] = []
    out = Adapted("")
    total = len(book.chapters)
    for ci, chapter in enumerate(book.chapters):
        paragraphs = [p.text for p in chapter.paragraphs]
        if ci not in story:
            if progress is not None:
                progress(ci + 1, total, [])
            continue
        quotes = attribute(paragraphs, cast)
        headings: list[str] = []
        for cut in breakdown(paragraphs, cast, breaks=chapter.breaks, quotes=quotes):
            inside = [q for q in quotes if cut.first <= q.paragraph <= cut.last]
            text, cues = to_fountain(paragraphs, cut, inside, cast)
            heading, _, body = text.partition("\n")
            heading = _heading(heading)
            headings.append(heading.lstrip("."))
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
            made = [
                {"heading": h, "synopsis": _clip(row["synopsis"], 160), "chapter": ci}
                for h, row in zip(
                    headings, out.scenes[len(out.scenes) - len(headings) :], strict=True
                )
            ]
            progress(ci + 1, total, made)
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


def _clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word with "…"."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def _heading(heading: str) -> str:
    """A proposed heading the scene rules accept ("INT. ? - NIGHT"), else forced."""
    heading = " ".join(heading.split())[: settings.COWRITE_HEADING_MAX_CHARS - 1]
    try:
        return services.validate_heading(heading)
    except ValidationError:
        return "." + (heading.lstrip(".") or "SCENE")


@transaction.atomic
def adaptation_import(
    *,
    user,
    data: bytes,
    filename: str,
    project: Project | None = None,
    progress: Callable[..., None] | None = None,
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
    story = story_chapters(book)
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
                # Not read for scenes or names (the re-read keeps to the same chapters).
                "matter": bool(ch.paragraphs) and i not in story,
            }
            for i, ch in enumerate(book.chapters)
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
            heading=scene.heading,
            revision_id=scene.head_id,
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


# --- The names found in a book, confirmed by the team --------------------------------------
#
# The import guesses who is who ("Lizzy" is ELIZABETH); the book page lets an editor
# correct it: edit each name's aliases, say a name is no person ("Netherfield"), add a
# name that never spoke as a character, or say two names are one person. Saving then
#
# 1. stores the confirmed map in the book (``SourceText.cast``: per name its aliases, and
#    ``person: False`` for a name that is none);
# 2. reads the book's dialogue again with that map for every scene still exactly as the
#    import wrote it (no edit, no live typing since): its cues, cue map and cast are
#    rewritten (a new revision); a scene anyone has touched is left alone;
# 3. merges the characters the team said are one (``cast_merge``: renames the remaining
#    cues everywhere, moves links, deletes the merged one).
#
# All in one transaction: a refusal changes nothing.

MAX_ALIASES = 30  # per name
MAX_ALIAS_CHARS = 60


@dataclass
class NameChoice:
    """One row of the book page's names form."""

    name: str  # the name as the book page lists it (upper case)
    aliases: list[str]
    action: str  # "keep" (as it is), "add" (make it a character), "none" (no person), "merge"
    into: str = ""  # with "merge": the name of the character (or found name) it is


@dataclass
class NamesResult:
    reread: int = 0  # scenes whose dialogue was read again
    untouched: int = 0  # scenes left alone because someone edited them
    added: list[str] = field(default_factory=list)
    merged: list[tuple[str, str, int]] = field(default_factory=list)  # (name, into, cues)


def parse_aliases(text: str) -> list[str]:
    """'Lizzy, Eliza; Miss Eliza' -> ['Lizzy', 'Eliza', 'Miss Eliza'] (checked)."""
    out: list[str] = []
    for part in (text or "").replace(";", ",").replace("\n", ",").split(","):
        alias = " ".join(part.split())
        if not alias:
            continue
        if len(alias) > MAX_ALIAS_CHARS or "\x00" in alias:
            raise ValidationError(f"An alias is at most {MAX_ALIAS_CHARS} characters.")
        if alias not in out:
            out.append(alias)
    if len(out) > MAX_ALIASES:
        raise ValidationError(f"A name has at most {MAX_ALIASES} aliases.")
    return out


def book_known(cast: dict) -> tuple[dict[str, str], set[str]]:
    """The alias map a confirmed book gives the reader (alias as written -> name), and the
    names the team said are no person."""
    known: dict[str, str] = {}
    nobody: set[str] = set()
    for name, entry in cast.items():
        if entry.get("person") is False:
            nobody.add(name)
            continue
        known.setdefault(name.title(), name)
        for alias in entry.get("aliases") or []:
            known[alias] = name
            if alias.islower():  # typed as "lizzy": the book writes "Lizzy"
                known.setdefault(alias.title(), name)
    return known, nobody


def _speakers(text: str) -> list[str]:
    """The speakers of a scene's text (heading-less), canonical, in order."""
    try:
        script = fountain.parse(".SCENE\n\n" + text)
        scenes = importer.split_script(script).scenes
    except FormatError:
        return []
    return list(scenes[0].cast) if scenes else []


class _Changed(Exception):
    """Someone typed in the scene between its check and its rewrite."""


def reread_scenes(*, source: SourceText, user) -> tuple[int, int, list[str]]:
    """Step 2 above: return (scenes read again, scenes left alone, characters added).

    A scene is read again only while its head is the revision the machine last wrote
    (``SceneSource.revision``: the import, an earlier re-read, a merge), its text is that
    revision's and nobody is typing in it; the rewrite is made in the live document only
    if its text is still exactly that when it is made."""
    known, nobody = book_known(source.cast or {})
    chapters = source.chapters or []
    everything = [source.text[s:e] for s, e in story_spans(source)]
    cast = find_cast(everything, known=known)
    cast.names = {a: c for a, c in cast.names.items() if c not in nobody}
    links = list(
        SceneSource.objects.filter(source=source)
        .select_related("scene")
        .order_by("chapter", "first")
    )
    # Scenes that may be untouched, in one query; the rest are left alone unlocked.
    candidates = set(
        Scene.objects.filter(
            source_passage__source=source,
            source_passage__revision__isnull=False,
            head_id=models.F("source_passage__revision_id"),
            doc_updates__isnull=True,
        ).values_list("pk", flat=True)
    )
    characters = {c.name: c for c in Character.objects.filter(project_id=source.project_id)}
    added: list[str] = []
    reread = untouched = 0
    by_chapter: dict[int, list[SceneSource]] = {}
    for link in links:
        by_chapter.setdefault(link.chapter, []).append(link)
    headings_changed = 0
    for chapter, group in by_chapter.items():
        if chapter >= len(chapters):
            continue
        spans = chapters[chapter].get("paragraphs", [])
        paragraphs = [source.text[s:e] for s, e in spans]
        # Who says what in the chapter: read once, only if a scene or heading needs it.
        quotes = functools.cache(lambda paragraphs=paragraphs: attribute(paragraphs, cast))
        headings_changed += _propose_headings_again(
            paragraphs, cast, chapters[chapter].get("breaks", []), group, quotes
        )
        for link in group:
            if link.scene_id not in candidates:
                untouched += 1
                continue
            try:
                scene = services.scene_sync_live(scene_id=link.scene_id, autosave=True)
            except Scene.DoesNotExist:
                continue  # deleted meanwhile
            if scene.head_id != link.revision_id or scene.text != scene.head.text:
                untouched += 1
                continue
            inside = [q for q in quotes() if link.first <= q.paragraph <= link.last]
            cut = SceneCut(link.first, link.last, _heading(scene.heading), (), "")
            text, cues = to_fountain(paragraphs, cut, inside, cast)
            try:
                parsed = importer.split_script(fountain.parse(text)).scenes
            except FormatError:
                untouched += 1
                continue
            if len(parsed) != 1:
                untouched += 1
                continue
            new_text = imports._scene_parts(parsed[0].text)[1]
            if new_text == scene.text:
                continue

            def plan(resolver, old=scene.text, new=new_text):
                if resolver.text != old:
                    raise _Changed
                return [documents.minimal_edit(old, new)]

            try:
                written = documents.edits_at(
                    scene_id=scene.pk,
                    plan=plan,
                    user_id=user.pk if user else None,
                    check=services.validate_scene_text,
                )
            except (_Changed, ValidationError):
                untouched += 1
                continue
            old_speakers = set(_speakers(scene.text))
            speakers = []
            for cue_name in dict.fromkeys(parsed[0].cast):
                try:
                    name = services.normalize_character_name(cue_name)
                except ValidationError:
                    continue
                if name not in characters:
                    characters[name] = Character.objects.create(
                        project_id=source.project_id, name=name
                    )
                    added.append(name)
                speakers.append(characters[name])
            revision = services.add_revision(
                scene=scene,
                text=written,
                author=user,
                origin=RevisionOrigin.SAVE,
                label="Dialogue read again with the book's confirmed names",
                base=scene.head,
            )
            scene.text, scene.head, scene.last_edited_by = written, revision, user
            scene.save(update_fields=["text", "head", "last_edited_by", "updated_at"])
            kept = [c for c in scene.cast.all() if c.name not in old_speakers]
            scene.cast.set([*kept, *speakers])
            link.cues = [
                {**c, "line": c["line"] - 2, "paragraph": c["paragraph"] - link.first}
                for c in cues
                if c["line"] > 2
            ]
            link.revision = revision
            link.save(update_fields=["cues", "revision"])
            reread += 1
    if headings_changed:
        services.script_changed(source.project_id)
    return reread, untouched, added


def _propose_headings_again(paragraphs, cast, breaks, links, quotes) -> int:
    """A scene whose heading is still the one the breakdown proposed gets the heading the
    confirmed names give (a name that is no person may be the place: "at Longbourn");
    return how many changed. A heading the team wrote is never touched. ``quotes()``
    gives the chapter's attributed quotations."""
    if not any(link.heading and link.scene.heading == link.heading for link in links):
        return 0
    proposed = {
        (c.first, c.last): _heading(c.heading)
        for c in breakdown(paragraphs, cast, breaks=breaks, quotes=quotes())
    }
    changed = 0
    for link in links:
        new = proposed.get((link.first, link.last))
        scene = link.scene
        if not new or not link.heading or scene.heading != link.heading or new == link.heading:
            continue
        Scene.objects.filter(pk=scene.pk, heading=link.heading).update(heading=new)
        SceneSource.objects.filter(pk=link.pk).update(heading=new)
        scene.heading = link.heading = new
        changed += 1
    return changed


@transaction.atomic
def confirm_names(*, source: SourceText, user, choices: list[NameChoice]) -> NamesResult:
    """Apply the book page's names form (see above). Raise ValidationError, changing
    nothing, for a name listed twice, an alias given to two names or that is another
    listed name, or a merge into a name that is itself merged or no person."""
    # The project first, as every path that changes scenes or characters locks it.
    Project.objects.select_for_update().filter(pk=source.project_id).first()
    source = SourceText.objects.select_for_update().get(pk=source.pk)
    project_id = source.project_id
    cast = {name: dict(entry) for name, entry in (source.cast or {}).items()}
    rows: dict[str, NameChoice] = {}
    for choice in choices:
        if choice.name in rows:
            raise ValidationError(f"{choice.name} is listed twice; reload the page.")
        rows[choice.name] = choice
    owner: dict[str, str] = {}
    for choice in choices:
        if choice.action not in ("keep", "add", "none", "merge"):
            raise ValidationError(f"Unknown choice for {choice.name}.")
        if choice.action == "merge":
            if choice.into == choice.name:
                raise ValidationError(f"{choice.name} cannot be the same person as itself.")
            target = rows.get(choice.into)
            if target is not None and target.action in ("merge", "none"):
                raise ValidationError(
                    f"{choice.name} is the same person as {choice.into}, but "
                    f"{choice.into} is itself merged or marked as no person; "
                    "choose the name that stays."
                )
        for alias in choice.aliases:
            key = alias.casefold()
            if key in owner and owner[key] != choice.name:
                raise ValidationError(
                    f"“{alias}” is given to both {owner[key]} and {choice.name}; "
                    "an alias names one person."
                )
            owner[key] = choice.name
            other = rows.get(alias.upper())
            if other is not None and other.name != choice.name and other.action != "merge":
                raise ValidationError(
                    f"“{alias}” is the name of {other.name}; to say they are one person, "
                    f"choose “The same person as…” on {other.name}'s row."
                )
    characters = {c.name: c for c in Character.objects.filter(project_id=project_id)}
    result = NamesResult()
    # First every row's own aliases, then the merges add theirs (row order is mentions).
    for choice in choices:
        entry = cast.setdefault(choice.name, {"mentions": 0, "aliases": []})
        entry["aliases"] = list(choice.aliases)
        entry["confirmed"] = True
        entry.pop("person", None)
        if choice.action == "none":
            entry["person"] = False
        elif choice.action == "add" and choice.name not in characters:
            check_character_limit(project_id)
            characters[choice.name] = Character.objects.create(
                project_id=project_id, name=services.normalize_character_name(choice.name)
            )
            result.added.append(choice.name)
    merges: list[tuple[str, str]] = []
    for choice in choices:
        if choice.action != "merge":
            continue
        into = services.normalize_character_name(choice.into)
        fold_name(cast, choice.name, into)
        merges.append((choice.name, into))
    source.cast = cast
    source.save(update_fields=["cast"])
    result.reread, result.untouched, added = reread_scenes(source=source, user=user)
    result.added += added
    for name, into in merges:
        merged = Character.objects.filter(project_id=project_id, name=name).first()
        if merged is None:
            continue
        kept = Character.objects.filter(project_id=project_id, name=into).first()
        if kept is None:
            check_character_limit(project_id)
            kept = Character.objects.create(project_id=project_id, name=into)
        done = character_merge(merged=merged, kept=kept, user=user)
        result.merged.append((name, into, done.cues))
    return result
