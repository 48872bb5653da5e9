"""Two people on one scene: one asks for a draft; both pages show it streaming, then done;
the requester accepts it and it lands in both editors' text."""

import pytest
from playwright.sync_api import expect

from generation.models import Passage
from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_draft_streams_to_two_pages_and_is_accepted_live(app_stack, new_page):
    base = app_stack.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    mara = services.character_create(project=project, name="Mara")
    scene = services.scene_create(
        project=project,
        user=alice,
        heading="INT. STAGE - NIGHT",
        text="Lights up.\n",
        cast_ids=[mara.pk],
    )
    pages = {}
    for user in ("alice", "bob"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(f"{base}{scene.get_absolute_url()}")
        expect(page.locator("#room-status")).to_have_text("Live")
        expect(page.locator("#live-editor .cm-content")).to_contain_text("Lights up.")
        pages[user] = page
    a, b = pages["alice"], pages["bob"]
    expect(b.locator("#draft-form")).to_have_count(0)  # a viewer watches, cannot ask

    a.locator("#draft-form .modes").get_by_text("Continue", exact=True).click()
    expect(a.locator("#draft-where")).to_have_text("Continues from the end of the scene.")
    a.locator("#draft-form select[name=length]").select_option("long")
    a.locator("#draft-form select[name=alternatives]").select_option("1")
    a.locator("#draft-form details summary").click()  # the advanced settings are folded
    a.locator("#draft-form input[name=seed]").fill("5")
    a.get_by_role("button", name="Ask for a draft").click()

    for page in (a, b):
        card = page.locator("#drafts-list .passage").first
        expect(card).to_be_visible()
        expect(card.locator(".passage-text")).not_to_be_empty(
            timeout=60_000
        )  # first token: the worker may still be loading the model
    passage = Passage.objects.get(scene=scene)
    for page in (a, b):
        expect(page.locator(f"#passage-{passage.pk}")).to_have_class(
            "passage status-done", timeout=60_000
        )
    passage.refresh_from_db()
    # Both pages show exactly the stored text (no token lost, doubled or out of order).
    for page in (a, b):
        shown = page.locator(f"#passage-{passage.pk}-text").inner_text()
        assert shown.replace("\r", "") == passage.text.replace("\r", "")

    a.locator(f"#passage-{passage.pk}").get_by_role("button", name="At the end").click()
    expect(a.locator("#draft-errors")).to_contain_text("accepted into the scene")
    for page in (a, b):  # the card says what the accept did; the buttons are gone
        card = page.locator(f"#passage-{passage.pk}")
        expect(card.locator(".accepted-note")).to_contain_text("Accepted — added at the end")
        expect(card.get_by_role("button", name="At the end")).to_have_count(0)
    first_line = next(line for line in passage.text.splitlines() if line.strip())
    for page in (a, b):
        expect(page.locator("#live-editor .cm-content")).to_contain_text(first_line.strip()[:20])
    for page in (a, b):
        assert page.js_errors == []
