"""Two people type in the same scene in two browsers; each sees the other's text and
cursor; a viewer watches read-only; after a reload the text is there."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_editors_type_together_and_a_viewer_watches(app_server, new_page):
    base = app_server.http_url
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    Membership.objects.create(project=project, user=carol, role=Role.VIEWER)
    scene = services.scene_create(
        project=project, user=alice, heading="INT. STAGE - NIGHT", text="Lights up.\n"
    )
    url = f"{base}{scene.get_absolute_url()}"

    pages = {}
    for user in ("alice", "bob", "carol"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(url)
        expect(page.locator("#live-editor .cm-content")).to_contain_text("Lights up.")
        pages[user] = page
    a, b, c = pages["alice"], pages["bob"], pages["carol"]

    a.locator("#live-editor .cm-content").click()
    a.keyboard.press("Control+End")
    a.keyboard.type("\nALICE\nCafé — it’s late. 😀\n", delay=10)
    b.locator("#live-editor .cm-content").click()
    b.keyboard.press("Control+Home")
    b.keyboard.type("BOB WAS HERE\n", delay=10)

    for page in (a, b, c):
        content = page.locator("#live-editor .cm-content")
        expect(content).to_contain_text("Café — it’s late. 😀")
        expect(content).to_contain_text("BOB WAS HERE")
    # Each editor sees the other's cursor with their name; presence lists everyone.
    expect(a.locator(".cm-ySelectionInfo", has_text="bob")).to_have_count(1)
    expect(b.locator(".cm-ySelectionInfo", has_text="alice")).to_have_count(1)
    expect(c.locator("#presence")).to_contain_text("alice")
    expect(c.locator("#presence")).to_contain_text("bob")

    # The viewer cannot type (the page is read-only; the server refuses updates too).
    expect(c.locator("#live-editor .cm-content")).to_have_attribute("contenteditable", "false")
    c.locator("#live-editor .cm-content").click()
    c.keyboard.type("CAROL")
    a.wait_for_timeout(500)
    expect(a.locator("#live-editor .cm-content")).not_to_contain_text("CAROL")

    # After a reload the text is there (it was stored as it was typed).
    final = a.evaluate("window.cowriteEditor.ytext.toString()")
    assert b.evaluate("window.cowriteEditor.ytext.toString()") == final
    b.reload()
    expect(b.locator("#live-editor .cm-content")).to_contain_text("Café — it’s late. 😀")
    assert b.evaluate("window.cowriteEditor.ytext.toString()") == final
    for page in (a, b, c):
        assert page.js_errors == []
