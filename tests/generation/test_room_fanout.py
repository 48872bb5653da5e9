"""The scene room's card updates: one database load per event per server process, one
render per kind of viewer, and each viewer still sees only what their role allows.

Real consumer and channel layer (whichever the settings name), driven in-process with
Channels' WebsocketCommunicator so the loads can be counted.
"""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator

from cowrite import events
from generation import consumers, feedback
from tests.generation.test_feedback import make_group
from tests.support.threads import in_thread, run_async

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(team, who, scene):
    app = consumers.SceneRoomConsumer.as_asgi()
    path = f"/ws/projects/{team.project.pk}/scenes/{scene.pk}/room"
    c = WebsocketCommunicator(app, path)
    c.scope["user"] = team.users[who]
    c.scope["url_route"] = {"kwargs": {"project_id": team.project.pk, "scene_id": scene.pk}}
    return c


async def _frames(c, expect=True):
    """Every text frame until the socket has been quiet for a moment.

    (The communicator cancels the consumer when ``receive_from`` times out, so quiet is
    asked with ``receive_nothing``.)"""
    out = [await c.receive_from(timeout=5)] if expect else []
    while not await c.receive_nothing(timeout=0.5):
        out.append(await c.receive_from())
    return out


def test_a_card_event_loads_once_and_each_viewer_gets_their_own_controls(team, monkeypatch):
    scene = team.scenes[0]
    passage = make_group(scene, team.users["editor"], ["MARA\nIt holds.\n"])[0]
    feedback.rating_submit(passage=passage, user=team.users["commenter"], score=4)
    loads = []
    real = consumers._load_card
    monkeypatch.setattr(consumers, "_load_card", lambda *a: loads.append(a) or real(*a))

    async def run():
        sockets = {w: _communicator(team, w, scene) for w in ("editor", "commenter", "viewer")}
        for c in sockets.values():
            connected, _ = await c.connect()
            assert connected
        await asyncio.sleep(0.2)
        await events.apublish(
            events.FeedbackChanged(events.scene_room_group(scene.pk), (passage.pk,), event="e1")
        )
        got = {w: await _frames(c) for w, c in sockets.items()}
        # An event without an id is not shared: each socket loads for itself.
        await events.apublish(
            events.FeedbackChanged(events.scene_room_group(scene.pk), (passage.pk,), event=None)
        )
        unshared = {w: await _frames(c) for w, c in sockets.items()}
        for c in sockets.values():
            await c.disconnect()
        return got, unshared

    got, unshared = run_async(run())
    assert len(loads) == 1 + 3
    for who in ("editor", "commenter", "viewer"):
        assert len(got[who]) == 1 and f'id="passage-{passage.pk}"' in got[who][0]
        assert unshared[who] == got[who]
    # Role: only the editor gets the accept button.
    assert "Accept" in got["editor"][0] and "Accept" not in got["viewer"][0]
    # Viewer-specific feedback controls: the commenter sees their own 4 checked; the
    # viewer gets the read-only note; the average is the same for all.
    assert "yours: 4" in got["commenter"][0]
    assert "yours:" not in got["editor"][0] and "yours:" not in got["viewer"][0]
    assert "You can read the feedback" in got["viewer"][0]
    assert "You can read the feedback" not in got["commenter"][0]
    for who in got:
        assert "★ 4.0" in got[who][0]


def test_a_card_event_for_a_passage_of_another_scene_renders_nothing(team):
    scene, other = team.scenes
    foreign = make_group(other, team.users["editor"], ["Elsewhere."])[0]

    async def run():
        c = _communicator(team, "editor", scene)
        await c.connect()
        await asyncio.sleep(0.2)
        # Addressed to this scene's room, naming a passage of another scene.
        await events.apublish(
            events.DraftFinal(events.scene_room_group(scene.pk), foreign.pk, event="e2")
        )
        frames = await _frames(c, expect=False)
        await c.disconnect()
        return frames

    assert run_async(run()) == []


def test_stream_start_swaps_only_the_header_from_the_event(team):
    from generation import drafts
    from generation.models import ModelVersion

    scene = team.scenes[0]
    passage = make_group(scene, team.users["editor"], [""])[0]  # queued
    version = ModelVersion.objects.create(name="<b>v2</b>", preset="tiny", status="active")

    async def run():
        c = _communicator(team, "viewer", scene)
        await c.connect()
        await asyncio.sleep(0.2)
        await in_thread(
            drafts.passage_claim, passage_id=passage.pk, worker="w1", version_id=version.pk
        )
        frames = await _frames(c)
        await c.disconnect()
        return frames

    frames = run_async(run())
    assert len(frames) == 1
    head = frames[0]
    assert head.startswith(f'<header id="passage-{passage.pk}-head"')
    assert 'hx-swap-oob="outerHTML"' in head and 'data-status="streaming"' in head
    assert "&lt;b&gt;v2&lt;/b&gt;" in head and "<b>" not in head  # escaped
    assert "passage-text" not in head  # the text streamed so far is left alone


def test_a_removed_member_is_disconnected_at_once_and_a_demoted_one_loses_requests(team):
    from scripts_app import services

    scene = team.scenes[0]

    async def run():
        viewer = _communicator(team, "viewer", scene)
        editor = _communicator(team, "editor", scene)
        await viewer.connect()
        await editor.connect()
        await asyncio.sleep(0.2)
        await in_thread(services.member_remove, membership=team.membership["viewer"])
        closed = await viewer.receive_output(timeout=3)
        await in_thread(
            services.member_set_role, membership=team.membership["editor"], role="viewer"
        )
        await asyncio.sleep(0.3)
        await editor.send_to(text_data='{"action": "draft_request", "task": "new"}')
        refused = await editor.receive_from(timeout=3)
        await editor.disconnect()
        return closed, refused

    closed, refused = run_async(run())
    assert closed == {"type": "websocket.close", "code": 4403}
    assert "Only editors and owners" in refused


def test_a_new_request_reaches_every_page_rendered_for_its_role(team, settings, tmp_path):
    from tests.support.models import register_tiny_version

    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    scene = team.scenes[0]

    async def run():
        editor = _communicator(team, "editor", scene)
        viewer = _communicator(team, "viewer", scene)
        for c in (editor, viewer):
            await c.connect()
        await asyncio.sleep(0.2)
        await editor.send_to(
            text_data='{"action": "draft_request", "task": "new", "alternatives": "2"}'
        )
        got = {"editor": await _frames(editor), "viewer": await _frames(viewer)}
        for c in (editor, viewer):
            await c.disconnect()
        return got

    got = run_async(run())
    for who in ("editor", "viewer"):
        assert len(got[who]) == 1 and got[who][0].count('class="passage status-queued"') == 2
    assert "draft_cancel" in got["editor"][0] and "draft_cancel" not in got["viewer"][0]
