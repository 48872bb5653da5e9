"""The writer's desk pages fit the screen: no sideways scroll on a phone (390 px) or a
laptop (1440 px), for the pages this batch added (whole script, production, a locked
scene with its notes, the story page and the board's three views)."""

import pytest

from scripts_app import board, production, services
from scripts_app.models import Plotline
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_sideways_scroll_on_phone_or_laptop(app_server, new_page):
    base = app_server.http_url
    alice = make_user("alice")
    project = services.project_create(user=alice, title="A Title Long Enough To Wrap On A Phone")
    long_line = "A very long line of action without breaks " * 12
    scenes = [
        services.scene_create(
            project=project,
            user=alice,
            heading=f"INT. A VERY LONG PLACE NAME FOR A HEADING {i} - CONTINUOUS",
            text=f"{long_line}\n\nMAY\n(quietly)\nCoffee?\n",
        )
        for i in range(3)
    ]
    production.production_lock(project=project, user=alice)
    # A story layer wide enough to need scrolling inside its cards: 30 cards on a plotline.
    thread = Plotline.objects.create(project=project, name="The long thread", label="A")
    for i in range(30):
        board.beat_create(
            project=project, user=alice, act=1 + i % 3, title=f"Card {i}", plotline_ids=[thread.pk]
        )
    page = new_page()
    log_in(page, base, "alice", PASSWORD)
    urls = [
        f"/projects/{project.pk}/script/",
        f"/projects/{project.pk}/production/",
        f"/projects/{project.pk}/story/",
        f"/projects/{project.pk}/board/",
        f"/projects/{project.pk}/board/?view=structure",
        f"/projects/{project.pk}/board/?view=list",
        scenes[1].get_absolute_url(),
        project.get_absolute_url(),
    ]
    for width in (390, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        for url in urls:
            page.goto(f"{base}{url}")
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (width, url, overflow)
