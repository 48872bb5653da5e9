"""What a draft request may ask for: presets, lengths, and the validation of a request."""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

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


def draft_spec_from(data: dict) -> DraftSpec:
    """Validate raw request fields (strings from a form or JSON); raise ValidationError."""
    task = _text(data, "task")
    if task not in DraftTask.values:
        raise ValidationError("Choose what to write: a new scene, a continuation, or a rewrite.")
    preset = _text(data, "preset", "balanced")
    speakers = _text(data, "speakers", "cast")
    if speakers not in SPEAKERS:
        raise ValidationError("Choose who speaks: the scene's cast, or anyone.")
    if preset not in PRESETS:
        raise ValidationError(f"Unknown settings preset “{preset}”.")
    instruction = _text(data, "instruction").strip()
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
    )
    if task == DraftTask.REWRITE:
        if (
            spec.selection_start is None
            or spec.selection_end is None
            or spec.selection_end <= spec.selection_start
        ):
            raise ValidationError("Select the passage to rewrite first.")
        if not instruction:
            raise ValidationError("Say how to rewrite the selection.")
    return spec
