"""A blind comparison in the browser: a member joins the judging, sees a brief and two
drafts with no model named, picks one and says "Both bad" on the next; the Models page
that staff keep open counts the judgements without a reload. The drafts were written by
two real tiny house versions (``comparison_prepare``) before the pages open."""

import re

import pytest
from playwright.sync_api import expect

from generation import comparisons
from generation.models import ComparisonVote
from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user
from tests.support.models import two_house_versions
from tests.support.servers import DaphneServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_judges_pairs_blind_and_the_models_page_counts_live(settings, tmp_path, new_page):
    settings.MODEL_DIR = tmp_path / "models"
    settings.COWRITE_COMPARISON_MAX_NEW_TOKENS = 24
    active, candidate = two_house_versions(settings.MODEL_DIR)
    boss = make_user("boss")
    boss.is_staff = True
    boss.save()
    mara = make_user("mara")
    project = services.project_create(user=boss, title="Kestrel")
    project.allow_training = True
    project.save()
    Membership.objects.create(project=project, user=mara, role=Role.COMMENTER)
    for heading, brief in (
        ("INT. BRIDGE - NIGHT", "Mara tells the captain the reactor is failing."),
        ("EXT. HULL - CONTINUOUS", "Jonah climbs out to fix it."),
    ):
        services.scene_create(project=project, user=boss, heading=heading, synopsis=brief)
    c = comparisons.comparison_start(
        user=boss, a=f"v{active.pk}", b=f"v{candidate.pk}", launch=False, seed=1
    )
    c = comparisons.comparison_prepare(c.pk)
    assert c.status == "open", c.status_reason

    with DaphneServer() as server:
        base = server.http_url
        staff_page = new_page()
        log_in(staff_page, base, "boss", PASSWORD)
        staff_page.goto(f"{base}/models/")
        row = staff_page.locator(f"#comparison-{c.pk}")
        expect(row).to_contain_text("0 of 30")
        expect(row).to_contain_text("Open for judging")

        judge = new_page()
        log_in(judge, base, "mara", PASSWORD)
        judge.goto(f"{base}/models/")
        judge.get_by_role("link", name="Join the blind judging").click()
        judge.get_by_role("button", name="Join the blind judging").click()
        expect(judge.get_by_text("2 pairs waiting for you")).to_be_visible()
        brief = judge.locator("#brief-title")
        expect(brief).to_have_text(re.compile(r"^(INT\. BRIDGE - NIGHT|EXT\. HULL - CONTINUOUS)$"))
        expect(judge.locator("#judge-left")).not_to_be_empty()
        expect(judge.locator("#judge-right")).not_to_be_empty()
        body = judge.locator("body").inner_text()
        for name in ("house-v1", "house-v2", "House model", "candidate"):
            assert name not in body
        judge.get_by_role("button", name="Left is better").click()
        expect(judge.get_by_text("1 pair waiting for you")).to_be_visible()
        judge.get_by_role("button", name="Both bad").click()
        expect(judge.get_by_text("Nothing to judge right now")).to_be_visible()
        assert ComparisonVote.objects.filter(user=mara).count() == 2

        # The staff page, never reloaded, shows both judgements (it polls while open).
        expect(row).to_contain_text("2 of 30", timeout=20_000)
        expect(staff_page.locator("table.ranking")).to_contain_text("house-v2")
        for page in (staff_page, judge):
            assert page.js_errors == [] and page.csp_violations == []
