"""Adapting a short story in the browser: import it as a book, open a scene made from it,
see the passage beside the editor and jump from a marked quotation to its line, ask the
model (a scripted backend behind the real worker) to write the scene from the passage,
and accept the draft into the scene; then, on the book page, draft a whole chapter's
scenes in one request and watch them finish."""

import contextlib
import json
import os
import re

import pytest
from playwright.sync_api import expect

from generation.models import Passage
from scripts_app.models import Project, Scene, SceneSource, SourceText
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user
from tests.scripts_app.test_adaptation_import import STORY
from tests.support.backends import read_record
from tests.support.servers import generation_stack

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADAPTED = "MARA\nThe lamp is dark and the ships are near.\n\nJONAH\nThen we burn the boat.\n"


@pytest.fixture
def scripted_stack(transactional_db, settings, tmp_path):
    from tests.support.models import register_tiny_version

    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    record = tmp_path / "prompts.jsonl"
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.ScriptedBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps(
            {"record": str(record), "texts": {"scene": ADAPTED}, "delay": 0.02}
        ),
    }
    with generation_stack(env=env) as (server, _):
        server.record = record
        yield server


@contextlib.contextmanager
def import_worker():
    """The import job's runner: a thread of the server in the embedded mode; with Redis,
    a real Celery worker on the default queue (here, in this process)."""
    if not os.environ.get("REDIS_URL"):
        yield
        return
    from celery.contrib.testing.worker import start_worker

    from cowrite.celery import app

    with start_worker(app, perform_ping_check=False, pool="solo", queues=["celery"]):
        yield


def test_import_a_story_read_it_beside_a_scene_adapt_and_accept(scripted_stack, new_page, tmp_path):
    base = scripted_stack.http_url
    make_user("writer")
    page = new_page()
    log_in(page, base, "writer", PASSWORD)
    book = tmp_path / "keeper.txt"
    book.write_text(STORY, encoding="utf-8")
    page.goto(f"{base}/projects/import/")
    page.get_by_label("A novel or story to adapt").check()
    page.get_by_label("Script file").set_input_files(str(book))
    with import_worker():
        page.get_by_role("button", name="Import").click()
        page.wait_for_url(re.compile(r"/projects/\d+/$"), timeout=60_000)  # the job's done
    expect(page.get_by_role("heading", name="The Keeper's Daughter")).to_be_visible()

    project = Project.objects.get()
    scene = Scene.objects.filter(project=project).order_by("position").first()
    page.goto(f"{base}{scene.get_absolute_url()}")
    passage_box = page.locator("#source-passage")
    expect(passage_box).to_contain_text("From the book")
    expect(passage_box).to_contain_text("Mara climbed the lighthouse stairs")
    expect(page.locator("#connection-status")).to_contain_text("Live")
    mark = passage_box.locator("mark[data-cue-line]").first
    line = int(mark.get_attribute("data-cue-line"))
    mark.click()
    at = page.evaluate(
        "() => { const v = window.cowriteEditor.view;"
        " return v.state.doc.lineAt(v.state.selection.main.head).number; }"
    )
    assert at == line
    expect(mark).to_have_class("current")

    # Write the scene from the passage.
    form = page.locator("#draft-form")
    form.locator(".modes").get_by_text("Write the scene", exact=True).click()
    form.locator("select[name=alternatives]").select_option("1")
    page.get_by_role("button", name="Ask for a draft").click()
    passage = None
    card = page.locator("#drafts-list .passage").first
    expect(card).to_have_class("passage status-done", timeout=60_000)
    passage = Passage.objects.get(scene=scene)
    prompts = [r for r in read_record(scripted_stack.record) if r["kind"] == "scene"]
    assert (
        prompts and "From the book: Mara climbed the lighthouse stairs" in prompts[-1]["synopsis"]
    )
    card.get_by_role("button", name="At the end").click()
    expect(page.locator("#draft-errors")).to_contain_text("accepted into the scene")
    expect(page.locator("#live-editor .cm-content")).to_contain_text("Then we burn the boat.")
    passage.refresh_from_db()
    assert passage.accepted_at is not None

    # The whole first chapter in one request, from the book page.
    source = SourceText.objects.get(project=project)
    page.goto(f"{base}/projects/{project.pk}/books/{source.pk}/")
    page.get_by_role("link", name="CHAPTER I", exact=True).click()
    index = [c["title"] for c in source.chapters].index("CHAPTER I")
    n = SceneSource.objects.filter(source=source, chapter=index).count()
    panel = page.locator("#chapter-drafts")
    panel.get_by_label("Instruction for every scene (optional)").fill("Keep it tense.")
    panel.get_by_role("button", name="Draft this chapter's scenes").click()
    # The panel polls itself while the drafts run, and stops once they all ended.
    scenes = "scene" if n == 1 else "scenes"
    expect(panel).to_contain_text(f"{n} of {n} {scenes} drafted", timeout=60_000)
    expect(panel.locator('[data-state="finished"]')).to_have_count(n)
    expect(panel).not_to_have_attribute("hx-trigger", "every 2s")
    assert Passage.objects.filter(batch__isnull=False, instruction="Keep it tense.").count() == n

    # Who is who, on the book's names page: a bad pick is refused and nothing changes,
    # then an alias is saved.
    page.goto(f"{base}/projects/{project.pk}/books/{source.pk}/")
    page.get_by_role("link", name="Check who is who").click()
    row = page.locator("tr", has=page.get_by_role("rowheader", name=re.compile("^JONAH")))
    row.get_by_label("Who JONAH is").select_option("merge")
    row.get_by_label("The same person as").fill("NOBODY")
    page.get_by_role("button", name="Save the names").click()
    expect(page.locator(".msg-error")).to_contain_text("not a character or a name in the book")
    row = page.locator("tr", has=page.get_by_role("rowheader", name=re.compile("^JONAH")))
    row.get_by_label("Who JONAH is").select_option("keep")
    row.get_by_label("The same person as").fill("")
    row.get_by_label("Other names of JONAH").fill("the keeper's son")
    page.get_by_role("button", name="Save the names").click()
    expect(page.locator(".msg-success")).to_contain_text("Names saved.")
    source.refresh_from_db()
    assert source.cast["JONAH"]["aliases"] == ["the keeper's son"]
    assert page.js_errors == [] and page.csp_violations == []


def test_a_refused_chapter_request_shows_its_reason_in_the_panel(app_stack, new_page):
    """Another writer deleted the chapter's scenes after this page loaded: the ask is
    refused (422) and the panel shows why, in place (htmx swaps it: data-swap-errors)."""
    from scripts_app import adaptation

    base = app_stack.http_url
    writer = make_user("writer")
    project = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="k.txt")
    source = SourceText.objects.get(project=project)
    index = [c["title"] for c in source.chapters].index("CHAPTER I")
    page = new_page()
    log_in(page, base, "writer", PASSWORD)
    page.goto(f"{base}/projects/{project.pk}/books/{source.pk}/?chapter={index}")
    panel = page.locator("#chapter-drafts")
    expect(panel.get_by_role("button", name="Draft this chapter's scenes")).to_be_visible()
    Scene.objects.filter(source_passage__source=source, source_passage__chapter=index).delete()
    panel.get_by_role("button", name="Draft this chapter's scenes").click()
    expect(panel.get_by_role("alert")).to_contain_text("No scene made from this chapter")
    assert not Passage.objects.exists()
    assert page.js_errors == [] and page.csp_violations == []
