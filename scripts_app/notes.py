"""Notes on the text: a comment on a span of a scene's text, threaded (one level of
replies), resolvable, anchored so that it follows the words while anyone types.

A root note holds its span as two Yjs relative positions made by the browser
(``window.cowriteEditor.place()``: ``anchorStart`` sticks to the first selected
character, ``anchorEnd`` to the last). They are checked here against the server's live
document (``positions.py``): both must resolve in *this* scene's text to a non-empty
span. Where the span is now is worked out again on every read (``notes_for_scene``); a
note whose words were all deleted is *detached* (its span collapsed) and shown with the
``quote`` it was made on.

Services as in ``services.py``: keyword-only, atomic, ``ValidationError`` with the
user-facing message (a rejected call changes nothing), ``PermissionDenied`` when the
role or authorship does not allow it. Who may act at all (commenter and up; viewers read)
is the views' business through ``access.py``. Every change tells the scene's room after
commit (``events.NotesChanged``), so every page on the scene fetches its list again.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cowrite import events

from . import documents, positions
from .models import Membership, Role, Scene, SceneNote

NOTE_MAX_CHARS = 4000
QUOTE_MAX_CHARS = 300
SPAN_MAX_CHARS = 20_000  # a note is about some words, not the whole scene
ROOTS_PER_SCENE = 500
REPLIES_PER_NOTE = 200
DUPLICATE_SECONDS = 10  # the same note again within this is a double-submit


def _changed(scene_id: int) -> None:
    events.publish(events.NotesChanged(scene_id))


def _body(body) -> str:
    body = (body if isinstance(body, str) else "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError("Write something in the note.")
    if len(body) > NOTE_MAX_CHARS:
        raise ValidationError(f"A note is at most {NOTE_MAX_CHARS:,} characters.")
    if "\x00" in body:
        raise ValidationError("The note contains a NUL character; paste it as plain text.")
    return body


def _quote(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > QUOTE_MAX_CHARS:
        text = text[: QUOTE_MAX_CHARS - 1].rstrip() + "…"
    return text


def _lock_scene(scene: Scene) -> None:
    """Serialize the writes of one scene's notes (the caps are counted under it)."""
    Scene.objects.select_for_update().only("id").get(pk=scene.pk)


def _span(resolver: positions.Resolver, start: str, end: str) -> tuple[int, int] | None:
    """Where two stored positions are in the text now; None if they cannot be read or
    found, or the span collapsed (its words were deleted)."""
    try:
        a, b = positions.from_b64(start), positions.from_b64(end)
    except positions.PositionError:
        return None
    span = resolver.span(a, b)
    if span is None or span[1] <= span[0]:
        return None
    return span


def note_create(*, scene: Scene, user, body: str, anchor_start: str, anchor_end: str) -> SceneNote:
    """Make a note on the words between two relative positions of the scene's live text."""
    body = _body(body)
    try:
        start = positions.from_b64(anchor_start)
        end = positions.from_b64(anchor_end)
    except positions.PositionError:
        raise ValidationError(
            "The note's place in the text could not be read. Select the words again."
        ) from None
    with transaction.atomic():
        _lock_scene(scene)
        if SceneNote.objects.filter(scene=scene, parent=None).count() >= ROOTS_PER_SCENE:
            raise ValidationError(
                f"This scene has {ROOTS_PER_SCENE} notes, the most it takes. "
                "Delete some resolved ones first."
            )
        resolver = positions.Resolver(documents.load(scene.pk).doc)
        a, b = resolver.index(start), resolver.index(end)
        if a is None or b is None:
            raise ValidationError(
                "The selected words are not in this scene's text. Reload the page and select "
                "them again."
            )
        if b <= a:
            raise ValidationError("Select the words the note is about.")
        if b - a > SPAN_MAX_CHARS:
            raise ValidationError(
                f"A note covers at most {SPAN_MAX_CHARS:,} characters; select fewer words."
            )
        anchor_start, anchor_end = start.b64(), end.b64()  # re-encoded: only what we read
        since = timezone.now() - timedelta(seconds=DUPLICATE_SECONDS)
        twin = SceneNote.objects.filter(
            scene=scene,
            parent=None,
            author=user,
            body=body,
            anchor_start=anchor_start,
            anchor_end=anchor_end,
            created_at__gte=since,
        ).first()
        if twin is not None:
            return twin
        note = SceneNote.objects.create(
            scene=scene,
            author=user,
            body=body,
            anchor_start=anchor_start,
            anchor_end=anchor_end,
            quote=_quote(resolver.text[a:b]),
        )
        _changed(scene.pk)
    return note


def note_reply(*, note: SceneNote, user, body: str) -> SceneNote:
    """Reply to a note (a reply to a reply joins the same thread)."""
    body = _body(body)
    root_id = note.parent_id or note.pk
    with transaction.atomic():
        _lock_scene(note.scene)
        if SceneNote.objects.filter(parent_id=root_id).count() >= REPLIES_PER_NOTE:
            raise ValidationError(
                f"This note has {REPLIES_PER_NOTE} replies, the most it takes. Start a new note."
            )
        since = timezone.now() - timedelta(seconds=DUPLICATE_SECONDS)
        twin = SceneNote.objects.filter(
            parent_id=root_id, author=user, body=body, created_at__gte=since
        ).first()
        if twin is not None:
            return twin
        reply = SceneNote.objects.create(
            scene_id=note.scene_id, parent_id=root_id, author=user, body=body
        )
        _changed(note.scene_id)
    return reply


def _set_resolved(note: SceneNote, user, resolved: bool) -> SceneNote:
    if note.parent_id is not None:
        raise ValidationError("Resolve the note from its first message, not from a reply.")
    with transaction.atomic():
        note = SceneNote.objects.select_for_update().get(pk=note.pk)
        if resolved == (note.resolved_at is not None):
            return note
        if resolved:
            note.resolved_at, note.resolved_by = timezone.now(), user
        else:
            note.resolved_at, note.resolved_by = None, None
        note.save(update_fields=["resolved_at", "resolved_by"])
        _changed(note.scene_id)
    return note


def note_resolve(*, note: SceneNote, user) -> SceneNote:
    """Mark a note done: it leaves the open list (and the editor's highlights)."""
    return _set_resolved(note, user, True)


def note_reopen(*, note: SceneNote, user) -> SceneNote:
    return _set_resolved(note, user, False)


def note_edit(*, note: SceneNote, user, body: str) -> SceneNote:
    """Change the words of one's own note or reply."""
    body = _body(body)
    if note.author_id is None or note.author_id != user.pk:
        raise PermissionDenied("Only the note's author can change it.")
    with transaction.atomic():
        updated = SceneNote.objects.filter(pk=note.pk).update(body=body, edited_at=timezone.now())
        if updated:
            _changed(note.scene_id)
    note.body = body
    return note


def note_delete(*, note: SceneNote, user, membership: Membership) -> None:
    """Delete one's own note or reply (an owner may delete any); a note's replies go too."""
    mine = note.author_id is not None and note.author_id == user.pk
    if not mine and not membership.role_enum.at_least(Role.OWNER):
        raise PermissionDenied("Only the note's author or an owner can delete it.")
    with transaction.atomic():
        SceneNote.objects.filter(pk=note.pk).delete()
        _changed(note.scene_id)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class Thread:
    """A root note, its replies, and where its words are in the live text now."""

    note: SceneNote
    replies: list[SceneNote] = field(default_factory=list)
    span: tuple[int, int] | None = None  # characters of the live text; None: detached
    excerpt: str = ""  # the words now (or the quote, once they are gone)

    @property
    def detached(self) -> bool:
        return self.span is None

    @property
    def resolved(self) -> bool:
        return self.note.resolved_at is not None


@dataclass
class SceneNotes:
    text: str
    open: list[Thread]
    resolved: list[Thread]

    @property
    def threads(self) -> list[Thread]:
        return self.open + self.resolved


def _threads(scene_id: int) -> list[Thread]:
    rows = SceneNote.objects.filter(scene_id=scene_id).select_related("author", "resolved_by")
    threads: dict[int, Thread] = {}
    replies: list[SceneNote] = []
    for row in rows:
        if row.parent_id is None:
            threads[row.pk] = Thread(note=row)
        else:
            replies.append(row)
    for reply in replies:
        if reply.parent_id in threads:
            threads[reply.parent_id].replies.append(reply)
    return list(threads.values())


def notes_for_scene(scene: Scene, *, text: str | None = None, doc=None) -> SceneNotes:
    """The scene's notes, open then resolved, each with its span in the live text now.

    ``doc`` (a loaded pycrdt document) saves a load when the caller has one; the live
    document is loaded only if the scene has notes."""
    threads = _threads(scene.pk)
    if threads and doc is None:
        doc = documents.load(scene.pk).doc
    resolver = positions.Resolver(doc) if doc is not None else None
    live = resolver.text if resolver is not None else (text or "")
    for th in threads:
        th.span = _span(resolver, th.note.anchor_start, th.note.anchor_end) if resolver else None
        th.excerpt = _quote(live[th.span[0] : th.span[1]]) if th.span else th.note.quote
    return SceneNotes(
        text=live,
        open=[t for t in threads if not t.resolved],
        resolved=[t for t in threads if t.resolved],
    )


# --- export ----------------------------------------------------------------------------------


def fountain_note(text: str) -> str:
    """Text safe inside a Fountain ``[[ ]]`` note: no ``[[`` or ``]]`` in it (a bracket
    pair gets a space between), no bracket at either edge (``x]`` + ``]]`` would close
    early), no blank lines (an empty line ends a note in many apps)."""
    text = text.replace("\r", "")
    while "[[" in text or "]]" in text:
        text = text.replace("[[", "[ [").replace("]]", "] ]")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(line for line in lines if line.strip()).strip()
    if text.startswith("["):
        text = " " + text
    if text.endswith("]"):
        text += " "
    return text


def with_notes(scene: Scene, text: str) -> str:
    """``text`` (the scene's saved text) with its open notes written in as Fountain
    ``[[notes]]``, each right after the end of its words.

    Spans are resolved in the live document. When its text is ``text`` (the usual case:
    auto-save folds live edits into ``Scene.text``), each note goes after its words; a
    detached note, or every note when the two texts differ (edits not folded in yet), goes
    at the scene's end, so that no note is lost or put in the wrong place."""
    found = notes_for_scene(scene)
    if not found.open:
        return text
    same = found.text == text
    at: list[tuple[int, str]] = []
    tail: list[str] = []
    for th in found.open:
        lines = [th.note.body] + [
            f"{r.author.username if r.author else 'someone'}: {r.body}" for r in th.replies
        ]
        who = th.note.author.username if th.note.author else "someone"
        note = fountain_note(f"{who}: " + "\n".join(lines))
        if same and th.span is not None:
            at.append((th.span[1], note))
        else:
            tail.append(note)
    out = text
    # From the end backwards, so earlier offsets stay right; notes at one place keep order.
    order = sorted(range(len(at)), key=lambda i: (at[i][0], i), reverse=True)
    for end, note in (at[i] for i in order):
        out = out[:end] + f" [[{note}]]" + out[end:]
    if tail:
        out = out.rstrip("\n") + "\n\n" + "\n\n".join(f"[[{n}]]" for n in tail) + "\n"
    return out


def scenes_with_open_notes(project) -> set[int]:
    """Ids of the project's scenes that have open notes (one query)."""
    return set(
        SceneNote.objects.filter(scene__project=project, parent=None, resolved_at=None)
        .values_list("scene_id", flat=True)
        .distinct()
    )
