"""The drafts panel in the whole-script view: the side column shows the focused scene's
panel; a draft asked there streams into it and, accepted at the cursor, lands in that
scene's live text (not another's); moving into another scene's block swaps in that
scene's panel and its room socket (the old one closes)."""

import pytest
from playwright.sync_api import expect

from generation.models import Passage
from scripts_app import documents, services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _block(page, scene_id):
    return page.locator(f'.script-block[data-scene-id="{scene_id}"]')


def _room(scene) -> str:
    return f"/ws/projects/{scene.project_id}/scenes/{scene.pk}/room"


def test_the_focused_scenes_drafts_panel_follows_the_cursor(app_stack, new_page):
    base = app_stack.http_url
    alice = make_user("alice")
    project = services.project_create(user=alice, title="Triptych")
    one, two, three = (
        services.scene_create(project=project, user=alice, heading=heading, text=text)
        for heading, text in (
            ("INT. STAGE - NIGHT", "Lights up.\n"),
            ("EXT. ROOF - DAWN", "Birds circle.\n"),
            ("INT. GARAGE - DAY", "A mechanic works.\n"),
        )
    )
    page = new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws))
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}/projects/{project.pk}/script/")
    for scene, text in ((one, "Lights up."), (two, "Birds circle."), (three, "A mechanic")):
        expect(_block(page, scene.pk).locator(".cm-content")).to_contain_text(text)
        expect(_block(page, scene.pk).locator(".block-status")).to_contain_text("Live")
    expect(page.locator("#drafts-panel")).to_have_count(0)  # no scene focused yet
    expect(page.locator(".script-block a", has_text="Drafts")).to_have_count(0)
    expect(_block(page, two.pk).get_by_role("link", name="Scene page")).to_be_visible()

    # Into scene 2: its panel, its room.
    _block(page, two.pk).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    panel = page.locator("#drafts-panel")
    expect(panel).to_have_attribute("data-scene-id", str(two.pk))
    expect(page.locator("#script-side-scene")).to_contain_text("EXT. ROOF - DAWN")
    expect(page.locator("#room-status")).to_have_text("Live")
    expect(page.locator("#no-drafts")).to_be_visible()
    room_two = next(ws for ws in sockets if ws.url.endswith(_room(two)))

    # A draft asked for there streams into the panel.
    form = page.locator("#draft-form")
    form.locator(".modes").get_by_text("Continue", exact=True).click()
    expect(page.locator("#draft-where")).to_have_text("Continues from the end of the scene.")
    form.locator("select[name=alternatives]").select_option("1")
    form.locator("details summary").click()
    form.locator("input[name=seed]").fill("7")
    page.get_by_role("button", name="Ask for a draft").click()
    card = page.locator("#drafts-list .passage").first
    expect(card).to_be_visible()
    expect(card.locator(".passage-text")).not_to_be_empty(
        timeout=60_000
    )  # first token: the worker may still be loading the model
    expect(page.locator("#no-drafts")).to_be_hidden()
    passage = Passage.objects.get(scene=two)
    expect(page.locator(f"#passage-{passage.pk}")).to_have_class(
        "passage status-done", timeout=60_000
    )
    passage.refresh_from_db()
    shown = page.locator(f"#passage-{passage.pk}-text").inner_text()
    assert shown.replace("\r", "") == passage.text.replace("\r", "")

    # Accepted at her cursor: into scene 2's live text, not another scene's.
    page.locator(f"#passage-{passage.pk}").get_by_role("button", name="At my cursor").click()
    expect(page.locator("#draft-errors")).to_contain_text("accepted into the scene")
    first_line = next(line for line in passage.text.splitlines() if line.strip()).strip()[:20]
    expect(_block(page, two.pk).locator(".cm-content")).to_contain_text(first_line)
    assert first_line in documents.live_text(two.pk)
    assert documents.live_text(two.pk).startswith("Birds circle.")
    assert first_line not in documents.live_text(one.pk)
    assert first_line not in documents.live_text(three.pk)

    # Into scene 3: its panel replaces scene 2's; scene 2's room closes, scene 3's opens.
    _block(page, three.pk).locator(".cm-content").click()
    expect(panel).to_have_attribute("data-scene-id", str(three.pk))
    expect(page.locator("#script-side-scene")).to_contain_text("INT. GARAGE - DAY")
    expect(page.locator(f"#passage-{passage.pk}")).to_have_count(0)
    expect(page.locator("#no-drafts")).to_be_visible()
    expect(page.locator("#room-status")).to_have_text("Live")
    expect(page.locator("#drafts-panel")).to_have_count(1)
    if not room_two.is_closed():
        room_two.wait_for_event("close")
    rooms = [ws for ws in sockets if ws.url.endswith("/room") and not ws.is_closed()]
    assert [ws.url for ws in rooms] == [f"{base.replace('http', 'ws', 1)}{_room(three)}"]
    assert page.js_errors == []


def test_viewers_see_the_panel_read_only(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    scene = services.scene_create(
        project=project, user=alice, heading="INT. STAGE - NIGHT", text="Lights up.\n"
    )
    page = new_page()
    log_in(page, base, "bob", PASSWORD)
    page.goto(f"{base}/projects/{project.pk}/script/")
    expect(_block(page, scene.pk).locator(".cm-content")).to_contain_text("Lights up.")
    _block(page, scene.pk).locator(".cm-content").click()
    expect(page.locator("#drafts-panel")).to_have_attribute("data-scene-id", str(scene.pk))
    expect(page.locator("#room-status")).to_have_text("Live")
    expect(page.locator("#drafts-panel")).to_contain_text("You can watch drafts")
    expect(page.locator("#draft-form")).to_have_count(0)

    # On a phone the column is a bar at the bottom that opens; nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 800})
    toggle = page.locator("#script-side-toggle")
    expect(toggle).to_contain_text("scene 1")
    expect(page.locator("#drafts-panel")).to_be_hidden()
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#drafts-panel")).to_be_visible()
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert page.js_errors == []
