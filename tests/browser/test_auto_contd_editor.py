"""The editor shows the automatic (CONT'D) the printed pages will add, without changing
the text, when the project has the setting on."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "JOHN\nWhere is it?\n\nHe opens a drawer.\n\nJOHN\nHere.\n"


def test_the_editor_shows_it_only_when_the_project_asks(app_server, new_page):
    base = app_server.http_url
    alice = make_user("alice")
    on = services.project_create(user=alice, title="On")
    services.project_update(project=on, auto_contd=True)
    off = services.project_create(user=alice, title="Off")
    scenes = [
        services.scene_create(project=p, user=alice, heading="INT. KITCHEN - NIGHT", text=TEXT)
        for p in (on, off)
    ]
    page = new_page()
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}{scenes[0].get_absolute_url()}")
    expect(page.locator("#live-editor .cm-content")).to_contain_text("Here.")
    expect(page.locator("#live-editor .cm-auto-contd")).to_have_count(1)
    # Typing more action and the same speaker again adds one more, live.
    page.locator("#live-editor .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nHe waits.\n\nJOHN\nWell?\n", delay=5)
    expect(page.locator("#live-editor .cm-auto-contd")).to_have_count(2)
    assert "CONT'D" not in page.evaluate("window.cowriteEditor.ytext.toString()")
    page.goto(f"{base}{scenes[1].get_absolute_url()}")
    expect(page.locator("#live-editor .cm-content")).to_contain_text("Here.")
    expect(page.locator("#live-editor .cm-auto-contd")).to_have_count(0)
