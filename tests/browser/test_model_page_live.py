"""The model page while the first model trains: the writer's line and the step refresh
every 2 s, and an opened "Engineering figures" stays open through the refreshes."""

import time

import pytest
from playwright.sync_api import expect

from generation.models import ModelVersion
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _progress(step, fraction, eta):
    return {
        "step": step,
        "progress": fraction,
        "eta_s": eta,
        "loss": 3.2,
        "updated_at": time.time(),
    }


def test_the_training_run_refreshes_and_its_figures_stay_open(app_server, page):
    make_user("writer")
    v = ModelVersion.objects.create(
        name="tiny-v1",
        preset="tiny",
        folder="tiny-v1",
        status="training",
        started_via="first-start",
        progress=_progress(119, 0.1, 700),
    )
    log_in(page, app_server.http_url, "writer", PASSWORD)
    page.goto(f"{app_server.http_url}/models/")
    runs = page.locator("#runs")
    expect(runs.locator(".training")).to_contain_text("Training the first model — 10% done")
    figures = runs.locator("details.engineering-figures")
    expect(figures.locator("#runs-figures")).to_be_hidden()  # folded
    figures.locator("summary").click()
    expect(figures.locator("#runs-figures")).to_contain_text("step 119")

    ModelVersion.objects.filter(pk=v.pk).update(progress=_progress(240, 0.42, 300))
    expect(runs.locator(".training")).to_contain_text("42% done, about 5 minutes left")
    expect(figures.locator("#runs-figures")).to_contain_text("step 240")
    assert figures.evaluate("d => d.open")  # still open after the refresh
    # The engineering table's "Steps" column is not the 0 of an unfinished run.
    page.reload()
    page.locator("#engineering summary").click()
    row = page.locator("#versions tr", has_text="tiny-v1")
    expect(row.locator("td").nth(4)).to_have_text("240")

    ModelVersion.objects.filter(pk=v.pk).update(status="active", steps=900)
    expect(runs.locator(".training")).to_have_count(0)  # done: the refresh stops there
    expect(runs.locator("#runs-figures")).to_contain_text("No run is training now")
    assert page.js_errors == []
