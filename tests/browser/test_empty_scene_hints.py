"""An empty scene: the editor hints what to type (a viewer reads that it is empty); the
drafts panel's "No drafts for this scene yet." goes on every page when the first draft
arrives live, and the hint goes at the first character."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HINT = "INT. PLACE - DAY — then what happens. Type a character's name in capitals"


def test_an_empty_scene_hints_and_the_empty_note_goes_when_a_draft_arrives(app_stack, new_page):
    base = app_stack.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Blank Page")
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    scene = services.scene_create(project=project, user=alice, heading="INT. ATTIC - NIGHT")
    pages = {}
    for user in ("alice", "bob"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(f"{base}{scene.get_absolute_url()}")
        expect(page.locator("#room-status")).to_have_text("Live")
        expect(page.locator("#no-drafts")).to_be_visible()
        pages[user] = page
    a, b = pages["alice"], pages["bob"]
    expect(a.locator("#live-editor .cm-placeholder")).to_contain_text(HINT)
    expect(b.locator("#live-editor .cm-placeholder")).to_have_text(
        "Nothing written in this scene yet."
    )

    a.locator("#draft-form .modes").get_by_text("Write the scene", exact=True).click()
    a.locator("#draft-form select[name=alternatives]").select_option("1")
    a.locator("#draft-form select[name=length]").select_option("short")
    a.get_by_role("button", name="Ask for a draft").click()
    for page in (a, b):
        expect(page.locator("#drafts-list .draft-group")).to_have_count(1)
        expect(page.locator("#no-drafts")).to_be_hidden()

    a.locator("#live-editor .cm-content").click()
    a.keyboard.type("INT. ")
    expect(a.locator("#live-editor .cm-placeholder")).to_have_count(0)
    expect(b.locator("#live-editor .cm-content")).to_contain_text("INT.")
    expect(b.locator("#live-editor .cm-placeholder")).to_have_count(0)
    for page in (a, b):
        expect(page.locator("#no-drafts")).to_be_hidden()  # still, with a card there
        assert page.js_errors == []
