"""Notes on the text (scripts_app/notes.py, views_notes.py): anchored with Yjs relative
positions checked against the server's live document, threaded, resolvable, capped, live
(NotesChanged), and optionally exported as Fountain [[notes]]."""

import base64

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from pycrdt import Assoc, Text

from cowrite import events
from scripts_app import documents, exports, notes, positions, services
from scripts_app.models import SceneNote

pytestmark = pytest.mark.django_db

TEXT = "Alarms pulse amber.\n\nMARA\nIt's holding.\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def anchors(scene, words: str, nth: int = 0) -> tuple[str, str]:
    """Relative positions of ``words`` in the scene's live text, as the browser makes them
    (first character, assoc 0; last character, assoc -1). ASCII only (pycrdt counts bytes)."""
    doc = documents.load(scene.pk).doc
    ytext = doc.get("text", type=Text)
    text = str(ytext)
    start = -1
    for _ in range(nth + 1):
        start = text.index(words, start + 1)
    end = start + len(words)
    a = ytext.sticky_index(start, Assoc.AFTER).encode()
    b = ytext.sticky_index(end, Assoc.BEFORE).encode()
    return _b64(a), _b64(b)


@pytest.fixture
def scene(team):
    s = team.scenes[0]
    assert s.text == TEXT
    return s


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish", lambda event, **kw: sent.append(event))
    return sent


def _note(scene, user, words="pulse amber", body="Too quiet?"):
    a, b = anchors(scene, words)
    return notes.note_create(scene=scene, user=user, body=body, anchor_start=a, anchor_end=b)


def _span_text(scene, note):
    found = notes.notes_for_scene(scene)
    th = next(t for t in found.threads if t.note.pk == note.pk)
    return None if th.span is None else found.text[th.span[0] : th.span[1]], th


# --- services -------------------------------------------------------------------------------


def test_a_note_holds_its_words_and_says_so(team, scene, published):
    note = _note(scene, team.users["commenter"])
    assert note.quote == "pulse amber"
    assert note.body == "Too quiet?"
    assert positions.from_b64(note.anchor_start).client is not None
    words, th = _span_text(scene, note)
    assert words == "pulse amber" and not th.detached and th.excerpt == "pulse amber"
    assert [type(e) for e in published] == [events.NotesChanged]
    assert published[0].scene == scene.pk


def test_body_is_stripped_and_checked(team, scene):
    a, b = anchors(scene, "amber")
    note = notes.note_create(
        scene=scene,
        user=team.users["owner"],
        body="  hi \r\n there  ",
        anchor_start=a,
        anchor_end=b,
    )
    assert note.body == "hi \n there"
    for body in ("", "   \n ", "x" * 4001, None):
        with pytest.raises(ValidationError):
            notes.note_create(
                scene=scene, user=team.users["owner"], body=body, anchor_start=a, anchor_end=b
            )
    assert SceneNote.objects.count() == 1


@pytest.mark.parametrize(
    "start,end",
    [
        ("", ""),
        ("not base64!", "AAAA"),
        ("////", "////"),  # base64, not a position
        ("A" * 200, "A" * 200),  # too long
    ],
)
def test_malformed_anchors_are_refused(team, scene, start, end):
    with pytest.raises(ValidationError):
        notes.note_create(
            scene=scene, user=team.users["owner"], body="x", anchor_start=start, anchor_end=end
        )
    assert not SceneNote.objects.exists()


def test_positions_from_another_scenes_document_are_refused(team, scene):
    other = team.scenes[1]
    documents.replace_text(scene_id=other.pk, new_text="JONAH\nHello out there.\n", user_id=None)
    a, b = anchors(other, "Hello")
    with pytest.raises(ValidationError, match="not in this scene"):
        notes.note_create(
            scene=scene, user=team.users["owner"], body="x", anchor_start=a, anchor_end=b
        )
    assert not SceneNote.objects.exists()


def test_an_empty_or_reversed_span_is_refused(team, scene):
    a, b = anchors(scene, "amber")
    with pytest.raises(ValidationError, match="Select the words"):
        notes.note_create(
            scene=scene, user=team.users["owner"], body="x", anchor_start=b, anchor_end=a
        )
    assert not SceneNote.objects.exists()


def test_the_note_follows_its_words_through_edits_before_and_inside(team, scene):
    note = _note(scene, team.users["owner"], words="It's holding")
    # Typing before the words (a server-side edit at a place) and a whole-text replace.
    documents.edit_at(
        scene_id=scene.pk,
        plan=lambda r: documents.Edit(0, 0, "Smoke. "),
        user_id=None,
    )
    documents.replace_text(
        scene_id=scene.pk,
        new_text="Smoke. Alarms pulse amber and red.\n\nMARA\n(quietly)\nIt's holding.\n",
        user_id=None,
    )
    words, _ = _span_text(scene, note)
    assert words == "It's holding"
    # Text typed inside the span stays inside it.
    text = documents.live_text(scene.pk)
    at = text.index("holding")
    documents.edit_at(
        scene_id=scene.pk, plan=lambda r: documents.Edit(at, at, "still "), user_id=None
    )
    words, _ = _span_text(scene, note)
    assert words == "It's still holding"


def test_a_note_whose_words_are_deleted_is_detached_with_its_quote(team, scene):
    note = _note(scene, team.users["owner"], words="pulse amber")
    documents.replace_text(
        scene_id=scene.pk, new_text="Alarms.\n\nMARA\nIt's holding.\n", user_id=None
    )
    words, th = _span_text(scene, note)
    assert words is None and th.detached
    assert th.excerpt == "pulse amber"
    # A new note cannot be made on deleted words either.
    with pytest.raises(ValidationError):
        notes.note_create(
            scene=scene,
            user=team.users["owner"],
            body="x",
            anchor_start=note.anchor_start,
            anchor_end=note.anchor_end,
        )


def test_replies_resolve_reopen(team, scene, published):
    root = _note(scene, team.users["commenter"])
    reply = notes.note_reply(note=root, user=team.users["editor"], body="Louder, then.")
    nested = notes.note_reply(note=reply, user=team.users["commenter"], body="Agreed.")
    assert reply.parent_id == root.pk and nested.parent_id == root.pk  # one level deep
    assert reply.anchor_start == "" and reply.quote == ""
    with pytest.raises(ValidationError):
        notes.note_resolve(note=reply, user=team.users["owner"])
    notes.note_resolve(note=root, user=team.users["commenter"])
    found = notes.notes_for_scene(scene)
    assert found.open == [] and [t.note.pk for t in found.resolved] == [root.pk]
    assert [r.pk for r in found.resolved[0].replies] == [reply.pk, nested.pk]
    assert found.resolved[0].note.resolved_by == team.users["commenter"]
    notes.note_reopen(note=root, user=team.users["viewer"])
    assert [t.note.pk for t in notes.notes_for_scene(scene).open] == [root.pk]
    assert len(published) == 5  # create, 2 replies, resolve, reopen


def test_a_double_submit_is_the_same_note(team, scene):
    first = _note(scene, team.users["owner"])
    again = _note(scene, team.users["owner"])
    assert first.pk == again.pk and SceneNote.objects.count() == 1
    r1 = notes.note_reply(note=first, user=team.users["owner"], body="ok")
    r2 = notes.note_reply(note=first, user=team.users["owner"], body="ok")
    assert r1.pk == r2.pk


def test_edit_own_only_delete_own_or_owner(team, scene):
    note = _note(scene, team.users["commenter"])
    reply = notes.note_reply(note=note, user=team.users["editor"], body="Hm.")
    notes.note_edit(note=note, user=team.users["commenter"], body=" Better. ")
    note.refresh_from_db()
    assert note.body == "Better." and note.edited_at is not None
    with pytest.raises(PermissionDenied):
        notes.note_edit(note=note, user=team.users["owner"], body="Mine now")
    with pytest.raises(ValidationError):
        notes.note_edit(note=note, user=team.users["commenter"], body="")
    with pytest.raises(PermissionDenied):
        notes.note_delete(
            note=note, user=team.users["editor"], membership=team.membership["editor"]
        )
    notes.note_delete(note=reply, user=team.users["editor"], membership=team.membership["editor"])
    assert not SceneNote.objects.filter(pk=reply.pk).exists()
    notes.note_delete(note=note, user=team.users["owner2"], membership=team.membership["owner2"])
    assert not SceneNote.objects.exists()


def test_caps(team, scene, monkeypatch):
    monkeypatch.setattr(notes, "ROOTS_PER_SCENE", 2)
    monkeypatch.setattr(notes, "REPLIES_PER_NOTE", 1)
    root = _note(scene, team.users["owner"], body="one")
    _note(scene, team.users["owner"], body="two")
    with pytest.raises(ValidationError, match="most it takes"):
        _note(scene, team.users["owner"], body="three")
    notes.note_reply(note=root, user=team.users["owner"], body="r1")
    with pytest.raises(ValidationError, match="most it takes"):
        notes.note_reply(note=root, user=team.users["owner"], body="r2")
    assert SceneNote.objects.count() == 3


def test_span_cap(team, scene, monkeypatch):
    monkeypatch.setattr(notes, "SPAN_MAX_CHARS", 5)
    with pytest.raises(ValidationError, match="at most 5"):
        _note(scene, team.users["owner"], words="pulse amber")


# --- export ---------------------------------------------------------------------------------


def test_fountain_note_text_never_breaks_out():
    assert "]]" not in notes.fountain_note("a ]] b ]]] c [[ d")
    assert "[[" not in notes.fountain_note("[[[x")
    assert not notes.fountain_note("end]").endswith("]")
    assert notes.fountain_note("one\n\n\ntwo") == "one\ntwo"


def test_export_with_notes_on_and_off(team, scene):
    note = _note(scene, team.users["commenter"], words="pulse amber", body="Too quiet? ]] really")
    notes.note_reply(note=note, user=team.users["editor"], body="Louder.")
    resolved = _note(scene, team.users["owner"], words="holding", body="Done already")
    notes.note_resolve(note=resolved, user=team.users["owner"])
    plain = exports.export_scene(scene, "fountain").content.decode()
    assert "[[" not in plain
    with_notes = exports.export_scene(scene, "fountain", notes=True).content.decode()
    assert "Alarms pulse amber [[commenter: Too quiet? ] ] really\neditor: Louder.]]." in with_notes
    assert "Done already" not in with_notes  # resolved notes stay out
    # The whole script too, and only Fountain takes them.
    script = exports.export_project(team.project, "fountain", notes=True).content.decode()
    assert "[[commenter: Too quiet?" in script
    fdx = exports.export_project(team.project, "fdx", notes=True).content.decode()
    assert "Too quiet" not in fdx


def test_export_puts_notes_at_the_end_when_the_saved_text_lags(team, scene):
    note = _note(scene, team.users["owner"], words="amber", body="Colour?")
    documents.replace_text(scene_id=scene.pk, new_text="Smoke.\n" + TEXT, user_id=None)
    scene.refresh_from_db()
    assert scene.text == TEXT  # not compacted yet: the saved text differs from the live one
    out = exports.export_scene(scene, "fountain", notes=True).content.decode()
    assert out.endswith("It's holding.\n\n[[owner: Colour?]]\n")
    documents.compact(scene.pk)
    scene.refresh_from_db()
    out = exports.export_scene(scene, "fountain", notes=True).content.decode()
    assert "pulse amber [[owner: Colour?]]." in out
    assert note.pk


def test_export_view_takes_the_option(client, team, scene):
    _note(scene, team.users["owner"], words="amber", body="Colour?")
    client.force_login(team.users["viewer"])
    url = reverse("scene_export", args=[team.project.pk, scene.pk])
    off = client.get(url, {"format": "fountain"}).content.decode()
    on = client.get(url, {"format": "fountain", "notes": "on"}).content.decode()
    assert "[[" not in off and "amber [[owner: Colour?]]" in on
    page = client.get(reverse("script_export", args=[team.project.pk])).content.decode()
    assert 'name="notes"' in page


# --- views ----------------------------------------------------------------------------------


def _url(name, scene, note=None):
    args = [scene.project_id, scene.pk] + ([note.pk] if note is not None else [])
    return reverse(name, args=args)


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_list_partial_for_every_member_404_for_outsiders(client, team, scene):
    _note(scene, team.users["commenter"])
    for who in ("owner", "editor", "commenter", "viewer"):
        client.force_login(team.users[who])
        response = client.get(_url("scene_notes", scene), **HTMX)
        assert response.status_code == 200, who
        body = response.content.decode()
        assert "Too quiet?" in body and 'id="notes-data"' in body
        assert ('id="note-' in body) and (("Resolve" in body) == (who != "viewer"))
    client.force_login(team.users["outsider"])
    assert client.get(_url("scene_notes", scene), **HTMX).status_code == 404
    client.logout()
    assert client.get(_url("scene_notes", scene), **HTMX).status_code == 302  # log in


@pytest.mark.parametrize(
    "who,status", [("owner", 200), ("commenter", 200), ("viewer", 403), ("outsider", 404)]
)
def test_create_by_role(client, team, scene, who, status):
    a, b = anchors(scene, "amber")
    client.force_login(team.users[who])
    response = client.post(
        _url("note_create", scene), {"body": "Hm", "anchor_start": a, "anchor_end": b}, **HTMX
    )
    assert response.status_code == status
    assert SceneNote.objects.count() == (1 if status == 200 else 0)
    if status == 200:
        assert "notes-list" in response.content.decode()


@pytest.mark.parametrize("action", ["reply", "resolve", "reopen", "edit", "delete"])
@pytest.mark.parametrize("who,status", [("viewer", 403), ("outsider", 404)])
def test_actions_refused_below_commenter(client, team, scene, action, who, status):
    note = _note(scene, team.users["commenter"])
    client.force_login(team.users[who])
    response = client.post(_url(f"note_{action}", scene, note), {"body": "x"}, **HTMX)
    assert response.status_code == status
    note.refresh_from_db()
    assert note.body == "Too quiet?" and note.resolved_at is None
    assert SceneNote.objects.count() == 1


def test_actions_by_a_commenter(client, team, scene, published):
    note = _note(scene, team.users["commenter"])
    client.force_login(team.users["commenter"])
    r = client.post(_url("note_reply", scene, note), {"body": "Reply!"}, **HTMX)
    assert r.status_code == 200 and "Reply!" in r.content.decode()
    r = client.post(_url("note_edit", scene, note), {"body": "Edited."}, **HTMX)
    assert r.status_code == 200 and "Edited." in r.content.decode()
    r = client.post(_url("note_resolve", scene, note), **HTMX)
    assert r.status_code == 200 and "Show resolved (1)" in r.content.decode()
    r = client.post(_url("note_reopen", scene, note))  # a plain post goes back to the scene
    assert r.status_code == 302 and r["Location"].endswith(f"{scene.get_absolute_url()}#notes")
    note.refresh_from_db()
    assert note.resolved_at is None
    r = client.post(_url("note_delete", scene, note), **HTMX)
    assert r.status_code == 200 and not SceneNote.objects.exists()
    assert all(isinstance(e, events.NotesChanged) for e in published) and len(published) == 6


def test_someone_elses_note_cannot_be_edited_or_deleted(client, team, scene):
    note = _note(scene, team.users["commenter"])
    client.force_login(team.users["editor"])
    assert client.post(_url("note_edit", scene, note), {"body": "x"}, **HTMX).status_code == 403
    assert client.post(_url("note_delete", scene, note), **HTMX).status_code == 403
    client.force_login(team.users["owner"])  # an owner may delete, not edit
    assert client.post(_url("note_edit", scene, note), {"body": "x"}, **HTMX).status_code == 403
    assert client.post(_url("note_delete", scene, note), **HTMX).status_code == 200
    assert not SceneNote.objects.exists()


def test_a_note_of_another_scene_is_404(client, team, scene):
    note = _note(scene, team.users["commenter"])
    client.force_login(team.users["owner"])
    other = team.scenes[1]
    assert client.post(_url("note_resolve", other, note), **HTMX).status_code == 404


@pytest.mark.parametrize(
    "data,message",
    [
        ({"body": ""}, "Write something"),
        ({"body": "x" * 4001}, "at most 4,000"),
        ({"body": "x", "anchor_start": "%%%", "anchor_end": "%%%"}, "could not be read"),
        ({"body": "x", "anchor_start": "", "anchor_end": ""}, "could not be read"),
    ],
)
def test_bad_input_is_400_with_a_message(client, team, scene, data, message):
    a, b = anchors(scene, "amber")
    data = {"anchor_start": a, "anchor_end": b, **data}
    client.force_login(team.users["commenter"])
    plain = client.post(_url("note_create", scene), data)
    assert plain.status_code == 400 and message in plain.content.decode()
    htmx = client.post(_url("note_create", scene), data, **HTMX)
    # htmx gets 422 (the project's rule: responses.fail), aimed at the card's message slot.
    assert htmx.status_code == 422 and htmx["HX-Retarget"] == "#notes-msg"
    assert message in htmx.content.decode()
    assert not SceneNote.objects.exists()


def test_foreign_scene_anchors_through_the_view(client, team, scene):
    other = team.scenes[1]
    documents.replace_text(scene_id=other.pk, new_text="JONAH\nHello out there.\n", user_id=None)
    a, b = anchors(other, "Hello")
    client.force_login(team.users["owner"])
    r = client.post(_url("note_create", scene), {"body": "x", "anchor_start": a, "anchor_end": b})
    assert r.status_code == 400 and "not in this scene" in r.content.decode()
    assert not SceneNote.objects.exists()


def test_the_scene_page_has_the_notes_card(client, team, scene):
    client.force_login(team.users["commenter"])
    body = client.get(scene.get_absolute_url()).content.decode()
    assert 'id="notes"' in body and 'id="note-new"' in body and 'id="note-add"' in body
    client.force_login(team.users["viewer"])
    body = client.get(scene.get_absolute_url()).content.decode()
    assert 'id="notes"' in body and 'id="note-new"' not in body and 'id="note-add"' not in body


def test_a_deleted_scene_takes_its_notes(team, scene):
    _note(scene, team.users["owner"])
    services.scene_delete(scene=scene)
    assert not SceneNote.objects.exists()


def test_the_scene_room_tells_each_page_to_fetch_its_notes():
    """``NotesChanged`` reaches a page as an out-of-band element that GETs the list (as
    ``HistoryChanged`` does for the history); a socket whose access is gone sends nothing."""
    import asyncio
    import time

    from generation.consumers import SceneRoomConsumer
    from scripts_app.models import Role

    consumer = SceneRoomConsumer()
    consumer.project_id, consumer.scene_id = 3, 7
    consumer.role, consumer.role_checked = Role.VIEWER, time.monotonic()
    sent = []

    async def send(text_data=None, bytes_data=None):
        sent.append(text_data)

    consumer.send = send
    message = events.NotesChanged(7).to_message()
    assert message == {"type": "notes.changed", "scene": 7}
    assert events.NotesChanged(7).route.group == events.scene_room_group(7)
    assert "notes.changed" in SceneRoomConsumer.light_types
    asyncio.run(consumer.notes_changed(message))
    url = reverse("scene_notes", args=[3, 7])
    assert sent == [
        f'<div id="notes-refresh" hx-swap-oob="true" hidden hx-get="{url}" '
        'hx-trigger="load" hx-target="#notes-list" hx-swap="outerHTML"></div>'
    ]
    consumer.role = None
    asyncio.run(consumer.notes_changed(message))
    assert len(sent) == 1
