"""Two people give feedback on one finished request with two alternatives: a rating, a
comment on selected words, a refused tag, a pick; each page sees the other's feedback live,
and a card re-rendered by the other's action keeps what this user was typing."""

import uuid

import pytest
from playwright.sync_api import expect

from generation import feedback
from generation.models import Passage, PassageComment, Preference, Rating
from scripts_app import services
from scripts_app.models import Membership, Role
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_feedback_shows_live_on_both_pages(app_server, new_page):
    base = app_server.http_url
    alice, bob = make_user("alice"), make_user("bob")
    project = services.project_create(user=bob, title="Duet")
    Membership.objects.create(project=project, user=alice, role=Role.COMMENTER)
    scene = services.scene_create(
        project=project, user=bob, heading="INT. STAGE - NIGHT", text="Lights up.\n"
    )
    feedback.tags_for(project)  # as a draft request does: its cards offer the tags
    group = uuid.uuid4()
    first, second = (
        Passage.objects.create(
            scene=scene,
            group=group,
            alternative=i,
            alternatives=2,
            requested_by=bob,
            task="continue",
            status="done",
            text=text,
            sampling={"preset": "balanced", "seed": i},
        )
        for i, text in enumerate(["MARA\nThe café is closed.\n", "JONAH\nRun.\n"])
    )
    pages = {}
    for user in ("alice", "bob"):
        page = new_page()
        log_in(page, base, user, PASSWORD)
        page.goto(f"{base}{scene.get_absolute_url()}")
        expect(page.locator("#room-status")).to_have_text("Live")
        pages[user] = page
    a, b = pages["alice"], pages["bob"]
    card_a, card_b = a.locator(f"#passage-{first.pk}"), b.locator(f"#passage-{first.pk}")

    # Bob starts a comment; Alice's rating re-renders his card without losing it.
    b.locator(f"#passage-{first.pk}-comment-body").fill("Half a thought")
    card_a.get_by_role("button", name="4").click()
    expect(card_a.locator(".fb-average")).to_have_text("★ 4.0")
    expect(card_b.locator(".fb-average")).to_have_text("★ 4.0")
    expect(b.locator(f"#passage-{first.pk}-comment-body")).to_have_value("Half a thought")

    # Alice selects "café" in the draft and comments on it.
    a.evaluate(
        """(id) => {
            const box = document.getElementById(id);
            const node = box.firstChild, at = node.data.indexOf("café");
            const range = document.createRange();
            range.setStart(node, at); range.setEnd(node, at + 4);
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
            document.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
        }""",
        f"passage-{first.pk}-text",
    )
    expect(card_a.locator(".fb-anchor q")).to_have_text("café")
    card_a.locator(f"#passage-{first.pk}-comment-body").fill("Which café?")
    card_a.get_by_role("button", name="Comment", exact=True).click()
    expect(card_b.locator(".fb-quote")).to_have_text("café")
    expect(card_b.locator(".fb-body")).to_have_text("Which café?")
    comment = PassageComment.objects.get()
    assert (comment.anchor_start, comment.anchor_end) == (9, 13)
    expect(b.locator(f"#passage-{first.pk}-comment-body")).to_have_value("Half a thought")

    # A tag without a rating is refused with a message in the card, and nothing changes.
    second_a = a.locator(f"#passage-{second.pk}")
    second_a.get_by_label("too long").check()
    expect(second_a.locator(".fb-msg")).to_contain_text("Give a rating from 1 to 5")
    assert Rating.objects.count() == 1

    # Alice picks the second alternative as best; Bob's cards say so.
    second_a.get_by_role("button", name="Best").click()
    expect(b.locator(f"#passage-{second.pk} .fb-picked")).to_have_text("best for alice")
    assert list(Preference.objects.values_list("chosen_id", "rejected_id", "source")) == [
        (second.pk, first.pk, "pick")
    ]
    for page in (a, b):
        assert page.js_errors == []
