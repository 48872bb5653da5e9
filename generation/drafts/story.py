"""Story proposals: the model proposes a level of the story, the team accepts it.

Down the hierarchy (``story_prompts.py`` says what each level reads): a **logline**; new
**characters**; the **beats** of one act (index cards); a card's **brief** (the synopsis
of its scene). A request is a draft request like a scene's — alternatives, presets,
limits, the same queue and worker, streamed to every page of the project's story (the
story page and the board: ``Passage.room``), rated, compared and commented on the same
way. Accepting one does what the level means:

- a logline becomes the project's logline (the old one is kept on the card);
- characters are created (those the writer ticked; a name already in the cast is left
  out and said so), with role, want, need, flaw, arc and voice;
- beats become cards at the end of their act (those ticked), on the plotlines their
  labels name and with the characters their text names;
- a brief becomes the synopsis of the card's scene (the scene is made from the card
  first if it has none).

An accept happens once (a conditional update; of two at once one wins), in one
transaction with what it creates: a refusal (nothing left to add, the card deleted,
the cast full) changes nothing. The card lists what was made, with links.
"""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cowrite.events import DraftCreated, DraftFinal, Generate, StoryChanged, publish
from scripts_app import board, services, story
from scripts_app.models import Beat, Character, CharacterRole, Plotline, Project

from .. import feedback
from ..core import storylevels
from ..endpoints import model_record
from ..models import DraftTask, Passage, PassageKind, PassageStatus
from .admission import check_limits, lock_project, writer_for
from .render import group_html
from .spec import PRESETS, _num, _text

# Tokens each level may write, by the length the writer picks.
LENGTHS = {
    PassageKind.LOGLINE: {"short": 48, "medium": 80, "long": 128},
    PassageKind.CHARACTERS: {"short": 192, "medium": 320, "long": 512},
    PassageKind.BEATS: {"short": 256, "medium": 384, "long": 640},
    PassageKind.BRIEF: {"short": 96, "medium": 160, "long": 256},
}
KIND_WORDS = {
    PassageKind.LOGLINE: "a logline",
    PassageKind.CHARACTERS: "characters",
    PassageKind.BEATS: "beats",
    PassageKind.BRIEF: "a scene brief",
}


def story_spec_from(data: dict, *, project: Project) -> dict:
    """Validate a story request's fields (a form's strings or JSON); raise ValidationError.

    Return the passage fields: kind, act (beats), beat (brief), instruction, the number
    of alternatives and the sampling."""
    kind = _text(data, "kind")
    if kind not in storylevels.LEVELS:
        raise ValidationError("Choose what to propose: a logline, characters, beats or a brief.")
    instruction = _text(data, "instruction").strip()
    limit = settings.COWRITE_DRAFT_MAX_INSTRUCTION_CHARS
    if len(instruction) > limit:
        raise ValidationError(f"The instruction is at most {limit:,} characters.")
    preset = _text(data, "preset", "balanced")
    if preset not in PRESETS:
        raise ValidationError(f"Unknown settings preset “{preset[:40]}”.")
    length = _text(data, "length", "medium")
    if length not in LENGTHS[kind]:
        raise ValidationError("Choose a length: short, medium or long.")
    act = beat = None
    if kind == PassageKind.BEATS:
        act = _num(data, "act", 1, board.MAX_ACTS, int)
        if act is None:
            raise ValidationError("Choose the act to propose beats for.")
    elif kind == PassageKind.BRIEF:
        beat_id = _num(data, "beat", 1, 2**62, int)
        beat = Beat.objects.filter(pk=beat_id, project=project).first() if beat_id else None
        if beat is None:
            raise ValidationError(
                "Choose the card to write a brief for (it may have been deleted)."
            )
    sampling = {
        **PRESETS[preset],
        "max_new_tokens": LENGTHS[kind][length],
        "preset": preset,
    }
    seed = _num(data, "seed", 0, 2**62)
    return {
        "kind": kind,
        "act": act,
        "beat": beat,
        "instruction": instruction,
        "alternatives": _num(data, "alternatives", 1, 4, int) or 1,
        "sampling": sampling,
        "seed": seed,
    }


def story_request(*, project: Project, user, data: dict) -> list[Passage]:
    """Queue a story proposal (one passage per alternative); raise ValidationError."""
    spec = story_spec_from(data, project=project)
    endpoint, version = writer_for(project.pk)
    check_limits(project.pk, user, spec["alternatives"])  # a quick refusal, no lock
    base_seed = spec["seed"] if spec["seed"] is not None else secrets.randbits(48)
    group = uuid.uuid4()
    with transaction.atomic():
        lock_project(project.pk)
        check_limits(project.pk, user, spec["alternatives"])  # again, now it counts
        feedback.tags_for(project)
        passages = [
            Passage.objects.create(
                project=project,
                kind=spec["kind"],
                beat=spec["beat"],
                act=spec["act"],
                group=group,
                alternative=i,
                alternatives=spec["alternatives"],
                requested_by=user,
                task=DraftTask.NEW,
                instruction=spec["instruction"],
                sampling={**spec["sampling"], "seed": base_seed + i},
                model_version=version,
                endpoint=endpoint,
                model_record=model_record(endpoint) if endpoint is not None else {},
            )
            for i in range(spec["alternatives"])
        ]
        publish(DraftCreated(passages[0].room, str(group), group_html(passages)))
        for p in passages:
            publish(Generate(p.pk))
    return passages


# --- what a proposal holds ------------------------------------------------------------------


def _picked(items: list, pick) -> list[tuple[int, object]]:
    """The items the writer ticked (``pick``: their indexes; None: all)."""
    if pick is None:
        return list(enumerate(items))
    chosen = set()
    for raw in pick:
        try:
            i = int(raw)
        except (TypeError, ValueError):
            raise ValidationError(
                "Tick the items to add again; the form was not understood."
            ) from None
        if not 0 <= i < len(items):
            raise ValidationError("Tick the items to add again; the list has changed.")
        chosen.add(i)
    if not chosen:
        raise ValidationError("Tick at least one to add.")
    return [(i, items[i]) for i in sorted(chosen)]


def _accept_logline(passage: Passage, project: Project) -> list[dict]:
    value = passage.proposal_value
    if not value:
        raise ValidationError("This draft has no logline in it to use.")
    old = Project.objects.values_list("logline", flat=True).get(pk=project.pk)
    bible = story.bible_for(project)
    story.bible_save_field(
        project=project,
        name="logline",
        value=value,
        base_version=story.bible_version(bible, "logline"),
    )
    return [{"type": "logline", "text": value, "was": old}]


def _accept_characters(passage: Passage, project: Project, pick) -> list[dict]:
    items = passage.proposal
    if not items:
        raise ValidationError("No characters could be read from this draft.")
    existing = {
        n.upper() for n in Character.objects.filter(project=project).values_list("name", flat=True)
    }
    out = []
    for _, c in _picked(items, pick):
        if c.name.upper() in existing:
            out.append({"type": "skipped", "name": c.name, "why": "already in the cast"})
            continue
        character = services.character_create(
            project=project, name=c.name, description=c.description[:5000]
        )
        fields = {
            "role": c.role if c.role in CharacterRole.values else "",
            "want": c.want[:1000],
            "need": c.need[:1000],
            "flaw": c.flaw[:1000],
            "arc_start": c.arc_start[:1000],
            "arc_end": c.arc_end[:1000],
            "voice": c.voice[:2000],
        }
        Character.objects.filter(pk=character.pk).update(**fields)
        existing.add(character.name.upper())
        out.append({"type": "character", "id": character.pk, "name": character.name})
    if not any(i["type"] == "character" for i in out):
        raise ValidationError("Everyone proposed here is already in the cast; nothing was added.")
    publish(StoryChanged(project.pk, "characters"))
    return out


def _names_in(text: str, characters: dict[str, int]) -> list[int]:
    upper = f" {' '.join(''.join(ch if ch.isalnum() else ' ' for ch in text).split())} ".upper()
    return [pk for name, pk in characters.items() if f" {name} " in upper]


def _accept_beats(passage: Passage, project: Project, user, pick) -> list[dict]:
    items = passage.proposal
    if not items:
        raise ValidationError("No beats could be read from this draft.")
    act = passage.act or 1
    plotlines = {p.label.upper(): p.pk for p in Plotline.objects.filter(project=project) if p.label}
    characters = {
        " ".join(n.upper().split()): pk
        for pk, n in Character.objects.filter(project=project).values_list("pk", "name")
    }
    out = []
    for _, b in _picked(items, pick):
        beat = board.beat_create(
            project=project,
            user=user,
            act=act,
            title=b.title,
            summary=b.summary,
            plotline_ids=[plotlines[x] for x in b.plotlines if x in plotlines],
            character_ids=_names_in(f"{b.title} {b.summary}", characters),
        )
        out.append({"type": "beat", "id": beat.pk, "name": beat.title})
    return out


def _accept_brief(passage: Passage, project: Project, user) -> list[dict]:
    value = passage.proposal_value
    if not value:
        raise ValidationError("This draft has no brief in it to use.")
    if passage.beat_id is None:
        raise ValidationError("The card this brief was written for has been deleted.")
    # No row lock here: making the scene takes the project's lock first (as every board
    # and scene write does), and the accept itself happens once (the conditional update).
    beat = Beat.objects.filter(pk=passage.beat_id, project=project).first()
    if beat is None:
        raise ValidationError("The card this brief was written for has been deleted.")
    made = False
    if beat.scene_id is None:
        scene = board.beat_make_scene(project=project, beat_id=beat.pk, user=user)
        made = True
    else:
        scene = beat.scene
    was = scene.synopsis
    services.scene_update(
        scene=scene,
        heading=scene.heading,
        synopsis=value[:2000],
        cast_ids=list(scene.cast.values_list("pk", flat=True)),
    )
    return [
        {
            "type": "brief",
            "id": scene.pk,
            "name": scene.heading,
            "made_scene": made,
            "was": "" if made else was,
        }
    ]


def story_accept(*, passage: Passage, user, pick=None) -> list[dict]:
    """Accept a finished story proposal, once (see the module docstring); return what it
    made. ``pick``: the indexes of the characters or beats to add (None: all)."""
    if not passage.is_story:
        raise ValidationError("This is a scene draft; accept it from the scene.")
    if passage.status != PassageStatus.DONE:
        raise ValidationError("Only a finished draft can be accepted.")
    if not passage.text.strip():
        raise ValidationError("This draft is empty.")
    project = Project.objects.get(pk=passage.project_id)
    with transaction.atomic():
        if not Passage.objects.filter(pk=passage.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        ):
            raise ValidationError("This draft has been accepted already.")
        if passage.kind == PassageKind.LOGLINE:
            items = _accept_logline(passage, project)
        elif passage.kind == PassageKind.CHARACTERS:
            items = _accept_characters(passage, project, pick)
        elif passage.kind == PassageKind.BEATS:
            items = _accept_beats(passage, project, user, pick)
        else:
            items = _accept_brief(passage, project, user)
        passage.accepted_at = timezone.now()
        passage.accepted_by = user
        passage.accepted_items = items
        passage.save(update_fields=["accepted_at", "accepted_by", "accepted_items"])
        feedback.preference_from_accept(passage=passage, user=user)
        publish(DraftFinal(passage.room, passage.pk))
    return items


def accept_message(kind: str, items: list[dict]) -> str:
    """What an accept did, in the notice's words."""
    made = [i for i in items if i["type"] not in ("skipped",)]
    skipped = [i["name"] for i in items if i["type"] == "skipped"]
    if kind == PassageKind.LOGLINE:
        text = "The logline is now this draft's."
    elif kind == PassageKind.CHARACTERS:
        names = ", ".join(i["name"] for i in made)
        text = f"Added {len(made)} character{'s' if len(made) != 1 else ''}: {names}."
    elif kind == PassageKind.BEATS:
        text = f"Added {len(made)} card{'s' if len(made) != 1 else ''} to the board."
    else:
        brief = made[0] if made else {}
        text = (
            "Made the scene from the card, with this brief."
            if brief.get("made_scene")
            else "The scene's brief is now this draft's."
        )
    if skipped:
        text += f" Left out (already in the cast): {', '.join(skipped)}."
    return text


def story_retry(*, passage: Passage, user) -> list[Passage]:
    """Ask again with a proposal's request (its level, act or card, instruction, style)."""
    data = {
        "kind": passage.kind,
        "instruction": passage.instruction,
        "preset": passage.sampling.get("preset", "balanced"),
        "alternatives": 1,
    }
    for length, tokens in LENGTHS.get(passage.kind, {}).items():
        if tokens == passage.sampling.get("max_new_tokens"):
            data["length"] = length
    if passage.act is not None:
        data["act"] = passage.act
    if passage.kind == PassageKind.BRIEF:
        data["beat"] = passage.beat_id or ""
    project = Project.objects.get(pk=passage.project_id)
    return story_request(project=project, user=user, data=data)
