"""The beat board is live: two editors and a viewer on one board. A card added by one
appears on the others' boards, a card moved by keyboard moves there too, and "Make scene"
makes a scene whose page links back to its card (StoryChanged over the story room)."""

import pytest
from playwright.sync_api import expect

from scripts_app import board, services
from scripts_app.models import Beat, Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_two_editors_and_a_viewer_share_the_board(app_server, new_page):
    base = app_server.http_url
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    Membership.objects.create(project=project, user=carol, role=Role.VIEWER)
    services.scene_create(project=project, user=alice, heading="INT. STAGE - NIGHT")
    board.beat_create(project=project, user=alice, act=2, title="Midpoint")
    url = f"{base}/projects/{project.pk}/board/"
    pages = {}
    for user in ("alice", "bob", "carol"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(url)
        expect(page.locator(".beat-card")).to_have_count(1)
        pages[user] = page
    a, b, c = pages["alice"], pages["bob"], pages["carol"]
    a.wait_for_timeout(500)  # the story room sockets are open
    expect(c.locator("#board-add")).to_have_count(0)  # the viewer cannot add
    expect(c.locator(".beat-card[draggable]")).to_have_count(0)

    # Alice adds a card to act 1: Bob and the viewer see it without reloading.
    a.locator("#board-add summary").click()
    a.get_by_label("Title").fill("Inciting incident")
    a.get_by_label("Summary").fill("The letter arrives.")
    a.get_by_role("button", name="Add card").click()
    expect(a.locator('.board-act[data-act="1"] .beat-card')).to_contain_text("Inciting incident")
    beat = Beat.objects.get(title="Inciting incident")
    for page in (b, c):
        expect(page.locator(f'.board-act[data-act="1"] #beat-{beat.pk}')).to_contain_text(
            "The letter arrives."
        )

    # Bob moves it to act 2 with the keyboard: Alice (and the viewer) see it move.
    card = b.locator(f"#beat-{beat.pk}")
    card.focus()
    b.keyboard.press("Alt+ArrowRight")
    expect(b.locator("#board-status")).to_contain_text("act 2")
    expect(b.locator(f'.board-act[data-act="2"] #beat-{beat.pk}')).to_have_count(1)
    expect(b.locator(f"#beat-{beat.pk}")).to_be_focused()
    for page in (a, c):
        expect(page.locator(f'.board-act[data-act="2"] #beat-{beat.pk}')).to_have_count(1)
        expect(page.locator(f'.board-act[data-act="1"] #beat-{beat.pk}')).to_have_count(0)
    # Then up above "Midpoint", within act 2.
    b.locator(f"#beat-{beat.pk}").focus()
    b.keyboard.press("Alt+ArrowUp")
    expect(a.locator('.board-act[data-act="2"] .beat-card').first).to_have_id(f"beat-{beat.pk}")

    # Bob drags "Midpoint" into the empty act 3: Alice sees it there.
    midpoint = Beat.objects.get(title="Midpoint")
    b.locator(f"#beat-{midpoint.pk}").drag_to(b.locator('ol.act-cards[data-act="3"]'))
    expect(a.locator(f'.board-act[data-act="3"] #beat-{midpoint.pk}')).to_have_count(1)
    expect(c.locator(f'.board-act[data-act="3"] #beat-{midpoint.pk}')).to_have_count(1)
    assert Beat.objects.get(pk=midpoint.pk).position == 0

    # Alice makes it a scene: the scene page shows its card, and the boards link the scene.
    a.locator(f"#beat-{beat.pk} .beat-title a").click()
    a.get_by_label("Scene heading").fill("INT. HALL - DAY")
    a.get_by_role("button", name="Make scene").click()
    expect(a.locator("h1.scene-heading")).to_have_text("INT. HALL - DAY")
    expect(a.locator("#scene-beat")).to_contain_text("From the outline: Inciting incident")
    expect(c.locator(f"#beat-{beat.pk} .beat-scene")).to_contain_text("INT. HALL - DAY")
    a.locator("#scene-beat a").click()
    expect(a.locator("#beat-page h1")).to_have_text("Inciting incident")
    for page in (a, b, c):
        assert not page.js_errors, page.js_errors
