"""Import a .fountain file in the browser (htmx upload with a progress line), land on the
new project with its scenes and page count, then import a bad file and read the message."""

import pytest
from playwright.sync_api import expect

from scripts_app.models import Project
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SOURCE = (
    "Title: Night Shift\nCredit: Written by\nAuthor: Writer\n\n"
    "INT. HOSPITAL CORRIDOR - NIGHT #1#\n\nFluorescent lights hum.\n\n"
    "RUTH (V.O.)\nDid you hear that?\n\n"
    "EXT. PARKING LOT - CONTINUOUS #2#\n\nRain.\n\nRUTH\nRun.\n\nOMAR\nWhere?\n"
)


def test_upload_a_fountain_file_and_see_the_scenes(app_server, page, tmp_path):
    base = app_server.http_url
    make_user("writer")
    log_in(page, base, "writer", PASSWORD)

    good = tmp_path / "night-shift.fountain"
    good.write_text(SOURCE, encoding="utf-8")
    page.goto(f"{base}/projects/import/")
    page.get_by_label("Script file").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("heading", name="Night Shift")).to_be_visible()
    navigator = page.locator("#navigator")
    expect(navigator.locator(".heading")).to_have_text(
        ["INT. HOSPITAL CORRIDOR - NIGHT #1#", "EXT. PARKING LOT - CONTINUOUS #2#"]
    )
    expect(page.locator("#characters")).to_contain_text("RUTH")
    expect(page.locator("#characters")).to_contain_text("OMAR")
    expect(page.get_by_text("Imported 2 scenes and 2 new characters.")).to_be_visible()
    expect(page.locator("#script-length")).to_contain_text("1 page · ~")
    project = Project.objects.get()

    bad = tmp_path / "notes.fountain"
    bad.write_text("Just some notes, no scenes.\n", encoding="utf-8")
    page.get_by_role("link", name="Import").click()
    page.get_by_label("Script file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert").filter(has_text="no scene headings")).to_be_visible()
    assert project.scenes.count() == 2
    assert page.js_errors == []
