"""The story bible edited live: two editors and a viewer on the story page. A saved field
reaches every page without a reload; a field someone is typing in is not refreshed under
them, and their save from the older version is a conflict that loses nothing."""

import pytest
from playwright.sync_api import expect

from scripts_app import services
from scripts_app.models import Membership, Role, StoryBible
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bible_fields_live_and_conflicts(app_server, new_page):
    base = app_server.http_url
    owner, alice, bob, carol = (make_user(n) for n in ("owner", "alice", "bob", "carol"))
    project = services.project_create(user=owner, title="Duet")
    Membership.objects.create(project=project, user=alice, role=Role.EDITOR)
    Membership.objects.create(project=project, user=bob, role=Role.EDITOR)
    Membership.objects.create(project=project, user=carol, role=Role.VIEWER)
    url = f"{base}/projects/{project.pk}/story/"
    pages = {}
    for user in ("alice", "bob", "carol"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(url)
        expect(page.locator("body[data-story-room=open]")).to_have_count(1)
        pages[user] = page
    a, b, c = pages["alice"], pages["bob"], pages["carol"]

    # The viewer reads; nothing is editable for them.
    expect(c.locator("#bible .story-field")).to_have_count(6)
    expect(
        c.locator("#bible textarea, #bible input:not([type=hidden]), #bible select")
    ).to_have_count(0)

    # Alice saves the tone: Bob and Carol see it without a reload.
    a.locator("#bible-tone-value").fill("Dry and tense")
    a.keyboard.press("Control+s")
    expect(b.locator("#bible-tone-value")).to_have_value("Dry and tense")
    expect(c.locator("#bible-tone .story-text")).to_have_text("Dry and tense")

    # Bob types in the themes while Alice saves the themes (and then the setting).
    b.locator("#bible-themes-value").click()
    b.keyboard.type("Bob's themes", delay=5)
    a.locator("#bible-themes-value").fill("Alice's themes")
    a.keyboard.press("Control+s")
    a.locator("#bible-setting-value").fill("A dying station")
    a.keyboard.press("Control+s")
    expect(c.locator("#bible-themes .story-text")).to_have_text("Alice's themes")
    # Bob's page got both changes: the setting refreshed, his themes box was left alone.
    expect(b.locator("#bible-setting-value")).to_have_value("A dying station")
    expect(b.locator("#bible-themes-value")).to_have_value("Bob's themes")
    expect(b.locator("#bible-themes-value")).to_be_focused()

    # His save is from the older version: a conflict, with both texts on his page.
    b.keyboard.press("Control+s")
    expect(b.locator("#bible-themes .story-conflict")).to_contain_text("Someone else saved")
    expect(b.locator("#bible-themes .story-theirs")).to_have_text("Alice's themes")
    expect(b.locator("#bible-themes-value")).to_have_value("Bob's themes")
    assert StoryBible.objects.get(project=project).themes == "Alice's themes"

    # He merges by hand and saves: everyone gets the merged text.
    b.locator("#bible-themes-value").fill("Alice's themes; Bob's themes")
    b.keyboard.press("Control+s")
    expect(b.locator("#bible-themes .story-conflict")).to_have_count(0)
    expect(c.locator("#bible-themes .story-text")).to_have_text("Alice's themes; Bob's themes")
    expect(a.locator("#bible-themes-value")).to_have_value("Alice's themes; Bob's themes")
    for page in pages.values():
        assert not page.js_errors


def test_character_story_and_plotlines_live(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=alice, title="Duet")
    Membership.objects.create(project=project, user=bob, role=Role.VIEWER)
    mara = services.character_create(project=project, name="Mara")
    services.character_create(project=project, name="Jonah")
    services.scene_create(
        project=project, user=alice, heading="INT. DECK - NIGHT", text="MARA\nHold on.\n"
    )
    a, b = new_page(), new_page()
    log_in(a, base, "alice", PASSWORD)
    log_in(b, base, "bob", PASSWORD)
    a.goto(f"{base}/projects/{project.pk}/characters/{mara.pk}/")
    b.goto(f"{base}/projects/{project.pk}/story/")
    for page in (a, b):
        expect(page.locator("body[data-story-room=open]")).to_have_count(1)
    expect(a.locator("#character-lines")).to_contain_text("1 scene · 1 speech")
    expect(b.locator("#story-characters textarea, #plotlines input")).to_have_count(0)

    # Alice fills Mara's story fields; Bob's characters table follows.
    a.locator("#character-role-value").select_option("protagonist")
    expect(b.locator("#story-characters")).to_contain_text("Protagonist")
    a.locator("#character-want-value").fill("Get everyone home")
    a.keyboard.press("Control+s")
    expect(b.locator("#story-characters")).to_contain_text("Get everyone home")

    # A relationship; a self-link cannot even be chosen.
    form = a.locator("#relations form.relation-new")
    expect(form.locator("select[name=target] option")).to_have_text(["JONAH"])
    form.locator("input[name=kind]").fill("sister of")
    form.get_by_role("button", name="Add").click()
    expect(a.locator("#relations")).to_contain_text("MARA sister of JONAH")

    # Alice adds a plotline on the story page; Bob sees it.
    a.goto(f"{base}/projects/{project.pk}/story/")
    new = a.locator("form.plotline-new")
    new.locator("input[name=name]").fill("The heist")
    expect(a.locator("body[data-story-room=open]")).to_have_count(1)
    refetched = []
    a.on(
        "request",
        lambda r: r.method == "GET" and "/story/plotlines/" in r.url and refetched.append(r.url),
    )
    new.get_by_role("button", name="Add plotline").click()
    expect(a.locator("#plotlines")).to_contain_text("Plotline The heist added.")
    expect(b.locator("#plotlines .plotline-name")).to_have_text(["The heist"])
    # Alice's page heard the change too, as hers: her answer (with its notice) stays,
    # nothing fetched again.
    expect(a.locator("#plotlines")).to_contain_text("Plotline The heist added.")
    assert refetched == []
    new = a.locator("form.plotline-new")
    new.locator("input[name=name]").fill("THE HEIST")
    new.get_by_role("button", name="Add plotline").click()
    expect(a.locator("#plotlines .error")).to_contain_text("already a plotline called THE HEIST")
    expect(b.locator("#plotlines .plotline-name")).to_have_text(["The heist"])
    assert not a.js_errors and not b.js_errors
