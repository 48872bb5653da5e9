"""The story room tells the page that made a change that it did (cowrite/origin.py), so
that page keeps its own answer (notice and all) instead of fetching the fragment again;
only the asking user's sockets hear the page's name."""

import asyncio
import re

import pytest
import websockets
from django.test import RequestFactory

from cowrite import events, origin
from scripts_app.models import Plotline
from tests.support.servers import http_post, session_for
from tests.support.threads import in_thread, run_async


def test_a_page_name_is_kept_for_the_request_with_its_user_and_reset_after():
    seen = []
    middleware = origin.RequestOriginMiddleware(
        lambda request: seen.append(origin.current_origin()) or "answer"
    )

    class User:
        pk = 7
        is_authenticated = True

    request = RequestFactory().post("/", HTTP_X_COWRITE_ORIGIN="k3x9ab.12")
    request.user = User()
    assert middleware(request) == "answer"
    assert seen == ["7/k3x9ab.12"]
    assert origin.current_origin() is None  # not beyond the request
    # The event made while serving takes it; one made elsewhere has none.
    origin_token = origin._origin.set("7/k3x9ab.12")
    try:
        assert events.StoryChanged(project=1, part="plotlines").origin == "7/k3x9ab.12"
    finally:
        origin._origin.reset(origin_token)
    assert events.StoryChanged(project=1, part="plotlines").origin is None


@pytest.mark.parametrize(
    "header",
    ["", "no-dot", "a.b", "x" * 25 + ".1", "ab.1234567890", "ab.1<script>", "../x.1", "é.1"],
)
def test_a_malformed_or_anonymous_page_name_is_ignored(header):
    seen = []
    middleware = origin.RequestOriginMiddleware(
        lambda request: seen.append(origin.current_origin())
    )

    class User:
        pk = 7
        is_authenticated = True

    request = RequestFactory().post("/", HTTP_X_COWRITE_ORIGIN=header)
    request.user = User()
    middleware(request)
    anonymous = RequestFactory().post("/", HTTP_X_COWRITE_ORIGIN="ab.1")
    anonymous.user = type("Anon", (), {"is_authenticated": False, "pk": None})()
    middleware(anonymous)
    assert seen == [None, None]


def test_a_socket_is_told_a_page_name_only_if_its_user_asked():
    assert origin.for_user("7/ab.1", 7) == "ab.1"
    assert origin.for_user("7/ab.1", 8) == ""
    assert origin.for_user("17/ab.1", 7) == ""
    assert origin.for_user(None, 7) == ""
    assert origin.for_user("7/<b>.1", 7) == ""
    # A StoryChanged from an older sender (no origin field) still decodes.
    message = {"type": "story.changed", "project": 1, "part": "bible", "item": 0}
    assert events.StoryChanged.from_message(message).origin is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_signal_names_the_page_to_its_user_and_to_nobody_else(server, team):
    project = team.project

    async def signal(ws):
        text = await asyncio.wait_for(ws.recv(), 10)
        return dict(re.findall(r'data-(part|origin)="([^"]*)"', text))

    async def run():
        sockets = {}
        for name in ("owner", "viewer"):
            sockets[name] = await websockets.connect(
                f"{server.ws_url}/ws/projects/{project.pk}/story",
                additional_headers={
                    "Cookie": f"sessionid={session_for(team.users[name])}",
                    "Origin": server.http_url,
                },
            )
        await asyncio.sleep(0.3)  # joined their groups
        status = await in_thread(
            http_post,
            server.http_url,
            session_for(team.users["owner"]),
            f"/projects/{project.pk}/story/plotlines/new/",
            {"name": "The heist", "colour": "#aa3300"},
            {"X-Cowrite-Origin": "page7.1", "HX-Request": "true"},
        )
        heard = {name: await signal(ws) for name, ws in sockets.items()}
        # The same change asked without a page name (a plain form post): nobody's page.
        await in_thread(
            http_post,
            server.http_url,
            session_for(team.users["owner"]),
            f"/projects/{project.pk}/story/plotlines/new/",
            {"name": "The chase", "colour": "#3355aa"},
        )
        plain = {name: await signal(ws) for name, ws in sockets.items()}
        for ws in sockets.values():
            await ws.close()
        return status, heard, plain

    status, heard, plain = run_async(run())
    assert status == 200
    assert Plotline.objects.filter(project=project).count() == 2
    assert heard["owner"] == {"part": "plotlines", "origin": "page7.1"}
    assert heard["viewer"] == {"part": "plotlines", "origin": ""}
    assert plain["owner"] == plain["viewer"] == {"part": "plotlines", "origin": ""}
