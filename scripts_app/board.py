"""The beat board: index cards (``Beat``) in acts, and their link with the script.

Writes follow ``services.py``: keyword-only, atomic, ``ValidationError`` with the message
a writer sees, nothing changed on refusal. Every write publishes
``events.StoryChanged(project, "board")`` (or ``"beat"`` with the card's id) so open
boards re-fetch themselves (``static/js/story.js``).

- **Place.** A card's place is (``act``, ``position``): positions are dense (0..n-1)
  within each act, kept under a row lock on the project, as scene positions are. Acts
  are 1..``MAX_ACTS``; an act exists while it holds a card (the board always shows acts
  1–3 and one empty act after the last, which is how a writer "adds an act").
- **Version.** ``Beat.version`` guards a card's *content* (title, summary, sequence,
  target, plotlines, characters): every content edit bumps it, and an edit made from an
  older version is refused with ``StaleCard`` (the view answers 409 with the current card
  and keeps the writer's text). An edit of a deleted card raises ``CardGone``. Moves do
  not bump it: two writers dragging the same card both apply, in the order they arrive,
  and the act stays dense.
- **Outline ↔ script.** A card may be linked to one scene (``Beat.scene``). The rule
  both ways is "the linked items keep their slots, and are re-sorted among them":
  after a card move, the *scenes* linked to cards take the slots in the script that
  linked scenes already occupy, in outline order (act, position) — unlinked scenes do not
  move (``scenes_follow_cards``, through ``services.scene_reorder``). After a scene
  reorder, within each act the linked cards take the slots that linked cards occupy
  there, in script order; cards never change act because of a scene move
  (``cards_follow_scenes``, called from ``services.scene_reorder``). Each direction
  leaves the other already consistent, so the two never ping-pong.
- **Make scene.** A card becomes a scene placed after the scene of the nearest earlier
  linked card in outline order; with none, before the scene of the nearest later one;
  with none either, at the end of the script.
- A deleted scene leaves its card unlinked (``SET_NULL``); a deleted plotline or
  character simply leaves the cards that carried it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max

from cowrite import events

from .models import Beat, Character, Plotline, Project, Scene, StoryBible

MAX_CARDS = 1000  # per project
MAX_ACTS = 12
TITLE_MAX = 200
SUMMARY_MAX = 5000
SEQUENCE_MAX = 100
TARGET_MAX_EIGHTHS = 8 * 200  # a card's target length: at most 200 pages
SHOWN_ACTS = 3  # the board always shows acts 1..3
DEFAULT_GUIDES = "25,55,85,110"
MAX_GUIDES = 12
GUIDE_MAX_PAGE = 1000
PLACEHOLDER_HEADING = "INT. PLACE - DAY"
_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class StaleCard(Exception):
    """The card changed since the writer opened it; ``current`` is the card as it is."""

    def __init__(self, current: Beat):
        super().__init__("Someone changed this card while you were editing it.")
        self.current = current


class CardGone(Exception):
    """The card was deleted while the writer was editing it."""

    def __init__(self):
        super().__init__("This card was deleted while you were editing it.")


# --- input checks -------------------------------------------------------------------------


def _ints(values, what: str) -> set[int]:
    try:
        return {int(v) for v in values or [] if str(v).strip() != ""}
    except (TypeError, ValueError):
        raise ValidationError(f"The {what} list must name {what} by id.") from None


def validate_act(act) -> int:
    try:
        act = int(act)
    except (TypeError, ValueError):
        raise ValidationError("An act is a number from 1 to 12.") from None
    if not 1 <= act <= MAX_ACTS:
        raise ValidationError(f"An act is a number from 1 to {MAX_ACTS}.")
    return act


def parse_target(text) -> int | None:
    """Return a target length in eighths from "", "3/8", "2", "1 3/8" or "1.5" (pages)."""
    text = str(text or "").strip()
    if not text:
        return None
    m = re.fullmatch(r"(?:(\d{1,4})\s+)?(\d{1,4})\s*/\s*8|(\d{1,4})(?:\.(\d{1,3}))?", text)
    if m is None:
        raise ValidationError('A target length is in pages: "2", "1 3/8" or "3/8".')
    if m.group(2) is not None:
        eighths = int(m.group(1) or 0) * 8 + int(m.group(2))
    else:
        eighths = round(float(f"{m.group(3)}.{m.group(4) or 0}") * 8)
    if not 1 <= eighths <= TARGET_MAX_EIGHTHS:
        raise ValidationError(f"A target length is from 1/8 to {TARGET_MAX_EIGHTHS // 8} pages.")
    return eighths


def _content(title, summary, sequence) -> tuple[str, str, str]:
    title = (title or "").strip()
    summary = (summary or "").replace("\r\n", "\n").strip()
    sequence = (sequence or "").strip()
    if not title:
        raise ValidationError("A card needs a title.")
    if "\n" in title or "\r" in title:
        raise ValidationError("A card's title is a single line.")
    if len(title) > TITLE_MAX:
        raise ValidationError(f"A card's title is at most {TITLE_MAX} characters.")
    if len(summary) > SUMMARY_MAX:
        raise ValidationError(f"A card's summary is at most {SUMMARY_MAX:,} characters.")
    if len(sequence) > SEQUENCE_MAX or "\n" in sequence:
        raise ValidationError(f"A sequence name is one line of at most {SEQUENCE_MAX} characters.")
    return title, summary, sequence


def _links(project_id: int, plotline_ids, character_ids) -> tuple[list, list]:
    pids, cids = _ints(plotline_ids, "plotlines"), _ints(character_ids, "characters")
    plotlines = list(Plotline.objects.filter(project_id=project_id, pk__in=pids))
    characters = list(Character.objects.filter(project_id=project_id, pk__in=cids))
    if len(plotlines) != len(pids):
        raise ValidationError("The card names a plotline that is not in this project.")
    if len(characters) != len(cids):
        raise ValidationError("The card names a character that is not in this project.")
    return plotlines, characters


def _lock(project_id: int) -> None:
    Project.objects.select_for_update().filter(pk=project_id).first()


def _changed(project_id: int, beat_id: int = 0) -> None:
    part = "beat" if beat_id else "board"
    events.publish(events.StoryChanged(project_id, part, beat_id))


# --- cards --------------------------------------------------------------------------------


@transaction.atomic
def beat_create(
    *,
    project: Project,
    user,
    act=1,
    title: str,
    summary: str = "",
    sequence: str = "",
    target_eighths: int | None = None,
    plotline_ids=(),
    character_ids=(),
    position: int | None = None,
) -> Beat:
    """Add a card at the end of ``act`` (or at ``position`` in it)."""
    act = validate_act(act)
    title, summary, sequence = _content(title, summary, sequence)
    plotlines, characters = _links(project.pk, plotline_ids, character_ids)
    _lock(project.pk)
    if Beat.objects.filter(project=project).count() >= MAX_CARDS:
        raise ValidationError(f"A project holds at most {MAX_CARDS:,} cards.")
    order = _act_order(project.pk, act)
    at = len(order) if position is None else max(0, min(int(position), len(order)))
    beat = Beat.objects.create(
        project=project,
        act=act,
        position=at,
        title=title,
        summary=summary,
        sequence=sequence,
        target_eighths=target_eighths,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    order.insert(at, beat.pk)
    _write_act(project.pk, act, order)
    beat.plotlines.set(plotlines)
    beat.characters.set(characters)
    _changed(project.pk)
    return beat


@transaction.atomic
def beat_update(
    *,
    project: Project,
    beat_id: int,
    version: int,
    title: str,
    summary: str = "",
    sequence: str = "",
    target_eighths: int | None = None,
    plotline_ids=(),
    character_ids=(),
) -> Beat:
    """Save a card's content edited from ``version``: ``StaleCard`` if it changed since,
    ``CardGone`` if it was deleted."""
    title, summary, sequence = _content(title, summary, sequence)
    plotlines, characters = _links(project.pk, plotline_ids, character_ids)
    beat = Beat.objects.select_for_update().filter(pk=beat_id, project=project).first()
    if beat is None:
        raise CardGone()
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError("The card's version is missing; reload the board.") from None
    if beat.version != version:
        raise StaleCard(beat)
    beat.title, beat.summary, beat.sequence = title, summary, sequence
    beat.target_eighths = target_eighths
    beat.version += 1
    beat.save(
        update_fields=["title", "summary", "sequence", "target_eighths", "version", "updated_at"]
    )
    beat.plotlines.set(plotlines)
    beat.characters.set(characters)
    _changed(project.pk, beat.pk)
    return beat


@transaction.atomic
def beat_delete(*, project: Project, beat_id: int) -> None:
    """Delete a card (already gone: nothing to do) and close the gap in its act."""
    _lock(project.pk)
    beat = Beat.objects.filter(pk=beat_id, project=project).first()
    if beat is None:
        return
    act = beat.act
    beat.delete()
    _write_act(project.pk, act, _act_order(project.pk, act))
    _changed(project.pk)


def _act_order(project_id: int, act: int) -> list[int]:
    return list(
        Beat.objects.filter(project_id=project_id, act=act)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )


def _write_act(project_id: int, act: int, order: list[int]) -> None:
    """Give the act's cards the dense positions of ``order`` (ids), writing only changes."""
    current = dict(
        Beat.objects.filter(project_id=project_id, pk__in=order).values_list("pk", "position")
    )
    changed = [
        Beat(pk=pk, act=act, position=i) for i, pk in enumerate(order) if current.get(pk) != i
    ]
    Beat.objects.bulk_update(changed, ["act", "position"])


@transaction.atomic
def beat_move(*, project: Project, beat_id: int, act, position) -> Beat:
    """Move a card to ``position`` (0-based, clamped) of ``act``; the linked scenes follow."""
    act = validate_act(act)
    try:
        position = int(position)
    except (TypeError, ValueError):
        raise ValidationError("A card's position is a number.") from None
    _lock(project.pk)
    beat = Beat.objects.filter(pk=beat_id, project=project).first()
    if beat is None:
        raise ValidationError("This card was deleted.")
    old = _act_order(project.pk, beat.act)
    old.remove(beat.pk)
    if beat.act != act:
        _write_act(project.pk, beat.act, old)
        new = _act_order(project.pk, act)
    else:
        new = old
    new.insert(max(0, min(position, len(new))), beat.pk)
    # The moved card first, so its new act is written even when its position is unchanged.
    Beat.objects.filter(pk=beat.pk).update(act=act, position=new.index(beat.pk))
    _write_act(project.pk, act, new)
    scenes_follow_cards(project=project)
    _changed(project.pk)
    beat.refresh_from_db()
    return beat


def outline(project_id: int):
    """The project's cards in outline order, with plotlines, characters and scene loaded
    (a constant number of queries)."""
    return (
        Beat.objects.filter(project_id=project_id)
        .select_related("scene")
        .defer("scene__text", "scene__doc_state", "scene__synopsis")
        .prefetch_related("plotlines", "characters")
        .order_by("act", "position", "pk")
    )


# --- outline and script -------------------------------------------------------------------


def _refill(order: list[int], linked: set[int], wanted: list[int]) -> list[int]:
    """Put ``wanted`` (the linked items, in their new order) into the slots of ``order``
    that linked items occupy; other items keep their places."""
    it = iter(wanted)
    return [next(it) if pk in linked else pk for pk in order]


def scenes_follow_cards(*, project: Project) -> bool:
    """Re-sort the scenes linked to cards into outline order, in the slots the linked
    scenes occupy (the caller holds the project lock). Return whether anything moved."""
    from . import services  # services calls back into this module

    wanted = list(
        Beat.objects.filter(project_id=project.pk, scene__isnull=False)
        .order_by("act", "position", "pk")
        .values_list("scene_id", flat=True)
    )
    order = list(
        Scene.objects.filter(project_id=project.pk)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )
    new = _refill(order, set(wanted), wanted)
    if new == order:
        return False
    services.scene_reorder(project=project, scene_ids=new)
    return True


def cards_follow_scenes(*, project_id: int) -> bool:
    """Within each act, re-sort the cards linked to scenes into script order, in the slots
    the linked cards occupy (called by ``services.scene_reorder`` under the project lock).
    Return whether anything moved."""
    rows = list(
        Beat.objects.filter(project_id=project_id)
        .order_by("act", "position", "pk")
        .values_list("pk", "act", "scene__position")
    )
    moved = False
    for act in sorted({a for _, a, _ in rows}):
        in_act = [(pk, pos) for pk, a, pos in rows if a == act]
        linked = [(pos, pk) for pk, pos in in_act if pos is not None]
        order = [pk for pk, _ in in_act]
        new = _refill(order, {pk for _, pk in linked}, [pk for _, pk in sorted(linked)])
        if new != order:
            _write_act(project_id, act, new)
            moved = True
    if moved:
        _changed(project_id)
    return moved


@transaction.atomic
def beat_make_scene(*, project: Project, beat_id: int, user, heading: str = "") -> Scene:
    """Make the card a scene (see the module docstring for where it goes): heading as given
    or the placeholder, synopsis = the card's summary, cast = its characters."""
    from . import services

    _lock(project.pk)
    beat = Beat.objects.filter(pk=beat_id, project=project).first()
    if beat is None:
        raise ValidationError("This card was deleted.")
    if beat.scene_id is not None:
        raise ValidationError("This card is already a scene.")
    heading = (heading or "").strip() or PLACEHOLDER_HEADING
    rows = list(
        Beat.objects.filter(project=project)
        .order_by("act", "position", "pk")
        .values_list("pk", "scene__position")
    )
    index = [pk for pk, _ in rows].index(beat.pk)
    before = [pos for _, pos in rows[:index] if pos is not None]
    after = [pos for _, pos in rows[index + 1 :] if pos is not None]
    if before:
        position = before[-1] + 1
    elif after:
        position = after[0]
    else:
        position = None
    scene = services.scene_create(
        project=project,
        user=user,
        heading=heading,
        synopsis=beat.summary[:2000],
        cast_ids=list(beat.characters.values_list("pk", flat=True)),
        position=position,
    )
    Beat.objects.filter(pk=beat.pk).update(scene=scene, scene_lost="")
    _changed(project.pk, beat.pk)
    return scene


# --- the structure views ------------------------------------------------------------------


def acts_shown(project_id: int) -> list[int]:
    """The acts the board shows: 1..3, every act in use, and one empty act after the last
    (up to ``MAX_ACTS``)."""
    last = Beat.objects.filter(project_id=project_id).aggregate(m=Max("act"))["m"] or 0
    return list(range(1, min(max(SHOWN_ACTS, last + 1), MAX_ACTS) + 1))


def act_counts(project_id: int) -> dict[int, int]:
    rows = Beat.objects.filter(project_id=project_id).values("act").annotate(n=Count("id"))
    return {r["act"]: r["n"] for r in rows}


def parse_guides(text) -> list[int]:
    """Return page guides from "25,55,85,110" (increasing pages); raise on bad input."""
    text = str(text or "").strip()
    if not text:
        return []
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > MAX_GUIDES:
        raise ValidationError(f"At most {MAX_GUIDES} page guides.")
    try:
        pages = [int(p) for p in parts]
    except ValueError:
        raise ValidationError(
            'Page guides are page numbers separated by commas, e.g. "25,55,85,110".'
        ) from None
    if any(not 1 <= p <= GUIDE_MAX_PAGE for p in pages):
        raise ValidationError(f"A page guide is a page from 1 to {GUIDE_MAX_PAGE:,}.")
    if any(b <= a for a, b in zip(pages, pages[1:], strict=False)):
        raise ValidationError("Page guides go up: each after the one before.")
    return pages


def page_guides(project_id: int) -> list[int]:
    text = StoryBible.objects.filter(project_id=project_id).values_list("page_guides", flat=True)
    value = text.first()
    try:
        return parse_guides(DEFAULT_GUIDES if value is None else value)
    except ValidationError:
        return parse_guides(DEFAULT_GUIDES)


@transaction.atomic
def page_guides_update(*, project: Project, guides: str) -> list[int]:
    pages = parse_guides(guides)
    text = ",".join(str(p) for p in pages)
    bible, _ = StoryBible.objects.get_or_create(project=project)
    bible.page_guides = text
    bible.save(update_fields=["page_guides", "updated_at"])
    _changed(project.pk)
    return pages


def safe_colour(colour: str) -> str:
    """A plotline's colour for a style attribute: strict ``#rrggbb`` or the default."""
    return colour if _COLOUR_RE.match(colour or "") else "#2f6fdd"


@dataclass(frozen=True)
class ActBreak:
    act: int
    guide: int | None  # the page the guides put this act's start on
    page: int | None  # the page its first linked scene starts on
    scene: Scene | None

    @property
    def off_by(self) -> int | None:
        if self.guide is None or self.page is None:
            return None
        return self.page - self.guide


def act_breaks(cards: list[Beat], acts: list[int], guides: list[int], start_pages: dict) -> list:
    """For each act from 2: where its first linked scene starts (``start_pages``: scene id
    -> page, from ``script_stats``) against guide act-1 (guide k is where act k+1 starts)."""
    first: dict[int, Scene] = {}
    for card in cards:
        if card.scene is not None and card.act not in first:
            first[card.act] = card.scene
    out = []
    for act in acts:
        if act == 1:
            continue
        scene = first.get(act)
        guide = guides[act - 2] if act - 2 < len(guides) else None
        page = start_pages.get(scene.pk) if scene is not None else None
        if scene is None and guide is None:
            continue
        out.append(ActBreak(act, guide, page, scene))
    return out
