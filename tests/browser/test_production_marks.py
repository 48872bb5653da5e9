"""After the script is locked for production, what a writer changes in the editor is
marked with an asterisk in the next revision's colour, for everyone on the scene."""

import pytest
from playwright.sync_api import expect

from scripts_app import production, services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_changed_lines_get_revision_asterisks(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Locked")
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    scene = services.scene_create(
        project=project, user=alice, heading="INT. DINER - NIGHT", text="Rain.\n\nMAY\nCoffee?\n"
    )
    production.production_lock(project=project, user=alice)
    url = f"{base}{scene.get_absolute_url()}"
    a, b = new_page(), new_page()
    log_in(a, base, "alice", PASSWORD)
    log_in(b, base, "bob", PASSWORD)
    for page in (a, b):
        page.goto(url)
        expect(page.locator("#live-editor .cm-content")).to_contain_text("Coffee?")
        expect(page.locator("#production-legend")).to_contain_text("Blue")
        expect(page.locator(".cm-line.cf-revised")).to_have_count(0)
    a.locator("#live-editor .cm-content").click()
    a.keyboard.press("Control+End")
    a.keyboard.type("\nMAY\nMore coffee.", delay=10)
    for page in (a, b):
        marked = page.locator(".cm-line.cf-revised")
        expect(marked).to_have_count(2)
        expect(marked.first).to_have_attribute("data-rev", "Blue")
        expect(marked.last).to_contain_text("More coffee.")
