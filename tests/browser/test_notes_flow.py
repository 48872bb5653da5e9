"""Notes on the text, live between two writers: alice notes a span, bob sees the note in
his Notes card and highlighted in his editor, types before the span (the highlight keeps
to the same words), replies; alice resolves and the note leaves the open list for both
(NotesChanged over the scene room; each page fetches its list)."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Membership, Role, SceneNote
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "The door creaks open.\n\nMARA\nWho's there?\n"


def _open(new_page, base, scene, user):
    page = new_page()
    log_in(page, base, user, PASSWORD)
    page.goto(f"{base}{scene.get_absolute_url()}")
    expect(page.locator("#live-editor .cm-content")).to_contain_text("creaks open")
    page.wait_for_function("() => window.cowriteEditor && window.cowriteEditor.isLive()")
    expect(page.locator("#room-status")).to_have_text("Live")  # the scene room is open
    expect(page.locator("#notes-list .notes-empty")).to_be_visible()  # the list loaded
    return page


def _select(page, needle: str) -> None:
    page.locator("#live-editor .cm-content").click()
    page.evaluate(
        """(needle) => {
          const view = window.cowriteEditor.view;
          const from = view.state.doc.toString().indexOf(needle);
          view.dispatch({selection: {anchor: from, head: from + needle.length}});
          view.focus();
        }""",
        needle,
    )


def test_a_note_on_the_text_lives_for_both_writers(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    scene = services.scene_create(
        project=project, user=alice, heading="INT. HALL - NIGHT", text=TEXT
    )
    a = _open(new_page, base, scene, "alice")
    b = _open(new_page, base, scene, "bob")

    # Alice selects "creaks open" and adds a note with Ctrl+Alt+M.
    expect(a.locator("#note-add")).to_be_visible()
    _select(a, "creaks open")
    a.keyboard.press("Control+Alt+m")
    expect(a.locator("#note-new")).to_be_visible()
    expect(a.locator("#note-new-quote")).to_have_text("creaks open")
    expect(a.locator("#note-new-body")).to_be_focused()
    a.locator("#note-new-body").fill("Louder? We should hear it first.")
    a.locator("#note-new button[type=submit]").click()
    expect(a.locator("#note-new")).to_be_hidden()
    expect(a.locator("#notes-open .note-thread")).to_have_count(1)
    note = SceneNote.objects.get()
    assert note.quote == "creaks open"

    # Bob sees it in his card and highlighted in his editor, without a reload.
    thread = b.locator(f"#note-{note.pk}")
    expect(thread).to_contain_text("Louder? We should hear it first.")
    expect(thread.locator(".note-quote")).to_contain_text("creaks open")
    expect(b.locator("#live-editor .cm-note-span")).to_have_text("creaks open")
    expect(b.locator("#live-editor .cm-note-marker")).to_have_count(1)
    expect(a.locator("#live-editor .cm-note-span")).to_have_text("creaks open")

    # Bob types before the span: the highlight keeps to the same words, on both pages.
    b.locator("#live-editor .cm-content").click()
    b.keyboard.press("Control+Home")
    b.keyboard.type("Rain. ", delay=10)
    b.wait_for_function("() => window.cowriteEditor.ytext.toString().startsWith('Rain. The door')")
    a.wait_for_function("() => window.cowriteEditor.ytext.toString().startsWith('Rain. The door')")
    for page in (a, b):
        expect(page.locator("#live-editor .cm-note-span")).to_have_text("creaks open")

    # Clicking the marker shows the note in the card.
    b.locator("#live-editor .cm-note-marker").click()
    expect(b.locator(f"#note-{note.pk}.is-active")).to_have_count(1)

    # Bob starts a reply; a note alice adds meanwhile refreshes his list, not his typing.
    thread.locator("summary", has_text="Reply").click()
    thread.locator(f"#note-{note.pk}-reply-body").fill("Agreed, a long")
    _select(a, "Who")
    a.locator("#note-add").click()
    a.locator("#note-new-body").fill("Second note.")
    a.locator("#note-new button[type=submit]").click()
    expect(b.locator("#notes-open .note-thread")).to_have_count(2)
    expect(b.locator("#live-editor .cm-note-span")).to_have_count(2)
    expect(thread.locator(f"#note-{note.pk}-reply-body")).to_have_value("Agreed, a long")
    expect(thread.locator(f"#note-{note.pk}-reply-body")).to_be_visible()
    second = SceneNote.objects.get(body="Second note.")
    a.locator(f"#note-{second.pk} button", has_text="Resolve").click()
    expect(b.locator("#notes-open .note-thread")).to_have_count(1)

    # Bob replies; alice sees the reply.
    thread.locator(f"#note-{note.pk}-reply-body").fill("Agreed, a long creak.")
    thread.locator("button", has_text="Reply").click()
    expect(a.locator(f"#note-{note.pk}")).to_contain_text("Agreed, a long creak.")
    expect(b.locator(f"#note-{note.pk}")).to_contain_text("Agreed, a long creak.")

    # Alice resolves: it leaves the open list (and the highlights) for both.
    a.locator(f"#note-{note.pk} button", has_text="Resolve").click()
    for page in (a, b):
        expect(page.locator("#notes-open .note-thread")).to_have_count(0)
        expect(page.locator("#notes-resolved > summary")).to_have_text("Show resolved (2)")
        expect(page.locator("#live-editor .cm-note-span")).to_have_count(0)
    # The resolved one is still there to read.
    b.locator("#notes-resolved > summary").click()
    expect(b.locator(f"#note-{note.pk}")).to_contain_text("resolved by alice")

    # At phone width the card stacks below the editor, with no sideways scroll.
    b.set_viewport_size({"width": 390, "height": 800})
    editor_box = b.locator("#live-editor").bounding_box()
    card_box = b.locator("#notes").bounding_box()
    assert card_box["y"] > editor_box["y"]
    assert card_box["x"] + card_box["width"] <= 390
    assert b.evaluate("() => document.getElementById('notes').scrollWidth") <= card_box["width"] + 1
    for page in (a, b):
        assert page.js_errors == []


def test_a_commenter_notes_words_picked_with_the_mouse(app_server, new_page):
    """A commenter's editor is read only: the words are picked with the mouse and the
    "Add note" button in the live bar; a viewer gets no button and no form."""
    base = app_server.http_url
    alice, carol, vic = make_user("alice"), make_user("carol"), make_user("vic")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=carol, role=Role.COMMENTER)
    Membership.objects.create(project=project, user=vic, role=Role.VIEWER)
    scene = services.scene_create(
        project=project, user=alice, heading="INT. HALL - NIGHT", text=TEXT
    )
    c = _open(new_page, base, scene, "carol")
    v = _open(new_page, base, scene, "vic")
    expect(v.locator("#note-add")).to_have_count(0)
    expect(v.locator("#note-new")).to_have_count(0)

    c.locator("#live-editor .cm-line", has_text="creaks").dblclick(position={"x": 60, "y": 5})
    c.locator("#note-add").click()
    expect(c.locator("#note-new")).to_be_visible()
    quote = c.locator("#note-new-quote").inner_text()
    assert quote and quote in TEXT
    c.locator("#note-new-body").fill("Which word?")
    c.locator("#note-new button[type=submit]").click()
    expect(c.locator("#notes-open .note-thread")).to_have_count(1)
    note = SceneNote.objects.get()
    assert note.quote == quote
    expect(v.locator(f"#note-{note.pk}")).to_contain_text("Which word?")
    expect(v.locator("#live-editor .cm-note-span")).to_have_text(quote)
    expect(v.locator(f"#note-{note.pk} button", has_text="Resolve")).to_have_count(0)
    # The note's words in the card select them in the editor.
    v.locator(f"#note-{note.pk} .note-show").click()
    v.wait_for_function(
        """(q) => { const v = window.cowriteEditor.view; const s = v.state.selection.main;
                    return v.state.sliceDoc(s.from, s.to) === q; }""",
        arg=quote,
    )
    # Without a selection, the button says what to do and nothing is posted.
    c.locator("#live-editor .cm-content").click()
    c.evaluate(
        "() => { const v = window.cowriteEditor.view; v.dispatch({selection: {anchor: 0}}); }"
    )
    c.evaluate("() => document.getSelection().removeAllRanges()")
    c.locator("#note-add").click()
    expect(c.locator("#notes-msg")).to_contain_text("Select the words")
    assert SceneNote.objects.count() == 1
    # A refused note says why in the card and keeps what was typed.
    c.locator("#live-editor .cm-line", has_text="creaks").dblclick(position={"x": 60, "y": 5})
    c.locator("#note-add").click()
    c.evaluate("() => { document.querySelector('#note-new [name=anchor_start]').value = '%%%'; }")
    c.locator("#note-new-body").fill("Lost?")
    c.locator("#note-new button[type=submit]").click()
    expect(c.locator("#notes-msg")).to_contain_text("could not be read")
    expect(c.locator("#note-new")).to_be_visible()
    expect(c.locator("#note-new-body")).to_have_value("Lost?")
    assert SceneNote.objects.count() == 1
    for page in (c, v):
        assert page.js_errors == []
