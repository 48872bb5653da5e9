"""A version saved on one page appears in the history of every other page on the scene,
without a reload (HistoryChanged over the scene room; the page fetches its list)."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_saved_version_reaches_every_page_history(app_server, new_page):
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
        expect(page.locator("#revisions #rev-1")).to_have_count(1)
        pages[user] = page
    a = pages["alice"]
    a.wait_for_timeout(500)  # the room sockets are open
    a.locator("#live-editor .cm-content").click()
    a.keyboard.press("Control+End")
    a.keyboard.type("ALICE\nNow.\n", delay=10)
    a.get_by_role("button", name="Save version").click()
    for page in (pages["bob"], pages["carol"]):
        expect(page.locator("#revisions #rev-2")).to_have_count(1)
        expect(page.locator("#revisions #rev-2")).to_contain_text("alice")
        # Still one history list, and comparing still works from it.
        expect(page.locator("form#revisions")).to_have_count(1)
