"""Two writers in one scene (issue 13): A selects a passage and asks for a rewrite (by the
keyboard: Alt+Shift+R, then Ctrl+Enter); while the draft is being written, B types before
the selection and after it; A accepts: the rewrite lands exactly on the selected span,
B's typing is intact, and both browsers show the same text. The card then says what the
accept did; Undo takes exactly that out again. And a request's alternatives compared
side by side, as screenplay columns (stacked on a phone), accepted and rated from there.

The worker runs the slow RecordingBackend (it writes "word word …" for a few seconds), so
B has time to type while the draft is written. Screenshots of the compare view go to
$COWRITE_SCREENSHOTS when it is set (light, dark, 390 px wide)."""

import json
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from generation.models import Passage
from scripts_app import documents, services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user
from tests.support.models import register_tiny_version
from tests.support.servers import generation_stack

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = (
    "INT. ENGINE ROOM — NIGHT\n\nSteam. Café cups rattle.\n\n"
    "MARA\nIt’s holding. For now.\n\nJONAH\nThen we wait.\n"
)
SELECTED = "It’s holding. For now."


@pytest.fixture
def slow_stack(transactional_db, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    options = {"record": str(tmp_path / "record.jsonl"), "delay": 0.06}
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.RecordingBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps(options),
    }
    with generation_stack(env=env) as (server, _):
        yield server


def _scene():
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Pressure")
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    cast = [services.character_create(project=project, name=n) for n in ("Mara", "Jonah")]
    scene = services.scene_create(
        project=project,
        user=alice,
        heading="INT. ENGINE ROOM - NIGHT",
        text=TEXT,
        cast_ids=[c.pk for c in cast],
    )
    return scene


def _open(new_page, base, scene, user, width=1400):
    page = new_page()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, base, user, PASSWORD)
    page.goto(f"{base}{scene.get_absolute_url()}")
    expect(page.locator("#room-status")).to_have_text("Live")
    expect(page.locator("#live-editor .cm-content")).to_contain_text("Then we wait.")
    page.wait_for_function("() => window.cowriteEditor && window.cowriteEditor.isLive()")
    return page


def _live_text(page) -> str:
    return page.evaluate("() => window.cowriteEditor.ytext.toString()")


def _select(page, needle: str) -> None:
    """Select ``needle`` in the editor as a writer would (focus, then a selection)."""
    page.locator("#live-editor .cm-content").click()
    page.evaluate(
        """(needle) => {
          const view = window.cowriteEditor.view;
          const from = view.state.doc.toString().indexOf(needle);
          view.dispatch({selection: {anchor: from, head: from + needle.length}});
          view.focus();
        }""",
        needle,
    )


def test_a_rewrite_lands_on_its_selection_while_another_writer_types(slow_stack, new_page):
    base = slow_stack.http_url
    scene = _scene()
    a = _open(new_page, base, scene, "alice")
    b = _open(new_page, base, scene, "bob")

    # A: select, Alt+Shift+R (rewrite), say how, one short alternative, Ctrl+Enter.
    _select(a, SELECTED)
    expect(a.locator("#draft-where")).to_contain_text("Continues from your cursor (line 6)")
    a.keyboard.press("Alt+Shift+KeyR")
    expect(a.locator("#draft-form input[name=mode][value=rewrite]")).to_be_checked()
    expect(a.locator("#draft-where")).to_have_text("Rewrites the selection (line 6).")
    expect(a.locator("#draft-form textarea[name=instruction]")).to_be_focused()
    a.keyboard.type("more fear")
    _shot(a.locator("#drafts-panel"), "panel-rewrite")
    a.locator("#draft-form select[name=length]").select_option("short")
    a.locator("#draft-form select[name=alternatives]").select_option("1")
    a.keyboard.press("Control+Enter")

    card = a.locator("#drafts-list .passage").first
    expect(card.locator(".state")).to_have_attribute("data-status", "streaming", timeout=30_000)
    passage = Passage.objects.get(scene=scene)
    assert passage.selection_text == SELECTED and passage.anchor_start and passage.anchor_end

    # B, while the draft streams: types before the selection (the first line) and after it.
    b.locator("#live-editor .cm-content").click()
    b.keyboard.press("Control+Home")
    b.keyboard.type("COLD OPEN. ")
    b.keyboard.press("Control+End")
    b.keyboard.type("THE END ☕")
    typed = TEXT.replace("INT.", "COLD OPEN. INT.", 1) + "THE END ☕"
    for page in (a, b):
        page.wait_for_function("(t) => window.cowriteEditor.ytext.toString() === t", arg=typed)
    assert Passage.objects.get(pk=passage.pk).status == "streaming"  # still writing

    expect(a.locator(f"#passage-{passage.pk}")).to_have_class("passage status-done", timeout=60_000)
    passage.refresh_from_db()
    a.locator(f"#passage-{passage.pk}").get_by_role("button", name="Replace selection").click()
    expect(a.locator("#draft-errors")).to_contain_text("accepted into the scene")
    expected = typed.replace(SELECTED, passage.text)
    for page in (a, b):
        page.wait_for_function("(t) => window.cowriteEditor.ytext.toString() === t", arg=expected)
        note = page.locator(f"#passage-{passage.pk} .accepted-note")
        expect(note).to_contain_text("Accepted — replaced the selection")
        expect(
            page.locator(f"#passage-{passage.pk}").get_by_role("button", name="Undo")
        ).to_be_visible()
        expect(
            page.locator(f"#passage-{passage.pk}").get_by_role("button", name="Replace selection")
        ).to_have_count(0)
    assert documents.live_text(scene.pk) == expected

    # Undo, from B's page: exactly the rewrite goes, the selection comes back, B's typing stays.
    b.locator(f"#passage-{passage.pk}").get_by_role("button", name="Undo").click()
    expect(b.locator("#draft-errors")).to_contain_text("taken out of the scene again")
    for page in (a, b):
        page.wait_for_function("(t) => window.cowriteEditor.ytext.toString() === t", arg=typed)
    for page in (a, b):
        assert page.js_errors == []


def _shot(page, name):
    folder = os.environ.get("COWRITE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def test_alternatives_compared_side_by_side_then_accepted_and_rated(slow_stack, new_page):
    base = slow_stack.http_url
    scene = _scene()
    a = _open(new_page, base, scene, "alice")
    a.keyboard.press("Alt+Shift+KeyN")
    expect(a.locator("#draft-form input[name=mode][value=new]")).to_be_checked()
    a.locator("#draft-form select[name=length]").select_option("short")
    a.locator("#draft-form select[name=alternatives]").select_option("3")
    a.get_by_role("button", name="Ask for a draft").click()
    expect(a.locator("#drafts-list .passage.status-done")).to_have_count(3, timeout=90_000)
    alts = list(Passage.objects.filter(scene=scene).order_by("alternative"))
    # Screenplay text to lay out (the slow test backend writes "word word …").
    for alt, line in zip(alts, ("We hold.", "We run. Now.", "(quietly)\nWe wait."), strict=True):
        Passage.objects.filter(pk=alt.pk).update(
            text=f"Steam hisses. The gauges climb.\n\nMARA\n{line}\n\nJONAH\nFine.\n"
        )

    a.keyboard.press("Alt+Shift+KeyV")
    dialog = a.locator("#drafts-compare")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".compare-col")).to_have_count(3)
    expect(dialog.locator(".compare-page").first.locator(".fx-character").first).to_have_text(
        "MARA"
    )
    boxes = [c.bounding_box() for c in dialog.locator(".compare-col").all()]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # columns, side by side
    assert abs(boxes[0]["y"] - boxes[2]["y"]) < 2
    _shot(a, "compare-light")
    a.emulate_media(color_scheme="dark")
    _shot(a, "compare-dark")
    a.emulate_media(color_scheme="light")

    # Rate the first 4 and accept the second, from the columns.
    first, second = dialog.locator(".compare-col").nth(0), dialog.locator(".compare-col").nth(1)
    first.get_by_role("button", name="4").click()
    expect(first.locator(".fb-star.on")).to_have_text("4")
    second.get_by_role("button", name="At the end").click()
    expect(dialog.locator("#compare-msg")).to_contain_text("accepted into the scene")
    expect(second.locator(".accepted-note")).to_contain_text("Accepted — added at the end")
    expect(second.get_by_role("button", name="At the end")).to_have_count(0)
    assert Passage.objects.get(pk=alts[1].pk).accepted_at is not None
    expect(a.locator(f"#passage-{alts[1].pk} .accepted-note")).to_contain_text("Accepted")

    # A phone: the columns stack.
    a.set_viewport_size({"width": 390, "height": 844})
    a.wait_for_timeout(300)
    boxes = [c.bounding_box() for c in dialog.locator(".compare-col").all()]
    assert boxes[0]["y"] < boxes[1]["y"] < boxes[2]["y"]
    assert abs(boxes[0]["x"] - boxes[1]["x"]) < 2
    assert a.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(a, "compare-390")
    a.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert a.js_errors == []
