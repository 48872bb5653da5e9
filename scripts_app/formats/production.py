"""Production revisions: locked pages and scene numbers, revision marks, omitted scenes.

Once a script goes into production it is *locked*: the draft as it stands is issued as the
white draft, and from then on its page numbers and scene numbers never move. Each later
issue is a coloured revision (Blue, Pink, Yellow…, the industry's order) and prints:

- an asterisk in the right margin beside every line changed since the lock, and the
  revision that last changed it (a line changed in Blue and not since keeps its Blue
  mark in the Pink revision); a revised page says which revision in its header;
- locked pages: every issued page starts where it started when it was issued; text that
  grows a page flows onto "12A", "12B"… and pages that lost all their text print as one
  ("12-13");
- locked scene numbers: a scene keeps its number; a new scene between 12 and 13 is
  "12A"; a deleted scene stays in the script as "12 OMITTED".

This module is the rule, with no database: a ``Snapshot`` is what one issue stored (its
elements with the scene each belongs to and its marks, where its pages began, its scene
numbers); ``build`` lays the script as it is now against the last snapshot. Elements are
matched to the last issue's by a sequence diff of (scene, type, text), so a scene's
identity is its id, not its place or heading.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from . import fountain
from .model import Element, ElementType, Script
from .pagination import LETTER, PageLayout, PageLock, first_elements, lay_out, number_scenes

T = ElementType

# The order of revision colours in US productions (WGA practice), then "Double White"…
COLOURS = ("White", "Blue", "Pink", "Yellow", "Green", "Goldenrod", "Buff", "Salmon", "Cherry")
# Swatches for the screen (text marks and badges), readable on white and dark pages.
SWATCHES = {
    "White": "#8a8a8a",
    "Blue": "#2f6fdd",
    "Pink": "#d6337a",
    "Yellow": "#b38f00",
    "Green": "#2e8b3d",
    "Goldenrod": "#c77d0a",
    "Buff": "#a0785a",
    "Salmon": "#e0644a",
    "Cherry": "#b3123a",
}
_ROUNDS = ("", "Double ", "Triple ", "Quadruple ")

# The elements that print (and so can change, be marked, start a page).
PRINTED = frozenset(
    {
        T.SCENE_HEADING,
        T.ACTION,
        T.CHARACTER,
        T.DIALOGUE,
        T.PARENTHETICAL,
        T.LYRICS,
        T.TRANSITION,
        T.CENTERED,
        T.PAGE_BREAK,
    }
)
OMITTED = "OMITTED"


def colour_name(index: int) -> str:
    """The revision colour of issue ``index``: 0 White, 1 Blue… 9 Double White."""
    if index < 0:
        raise ValueError("revision index must be 0 or more")
    rounds, k = divmod(index, len(COLOURS))
    prefix = _ROUNDS[rounds] if rounds < len(_ROUNDS) else f"{rounds + 1}× "
    return prefix + COLOURS[k]


def swatch(index: int) -> str:
    return SWATCHES[COLOURS[index % len(COLOURS)]]


@dataclass(frozen=True, slots=True)
class SceneText:
    """One scene as the app holds it: its id (its identity across revisions), heading line
    and text."""

    id: int
    heading: str
    text: str


@dataclass(slots=True)
class Item:
    """One printed element of an issued draft, tied to its scene."""

    scene: int
    type: str
    text: str
    mark: int | None = None
    raw: str | None = None  # the source lines when they differ from ``text``

    @property
    def signature(self) -> tuple[int, str, str]:
        return (self.scene, self.type, self.text)

    def to_json(self) -> list:
        row = [self.scene, self.type, self.text, self.mark]
        return row + [self.raw] if self.raw is not None else row

    @classmethod
    def from_json(cls, row: list) -> Item:
        scene, kind, text, mark = row[:4]
        return cls(int(scene), str(kind), str(text), None if mark is None else int(mark),
                   None if len(row) < 5 or row[4] is None else str(row[4]))  # fmt: skip


@dataclass(slots=True)
class Snapshot:
    """What one issue stored. ``pages``: (label, index of the item the page starts at);
    ``numbers``: scene key ("12" for a scene's heading, "12.1" for a second heading in
    its text) -> locked scene number; ``order``: scene ids as issued, omitted ones
    included; ``omitted``: the scenes that print as OMITTED."""

    index: int
    date: str
    items: list[Item]
    pages: list[tuple[str, int]]
    numbers: dict[str, str]
    order: list[int]
    omitted: list[int] = field(default_factory=list)

    @property
    def colour(self) -> str:
        return colour_name(self.index)

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "date": self.date,
            "items": [item.to_json() for item in self.items],
            "pages": [[label, at] for label, at in self.pages],
            "numbers": self.numbers,
            "order": self.order,
            "omitted": self.omitted,
        }

    @classmethod
    def from_json(cls, data: dict) -> Snapshot:
        return cls(
            index=int(data["index"]),
            date=str(data.get("date", "")),
            items=[Item.from_json(row) for row in data["items"]],
            pages=[(str(label), int(at)) for label, at in data["pages"]],
            numbers={str(k): str(v) for k, v in data["numbers"].items()},
            order=[int(s) for s in data["order"]],
            omitted=[int(s) for s in data.get("omitted", [])],
        )

    def scene_lines(self, scene_id: int) -> list[tuple[str, int | None]]:
        """The lines of one scene's text as issued (its heading left out: the editor
        holds the text only), each with its mark: what the editor diffs against."""
        out: list[tuple[str, int | None]] = []
        heading_seen = False
        for item in self.items:
            if item.scene != scene_id:
                continue
            if item.type == T.SCENE_HEADING and not heading_seen:
                heading_seen = True
                continue
            for line in (item.raw if item.raw is not None else item.text).split("\n"):
                out.append((line, item.mark))
        return out


@dataclass(slots=True)
class Production:
    """The script as it stands now against its last issue (``build``)."""

    script: Script  # printed elements only, marked and numbered
    scenes: list[int]  # per element, its scene id
    locks: list[PageLock]
    open_index: int  # the revision that changes made now belong to
    numbers: dict[str, str]
    order: list[int]
    omitted: list[int]
    last: Snapshot | None

    @property
    def changed(self) -> int:
        """How many printed elements carry the open revision's mark."""
        return sum(1 for el in self.script.elements if el.mark == self.open_index)

    def lay_out(self, layout: PageLayout = LETTER):
        return lay_out(self.script, layout, self.locks)

    def issue(self, date: str, layout: PageLayout = LETTER) -> Snapshot:
        """The snapshot that issuing the script now stores (the open revision becomes it)."""
        result = self.lay_out(layout)
        starts = first_elements(result, len(self.script.elements))
        items = []
        for el, scene in zip(self.script.elements, self.scenes, strict=True):
            raw = el.raw if el.raw is not None and el.raw != el.text else None
            items.append(Item(scene, el.type.value, el.text, el.mark, raw))
        return Snapshot(
            index=self.open_index,
            date=date,
            items=items,
            pages=[(page.label, at) for page, at in zip(result.pages, starts, strict=True)],
            numbers=dict(self.numbers),
            order=list(self.order),
            omitted=list(self.omitted),
        )


def _scene_elements(scene: SceneText) -> list[Element]:
    source = f"{scene.heading}\n\n{scene.text}"
    return [el for el in fountain.parse(source).elements if el.type in PRINTED]


def _sequence(
    scenes: Sequence[SceneText], last: Snapshot | None
) -> list[tuple[int, SceneText | None]]:
    """Scenes in print order with the omitted ones (None) where they were."""
    seq: list[tuple[int, SceneText | None]] = [(s.id, s) for s in scenes]
    if last is None:
        return seq
    present = {s.id for s in scenes}
    omitted = [sid for sid in last.order if sid not in present]
    if not omitted:
        return seq
    gone = set(omitted)
    for k, sid in enumerate(last.order):
        if sid not in gone:
            continue
        # After the nearest scene before it (as issued) that is still in the script.
        where = 0
        placed = {pid for pid, _ in seq}
        for prev in reversed(last.order[:k]):
            if prev in placed:
                where = next(i for i, (pid, _) in enumerate(seq) if pid == prev) + 1
                break
        seq.insert(where, (sid, None))
    return seq


def build(
    scenes: Sequence[SceneText], issues: Sequence[Snapshot], *, open_index: int | None = None
) -> Production:
    """Lay the script as it is now (``scenes`` in order) against its issues (oldest first).

    With no issue yet nothing is locked or marked: the script as it would be locked."""
    last = issues[-1] if issues else None
    open_index = (last.index + 1 if last else 0) if open_index is None else open_index
    elements: list[Element] = []
    owners: list[int] = []
    keys: list[str | None] = []  # per element: the scene key of a heading
    omitted: list[int] = []
    for sid, scene in _sequence(scenes, last):
        if scene is None:
            omitted.append(sid)
            els = [Element(T.SCENE_HEADING, OMITTED)]
        else:
            els = _scene_elements(scene)
        k = 0
        for el in els:
            if el.type is T.SCENE_HEADING:
                keys.append(str(sid) if k == 0 else f"{sid}.{k}")
                k += 1
            else:
                keys.append(None)
            elements.append(el)
            owners.append(sid)

    numbers: dict[str, str] = {}
    locked = last.numbers if last else {}
    headings = []
    for i, key in enumerate(keys):
        if key is None:
            continue
        headings.append(i)
        if key in locked:
            elements[i] = replace(elements[i], scene_number=locked[key])
        elif last is None or owners[i] in last.omitted:
            pass  # the lock numbers scenes as the script reads (their own #12# kept)
        else:
            elements[i] = replace(elements[i], scene_number=None)  # a new scene: lettered
    for i, number in zip(headings, number_scenes(Script(elements=elements)), strict=True):
        elements[i] = replace(elements[i], scene_number=number)
        numbers[keys[i]] = number

    locks: list[PageLock] = []
    if last is not None:
        marks, mapping = _compare(last, elements, owners, open_index)
        elements = [replace(el, mark=m) for el, m in zip(elements, marks, strict=True)]
        for label, at in last.pages:
            locks.append(PageLock(mapping(at), (label,)))
    order = [sid for sid in dict.fromkeys(owners)]
    return Production(
        script=Script(elements=elements),
        scenes=owners,
        locks=locks,
        open_index=open_index,
        numbers=numbers,
        order=order,
        omitted=omitted,
        last=last,
    )


def _compare(last: Snapshot, elements: list[Element], owners: list[int], open_index: int):
    """Marks for the current elements and the map from the last issue's element indexes
    to the current ones (where a locked page now starts)."""
    old = [item.signature for item in last.items]
    new = [(sid, el.type.value, el.text) for sid, el in zip(owners, elements, strict=True)]
    ops = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    marks: list[int | None] = [open_index] * len(new)
    for tag, i1, i2, j1, _j2 in ops:
        if tag == "equal":
            for k in range(i2 - i1):
                marks[j1 + k] = last.items[i1 + k].mark
    for tag, i1, _i2, j1, _j2 in ops:
        if tag == "delete" and new:
            # Text taken out marks the line before it in the same scene (or the next one).
            scene = last.items[i1].scene
            j = j1 - 1 if j1 > 0 and owners[j1 - 1] == scene else min(j1, len(new) - 1)
            marks[j] = open_index

    def mapping(i: int) -> int:
        for tag, i1, i2, j1, j2 in ops:
            if i1 <= i < i2:
                if tag == "equal":
                    return j1 + (i - i1)
                if tag == "delete":
                    return j1
                return min(j1 + (i - i1), j2)  # replace
        return len(new)

    return marks, mapping


def lock(scenes: Sequence[SceneText], date: str, layout: PageLayout = LETTER) -> Snapshot:
    """The white draft: the script as it is, its pages and scene numbers locked."""
    return build(scenes, ()).issue(date, layout)
