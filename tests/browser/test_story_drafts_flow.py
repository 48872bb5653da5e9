"""Two people on the story page: the owner asks the model for characters; both pages
show the proposals streaming, then done; the owner adds the ones she ticks, and the new
characters appear in the cast on both pages at once. The model is a scripted backend
(what it writes is fixed), run by the real worker behind the real server."""

import json

import pytest
from playwright.sync_api import expect

from generation.models import Passage
from scripts_app import services
from scripts_app.models import Character, Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user
from tests.generation.test_story_drafts import CHARACTERS
from tests.support.servers import generation_stack

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scripted_stack(transactional_db, settings, tmp_path):
    from tests.support.models import register_tiny_version

    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    options = {"record": str(tmp_path / "prompts.jsonl"), "texts": {"characters": CHARACTERS}}
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.ScriptedBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps({**options, "delay": 0.03}),
    }
    with generation_stack(env=env) as (server, _):
        yield server


def test_proposed_characters_stream_to_both_pages_and_the_ticked_ones_join_the_cast(
    scripted_stack, new_page
):
    base = scripted_stack.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(
        user=alice, title="Kestrel", logline="A salvage pilot must save her station."
    )
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    services.character_create(project=project, name="Mara")
    pages = {}
    for user in ("alice", "bob"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(f"{base}/projects/{project.pk}/story/")
        expect(page.locator("#room-status")).to_have_text("Live")
        pages[user] = page
    a, b = pages["alice"], pages["bob"]
    expect(b.locator("#story-draft-form")).to_have_count(0)  # a viewer watches

    form = a.locator("#story-draft-form")
    expect(form.locator("select[name=act]")).to_be_hidden()  # only for beats
    form.get_by_text("Beats for an act").click()
    expect(form.locator("select[name=act]")).to_be_visible()
    form.get_by_text("Characters", exact=True).click()
    form.locator("select[name=alternatives]").select_option("1")
    form.get_by_role("button", name="Ask the model").click()

    for page in (a, b):
        expect(page.locator("#drafts-list .passage").first).to_be_visible()
    passage = Passage.objects.get(project=project)
    assert passage.kind == "characters" and passage.scene_id is None
    for page in (a, b):
        expect(page.locator(f"#passage-{passage.pk}")).to_have_class(
            "passage status-done", timeout=30_000
        )
        shown = page.locator(f"#passage-{passage.pk}-text").inner_text()
        assert shown.replace("\r", "") == CHARACTERS

    card = a.locator(f"#passage-{passage.pk}")
    picks = card.locator("input[name=pick]")
    expect(picks).to_have_count(3)
    # Mara is in the cast already: offered unticked, and said so.
    expect(card.get_by_label("MARA (protagonist) — already in the cast")).not_to_be_checked()
    expect(card.get_by_label("ELENA VOSS (antagonist)")).to_be_checked()
    card.get_by_label("TOMAS REYES").uncheck()
    card.get_by_role("button", name="Add to the cast").click()
    expect(a.locator("#draft-errors")).to_contain_text("Added 1 character: ELENA VOSS.")
    for page in (a, b):
        accepted = page.locator(f"#passage-{passage.pk} .accepted-items")
        expect(accepted).to_contain_text("Added ELENA VOSS")
        expect(page.locator("#story-characters")).to_contain_text("ELENA VOSS")
        expect(page.get_by_role("button", name="Add to the cast")).to_have_count(0)
    assert list(
        Character.objects.filter(project=project).order_by("name").values_list("name", flat=True)
    ) == ["ELENA VOSS", "MARA"]
    for page in (a, b):
        assert page.js_errors == []
