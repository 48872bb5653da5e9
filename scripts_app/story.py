"""The story layer's writes and reads: the story bible, characters' story fields and
relationships, plotlines (the beat board lives in ``board.py``).

Field-level saves: the bible and a character's story fields are saved one field at a time,
each with the version it was edited from. A save from an older version is refused with a
``FieldConflict`` carrying the current text, so the page can show it beside the writer's
text (merge by hand) and nothing is lost. The bible counts versions per field
(``StoryBible.versions``); a character's field version is a short hash of its text.

Every write publishes ``events.StoryChanged`` (after commit) so open story pages refresh.
Services follow ``services.py``: keyword-only, atomic, ``ValidationError`` with the
user-facing message; a rejected call changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from cowrite import events

from . import board, script_stats, services
from .formats import grammar
from .models import (
    Beat,
    Character,
    CharacterRelation,
    CharacterRole,
    Plotline,
    Project,
    Scene,
    StoryBible,
)

# --- limits -------------------------------------------------------------------------------

MAX_CHARACTERS = 200  # per project (characters made by hand; imports have their own cap)
MAX_RELATIONS = 500  # per project
MAX_PLOTLINES = 26  # per project: A..Z
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")

# The bible's fields, in page order. Logline and genre are the project's own fields.
BIBLE_FIELDS = ("logline", "genre", "tone", "themes", "setting", "treatment")
PROJECT_FIELDS = frozenset({"logline", "genre"})
BIBLE_LABELS = {
    "logline": "Logline",
    "genre": "Genre",
    "tone": "Tone",
    "themes": "Themes",
    "setting": "Setting notes",
    "treatment": "Treatment",
}
# A character's story fields (name, description and notes keep the character form).
CHARACTER_FIELDS = ("role", "want", "need", "flaw", "arc_start", "arc_end", "voice")
CHARACTER_LABELS = {
    "role": "Role",
    "want": "Want",
    "need": "Need",
    "flaw": "Flaw",
    "arc_start": "Arc: at the start",
    "arc_end": "Arc: at the end",
    "voice": "Voice notes",
}


def field_limit(model, name: str) -> int:
    return model._meta.get_field(name).max_length


def bible_limit(name: str) -> int:
    return field_limit(Project if name in PROJECT_FIELDS else StoryBible, name)


class FieldConflict(Exception):
    """A field was saved by someone else since the writer's version: ``current`` is the
    text now stored and ``version`` its version (a save from it will overwrite)."""

    def __init__(self, field_name: str, current: str, version):
        super().__init__(f"{field_name} changed since you started editing it.")
        self.field = field_name
        self.current = current
        self.version = version


def _clean_text(value, *, label: str, limit: int, single_line: bool = False) -> str:
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\x00" in text:
        raise ValidationError("The text contains a NUL character; paste it as plain text.")
    if single_line and "\n" in text:
        raise ValidationError(f"{label} is a single line.")
    if len(text) > limit:
        raise ValidationError(
            f"{label} is {len(text):,} characters; the limit is {limit:,}. Shorten it."
        )
    return text


# --- the story bible ----------------------------------------------------------------------


def bible_for(project: Project) -> StoryBible:
    """Return the project's bible, creating it on first use."""
    bible, _ = StoryBible.objects.get_or_create(project=project)
    return bible


def bible_read(project: Project) -> StoryBible:
    """Return the project's bible, or a blank unsaved one (reading writes nothing)."""
    return StoryBible.objects.filter(project=project).first() or StoryBible(project=project)


def bible_value(project: Project, bible: StoryBible, name: str) -> str:
    return getattr(project if name in PROJECT_FIELDS else bible, name)


def bible_version(bible: StoryBible, name: str) -> int:
    return int((bible.versions or {}).get(name, 0))


@transaction.atomic
def bible_save_field(*, project: Project, name: str, value: str, base_version) -> StoryBible:
    """Save one bible field edited from ``base_version``; raise ``FieldConflict`` if it
    was saved since (unless the text is the same), ``ValidationError`` on bad input."""
    if name not in BIBLE_FIELDS:
        raise ValidationError("No such field of the story bible.")
    label = BIBLE_LABELS[name]
    text = _clean_text(value, label=label, limit=bible_limit(name), single_line=name == "genre")
    try:
        base = int(base_version)
    except (TypeError, ValueError):
        raise ValidationError("The form is out of date; reload the page.") from None
    # The project row lock serialises saves of one project's story (as services do).
    project = Project.objects.select_for_update().get(pk=project.pk)
    bible = bible_for(project)
    bible = StoryBible.objects.select_for_update().get(pk=bible.pk)
    current = bible_version(bible, name)
    stored = bible_value(project, bible, name)
    if base != current:
        if text == stored:
            return bible
        raise FieldConflict(name, stored, current)
    if text == stored:
        return bible
    if name in PROJECT_FIELDS:
        services.project_update(project=project, **{name: text})
    else:
        setattr(bible, name, text)
    bible.versions = {**(bible.versions or {}), name: current + 1}
    bible.save()
    events.publish(events.StoryChanged(project.pk, "bible"))
    return bible


# --- characters ---------------------------------------------------------------------------


def check_character_limit(project_id: int) -> None:
    """Refuse a new character over ``MAX_CHARACTERS`` (``services.character_create``)."""
    if Character.objects.filter(project_id=project_id).count() >= MAX_CHARACTERS:
        raise ValidationError(
            f"A project has at most {MAX_CHARACTERS} characters; delete one first."
        )


def text_version(text: str) -> str:
    """The version of a character's field: a short hash of its text."""
    return hashlib.sha256((text or "").encode()).hexdigest()[:16]


def character_version(character: Character, name: str) -> str:
    return text_version(getattr(character, name))


@transaction.atomic
def character_save_field(
    *, character: Character, name: str, value: str, base_version: str
) -> Character:
    """Save one story field of a character edited from ``base_version`` (the hash of
    the text the writer started from); ``FieldConflict`` if it changed since."""
    if name not in CHARACTER_FIELDS:
        raise ValidationError("No such field of a character.")
    label = CHARACTER_LABELS[name]
    if name == "role":
        text = (value or "").strip()
        if text not in CharacterRole.values:
            raise ValidationError("Choose a role from the list.")
    else:
        text = _clean_text(value, label=label, limit=field_limit(Character, name))
    Project.objects.select_for_update().filter(pk=character.project_id).first()
    try:
        fresh = Character.objects.select_for_update().get(pk=character.pk)
    except Character.DoesNotExist:
        raise ValidationError("This character was deleted.") from None
    stored = getattr(fresh, name)
    if str(base_version) != text_version(stored):
        if text == stored:
            return fresh
        raise FieldConflict(name, stored, text_version(stored))
    if text == stored:
        return fresh
    setattr(fresh, name, text)
    fresh.save(update_fields=[name, "updated_at"])
    events.publish(events.StoryChanged(fresh.project_id, "characters", fresh.pk))
    return fresh


@dataclass
class Appearances:
    """Where a character is in the script: scenes (cast or cues), speeches, lines."""

    scenes: list = field(default_factory=list)  # Scene rows, in script order
    speeches: int = 0
    lines: int = 0
    counted: bool = True  # False: the script is being counted (big script, no figures yet)


def _report_by_name(project: Project):
    stats = script_stats.script_stats(project, wait=False)
    if stats is None:
        return None, []
    return {c.name.upper(): c for c in stats.report.characters}, stats.scene_ids


def appearances(project: Project, characters) -> dict[int, Appearances]:
    """Return each character's appearances: scenes from the cast and from cues in the
    text (the script report, cached per script state by ``script_stats``)."""
    characters = list(characters)
    by_name, ids = _report_by_name(project)
    scene_ids: dict[int, set[int]] = {c.pk: set() for c in characters}
    for char_id, scene_id in Scene.cast.through.objects.filter(
        character_id__in=[c.pk for c in characters]
    ).values_list("character_id", "scene_id"):
        scene_ids[char_id].add(scene_id)
    result = {}
    for c in characters:
        report = (by_name or {}).get(c.name.upper())
        found = Appearances(counted=by_name is not None)
        if report is not None:
            scene_ids[c.pk].update(ids[i] for i in report.scenes if 0 <= i < len(ids))
            found.speeches, found.lines = report.speeches, report.dialogue_lines
        found.scenes = scene_ids[c.pk]
        result[c.pk] = found
    return result


def character_appearances(character: Character) -> Appearances:
    found = appearances(character.project, [character])[character.pk]
    found.scenes = list(
        Scene.objects.filter(project_id=character.project_id, pk__in=found.scenes)
        .only("id", "position", "heading", "project_id")
        .order_by("position", "pk")
    )
    return found


def characters_overview(project: Project) -> list[dict]:
    """Rows for the story page's characters table: role, want, arc, scenes, lines."""
    characters = list(
        Character.objects.filter(project=project).only(
            "id", "project_id", "name", "role", "want", "arc_start", "arc_end"
        )
    )
    found = appearances(project, characters)
    return [
        {
            "character": c,
            "scenes": len(found[c.pk].scenes),
            "lines": found[c.pk].lines,
            "speeches": found[c.pk].speeches,
            "counted": found[c.pk].counted,
        }
        for c in characters
    ]


# --- relationships ------------------------------------------------------------------------


@transaction.atomic
def relation_create(
    *, project: Project, source: Character, target: Character, kind: str, note: str = ""
) -> CharacterRelation:
    if source.project_id != project.pk or target.project_id != project.pk:
        raise ValidationError("Both characters must belong to this project.")
    if source.pk == target.pk:
        raise ValidationError("A character cannot be related to themselves.")
    kind = _clean_text(
        kind,
        label="The relationship",
        limit=field_limit(CharacterRelation, "kind"),
        single_line=True,
    )
    if not kind:
        raise ValidationError('Name the relationship, e.g. "sister of".')
    note = _clean_text(note, label="The note", limit=field_limit(CharacterRelation, "note"))
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if CharacterRelation.objects.filter(project=project).count() >= MAX_RELATIONS:
        raise ValidationError(
            f"A project has at most {MAX_RELATIONS} relationships; delete one first."
        )
    same = CharacterRelation.objects.filter(source=source, target=target, kind__iexact=kind)
    if same.exists():
        raise ValidationError(f"{source.name} is already {same.first().kind} {target.name}.")
    try:
        with transaction.atomic():
            relation = CharacterRelation.objects.create(
                project=project, source=source, target=target, kind=kind, note=note
            )
    except IntegrityError:
        raise ValidationError(f"{source.name} is already {kind} {target.name}.") from None
    events.publish(events.StoryChanged(project.pk, "characters", source.pk))
    return relation


def relation_delete(*, relation: CharacterRelation) -> None:
    project_id, source_id = relation.project_id, relation.source_id
    relation.delete()
    events.publish(events.StoryChanged(project_id, "characters", source_id))


# --- plotlines ----------------------------------------------------------------------------


def _clean_plotline(name, label, colour, description) -> dict:
    name = _clean_text(name, label="A plotline's name", limit=100, single_line=True)
    if not name:
        raise ValidationError('A plotline needs a name, e.g. "The heist".')
    label = _clean_text(label, label="A plotline's label", limit=4, single_line=True).upper()
    colour = (colour or "").strip()
    if not COLOUR_RE.match(colour):
        raise ValidationError("A colour is written #rrggbb, e.g. #2f6fdd.")
    description = _clean_text(description, label="The description", limit=2000)
    return {"name": name, "label": label, "colour": colour.lower(), "description": description}


def _check_name_free(project: Project, name: str, exclude: int | None = None) -> None:
    clash = Plotline.objects.filter(project=project, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError(f"There is already a plotline called {name}.")


def _next_label(project: Project) -> str:
    used = set(Plotline.objects.filter(project=project).values_list("label", flat=True))
    for code in range(ord("A"), ord("Z") + 1):
        if chr(code) not in used:
            return chr(code)
    return ""


@transaction.atomic
def plotline_create(
    *, project: Project, name: str, label: str = "", colour: str = "#2f6fdd", description=""
) -> Plotline:
    values = _clean_plotline(name, label, colour, description)
    Project.objects.select_for_update().filter(pk=project.pk).first()
    count = Plotline.objects.filter(project=project).count()
    if count >= MAX_PLOTLINES:
        raise ValidationError(f"A project has at most {MAX_PLOTLINES} plotlines.")
    _check_name_free(project, values["name"])
    values["label"] = values["label"] or _next_label(project)
    try:
        with transaction.atomic():
            plotline = Plotline.objects.create(project=project, position=count, **values)
    except IntegrityError:
        raise ValidationError(f"There is already a plotline called {values['name']}.") from None
    events.publish(events.StoryChanged(project.pk, "plotlines"))
    return plotline


@transaction.atomic
def plotline_update(
    *, plotline: Plotline, name: str, label: str = "", colour: str, description: str = ""
) -> Plotline:
    values = _clean_plotline(name, label, colour, description)
    _check_name_free(plotline.project, values["name"], exclude=plotline.pk)
    for key, value in values.items():
        setattr(plotline, key, value)
    try:
        with transaction.atomic():
            plotline.save()
    except IntegrityError:
        raise ValidationError(f"There is already a plotline called {values['name']}.") from None
    events.publish(events.StoryChanged(plotline.project_id, "plotlines"))
    return plotline


def _renumber(project_id: int, order: list[Plotline]) -> None:
    for i, p in enumerate(order):
        if p.position != i:
            p.position = i
            p.save(update_fields=["position"])


@transaction.atomic
def plotline_move(*, plotline: Plotline, direction: str) -> None:
    """Move a plotline one place up or down (positions stay dense 0..n-1)."""
    if direction not in ("up", "down"):
        raise ValidationError("Move a plotline up or down.")
    Project.objects.select_for_update().filter(pk=plotline.project_id).first()
    order = list(Plotline.objects.filter(project_id=plotline.project_id).order_by("position", "pk"))
    index = next((i for i, p in enumerate(order) if p.pk == plotline.pk), None)
    if index is None:
        raise ValidationError("This plotline was deleted.")
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
    _renumber(plotline.project_id, order)
    events.publish(events.StoryChanged(plotline.project_id, "plotlines"))


@transaction.atomic
def plotline_delete(*, plotline: Plotline) -> int:
    """Delete a plotline; the beats on it stay (they leave the plotline). Return how many
    beats it was removed from."""
    project_id = plotline.project_id
    Project.objects.select_for_update().filter(pk=project_id).first()
    beats = plotline.beats.count()
    plotline.delete()
    _renumber(project_id, list(Plotline.objects.filter(project_id=project_id)))
    events.publish(events.StoryChanged(project_id, "plotlines"))
    if beats:
        events.publish(events.StoryChanged(project_id, "board"))
    return beats


# --- sections and synopses in Fountain (import and export) --------------------------------
#
# On import, a file with top-level sections ("# ACT ONE") has acts: the sections number
# them 1.. in order, and a synopsis line right after a scene heading ("= Mara wakes.")
# becomes a beat card linked to that scene, in the act of the section above it. Those
# lines leave the scene texts (the cards hold them now). A file without top-level sections,
# or without a synopsis right after any heading, is imported exactly as before. On export (Fountain), a project with beats writes
# "# Act N" before the first scene of each act and "= summary" after the heading of each
# scene that has a beat (``exports.project_source(..., outline=True)``).

OUTLINE_TITLE_MAX = 80


def _top_section(line: str) -> bool:
    m = grammar.SECTION_RE.match(line)
    return m is not None and len(m["hashes"]) == 1


def _synopsis(line: str) -> str | None:
    m = grammar.SYNOPSIS_RE.match(line)
    if m is None or grammar.PAGE_BREAK_RE.match(line):
        return None
    return m["text"].strip() or None


def _drop_lines(lines: list[str], drop: set[int]) -> list[str]:
    """Remove ``drop`` lines, with an empty line that would be left doubled after each."""
    kept: list[str] = []
    skip_blank = False
    for i, line in enumerate(lines):
        if i in drop:
            skip_blank = not kept or not kept[-1].strip()
            continue
        if skip_blank and not line.strip():
            skip_blank = False
            continue
        skip_blank = False
        kept.append(line)
    return kept


def take_outline(imported) -> list[tuple[int, int, str]]:
    """Take the acts and beat summaries out of an imported script (``importer.
    ImportedScript``, changed in place): return (scene index, act, summary) for each scene
    with a synopsis after its heading; [] (and nothing changed) without top-level
    sections or without a synopsis right after any heading."""
    pieces = [imported.preamble] + [scene.text for scene in imported.scenes]
    if not any(_top_section(line) for piece in pieces for line in piece.split("\n")):
        return []
    if not any(
        len(lines) > 1 and _synopsis(lines[1])
        for lines in (scene.text.split("\n", 2) for scene in imported.scenes)
    ):
        return []  # acts but no cards: the file stays as it was
    act = 0
    lines = imported.preamble.split("\n")
    drop = {i for i, line in enumerate(lines) if _top_section(line)}
    act += len(drop)
    imported.preamble = "\n".join(_drop_lines(lines, drop))
    beats = []
    for scene in imported.scenes:
        lines = scene.text.split("\n")
        drop = set()
        if len(lines) > 1 and (summary := _synopsis(lines[1])):
            beats.append((scene.index, min(max(act, 1), board.MAX_ACTS), summary))
            drop.add(1)
        for i, line in enumerate(lines[1:], start=1):
            if _top_section(line):
                drop.add(i)
                act += 1
        if drop:
            scene.text = "\n".join(_drop_lines(lines, drop))
    return beats


def _outline_title(summary: str) -> str:
    summary = " ".join(summary.split())
    if len(summary) <= OUTLINE_TITLE_MAX:
        return summary
    return summary[: OUTLINE_TITLE_MAX - 1].rsplit(" ", 1)[0] + "…"


def outline_store(*, project: Project, scene_ids: list[int], outline, user=None) -> int:
    """Make the beat cards of an import's outline (``take_outline``): ``scene_ids`` are
    the imported scenes' ids in file order. Cards go at the end of their acts; at most
    the board's card limit. Return how many were made."""
    if not outline:
        return 0
    room = board.MAX_CARDS - Beat.objects.filter(project=project).count()
    counts = dict(
        Beat.objects.filter(project=project)
        .values("act")
        .annotate(n=models.Count("id"))
        .values_list("act", "n")
    )
    made = []
    for index, act, summary in outline[: max(room, 0)]:
        if not 0 <= index < len(scene_ids):
            continue
        made.append(
            Beat(
                project=project,
                act=act,
                position=counts.get(act, 0),
                title=_outline_title(summary),
                summary=summary[: field_limit(Beat, "summary")],
                scene_id=scene_ids[index],
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
        )
        counts[act] = counts.get(act, 0) + 1
    Beat.objects.bulk_create(made)
    if made:
        events.publish(events.StoryChanged(project.pk, "board"))
    return len(made)


def outline_marks(project_id: int) -> dict[int, tuple[int, str]]:
    """Scene id -> (act, summary) of the scenes that have a beat (for the export)."""
    return {
        scene_id: (act, " ".join(summary.split()) or title)
        for scene_id, act, summary, title in Beat.objects.filter(
            project_id=project_id, scene__isnull=False
        ).values_list("scene_id", "act", "summary", "title")
    }
