"""Revisions: save, history, diff, restore, and the stale-save conflict."""

import pytest
from django.urls import reverse

from scripts_app import services
from scripts_app.diffing import inline_diff
from scripts_app.models import Revision, RevisionOrigin


def test_save_makes_numbered_revisions_and_moves_head(team):
    scene = team.scenes[0]
    head_before = scene.head
    result = services.scene_save_text(
        scene=scene,
        user=team.users["editor"],
        text="One.\n",
        base_revision_id=head_before.pk,
        label="first pass",
    )
    scene.refresh_from_db()
    assert not result.conflict
    assert scene.head == result.revision and scene.text == "One.\n"
    assert result.revision.number == head_before.number + 1
    assert result.revision.label == "first pass" and result.revision.base == head_before
    assert list(scene.revisions.values_list("number", flat=True)) == [3, 2, 1]


def test_saving_unchanged_text_adds_no_revision(team):
    scene = team.scenes[0]
    count = scene.revisions.count()
    services.scene_save_text(
        scene=scene, user=team.users["editor"], text=scene.text, base_revision_id=scene.head_id
    )
    assert scene.revisions.count() == count


def test_restore_is_a_new_revision_and_keeps_history(team):
    scene = team.scenes[0]
    first = scene.revisions.get(number=1)
    new = services.revision_restore(revision=first, user=team.users["editor"])
    scene.refresh_from_db()
    assert new.number == 3 and new.origin == RevisionOrigin.RESTORE and new.restored_from == first
    assert scene.text == first.text and scene.head == new
    assert scene.revisions.count() == 3  # nothing rewritten or removed


def test_stale_save_keeps_both_texts_and_reports_conflict(team):
    scene = team.scenes[0]
    base = scene.head_id
    # Alice and Bob both loaded revision `base`; Alice saves first.
    services.scene_save_text(
        scene=scene, user=team.users["owner"], text="Alice's text.\n", base_revision_id=base
    )
    result = services.scene_save_text(
        scene=scene, user=team.users["editor"], text="Bob's text.\n", base_revision_id=base
    )
    scene.refresh_from_db()
    assert result.conflict
    assert scene.text == "Alice's text.\n"  # the head is not overwritten…
    kept = Revision.objects.get(pk=result.revision.pk)
    assert (
        kept.text == "Bob's text.\n" and kept.origin == RevisionOrigin.CONFLICT
    )  # …and Bob's is kept
    assert kept.base_id == base


def test_stale_save_through_the_page_shows_the_conflict(client, team):
    scene = team.scenes[0]
    base = scene.head_id
    services.scene_save_text(
        scene=scene, user=team.users["owner"], text="Alice's text.\n", base_revision_id=base
    )
    client.force_login(team.users["editor"])
    url = reverse("scene_save", args=[team.project.pk, scene.pk])
    response = client.post(
        url, {"text": "Bob's <b>text</b>.\n", "base_revision": base}, follow=True
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "Conflicting save" in body
    assert "Alice&#x27;s text." in body or "Alice's text." in body
    assert "Bob&#x27;s &lt;b&gt;text&lt;/b&gt;." in body  # escaped, in the editor and the diff
    assert "<b>text</b>" not in body
    # Saving the merge on top of the current head resolves it.
    scene.refresh_from_db()
    client.post(url, {"text": "Merged.\n", "base_revision": scene.head_id})
    scene.refresh_from_db()
    assert scene.text == "Merged.\n"


def test_history_and_diff_views(client, team):
    scene = team.scenes[0]
    client.force_login(team.users["viewer"])
    history = client.get(
        reverse("revision_list", args=[team.project.pk, scene.pk])
    ).content.decode()
    assert "r1" in history and "r2" in history
    diff = client.get(
        reverse("revision_diff", args=[team.project.pk, scene.pk]) + "?a=1&b=2",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "<ins> amber</ins>" in diff or "<ins>amber</ins>" in diff
    assert "<html" not in diff  # the htmx request gets the partial


@pytest.mark.parametrize("query", ["?a=1", "?a=x&b=2", "?a=1&b=99"])
def test_diff_rejects_bad_revision_numbers(client, team, query):
    client.force_login(team.users["viewer"])
    response = client.get(
        reverse("revision_diff", args=[team.project.pk, team.scenes[0].pk]) + query,
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code in (404, 422)


def test_inline_diff_marks_words():
    segments = inline_diff("MARA\nIt's holding.\n", "MARA\nIt's barely holding.\n")
    assert [(s.op, s.text) for s in segments if s.op != "equal"] == [("insert", "barely ")]
    rebuilt_new = "".join(s.text for s in segments if s.op != "delete")
    rebuilt_old = "".join(s.text for s in segments if s.op != "insert")
    assert rebuilt_new == "MARA\nIt's barely holding.\n" and rebuilt_old == "MARA\nIt's holding.\n"


@pytest.mark.django_db(transaction=True)
def test_live_save_waits_for_keystrokes_still_on_their_way(client, team):
    """Ctrl+S right after typing: the browser posts the text it shows; the last keystroke
    reaches the server's document a moment later. The saved revision has it."""
    import threading

    from django.db import connections

    from scripts_app import documents

    scene = team.scenes[0]
    documents.ensure_doc(scene.pk)
    typed = documents.live_text(scene.pk) + "JONAH\nLate words.\n"

    def keystroke_arrives():
        try:
            documents.replace_text(scene_id=scene.pk, new_text=typed, user_id=None)
        finally:
            connections.close_all()

    timer = threading.Timer(0.4, keystroke_arrives)
    timer.start()
    client.force_login(team.users["editor"])
    response = client.post(
        reverse("scene_version", args=[team.project.pk, scene.pk]),
        {"label": "quick save", "text": typed.replace("\n", "\r\n")},  # as a form posts it
    )
    timer.join()
    assert response.status_code == 302
    head = Revision.objects.filter(scene=scene).order_by("-number").first()
    assert head.label == "quick save" and head.text == typed


@pytest.mark.django_db(transaction=True)
def test_live_save_does_not_wait_forever_when_someone_else_typed(client, team, monkeypatch):
    """If the server's document never shows the posted text (another editor changed it
    meanwhile), the save gives up waiting and saves the server's copy: everyone's edits."""
    from scripts_app import documents, views

    monkeypatch.setattr(views, "LIVE_SAVE_WAIT_SECONDS", 0.3)
    scene = team.scenes[0]
    documents.ensure_doc(scene.pk)
    server_text = documents.live_text(scene.pk)
    client.force_login(team.users["editor"])
    response = client.post(
        reverse("scene_version", args=[team.project.pk, scene.pk]),
        {"label": "mine", "text": "Something else entirely.\n"},
    )
    assert response.status_code == 302
    head = Revision.objects.filter(scene=scene).order_by("-number").first()
    assert head.label == "mine" and head.text == server_text
