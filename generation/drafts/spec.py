"""What a draft request may ask for: modes, rewrite presets, sampling presets, lengths, and
the validation of a request.

The modes writers pick (each one control in the panel, with a shortcut):

- ``new``: write the scene from its brief (heading, cast, synopsis);
- ``continue``: continue from the cursor (the text before it is what the model
  continues; accepting inserts the draft there), or from the end with no cursor;
- ``rewrite``: rewrite the selection, with a preset (``REWRITES``: its instruction text,
  filled in here) or the writer's own instruction;
- ``dialogue``: a dialogue pass for one of the scene's cast: a rewrite of the selection
  whose instruction is "Rewrite only NAME's dialogue: <their words>".

A rewrite and a continuation carry where they were asked as Yjs relative positions on the
live text (``anchor_start``/``anchor_end``, base64 of ``Y.encodeRelativePosition``),
checked here (``scripts_app.positions``) and stored on the passages.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

from scripts_app import positions

from ..core.params import SamplingParams, parse_number
from ..models import DraftTask

PRESETS = {
    "balanced": {
        "temperature": 0.8,
        "top_p": 0.95,
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.1,
    },
    "focused": {
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "repetition_penalty": 1.15,
    },
    "adventurous": {
        "temperature": 1.05,
        "top_p": 0.98,
        "top_k": 0,
        "min_p": 0.02,
        "repetition_penalty": 1.1,
    },
    "greedy": {
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.2,
    },
}
LENGTHS = {"short": 96, "medium": 192, "long": 384}
SPEAKERS = ("cast", "any")
# What writers ask for, and the task each is for the model and the prompt.
MODES = {
    "new": DraftTask.NEW,
    "continue": DraftTask.CONTINUE,
    "rewrite": DraftTask.REWRITE,
    "dialogue": DraftTask.REWRITE,
}
# Rewrite presets: the instruction each stands for ({free}: the writer's own words, added
# after it; {name}: the cast member picked). "" is the writer's own instruction alone.
REWRITES = {
    "tighten": ("Tighten", "Tighten it: cut what the scene does not need, keep every beat."),
    "punch_up": ("Punch up", "Punch it up: sharper lines, stronger verbs, a better button."),
    "tone": ("Change tone…", "Change the tone: {free}."),
    "voice": ("In a character's voice…", "Rewrite it in {name}'s voice."),
}


@dataclass
class DraftSpec:
    """A validated draft request (from a form or a websocket message)."""

    task: str
    alternatives: int = 1
    instruction: str = ""
    preset: str = "balanced"
    max_new_tokens: int = LENGTHS["medium"]
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    # Who may speak: "cast" (cue-aware decoding keeps cues to the scene's cast) or "any".
    speakers: str = "cast"
    selection_start: int | None = None
    selection_end: int | None = None
    # What the writer picked (``MODES``; a rewrite's preset and cast member, if any).
    mode: str = ""
    rewrite: str = ""
    character: str = ""
    # The selection (or, for a continuation, the cursor) as Yjs relative positions.
    anchor_start: positions.RelativePosition | None = None
    anchor_end: positions.RelativePosition | None = None

    def sampling(self) -> dict:
        """The passage's ``sampling``: ``SamplingParams.as_dict()`` (preset, then the
        request's own values) plus the preset's name."""
        values = dict(PRESETS[self.preset])
        for name in SamplingParams.FIELDS:
            if getattr(self, name, None) is not None:
                values[name] = getattr(self, name)
        values["max_new_tokens"] = self.max_new_tokens
        values["cast_cues"] = self.speakers == "cast"
        return {**SamplingParams(**values).as_dict(), "preset": self.preset}


def _num(data: dict, name: str, low=None, high=None, kind=None):
    """A number field (a form's string, or a JSON number), by ``core.params.RANGES``
    unless a range is given; raise ValidationError."""
    try:
        return parse_number(data.get(name), name, low=low, high=high, kind=kind, strings=True)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def _text(data: dict, name: str, default: str = "") -> str:
    """A text field: a string (or absent); anything else is refused."""
    raw = data.get(name)
    if raw is None or raw == "":
        return default
    if not isinstance(raw, str):
        raise ValidationError(f"{name.replace('_', ' ').capitalize()} must be text.")
    return raw


def _anchor(data: dict, name: str, where: str) -> positions.RelativePosition | None:
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    try:
        return positions.from_b64(raw)
    except positions.PositionError as exc:
        raise ValidationError(
            f"The {where}'s place in the scene was not understood ({exc}); "
            "reload the page and try again."
        ) from None


def _cast_member(name: str, cast: Iterable[str] | None, purpose: str) -> str:
    if not name:
        raise ValidationError(f"Pick {purpose}.")
    names = sorted({c.upper() for c in cast or ()})
    if not names:
        raise ValidationError("This scene has no cast yet: add its characters in Scene details.")
    if name.upper() not in names:
        raise ValidationError(
            f"{name[:100]} is not in this scene's cast; pick one of: {', '.join(names)}."
        )
    return name.upper()


def _instruction(mode: str, rewrite: str, free: str, character: str) -> str:
    """The instruction the model gets, from the mode, the preset and the writer's words."""
    if mode == "dialogue":
        return f"Rewrite only {character}'s dialogue" + (f": {free}" if free else ".")
    if mode != "rewrite" or not rewrite:
        return free
    template = REWRITES[rewrite][1]
    text = template.format(free=free.rstrip("."), name=character)
    if free and "{free}" not in template:
        text += " " + free
    return text


def draft_spec_from(data: dict, *, cast: Iterable[str] | None = None) -> DraftSpec:
    """Validate raw request fields (strings from a form or JSON); raise ValidationError.

    ``mode`` (or, as before, ``task``) picks what to write; ``cast`` is the scene's cast
    (names), which a voice rewrite or a dialogue pass must pick from."""
    mode = _text(data, "mode") or _text(data, "task")
    if mode not in MODES:
        raise ValidationError(
            "Choose what to write: the scene, a continuation, a rewrite of the selection, "
            "or a dialogue pass."
        )
    task = MODES[mode]
    preset = _text(data, "preset", "balanced")
    speakers = _text(data, "speakers", "cast")
    if speakers not in SPEAKERS:
        raise ValidationError("Choose who speaks: the scene's cast, or anyone.")
    if preset not in PRESETS:
        raise ValidationError(f"Unknown settings preset “{preset[:40]}”.")
    rewrite = _text(data, "rewrite")
    if rewrite and rewrite not in REWRITES:
        choices = ", ".join(label.rstrip("…") for label, _ in REWRITES.values())
        raise ValidationError(
            f"Unknown rewrite “{rewrite[:40]}”: choose {choices}, or write your own instruction."
        )
    free = _text(data, "instruction").strip()
    character = _text(data, "character").strip()
    if mode == "dialogue":
        character = _cast_member(character, cast, "whose dialogue to rewrite")
    elif mode == "rewrite" and rewrite == "voice":
        character = _cast_member(character, cast, "whose voice to rewrite it in")
    else:
        character = ""
    if mode == "rewrite":
        if not rewrite and not free:
            raise ValidationError("Say how to rewrite the selection, or pick a preset.")
        if rewrite == "tone" and not free:
            raise ValidationError("Say which tone, e.g. “drier, more deadpan”.")
    else:
        rewrite = ""
    instruction = _instruction(mode, rewrite, free, character)
    limit = settings.COWRITE_DRAFT_MAX_INSTRUCTION_CHARS
    if len(instruction) > limit:
        raise ValidationError(f"The instruction is at most {limit:,} characters.")
    length = _text(data, "length", "medium")
    max_new = _num(data, "max_new_tokens", high=settings.COWRITE_DRAFT_MAX_NEW_TOKENS)
    if max_new is None:
        if length not in LENGTHS:
            raise ValidationError("Choose a length: short, medium or long.")
        max_new = LENGTHS[length]
    spec = DraftSpec(
        task=task,
        alternatives=_num(data, "alternatives", 1, 4, int) or 1,
        instruction=instruction,
        preset=preset,
        max_new_tokens=max_new,
        temperature=_num(data, "temperature"),
        top_k=_num(data, "top_k"),
        top_p=_num(data, "top_p"),
        min_p=_num(data, "min_p"),
        repetition_penalty=_num(data, "repetition_penalty"),
        # Each alternative adds its index to the seed: keep the sum in the engine's range.
        seed=_num(data, "seed", 0, 2**62),
        speakers=speakers,
        selection_start=_num(data, "selection_start", 0, 10_000_000, int),
        selection_end=_num(data, "selection_end", 0, 10_000_000, int),
        mode=mode,
        rewrite=rewrite,
        character=character,
    )
    if task == DraftTask.REWRITE:
        if (
            spec.selection_start is None
            or spec.selection_end is None
            or spec.selection_end <= spec.selection_start
        ):
            raise ValidationError("Select the passage to rewrite first.")
        spec.anchor_start = _anchor(data, "anchor_start", "selection")
        spec.anchor_end = _anchor(data, "anchor_end", "selection")
        if (spec.anchor_start is None) != (spec.anchor_end is None):
            raise ValidationError(
                "The selection's place in the scene came with one end only; select it again."
            )
    elif task == DraftTask.CONTINUE:
        # From the cursor (start = end), or from the end of the scene with none.
        if spec.selection_start is not None:
            spec.selection_end = spec.selection_start
            spec.anchor_start = _anchor(data, "anchor_start", "cursor")
        else:
            spec.selection_end = None
    else:
        spec.selection_start = spec.selection_end = None
    return spec
