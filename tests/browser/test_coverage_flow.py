"""Coverage in the browser: a writer imports a Final Draft file saved by Final Draft 12,
opens Coverage from the project page, reads its sections, follows a problem's link to the
scene with the cursor on that line; then a draft written by the real worker shows its
automatic checks on its card."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from generation.drafts import draft_request, draft_spec_from
from generation.models import Passage
from scripts_app import services
from scripts_app.models import Project
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FDX = Path(__file__).resolve().parents[1] / "scripts_app" / "formats" / "final_draft_12.fdx"


def test_coverage_of_an_imported_script_and_a_drafts_checks(app_stack, new_page):
    base = app_stack.http_url
    writer = make_user("writer")
    page = new_page()
    log_in(page, base, "writer", PASSWORD)
    page.goto(f"{base}/projects/import/")
    page.get_by_label("Script file").set_input_files(str(FDX))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("link", name="Coverage")).to_be_visible()

    page.get_by_role("link", name="Coverage").click()
    expect(page.get_by_role("heading", name="Coverage", level=1)).to_be_visible()
    for section in ("Structure and pacing", "Characters", "Emotional tone", "Problems"):
        expect(page.get_by_role("heading", name=section)).to_be_visible()
    expect(page.locator("svg[aria-label='Scene lengths along the script']")).to_be_visible()
    expect(page.locator("#cov-characters tbody tr").first).to_be_visible()

    # A problem of our own making, at line 3 of a new scene, linked to that line.
    project = Project.objects.get()  # the import made it
    scene = services.scene_create(
        project=project,
        user=writer,
        heading="INT. ARCHIVE - NIGHT",
        text="Dust.\n\nHELENA\n(beat)\n\nTOMAS\nStill here.\n",
    )
    page.reload()
    link = page.locator(f"#problems a[href*='/scenes/{scene.pk}/?line=3']")
    expect(link).to_be_visible()
    link.click()
    expect(page.locator("#live-editor .cm-content")).to_contain_text("Still here.")
    expect(page.locator("#connection-status")).to_contain_text("Live")
    line = page.evaluate(
        "() => { const v = window.cowriteEditor.view;"
        " return v.state.doc.lineAt(v.state.selection.main.head).number; }"
    )
    assert line == 3
    assert page.js_errors == [] and page.csp_violations == []

    # A draft written by the worker: its card shows the automatic checks.
    draft_request(
        scene=scene, user=writer, spec=draft_spec_from({"mode": "new", "length": "short"})
    )
    passage = Passage.objects.get(scene=scene)
    page.reload()  # the request was made here, not on the page: its panel lists it
    card = page.locator(f"#passage-{passage.pk}")
    expect(card).to_have_class("passage status-done", timeout=60_000)
    passage.refresh_from_db()
    assert passage.scores and "copied_words" in passage.scores
    expect(card.locator(".passage-scores")).to_contain_text("of the length asked")
