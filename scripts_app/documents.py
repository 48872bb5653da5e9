"""The live document of a scene: a Yjs doc (pycrdt on the server) stored as a compacted
state plus a log of updates.

- ``Scene.doc_state`` holds the compacted state; ``SceneUpdate`` rows hold each accepted
  update since. The document is always ``doc_state`` + every remaining ``SceneUpdate``
  (CRDT updates are idempotent and commute, so order and duplicates do not matter).
- An update counts as saved once its row is committed; only then is it relayed.
- Compaction folds exactly the rows it read into the state and deletes exactly those rows
  (never "all ids up to N": with PostgreSQL sequences a lower id can commit later).
- ``Scene.text`` is a plain-text cache of the document, refreshed on compaction and on
  server-side edits; revisions are snapshots of it.
- Server-side edits (restore, a form save) go through the same log as a minimal replace,
  so every open editor receives them; an edit at a known place (accepting or undoing a
  draft: ``edit_at``) is one delete + insert at that place, found again in the document
  as it is now (relative positions, ``positions.py``), so nobody's typing is replaced. Revisions are the services'
  business (services.py), not this module's. pycrdt's ``Text`` indexes in
  UTF-8 bytes (Yjs in the browser in UTF-16 units), so offsets are converted here.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from pycrdt import Doc, Text

from cowrite import events

from . import positions, yprotocol
from .models import Scene, SceneUpdate

TEXT_NAME = "text"


def new_doc() -> tuple[Doc, Text]:
    doc = Doc()
    return doc, doc.get(TEXT_NAME, type=Text)


def doc_text(doc: Doc) -> str:
    return str(doc.get(TEXT_NAME, type=Text))


def _initial_state(text: str) -> bytes:
    doc, ytext = new_doc()
    if text:
        ytext += text
    return doc.get_update()


def ensure_doc(scene_id: int) -> None:
    """Create the scene's document from its text, once (under a row lock).

    Two processes building the first state independently would each insert the text
    with their own client id, and merging both would double it.
    """
    if Scene.objects.filter(pk=scene_id, doc_state__isnull=False).exists():
        return
    with transaction.atomic():
        scene = Scene.objects.select_for_update().only("id", "text", "doc_state").get(pk=scene_id)
        if scene.doc_state is None:
            scene.doc_state = _initial_state(scene.text)
            scene.save(update_fields=["doc_state"])


@dataclass
class Loaded:
    doc: Doc
    update_ids: list[int]


def load(scene_id: int) -> Loaded:
    """Return the scene's current document: compacted state plus every logged update.

    The log is read *before* the state, on purpose. A compaction commits the new state and
    the deletion of the rows it folded in one transaction, and the state only ever grows
    (old state + rows). So a row missing from the log we read was either committed after
    that read (not ours to show yet) or folded into a state committed before it, which the
    later state read includes. Reading the state first lost every row that a compaction
    committing between the two reads folded in (each statement sees its own snapshot).
    """
    ensure_doc(scene_id)
    rows = list(
        SceneUpdate.objects.filter(scene_id=scene_id).order_by("pk").values_list("pk", "data")
    )
    state = Scene.objects.filter(pk=scene_id).values_list("doc_state", flat=True).get()
    doc, _ = new_doc()
    doc.apply_update(bytes(state))
    ids = []
    for pk, data in rows:
        doc.apply_update(bytes(data))
        ids.append(pk)
    return Loaded(doc, ids)


def live_text(scene_id: int) -> str:
    """Return the scene's text as the live document has it now (state plus log)."""
    return doc_text(load(scene_id).doc)


def load_state(scene_id: int) -> bytes:
    """Return the scene's whole document as one update."""
    return load(scene_id).doc.get_update()


def append_update(*, scene_id: int, data: bytes, user_id: int | None) -> int:
    """Log one accepted update; return its id."""
    return SceneUpdate.objects.create(scene_id=scene_id, data=data, user_id=user_id).pk


def compact(scene_id: int) -> str:
    """Fold the update log into the state and refresh ``Scene.text``; return the text."""
    with transaction.atomic():
        scene = Scene.objects.select_for_update().only("id", "text", "doc_state").get(pk=scene_id)
        loaded = load(scene_id)
        text = doc_text(loaded.doc)
        fields = []
        if loaded.update_ids:
            scene.doc_state = loaded.doc.get_update()
            SceneUpdate.objects.filter(pk__in=loaded.update_ids).delete()
            fields.append("doc_state")
        if text != scene.text:
            scene.text = text
            fields += ["text", "updated_at"]
        if fields:
            scene.save(update_fields=fields)
        return text


def last_editor_id(scene_id: int) -> int | None:
    """Return who sent the newest logged update of the scene, if any is logged."""
    return (
        SceneUpdate.objects.filter(scene_id=scene_id)
        .order_by("-pk")
        .values_list("user_id", flat=True)
        .first()
    )


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8"))


def _write(scene_id: int, doc: Doc, old: str, edits, user_id: int | None) -> bytes:
    """Make ``edits`` (non-overlapping, in text order, each against ``old``, the text of
    ``doc``) as one Yjs transaction; log the update and relay it (after commit)."""
    ytext = doc.get(TEXT_NAME, type=Text)
    before = doc.get_state()
    with doc.transaction():
        for edit in reversed(edits):  # from the end: earlier offsets stay valid
            byte_start = _utf8_len(old[: edit.start])  # Y.Text counts UTF-8 bytes
            byte_end = byte_start + _utf8_len(old[edit.start : edit.end])
            if byte_end > byte_start:
                del ytext[byte_start:byte_end]
            if edit.insert:
                ytext.insert(byte_start, edit.insert)
    update = doc.get_update(before)
    append_update(scene_id=scene_id, data=update, user_id=user_id)
    events.publish(events.DocRelay.server_update(scene_id, update))
    return update


def replace_text(*, scene_id: int, new_text: str, user_id: int | None) -> bytes | None:
    """Make the live document's text ``new_text`` with one minimal edit, logged and relayed.

    Return the update (None if the text was already equal). Call inside a transaction;
    the relay to open editors is sent after it commits.
    """
    doc = load(scene_id).doc
    old = str(doc.get(TEXT_NAME, type=Text))
    edit = minimal_edit(old, new_text)  # common prefix and suffix kept, the middle swapped
    return None if edit is None else _write(scene_id, doc, old, [edit], user_id)


@dataclass(frozen=True)
class Edit:
    """One replace in the live text: characters ``start``..``end`` become ``insert``."""

    start: int
    end: int
    insert: str


@dataclass(frozen=True)
class Edited:
    """What ``edit_at`` did: the text before and after, where, what went in and out, and
    relative positions holding exactly the inserted characters (None if nothing went in)."""

    before: str
    text: str
    start: int
    inserted: str
    removed: str
    span: tuple[bytes, bytes] | None


def _client_clock(doc: Doc) -> int:
    """The next clock of this document's own client (0 for a fresh one)."""
    return yprotocol.read_state_vector(doc.get_state()).get(doc.client_id, 0)


def edit_at(
    *,
    scene_id: int,
    plan: Callable[[positions.Resolver], Edit],
    user_id: int | None,
    check: Callable[[str], object] | None = None,
) -> Edited:
    """Make one edit where ``plan`` finds its place in the live document as it is now.

    ``plan`` gets a resolver on the loaded document (its ``text``, and relative positions
    to resolve) and returns the edit, or raises (ValidationError) to refuse: nothing is
    written. ``check`` sees the resulting text first and may refuse too. The edit is one
    Y.Text delete + insert at that index, logged and relayed like a browser's: typing
    that others did anywhere else, even while this ran, is kept (unlike a whole-text
    replace). Call inside a transaction; the relay goes out after it commits."""
    loaded = load(scene_id)
    doc, ytext = loaded.doc, loaded.doc.get(TEXT_NAME, type=Text)
    resolver = positions.Resolver(doc)
    old = resolver.text
    edit = plan(resolver)
    if not 0 <= edit.start <= edit.end <= len(old):
        raise ValueError(f"edit outside the text: {edit}")
    new_text = old[: edit.start] + edit.insert + old[edit.end :]
    if check is not None:
        check(new_text)
    first_clock = _client_clock(doc)
    _write(scene_id, doc, old, [edit], user_id)
    span = (
        positions.span_of_insert(doc.client_id, first_clock, edit.insert) if edit.insert else None
    )
    return Edited(
        before=old,
        text=str(ytext),
        start=edit.start,
        inserted=edit.insert,
        removed=old[edit.start : edit.end],
        span=span,
    )


def edits_at(
    *,
    scene_id: int,
    plan: Callable[[positions.Resolver], list[Edit]],
    user_id: int | None,
    check: Callable[[str], object] | None = None,
) -> str | None:
    """Several edits at once where ``plan`` finds them in the live document as it is now
    (non-overlapping, each against that text), made as one Yjs transaction: one update,
    logged and relayed, so what others type anywhere else is kept. ``plan`` may refuse
    (raise) or return no edit (None is returned, nothing written); ``check`` sees the
    resulting text first. Return the new text. Call inside a transaction."""
    loaded = load(scene_id)
    doc, ytext = loaded.doc, loaded.doc.get(TEXT_NAME, type=Text)
    resolver = positions.Resolver(doc)
    old = resolver.text
    edits = sorted(plan(resolver), key=lambda e: e.start)
    if not edits:
        return None
    at = 0
    for edit in edits:
        if not at <= edit.start <= edit.end <= len(old):
            raise ValueError(f"edits overlap or fall outside the text: {edit}")
        at = edit.end
    parts, at = [], 0
    for edit in edits:
        parts += [old[at : edit.start], edit.insert]
        at = edit.end
    new_text = "".join(parts) + old[at:]
    if check is not None:
        check(new_text)
    _write(scene_id, doc, old, edits, user_id)
    return str(ytext)


def minimal_edit(old: str, new: str) -> Edit | None:
    """The smallest single replace that turns ``old`` into ``new`` (None if equal)."""
    if old == new:
        return None
    start, limit = 0, min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    return Edit(start, end_old, new[start:end_new])


def pending_scene_ids(*, quiet_seconds: float, max_pending: int) -> list[int]:
    """Return scenes whose burst of edits has ended, or whose log has grown long."""
    from django.db.models import Count, Max

    cutoff = timezone.now() - timezone.timedelta(seconds=quiet_seconds)
    rows = SceneUpdate.objects.values("scene_id").annotate(n=Count("id"), last=Max("created_at"))
    return [r["scene_id"] for r in rows if r["last"] <= cutoff or r["n"] >= max_pending]
