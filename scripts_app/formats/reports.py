"""Script reports: length and running time per scene, scene navigator, character report.

Running time uses the industry rule of one page per minute, measured in laid-out lines
(``pagination``), so a 3/8-page scene is about 22 seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import fountain
from .markup import plain_text
from .model import SPEECH_TYPES, ElementType, Script, normalize_character_name
from .pagination import LETTER, PageLayout, eighths, lay_out, wrap_text

__all__ = ["CharacterReport", "SceneReport", "ScriptReport", "script_report"]

T = ElementType


@dataclass(slots=True)
class SceneReport:
    """Scene navigator row: number, heading, start page, length, running time, cast."""

    index: int  # 0-based
    number: str | None  # explicit scene number, or None
    heading: str
    start_page: int
    eighths: int  # length in eighths of a page (at least 1)
    seconds: int  # estimated running time
    cast: list[str]  # canonical names of the characters who speak, in order

    @property
    def pages_label(self) -> str:
        """Return the length as breakdown sheets write it: "1 3/8", "5/8", "2"."""
        whole, rest = divmod(self.eighths, 8)
        if not rest:
            return str(whole)
        return f"{whole} {rest}/8" if whole else f"{rest}/8"


@dataclass(slots=True)
class CharacterReport:
    """How much one character speaks, and in which scenes."""

    name: str
    scenes: list[int] = field(default_factory=list)  # scene indexes where they speak
    speeches: int = 0  # number of cues
    dialogue_lines: int = 0  # printed lines of dialogue (wrapped at the dialogue width)
    words: int = 0


@dataclass(slots=True)
class ScriptReport:
    """Totals plus the per-scene and per-character reports."""

    pages: int
    seconds: int
    scenes: list[SceneReport]
    characters: list[CharacterReport]  # most words first

    @property
    def minutes(self) -> float:
        return self.seconds / 60


def script_report(script_or_text: Script | str, layout: PageLayout = LETTER) -> ScriptReport:
    """Return page count, running times, scene navigator data and the character report."""
    script = fountain.parse(script_or_text) if isinstance(script_or_text, str) else script_or_text
    per_page = layout.lines_per_page
    laid = lay_out(script, layout)

    scenes: list[SceneReport] = []
    characters: dict[str, CharacterReport] = {}
    scene_idx = -1
    cast: list[str] = []
    speaker: CharacterReport | None = None
    for el in script.elements:
        if el.type is T.SCENE_HEADING:
            scene_idx += 1
            start, stop = laid.scene_span(scene_idx)
            lines = max(stop - start, 0)
            cast = []
            scenes.append(
                SceneReport(
                    index=scene_idx,
                    number=el.scene_number,
                    heading=el.text,
                    start_page=start // per_page + 1,
                    eighths=eighths(lines, layout),
                    seconds=round(lines * 60 / per_page),
                    cast=cast,
                )
            )
        elif el.type is T.CHARACTER:
            name = normalize_character_name(el.text)
            speaker = characters.setdefault(name, CharacterReport(name))
            speaker.speeches += 1
            if scene_idx >= 0 and scene_idx not in speaker.scenes:
                speaker.scenes.append(scene_idx)
            if name not in cast:
                cast.append(name)
            continue
        elif el.type in (T.DIALOGUE, T.LYRICS) and speaker is not None:
            text = plain_text(el.text)
            speaker.words += len(text.split())
            speaker.dialogue_lines += len(wrap_text(text, layout.dialogue_width))
            continue
        if el.type not in SPEECH_TYPES:
            speaker = None
    ranked = sorted(characters.values(), key=lambda c: (-c.words, c.name))
    return ScriptReport(
        pages=laid.page_count,
        seconds=round(laid.total_lines * 60 / per_page) if laid.page_count else 0,
        scenes=scenes,
        characters=ranked,
    )
