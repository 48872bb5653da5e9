"""Two characters that are one person become one: "MISS BENNET" merged into "ELIZABETH".

Used by the character page ("Same person as…") and by the book page, where the team
confirms which of the names found in a book are one person (``adaptation.py``).

``character_merge`` does it in one transaction (a refusal changes nothing):

- **Cues**: every cue of the merged name in the project's scenes is renamed, keeping its
  extensions (``(V.O.)``, ``(CONT'D)``), a forcing ``@`` and a dual ``^``. The cues are
  found in the live document as it is at that moment and renamed in one update of small
  edits (``documents.edits_at``), so what others type meanwhile, even on the same scene,
  is kept; each changed scene gets one revision ("Merged … into …").
- **Links**: scenes' casts and cards' characters move to the kept character; its
  relationships too (one that would duplicate or point at itself goes); its empty story
  fields and tags are filled from the merged one, nothing it has is overwritten.
- **Books**: the merged name becomes an alias of the kept one in every book of the
  project (so the next reading of the book attributes it to the kept character).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from cowrite import events

from . import documents, services
from .formats import grammar
from .models import (
    Beat,
    Character,
    CharacterRelation,
    Project,
    RevisionOrigin,
    Scene,
    SceneSource,
    SourceText,
)

# The fields a kept character takes from the merged one when its own are empty.
FILLED_FIELDS = (
    "description",
    "notes",
    "role",
    "want",
    "need",
    "flaw",
    "arc_start",
    "arc_end",
    "voice",
)


@dataclass
class Merged:
    kept: Character
    merged_name: str
    scenes: int = 0  # scenes whose text changed
    cues: int = 0  # cues renamed


def cue_name_spans(text: str, names: set[str]) -> list[tuple[int, int]]:
    """Where the speaker's name stands in every cue of ``text`` whose name (upper case,
    spaces collapsed) is in ``names``: ``[(start, end), ...]`` in text order."""
    if not names or not text:
        return []
    lines = text.split("\n")
    kinds = grammar.classify_lines(lines, title_page=False)
    spans, at = [], 0
    for line, kind in zip(lines, kinds, strict=True):
        if kind == grammar.CHARACTER:
            cue = grammar.parse_cue(line)
            if cue is not None and " ".join(cue.name.split()).upper() in names:
                found = line.find(cue.name)
                if found >= 0:
                    spans.append((at + found, at + found + len(cue.name)))
        at += len(line) + 1
    return spans


def _rename_cues(scene_id: int, names: set[str], new: str, user, label: str) -> int:
    """Rename the cues of ``names`` to ``new`` in one scene's live text, found in the text
    as it is now and renamed in one update; return how many (a revision if any). A scene
    the machine wrote and nobody touched since stays so (``SceneSource.revision``). Call
    inside a transaction."""
    try:
        scene = services.scene_sync_live(scene_id=scene_id, autosave=True)
    except Scene.DoesNotExist:
        return 0  # deleted meanwhile
    found: list[int] = []

    def plan(resolver):
        spans = cue_name_spans(resolver.text, names)
        found.append(len(spans))
        return [documents.Edit(start, end, new) for start, end in spans]

    text = documents.edits_at(
        scene_id=scene_id,
        plan=plan,
        user_id=user.pk if user else None,
        check=services.validate_scene_text,
    )
    if text is None:
        return 0
    untouched = SceneSource.objects.filter(scene_id=scene_id, revision_id=scene.head_id)
    revision = services.add_revision(
        scene=scene,
        text=text,
        author=user,
        origin=RevisionOrigin.SAVE,
        label=label[:200],
        base=scene.head,
    )
    untouched.update(revision=revision)
    scene.text, scene.head, scene.last_edited_by = text, revision, user
    scene.save(update_fields=["text", "head", "last_edited_by", "updated_at"])
    return found[0]


def fold_name(cast: dict, merged: str, kept: str) -> None:
    """In a book's names (``SourceText.cast``), ``merged`` becomes an alias of ``kept``:
    its own aliases and mentions go with it (in place; nothing if it is not there)."""
    gone = cast.pop(merged, None) or {}
    entry = dict(cast.get(kept) or {"mentions": 0, "aliases": []})
    aliases = list(entry.get("aliases") or [])
    for alias in [merged.title(), *(gone.get("aliases") or [])]:
        if alias.upper() != kept and alias not in aliases:
            aliases.append(alias)
    entry["aliases"] = aliases
    entry["mentions"] = int(entry.get("mentions") or 0) + int(gone.get("mentions") or 0)
    cast[kept] = entry


def _alias_into_books(project_id: int, merged: Character, kept: Character) -> None:
    """The merged name (and its own aliases) become aliases of the kept one in each book."""
    for source in SourceText.objects.select_for_update().filter(project_id=project_id):
        cast = dict(source.cast or {})
        fold_name(cast, merged.name, kept.name)
        source.cast = cast
        source.save(update_fields=["cast"])


@transaction.atomic
def character_merge(*, merged: Character, kept: Character, user) -> Merged:
    """Merge ``merged`` into ``kept`` (see the module docstring); ``merged`` is deleted."""
    if merged.project_id != kept.project_id:
        raise ValidationError("Both characters must be in the same project.")
    if merged.pk == kept.pk:
        raise ValidationError("A character cannot be merged into itself.")
    project_id = kept.project_id
    Project.objects.select_for_update().filter(pk=project_id).first()
    rows = {
        c.pk: c for c in Character.objects.select_for_update().filter(pk__in=[merged.pk, kept.pk])
    }
    if merged.pk not in rows or kept.pk not in rows:
        raise ValidationError("One of these characters has just been deleted; reload the page.")
    merged, kept = rows[merged.pk], rows[kept.pk]
    result = Merged(kept=kept, merged_name=merged.name)
    label = f"Merged {merged.name} into {kept.name}"
    # Scenes that may hold the name: in the cast, in the saved text, or with live edits
    # not folded into the text yet (the rename reads the live text itself).
    candidates = (
        Scene.objects.filter(project_id=project_id)
        .filter(Q(cast=merged) | Q(text__icontains=merged.name) | Q(doc_updates__isnull=False))
        .order_by("position")
        .values_list("pk", flat=True)
        .distinct()
    )
    for scene_id in list(candidates):
        renamed = _rename_cues(scene_id, {merged.name}, kept.name, user, label)
        if renamed:
            result.scenes += 1
            result.cues += renamed
    for scene in Scene.objects.filter(cast=merged):
        scene.cast.add(kept)
    for beat in Beat.objects.filter(characters=merged):
        beat.characters.add(kept)
    for relation in CharacterRelation.objects.filter(Q(source=merged) | Q(target=merged)):
        source = kept if relation.source_id == merged.pk else relation.source
        target = kept if relation.target_id == merged.pk else relation.target
        same = CharacterRelation.objects.filter(
            source=source, target=target, kind__iexact=relation.kind
        ).exclude(pk=relation.pk)
        if source.pk == target.pk or same.exists():
            relation.delete()
        else:
            relation.source, relation.target = source, target
            relation.save(update_fields=["source", "target"])
    changed = [f for f in FILLED_FIELDS if not getattr(kept, f) and getattr(merged, f)]
    for name in changed:
        setattr(kept, name, getattr(merged, name))
    kept.attributes = {**(merged.attributes or {}), **(kept.attributes or {})}
    kept.save(update_fields=[*changed, "attributes", "updated_at"])
    _alias_into_books(project_id, merged, kept)
    merged.delete()
    events.publish(events.StoryChanged(project_id, "characters", kept.pk))
    return result
