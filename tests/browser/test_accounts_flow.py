"""Invitations in a real browser, with sign-up by invitation only; and the
Content-Security-Policy enforced on the pages a member uses."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user
from tests.support.servers import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def invite_only_server(transactional_db):
    with DaphneServer(env={"COWRITE_SIGNUP": "invite"}) as server:
        yield server


def test_owner_makes_a_link_and_a_newcomer_signs_up_and_accepts(invite_only_server, new_page):
    base = invite_only_server.http_url
    owner = make_user("showrunner")
    project = services.project_create(user=owner, title="Night Shift")
    scene = services.scene_create(project=project, user=owner, heading="INT. WARD - NIGHT")

    page = new_page()
    log_in(page, base, "showrunner", PASSWORD)
    page.goto(f"{base}/projects/{project.pk}/")
    page.get_by_text("Open invitations and links").click()
    page.get_by_label("Link for a").select_option("commenter")
    page.get_by_role("button", name="Create a link").click()
    link = page.get_by_label("Invitation link").input_value()
    assert re.search(r"/invite/[\w-]{43,}/$", link)
    # The editor page under the policy: the bundle mounts (nothing blocked).
    page.goto(f"{base}/projects/{project.pk}/scenes/{scene.pk}/")
    expect(page.locator("#live-editor .cm-content")).to_have_attribute("contenteditable", "true")
    page.goto(f"{base}{reverse('model_list')}")
    page.goto(f"{base}{reverse('password_change')}")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()

    guest = new_page()
    guest.goto(f"{base}/signup/")
    expect(guest.get_by_role("heading", name="Sign-up is by invitation")).to_be_visible()
    guest.goto(link)
    expect(guest.get_by_role("heading", name="Join “Night Shift”")).to_be_visible()
    guest.get_by_role("link", name="create an account").click()
    guest.get_by_label("Username").fill("newcomer")
    guest.get_by_label("Email").fill("newcomer@example.com")
    guest.get_by_label("Password:", exact=True).fill(PASSWORD)
    guest.get_by_label("Password confirmation").fill(PASSWORD)
    guest.get_by_role("button", name="Sign up").click()
    expect(guest).to_have_url(link)
    assert not Membership.objects.filter(user__username="newcomer").exists()
    guest.get_by_role("button", name="Accept and join as newcomer").click()
    expect(guest.get_by_role("heading", name="Night Shift")).to_be_visible()
    assert Membership.objects.get(user__username="newcomer").role == Role.COMMENTER

    # The policy is really enforced, and the test's guard sees what it blocks.
    guest.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = 1'; document.body.appendChild(s); }"
    )
    expect(guest.locator("body")).to_be_visible()
    guest.wait_for_timeout(200)
    assert guest.evaluate("() => window.__ran") is None
    assert any("inline script" in v for v in guest.csp_violations), guest.csp_violations
    guest.csp_violations.clear()
    assert page.js_errors == [] and guest.js_errors == []
