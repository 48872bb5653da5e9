"""A person's first session: log in, create a project, add a scene, type, save, see history."""

import re

import pytest
from playwright.sync_api import expect

from scripts_app.models import Revision, Scene
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_create_project_add_scene_type_save_and_see_history(app_server, page):
    base = app_server.http_url
    make_user("writer")
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("writer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Your scripts")).to_be_visible()
    page.get_by_label("Title").fill("Night Shift")
    page.get_by_label("Logline").fill("Two nurses, one long night.")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Night Shift")).to_be_visible()

    page.get_by_label("Heading", exact=True).fill("INT. HOSPITAL CORRIDOR - NIGHT")
    page.get_by_role("button", name="Add scene").click()
    expect(page.locator("h1.scene-heading")).to_have_text("INT. HOSPITAL CORRIDOR - NIGHT")

    editor = page.locator("#live-editor .cm-content")
    expect(editor).to_have_attribute("contenteditable", "true")
    editor.click()
    page.keyboard.type(
        "Fluorescent lights hum.\n\nRUTH\n(whispering)\nDid you hear that?\n", delay=5
    )
    page.get_by_label("Revision label").fill("first pass")
    page.keyboard.press("Control+S")

    expect(page.get_by_text("Saved as revision 2.")).to_be_visible()
    history = page.locator("#history")
    expect(history.get_by_role("link", name="r2")).to_be_visible()
    expect(history).to_contain_text("first pass")
    expect(page.locator("#preview .fx-character")).to_have_text("RUTH")
    expect(page.locator("#preview .fx-parenthetical")).to_have_text("(whispering)")

    scene = Scene.objects.get(heading="INT. HOSPITAL CORRIDOR - NIGHT")
    assert scene.text.startswith("Fluorescent lights hum.")
    assert Revision.objects.filter(scene=scene).count() == 2

    history.get_by_role("button", name="Compare A → B").click()
    expect(page.locator("#diff-panel ins").first).to_contain_text("Fluorescent")
    assert page.js_errors == []
