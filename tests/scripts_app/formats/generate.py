"""Generate a deterministic feature-length Fountain script that uses every element.

Used by the tests and by ``bench/bench_formats.py``; nothing large is committed.
"""

from __future__ import annotations

import functools
import random

WORDS = [
    "the",
    "a",
    "rain",
    "window",
    "door",
    "light",
    "shadow",
    "city",
    "engine",
    "coffee",
    "letter",
    "knife",
    "map",
    "train",
    "radio",
    "silence",
    "street",
    "river",
    "phone",
    "money",
    "ghost",
    "mirror",
    "roof",
    "dog",
    "glass",
    "smoke",
    "clock",
    "bridge",
    "storm",
    "fire",
    "key",
    "hands",
    "eyes",
    "voice",
    "night",
    "morning",
    "truck",
    "gun",
    "photo",
    "tape",
    "slowly",
    "quickly",
    "almost",
    "never",
    "again",
    "still",
    "only",
    "just",
    "maybe",
    "somehow",
    "finally",
]
VERBS = [
    "looks",
    "waits",
    "runs",
    "turns",
    "grabs",
    "drops",
    "opens",
    "closes",
    "watches",
    "hides",
    "finds",
    "breaks",
    "laughs",
    "whispers",
    "stares",
    "leans",
    "pushes",
    "pulls",
    "reads",
    "counts",
    "listens",
    "shrugs",
]
NAMES = ["EDWARD", "MAYA", "DR. OKAFOR", "LUCIA", "BENNY", "THE STRANGER", "O'HARA", "JUNE"]
PLACES = [
    "KITCHEN",
    "POLICE STATION",
    "ROOFTOP",
    "DINER",
    "TRAIN CAR",
    "MOTEL ROOM",
    "PARKING GARAGE",
    "HOSPITAL CORRIDOR",
    "EDWARD'S APARTMENT",
    "HARBOR",
]
TIMES = ["DAY", "NIGHT", "CONTINUOUS", "LATER", "MORNING", "DUSK"]
PREFIXES = ["INT.", "EXT.", "INT./EXT.", "I/E", "EST."]


def _sentence(rng: random.Random, lo: int = 4, hi: int = 12) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    words.insert(1, rng.choice(VERBS))
    if rng.random() < 0.08:
        k = rng.randrange(len(words))
        mark = rng.choice(["*", "**", "***", "_"])
        words[k] = f"{mark}{words[k]}{mark}"
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?", "..."])


def _paragraph(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(lo, hi)))


def _cue(rng: random.Random) -> str:
    name = rng.choice(NAMES)
    r = rng.random()
    if r < 0.08:
        return f"{name} (V.O.)"
    if r < 0.14:
        return f"{name} (O.S.)"
    if r < 0.18:
        return f"{name} (CONT'D)"
    return name


def _speech(rng: random.Random, cue: str) -> list[str]:
    lines = [cue]
    if rng.random() < 0.25:
        lines.append(f"({rng.choice(VERBS)} {rng.choice(WORDS)})")
    lines.append(_paragraph(rng, 1, 3))
    if rng.random() < 0.15:
        lines.append("(beat)")
        lines.append(_paragraph(rng, 1, 2))
    return lines


def feature_script(scenes: int = 140, seed: int = 7) -> str:
    """Return a Fountain script; the default is about 115 pages."""
    rng = random.Random(seed)
    out = [
        "Title:",
        "    _**THE LONG NIGHT**_",
        "    *A generated test script*",
        "Credit: Written by",
        "Author: Cowrite Test Generator",
        "Source: Nothing in particular",
        "Draft date: 2026-11-28",
        "Contact:",
        "    Cowrite",
        "    test@example.com",
        "",
    ]
    for n in range(1, scenes + 1):
        if n in (1, scenes // 3, 2 * scenes // 3):
            out += [
                f"# ACT {['ONE', 'TWO', 'THREE'][[1, scenes // 3, 2 * scenes // 3].index(n)]}",
                "",
            ]
            out += [f"= {_sentence(rng)}", ""]
        if n % 17 == 0:
            out += [f".FLASHBACK - {rng.choice(PLACES)} #{n}#", ""]
        else:
            number = f" #{n}#" if n % 3 else f" #{n}A#" if n % 9 == 0 else ""
            heading = f"{rng.choice(PREFIXES)} {rng.choice(PLACES)} - {rng.choice(TIMES)}"
            out += [heading + number, ""]
        if n % 5 == 0:
            out += [f"[[Note for scene {n}: check continuity.]]", ""]
        out += [_paragraph(rng, 1, 4), ""]
        for _ in range(rng.randint(3, 7)):
            if rng.random() < 0.25:
                action = _paragraph(rng, 1, 3)
                if rng.random() < 0.1:
                    action += " [[inline note]]"
                out += [action, ""]
            if rng.random() < 0.05:
                out += ["!" + " ".join(rng.choice(WORDS).upper() for _ in range(3)), ""]
            if rng.random() < 0.04:
                a, b = rng.sample(NAMES, 2)
                out += [*_speech(rng, a), "", *_speech(rng, b + " ^"), ""]
                continue
            cue = _cue(rng)
            if rng.random() < 0.03:
                cue = "@McKENZIE"
            out += [*_speech(rng, cue), ""]
        if n % 23 == 0:
            out += ["MAYA", "~Row, row, row your boat", "~Gently down the stream", ""]
            out += ["~And the band plays on", ""]
        if n % 29 == 0:
            out += ["/*", "INT. DELETED SCENE - DAY", "", "Nobody will see this.", "*/", ""]
        if n == scenes // 2:
            out += ["> INTERMISSION <", "", "===", ""]
        if n % 4 == 0:
            out += [rng.choice(["CUT TO:", "DISSOLVE TO:", "SMASH CUT TO:"]), ""]
        elif n % 11 == 0:
            out += [">FADE TO BLACK.", ""]
    out += ["> THE END <", ""]
    return "\n".join(out)


@functools.cache
def feature_text() -> str:
    """Return the default feature script, generated once per process."""
    return feature_script()


def feature():
    """Return the default feature script parsed (a fresh ``Script`` each call)."""
    from scripts_app.formats import fountain

    return fountain.parse(feature_text())


def split_scenes(text: str) -> list[tuple[str, str]]:
    """Return (heading line, body) per INT./EXT. heading of a generated script, as the app
    stores scenes (the text before the first heading is left out)."""
    out: list[tuple[str, list[str]]] = []
    for block in text.split("\n\n"):
        if block.startswith(("INT.", "EXT.")) and "\n" not in block.strip():
            out.append((block.strip(), []))
        elif out:
            out[-1][1].append(block)
    return [(heading, "\n\n".join(body)) for heading, body in out]
