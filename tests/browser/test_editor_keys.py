"""The writer's desk: Enter/Tab move between screenplay elements, the current element is
shown, `?` opens the shortcuts sheet, suggestions offer the project's characters and
places, and a second writer sees what the keys wrote (static/src/editor/elements.js,
autocomplete.js, shortcuts.js)."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Character, Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EDITOR = "#live-editor .cm-content"


def text(page) -> str:
    return page.evaluate("window.cowriteEditor.ytext.toString()")


def test_keys_cycle_elements_show_the_label_and_sync(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Desk")
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    services.character_create(project=project, name="Mirabel")
    services.scene_create(project=project, user=alice, heading="EXT. LIGHTHOUSE - NIGHT")
    scene = services.scene_create(
        project=project, user=alice, heading="INT. STAGE - NIGHT", text="Lights up."
    )
    url = f"{base}{scene.get_absolute_url()}"

    a, b = new_page(), new_page()
    for page, user in ((a, "alice"), (b, "bob")):
        log_in(page, base, user, PASSWORD)
        page.goto(url)
        expect(page.locator(EDITOR)).to_contain_text("Lights up.")
    start = text(a)
    label = a.locator("#editor-element")

    a.locator(EDITOR).click()
    a.keyboard.press("Control+End")
    expect(label).to_have_text("Action")
    # Enter after action: a blank line and a new action paragraph.
    a.keyboard.press("Enter")
    assert text(a) == start + "\n\n"
    expect(label).to_have_text("Action")
    # Tab: a cue (nothing inserted; letters come out in capitals).
    a.keyboard.press("Tab")
    expect(label).to_have_text("Character")
    assert text(a) == start + "\n\n"
    a.keyboard.type("mira", delay=20)
    assert text(a) == start + "\n\nMIRA"
    # The project's character is offered; Enter takes it.
    option = a.locator(".cm-tooltip-autocomplete li", has_text="MIRABEL")
    expect(option).to_be_visible()
    a.wait_for_timeout(200)
    a.keyboard.press("Enter")
    expect(a.locator(".cm-tooltip-autocomplete")).to_have_count(0)
    assert text(a) == start + "\n\nMIRABEL"
    # Enter after the cue: dialogue. Tab: a parenthetical, cursor inside.
    a.keyboard.press("Enter")
    expect(label).to_have_text("Dialogue")
    a.keyboard.press("Tab")
    expect(label).to_have_text("Parenthetical")
    a.keyboard.type("softly", delay=10)
    a.keyboard.press("Enter")
    expect(label).to_have_text("Dialogue")
    a.keyboard.type("Who's there?", delay=10)
    # Enter after dialogue ends the speech; Tab twice: a transition.
    a.keyboard.press("Enter")
    expect(label).to_have_text("Action")
    a.keyboard.press("Tab")
    expect(label).to_have_text("Character")
    a.keyboard.press("Tab")
    expect(label).to_have_text("Transition")
    # Shift+Tab cycles back (transition -> character), Tab twice more: action, character.
    a.keyboard.press("Shift+Tab")
    expect(label).to_have_text("Character")
    expected = start + "\n\nMIRABEL\n(softly)\nWho's there?\n\n"
    assert text(a) == expected
    a.keyboard.press("Tab")
    a.keyboard.press("Enter")  # the transition line: Enter starts a new paragraph
    expected += "CUT TO:\n\n"
    assert text(a) == expected

    # A scene heading: prefix, then the project's place, then a time of day.
    a.keyboard.type("EX", delay=20)
    expect(a.locator(".cm-tooltip-autocomplete li", has_text="EXT.")).to_be_visible()
    a.wait_for_timeout(200)
    a.keyboard.press("Enter")
    place = a.locator(".cm-tooltip-autocomplete li", has_text="LIGHTHOUSE")
    expect(place).to_be_visible()
    place.click()
    expect(a.locator(".cm-tooltip-autocomplete li", has_text="NIGHT")).to_be_visible()
    a.keyboard.type("NI", delay=20)
    expect(a.locator(".cm-tooltip-autocomplete li", has_text="NIGHT")).to_be_visible()
    a.wait_for_timeout(200)  # a list just updated takes no Enter for 75 ms (interactionDelay)
    a.keyboard.press("Enter")
    expect(label).to_have_text("Scene heading")
    expected += "EXT. LIGHTHOUSE - NIGHT"
    assert text(a) == expected

    # The second writer's page has it all.
    expect(b.locator(EDITOR)).to_contain_text("EXT. LIGHTHOUSE - NIGHT")
    b.wait_for_function("(t) => window.cowriteEditor.ytext.toString() === t", arg=expected)
    for page in (a, b):
        assert page.js_errors == []


def test_shortcuts_sheet_opens_with_question_mark_and_closes_with_escape(app_server, page):
    base = app_server.http_url
    alice = make_user("alice")
    project = services.project_create(user=alice, title="Sheet")
    scene = services.scene_create(
        project=project, user=alice, heading="INT. STAGE - NIGHT", text="Lights up."
    )
    log_in(page, base, "alice", PASSWORD)
    page.goto(f"{base}{scene.get_absolute_url()}")
    expect(page.locator(EDITOR)).to_contain_text("Lights up.")

    # `?` outside the editor opens it; it lists the editor's and the drafts panel's keys.
    page.locator("h1.scene-heading").click()
    page.keyboard.press("?")
    sheet = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(sheet).to_be_visible()
    for key in ("Tab", "Shift+Tab", "Ctrl+Enter", "Alt+Shift+N", "Alt+Shift+V", "Ctrl+S"):
        expect(sheet.locator("kbd", has_text=key).first).to_be_visible()
    expect(sheet.get_by_role("button", name="Close")).to_be_focused()
    page.keyboard.press("Tab")  # focus stays in the sheet
    assert page.evaluate(
        "document.getElementById('shortcuts-sheet').contains(document.activeElement)"
    )
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()

    # In the editor `?` is typed; Ctrl+/ opens the sheet, and focus comes back to the editor.
    page.locator(EDITOR).click()
    page.keyboard.press("Control+End")
    page.keyboard.type("?")
    expect(sheet).to_be_hidden()
    assert page.evaluate("window.cowriteEditor.ytext.toString()").endswith("?")
    page.keyboard.press("Control+/")
    expect(sheet).to_be_visible()
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    assert page.js_errors == []


def test_the_page_renders_only_the_projects_hints_escaped(client):
    alice = make_user("alice")
    project = services.project_create(user=alice, title="Mine")
    # Names are checked on input; the page escapes whatever is stored all the same.
    Character.objects.create(project=project, name="</SCRIPT><B>X")
    services.scene_create(project=project, user=alice, heading="INT. ATTIC - DUSK")
    bob = make_user("bob")
    other = services.project_create(user=bob, title="Theirs")
    services.character_create(project=other, name="STRANGER")
    services.scene_create(project=other, user=bob, heading="EXT. ELSEWHERE - DAY")
    scene = services.scene_create(project=project, user=alice, heading="EXT. GARDEN - DAY")
    client.force_login(alice)
    html = client.get(scene.get_absolute_url()).content.decode()
    assert '<script id="editor-hints" type="application/json">' in html
    assert "</SCRIPT><B>" not in html
    assert "\\u003C/SCRIPT\\u003E\\u003CB\\u003EX" in html
    start = html.index('id="editor-hints"')
    hints = html[start : html.index("</script>", start)]
    assert "ATTIC" in hints and "GARDEN" in hints and "DUSK" in hints and "NIGHT" in hints
    assert "STRANGER" not in hints and "ELSEWHERE" not in hints
