"""The whole-script view in two browsers: a heading typed in a scene starts a new scene
for everyone, typing in another scene shows live, merging gives it back; page breaks
where the PDF breaks; the scene page says which page the cursor is on."""

import re

import pytest
from playwright.sync_api import expect

from scripts_app import exports, script_view, services
from scripts_app.formats import pagination
from scripts_app.models import Membership, Role, Scene
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PARA = "The corridor is long and the lights flicker as she runs past door after door.\n\n"


def _block(page, scene_id):
    return page.locator(f'.script-block[data-scene-id="{scene_id}"]')


def test_split_live_typing_and_merge_in_two_browsers(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    one = services.scene_create(
        project=project, user=alice, heading="INT. STAGE - NIGHT", text="Lights up.\n"
    )
    two = services.scene_create(
        project=project, user=alice, heading="EXT. ROOF - DAWN", text="Birds.\n"
    )
    pages = {}
    for user in ("alice", "bob"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(f"{base}/projects/{project.pk}/script/")
        expect(_block(page, one.pk).locator(".cm-content")).to_contain_text("Lights up.")
        expect(_block(page, two.pk).locator(".cm-content")).to_contain_text("Birds.")
        expect(_block(page, one.pk).locator(".block-status")).to_contain_text("Live")
        pages[user] = page
    a, b = pages["alice"], pages["bob"]

    # Alice types a heading at the end of scene 1 and presses Enter: a new scene.
    content = _block(a, one.pk).locator(".cm-content")
    content.click()
    a.keyboard.press("Control+End")
    a.keyboard.type("She bows.", delay=10)
    a.keyboard.press("Enter")
    a.keyboard.type("INT. GARAGE - DAY", delay=10)
    a.keyboard.press("Enter")
    for page in (a, b):
        expect(page.locator(".script-block")).to_have_count(3, timeout=20_000)
        expect(page.locator(".script-block").nth(1).locator("input.block-heading")).to_have_value(
            "INT. GARAGE - DAY"
        )
        expect(_block(page, one.pk).locator(".cm-content")).not_to_contain_text("GARAGE")
    assert Scene.objects.filter(project=project).count() == 3
    new = Scene.objects.get(project=project, heading="INT. GARAGE - DAY")
    assert [s.pk for s in Scene.objects.filter(project=project).order_by("position")] == [
        one.pk,
        new.pk,
        two.pk,
    ]
    # Alice's cursor is in the new scene: she goes on typing there.
    expect(_block(a, new.pk)).to_have_class(re.compile(r"\bis-focused\b"))
    a.keyboard.type("Mechanic works.", delay=10)
    expect(_block(b, new.pk).locator(".cm-content")).to_contain_text("Mechanic works.")

    # Bob types in another scene; Alice sees it live.
    _block(b, two.pk).locator(".cm-content").click()
    b.keyboard.press("Control+End")
    b.keyboard.type("Wind.", delay=10)
    expect(_block(a, two.pk).locator(".cm-content")).to_contain_text("Wind.")

    # Merge the new scene back: its heading and text end scene 1; nothing is lost.
    _block(a, new.pk).get_by_role("button", name="Merge with previous scene").click()
    for page in (a, b):
        expect(page.locator(".script-block")).to_have_count(2, timeout=20_000)
        merged = _block(page, one.pk).locator(".cm-content")
        expect(merged).to_contain_text("INT. GARAGE - DAY")
        expect(merged).to_contain_text("Mechanic works.")
        expect(merged).to_contain_text("She bows.")
    assert not Scene.objects.filter(pk=new.pk).exists()

    # Bob empties the last scene's heading and presses Backspace: it merges too.
    heading = _block(b, two.pk).locator("input.block-heading")
    heading.fill("")
    heading.press("Backspace")
    for page in (a, b):
        expect(page.locator(".script-block")).to_have_count(1, timeout=20_000)
        expect(_block(page, one.pk).locator(".cm-content")).to_contain_text("Wind.")
    assert list(Scene.objects.filter(project=project)) == [one]
    for page in (a, b):
        assert page.js_errors == []


def test_page_breaks_show_where_the_pdf_breaks(app_server, page):
    base = app_server.http_url
    alice = make_user("alice")
    project = services.project_create(user=alice, title="Long")
    scenes = [
        services.scene_create(
            project=project,
            user=alice,
            heading=f"INT. ROOM {i} - NIGHT",
            text=PARA * 20 + f"MARA\nLine {i}.\n",
        )
        for i in range(3)
    ]
    laid = pagination.lay_out(exports.project_source(project))
    expected = script_view.page_breaks(project)
    assert expected["pages"] == laid.page_count > 3
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}/projects/{project.pk}/script/")
    expect(page.locator("#script-page-count")).to_have_text(f"{laid.page_count} pages")
    first = _block(page, scenes[0].pk)
    want = [str(p) for line, p in expected["scenes"][str(scenes[0].pk)]["breaks"] if line >= 0]
    assert want  # the first scene alone runs over a page
    widgets = first.locator(".cf-page-break")
    expect(widgets).to_have_count(len(want))
    assert [widgets.nth(i).get_attribute("data-page") for i in range(len(want))] == want
    # The header says which page the cursor is on.
    first.locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    expect(page.locator("#cursor-page")).to_have_text(f"Page 1 of {laid.page_count}")
    page.keyboard.press("Control+End")
    last_page = expected["scenes"][str(scenes[0].pk)]["breaks"][-1][1]
    expect(page.locator("#cursor-page")).to_have_text(f"Page {last_page} of {laid.page_count}")
    # A later scene mounts when scrolled to, with its own breaks.
    last = _block(page, scenes[-1].pk)
    last.scroll_into_view_if_needed()
    want_last = [
        str(p) for line, p in expected["scenes"][str(scenes[-1].pk)]["breaks"] if line >= 0
    ]
    expect(last.locator(".cf-page-break")).to_have_count(len(want_last))
    assert page.js_errors == []


def test_scene_page_says_which_page_the_cursor_is_on(app_server, page):
    base = app_server.http_url
    alice = make_user("alice")
    project = services.project_create(user=alice, title="Long")
    scene = services.scene_create(
        project=project, user=alice, heading="INT. ROOM - NIGHT", text=PARA * 40 + "THE END\n"
    )
    pages = pagination.lay_out(exports.project_source(project)).page_count
    assert pages >= 2
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}{scene.get_absolute_url()}")
    content = page.locator("#live-editor .cm-content")
    expect(content).to_contain_text("THE END")
    content.click()
    page.keyboard.press("Control+Home")
    expect(page.locator("#cursor-page")).to_have_text(f"Page 1 of {pages}")
    page.keyboard.press("Control+End")
    expect(page.locator("#cursor-page")).to_have_text(f"Page {pages} of {pages}")
    # The scene's own length line is still there.
    expect(page.locator("#scene-length")).to_contain_text("Page 1 of")
    assert page.js_errors == []


def test_blocks_connect_near_the_viewport_and_viewers_only_read(app_server, page):
    base = app_server.http_url
    alice, carol = make_user("alice"), make_user("carol")
    project = services.project_create(user=alice, title="Many")
    Membership.objects.create(project=project, user=carol, role=Role.VIEWER)
    scenes = [
        services.scene_create(
            project=project, user=alice, heading=f"INT. ROOM {i} - NIGHT", text=PARA * 12
        )
        for i in range(12)
    ]
    log_in(page, base, "carol", PASSWORD)
    page.goto(f"{base}/projects/{project.pk}/script/")
    first, last = _block(page, scenes[0].pk), _block(page, scenes[-1].pk)
    expect(first.locator(".block-status")).to_contain_text("Live — read only")
    expect(first.locator(".cm-content")).to_have_attribute("contenteditable", "false")
    # Far blocks show their text without a socket.
    expect(last.locator(".block-static")).to_contain_text("The corridor")
    expect(last.locator(".cm-editor")).to_have_count(0)
    mounted = page.locator(".script-block.is-mounted").count()
    assert 0 < mounted < len(scenes)
    # Viewers get no heading inputs, merge or save buttons.
    expect(page.locator("input.block-heading")).to_have_count(0)
    expect(page.locator(".block-merge")).to_have_count(0)
    expect(page.locator(".block-version")).to_have_count(0)
    # Scrolled to, the last block connects; the first lets go of its socket.
    last.scroll_into_view_if_needed()
    expect(last.locator(".block-status")).to_contain_text("Live — read only")
    expect(first.locator(".cm-editor")).to_have_count(0, timeout=20_000)
    expect(first.locator(".block-static")).to_contain_text("The corridor")
    assert page.js_errors == []
