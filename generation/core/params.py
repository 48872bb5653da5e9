"""Sampling parameters: the one definition of their names, ranges and defaults.

``SamplingParams`` travels from the request (the drafts panel's form, an API call) to the
engine unchanged. Every outside value goes through ``SamplingParams.from_dict`` (or, for
one field, ``parse_number``) against ``RANGES``; the drafts panel and the API both read
them here, so a range is written once. No PyTorch: the web process validates with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

# name -> (type, lowest, highest); inclusive. ``max_new_tokens``' ceiling is the
# installation's (``COWRITE_DRAFT_MAX_NEW_TOKENS``), given by the caller.
RANGES: dict[str, tuple[type, float, float | None]] = {
    "max_new_tokens": (int, 1, None),
    "temperature": (float, 0.0, 2.0),
    "top_k": (int, 0, 1000),
    "top_p": (float, 0.01, 1.0),
    "min_p": (float, 0.0, 1.0),
    "repetition_penalty": (float, 0.5, 2.0),
    "seed": (int, -(2**63), 2**64 - 1),
}
STOP_MAX, STOP_MAX_CHARS = 4, 100


def parse_number(
    raw, name: str, *, low=None, high=None, kind=None, strings: bool = False, label: str = ""
):
    """Read one number field strictly: finite, of its kind (a whole number for ints), in
    its range (``RANGES[name]`` unless given). ``None``/absent -> None. ``strings``: a
    form's text is accepted too ("2", "0.5"); JSON booleans never are. Raises ValueError
    with a message for the writer or API caller, about ``label`` (default: the name,
    capitalised)."""
    rkind, rlow, rhigh = RANGES.get(name, (float, None, None))
    kind = kind or rkind
    low = rlow if low is None else low
    high = rhigh if high is None else high
    label = label or name.replace("_", " ").capitalize()
    if raw is None or (strings and raw == ""):
        return None
    if isinstance(raw, str) and strings and len(raw) <= 40:
        try:
            raw = int(raw) if kind is int else float(raw)
        except ValueError:
            try:
                raw = float(raw)  # "2.0" for a whole number
            except ValueError:
                raise ValueError(f"{label} must be a number.") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{label} must be a number.")
    if isinstance(raw, float):
        if not math.isfinite(raw):  # "Infinity" or "nan" from a form (JSON has none)
            raise ValueError(f"{label} must be a number.")
        if kind is int:
            if not raw.is_integer():
                raise ValueError(f"{label} must be a whole number.")
            raw = int(raw)
    value = kind(raw)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{label} must be between {low} and {high}.")
    return value


@dataclass
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.8  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    min_p: float = 0.0  # 0 = off; keep tokens with p >= min_p * p(most likely)
    repetition_penalty: float = 1.0  # 1 = off; ~1.2 discourages loops
    stop: list[str] = field(default_factory=list)  # stop strings (not included in output)
    stop_token_ids: list[int] = field(default_factory=list)  # in addition to <|end|>
    seed: int | None = None  # None = random
    # Cue-aware decoding: character cues only name the prompt's cast (``core/cues.py``).
    cast_cues: bool = False

    FIELDS = ("max_new_tokens", "temperature", "top_k", "top_p", "min_p", "repetition_penalty")

    def __post_init__(self):
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or not 0 <= self.min_p <= 1:
            raise ValueError("bad temperature/top_p/min_p")
        if self.repetition_penalty <= 0:
            raise ValueError("repetition_penalty must be > 0")
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = [s for s in self.stop if s]

    @classmethod
    def from_dict(
        cls, d: Mapping, *, max_new_tokens_cap: int | None = None, strings: bool = False
    ) -> SamplingParams:
        """Validate outside values (a stored passage's ``sampling``, a request): every
        known field against ``RANGES``; absent fields take the defaults; other keys (a
        preset's name) are ignored. Raises ValueError with a field-named message."""
        values = {}
        for name in (*cls.FIELDS, "seed"):
            high = max_new_tokens_cap if name == "max_new_tokens" else None
            value = parse_number(d.get(name), name, high=high, strings=strings)
            if value is not None:
                values[name] = value
        stop = d.get("stop") or []
        if isinstance(stop, str):
            stop = [stop]
        if (
            not isinstance(stop, list)
            or len(stop) > STOP_MAX
            or not all(isinstance(s, str) and len(s) <= STOP_MAX_CHARS for s in stop)
        ):
            raise ValueError(
                f"Stop: up to {STOP_MAX} strings of at most {STOP_MAX_CHARS} characters."
            )
        cast_cues = d.get("cast_cues", False)
        if not isinstance(cast_cues, bool):
            raise ValueError("Cast cues: give true or false.")
        return cls(**values, stop=list(stop), cast_cues=cast_cues)

    def as_dict(self) -> dict:
        """The JSON form (what a passage stores; ``from_dict`` reads it back)."""
        out = {name: getattr(self, name) for name in self.FIELDS}
        if self.stop:
            out["stop"] = list(self.stop)
        if self.seed is not None:
            out["seed"] = self.seed
        if self.cast_cues:
            out["cast_cues"] = True
        return out
