"""The whole-script view's services and reads: split a scene at a heading typed in its
body, merge a scene into the one before it, the window of scenes a view shows, and where
the printed pages break (the same pagination as the PDF).

Writes follow services.py's rules: keyword-only, atomic, the project row locked while
the scene order changes, ValidationError with a user-facing message. Text moves through
the live documents (``documents.edit_at``), so open editors get every change as an edit
and what others type meanwhile elsewhere in the document is kept.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max

from . import documents, exports, positions, script_stats, services
from .formats import fountain, pagination
from .formats.model import ElementType
from .models import Project, RevisionOrigin, Scene, SceneUpdate

# The view shows this many scenes at a time (prev/next move by a window).
WINDOW = 40


# --- the window ---------------------------------------------------------------------------


def scene_window(project: Project, *, start_id: int | None) -> tuple[list[Scene], int]:
    """Return up to WINDOW scenes in script order from ``start_id`` (the first scene if
    None or not in the project), and the 0-based index of the first one."""
    ids = list(
        Scene.objects.filter(project=project)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )
    first = ids.index(start_id) if start_id in ids else 0
    chosen = ids[first : first + WINDOW]
    by_id = Scene.objects.defer("doc_state").in_bulk(chosen)
    return [by_id[i] for i in chosen if i in by_id], first


def scene_ids(project: Project) -> list[int]:
    return list(
        Scene.objects.filter(project=project)
        .order_by("position", "pk")
        .values_list("pk", flat=True)
    )


def outline_state(project: Project) -> str:
    """A token that changes whenever the script's scenes, headings or order do."""
    return script_stats.signature(project)


# --- split and merge ----------------------------------------------------------------------


def _line_at(text: str, index: int) -> tuple[int, int]:
    """The [start, end) of the line holding ``index`` (end excludes its newline)."""
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return start, len(text) if end < 0 else end


def line_at(scene_id: int, position: str) -> str | None:
    """The line of the live text that ``position`` is on (None if it does not resolve)."""
    try:
        pos = positions.from_b64(position)
    except positions.PositionError:
        return None
    resolver = positions.Resolver(documents.load(scene_id).doc)
    index = resolver.index(pos)
    if index is None:
        return None
    start, end = _line_at(resolver.text, index)
    return resolver.text[start:end]


@transaction.atomic
def scene_split(*, scene: Scene, user, position: str) -> Scene:
    """Cut ``scene`` at the heading line that starts at ``position`` (a Yjs relative
    position, base64, resolved in the live document as it is now): that line becomes the
    heading of a new scene right after, the text below it that scene's text. Return the
    new scene. Raise ValidationError if the place is gone or the line is no heading."""
    try:
        pos = positions.from_b64(position)
    except positions.PositionError as exc:
        raise ValidationError(f"That place in the text is not valid: {exc}") from None
    Project.objects.select_for_update().filter(pk=scene.project_id).first()
    cut: dict = {}

    def plan(resolver: positions.Resolver) -> documents.Edit:
        text = resolver.text
        index = resolver.index(pos)
        if index is None:
            raise ValidationError("That line is no longer in the scene.")
        start, end = _line_at(text, index)
        heading = services.validate_heading(text[start:end])
        rest = text[end + 1 :] if end < len(text) else ""
        if rest.startswith("\n"):
            rest = rest[1:]  # the blank line after the heading
        kept = text[:start].rstrip("\n")
        cut_from = len(kept) + 1 if kept else 0  # the old scene keeps one final newline
        cut.update(heading=heading, rest=rest)
        return documents.Edit(min(cut_from, start), len(text), "")

    services.scene_edit_live(
        scene_id=scene.pk,
        plan=plan,
        user=user,
        label="Split: the rest became a new scene",
    )
    scene.refresh_from_db(fields=["position"])
    new = services.scene_create(
        project=scene.project,
        user=user,
        heading=cut["heading"],
        text=cut["rest"],
        position=scene.position + 1,
    )
    return new


@transaction.atomic
def scene_merge(*, scene: Scene, user) -> Scene:
    """Append ``scene`` (its heading line, then its text) to the end of the scene before
    it, through that scene's live document, and delete ``scene``. Return the scene it
    went into."""
    Project.objects.select_for_update().filter(pk=scene.project_id).first()
    scene.refresh_from_db(fields=["position", "heading"])
    previous = (
        Scene.objects.filter(project_id=scene.project_id, position__lt=scene.position)
        .order_by("-position", "-pk")
        .first()
    )
    if previous is None:
        raise ValidationError("The first scene has no scene before it to merge into.")
    moved = services.scene_sync_live(scene_id=scene.pk, autosave=True)
    body = moved.text
    block = moved.heading + ("\n\n" + body if body else "\n")

    def plan(resolver: positions.Resolver) -> documents.Edit:
        text = resolver.text
        if not text or text.endswith("\n\n"):
            sep = ""
        elif text.endswith("\n"):
            sep = "\n"
        else:
            sep = "\n\n"
        return documents.Edit(len(text), len(text), sep + block)

    services.scene_edit_live(
        scene_id=previous.pk,
        plan=plan,
        user=user,
        label=f"Merged: {moved.heading}"[:120],
        origin=RevisionOrigin.SAVE,
    )
    services.scene_delete(scene=moved)
    return previous


# --- page breaks --------------------------------------------------------------------------

_CACHE_SECONDS = 24 * 3600
_NORM_RE = re.compile(r"[\s*_]+")
_CONTD_RE = re.compile(r"\((?:cont['’]?d|more)\)", re.IGNORECASE)


def _norm(s: str) -> str:
    return _NORM_RE.sub(" ", _CONTD_RE.sub("", s)).strip().casefold()


def script_state(project: Project) -> str:
    """A token for the script as it is now, live typing included (the stats signature
    changes only when typing is compacted; the newest logged update covers the rest)."""
    agg = SceneUpdate.objects.filter(scene__project_id=project.pk).aggregate(
        last=Max("pk"), n=Count("pk")
    )
    return f"{script_stats.signature(project)}:{agg['last'] or 0}:{agg['n']}"


def _live_scenes(project: Project) -> list[Scene]:
    scenes = list(
        Scene.objects.filter(project=project)
        .only("id", "heading", "text", "project_id")
        .order_by("position", "pk")
    )
    pending = set(
        SceneUpdate.objects.filter(scene__project_id=project.pk)
        .values_list("scene_id", flat=True)
        .distinct()
    )
    for s in scenes:
        if s.pk in pending:
            s.text = documents.live_text(s.pk)
    return scenes


def _headings(source: str) -> int:
    return sum(1 for e in fountain.parse(source).elements if e.type is ElementType.SCENE_HEADING)


def compute_pages(project: Project) -> dict:
    """Lay the whole script out as the PDF does; return the page count and, per scene,
    the page its heading is on and the body lines where later pages begin."""
    scenes = _live_scenes(project)
    source = exports.project_source(project, scenes)
    script = fountain.parse(source)
    if project.auto_contd:
        script = pagination.auto_contd(script)
    laid = pagination.lay_out(script)
    per_page = laid.layout.lines_per_page
    # Which scene each heading of the script belongs to: a scene's text may hold headings
    # of its own (typed before a split, or merged in), and the front matter may too.
    owners: list[tuple[int, int]] = []  # (scene index, nth heading of that scene)
    counts = [1 + _headings(s.text) for s in scenes]
    front = sum(1 for e in script.elements if e.type is ElementType.SCENE_HEADING) - sum(counts)
    owners.extend((-1, k) for k in range(max(front, 0)))
    for i, n in enumerate(counts):
        owners.extend((i, k) for k in range(n))
    readers = [_Reader(s.text) for s in scenes]
    out = {str(s.pk): {"start": None, "breaks": []} for s in scenes}  # JSON keys: strings
    for h, start in enumerate(laid.scene_starts):
        if h < len(owners) and owners[h][0] >= 0 and owners[h][1] == 0:
            out[str(scenes[owners[h][0]].pk)]["start"] = start // per_page + 1
    heading = -1
    for page in laid.pages:
        top = page.number > 1  # the next printed row begins this page
        for row in page.rows:
            if not row:
                continue
            index = next((part.scene_index for part in row if part.scene_index is not None), None)
            if index is not None:
                heading = index
            if heading < 0 or heading >= len(owners) or owners[heading][0] < 0:
                top = False
                continue
            owner, nth = owners[heading]
            entry = out[str(scenes[owner].pk)]
            if index is not None and nth == 0:
                # The scene's own heading (not in its text).
                if top:
                    entry["breaks"].append([-1, page.number])
                top = False
                continue
            # Every printed row is read along the scene's text, so that the row that
            # begins a page is found on its own line even among repeated lines.
            line = readers[owner].read(row[0].text)
            if top:
                entry["breaks"].append([readers[owner].line if line is None else line, page.number])
                top = False
    for entry in out.values():
        if entry["start"] is None:
            entry["start"] = 1
    return {"pages": laid.page_count, "scenes": out}


class _Reader:
    """Follows printed rows along a scene's text lines (compared without emphasis marks,
    case or spacing): where the last row was found, line and offset."""

    def __init__(self, text: str):
        self.lines = [_norm(line) for line in text.split("\n")]
        self.line = 0
        self.offset = 0

    def read(self, row_text: str) -> int | None:
        """The 0-based line the row is on (the reader moves past it), or None if the row
        is not in the text from here (a (MORE), a CONT'D cue): the reader stays."""
        want = _norm(row_text)
        if not want:
            return None
        for i in range(self.line, len(self.lines)):
            at = self.lines[i].find(want, self.offset if i == self.line else 0)
            if at >= 0:
                self.line, self.offset = i, at + len(want)
                return i
        return None


def _store(project: Project) -> dict:
    entry = {"state": script_state(project), "result": compute_pages(project)}
    script_stats.stats_cache().set(_pages_key(project.pk), entry, _CACHE_SECONDS)
    return entry


def _pages_key(project_id: int) -> str:
    return f"script-pages:{project_id}"


def _refresh_in_background(project_id: int) -> None:
    script_stats.run_once_in_background(
        project_id,
        lock=f"script-pages-lock:{project_id}",
        work=_store,
        what="Laying out the pages",
    )


def page_breaks(project: Project, scene_ids: list[int] | None = None) -> dict:
    """``compute_pages`` for the script as it is now, cached per script state; only the
    scenes asked for (all if None).

    A script of up to ``script_stats.INLINE_SCENES`` scenes is laid out in the request
    (a 130-page one in ~0.15 s). A bigger one is laid out on a thread, as the page count
    is: meanwhile the previous answer is given (``"stale": true``), or, before there is
    any, ``{"pages": null}`` (the browser asks again)."""
    state = script_state(project)
    entry = script_stats.stats_cache().get(_pages_key(project.pk))
    stale = entry is not None and entry["state"] != state
    if entry is None or stale:
        if int(state.split(":", 1)[0]) <= script_stats.INLINE_SCENES:
            entry, stale = _store(project), False
        else:
            _refresh_in_background(project.pk)
            if entry is None:
                return {"pages": None, "scenes": {}, "stale": True}
    result = entry["result"]
    wanted = None if scene_ids is None else {str(i) for i in scene_ids}
    return {
        "pages": result["pages"],
        "scenes": {k: v for k, v in result["scenes"].items() if wanted is None or k in wanted},
        "stale": stale,
    }
