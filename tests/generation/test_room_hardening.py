"""The scene room socket under hostile or mistaken input, and who may cancel a draft:
a real server and worker, real websockets, the real database. The worker runs the slow
``RecordingBackend`` so a draft streams long enough to be cancelled (or not)."""

import asyncio
import json

import pytest

from generation.models import Passage, PassageStatus
from scripts_app.models import Membership, Role
from tests.conftest import make_user
from tests.support.models import register_tiny_version
from tests.support.roomclient import RoomClient
from tests.support.servers import generation_stack, session_for
from tests.support.threads import in_thread, run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def stack(team, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    options = {"record": str(tmp_path / "record.jsonl"), "delay": 0.05}
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.RecordingBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps(options),
    }
    with generation_stack(env=env) as (server, _):
        yield server


def room(server, team, user):
    scene = team.scenes[0]
    return RoomClient(server.ws_url, team.project.pk, scene.pk, session_for(user), server.http_url)


async def until(predicate, timeout=20.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def frame(**fields) -> str:
    """A JSON frame as a hand-made client may send it (json.dumps writes Infinity/NaN)."""
    return json.dumps({"action": "draft_request", "task": "new", **fields})


BAD_FRAMES = [
    (frame(max_new_tokens=float("inf")), "Infinity"),
    (frame(max_new_tokens=float("-inf")), "Infinity"),
    (frame(max_new_tokens=float("nan")), "NaN"),
    ('{"action": "draft_request", "task": "new", "max_new_tokens": 1e400}', "too large"),
    (frame(max_new_tokens=-5), "Max new tokens must be between 1 and"),
    (frame(max_new_tokens=10**30), "Max new tokens must be between 1 and"),
    (frame(max_new_tokens="lots"), "Max new tokens must be a number."),
    (frame(max_new_tokens="Infinity"), "Max new tokens must be a number."),
    (frame(max_new_tokens=True), "Max new tokens must be a number."),
    (frame(max_new_tokens=[1]), "Max new tokens must be a number."),
    (frame(max_new_tokens={"a": 1}), "Max new tokens must be a number."),
    (frame(temperature=float("nan")), "NaN"),
    (frame(temperature="nan"), "Temperature must be a number."),
    (frame(seed=2**70), "Seed must be between"),
    (frame(preset=["focused"]), "Preset must be text."),
    (frame(instruction=5), "Instruction must be text."),
    (
        '{"action": "draft_request", "x": ' + "[" * 20000 + "1" + "]" * 20000 + "}",
        "nested too deeply",
    ),
    (json.dumps({"action": "draft_cancel", "passage": float("inf")}), "Infinity"),
    (json.dumps({"action": "draft_cancel", "passage": 10**30}), "No such draft in this scene."),
    (json.dumps({"action": "draft_cancel", "passage": True}), "No such draft in this scene."),
    (json.dumps({"action": "draft_cancel", "passage": [1]}), "No such draft in this scene."),
]


def test_bad_numbers_and_shapes_on_the_room_socket_get_errors_and_never_crash_it(stack, team):
    scene = team.scenes[0]

    async def run():
        editor = room(stack, team, team.users["editor"])
        await editor.connect()
        await asyncio.sleep(0.3)
        errors = []
        for text, _ in BAD_FRAMES:
            before = len(editor.errors)
            await editor.ws.send(text)
            await until(lambda b=before: len(editor.errors) > b or editor.close_code, 10)
            errors.append(editor.errors[before] if len(editor.errors) > before else None)
        # Still open, and a good request still works.
        await editor.request_draft(task="new", max_new_tokens=5)
        created = await until(lambda: Passage.objects.filter(scene=scene).exists(), 10)
        code = editor.close_code
        await editor.close()
        return errors, code, created

    errors, code, created = run_async(run())
    for (text, expected), got in zip(BAD_FRAMES, errors, strict=True):
        assert got is not None and expected in got, (text[:80], got)
    assert code is None  # the socket was never closed
    assert created and Passage.objects.filter(scene=scene).count() == 1


def test_only_the_requester_and_owners_can_cancel_a_draft(stack, team):
    scene = team.scenes[0]
    other_editor = make_user("editor2")
    Membership.objects.create(project=team.project, user=other_editor, role=Role.EDITOR)

    async def run():
        requester = room(stack, team, team.users["editor"])
        other = room(stack, team, other_editor)
        owner = room(stack, team, team.users["owner2"])
        for c in (requester, other, owner):
            await c.connect()
        await asyncio.sleep(0.3)
        # Two alternatives, ~10 s each at the recording backend's pace.
        await requester.request_draft(task="new", alternatives=2, max_new_tokens=200)
        assert await until(
            lambda: Passage.objects.filter(scene=scene, status="streaming").count() == 2
        )
        first, second = await in_thread(
            lambda: list(Passage.objects.filter(scene=scene).order_by("alternative"))
        )
        await other.send(action="draft_cancel", passage=first.pk)  # another editor: refused
        assert await until(lambda: other.errors, 10)
        await owner.send(action="draft_cancel", passage=second.pk)  # an owner: allowed
        assert await until(
            lambda: Passage.objects.get(pk=second.pk).status == PassageStatus.CANCELLED, 15
        )
        await asyncio.sleep(1.0)
        first_meanwhile = await in_thread(lambda: Passage.objects.get(pk=first.pk))
        tokens_then = len(requester.streamed_text(first.pk))
        await asyncio.sleep(1.0)
        tokens_later = len(requester.streamed_text(first.pk))
        await requester.send(action="draft_cancel", passage=first.pk)  # its requester: allowed
        assert await until(
            lambda: Passage.objects.get(pk=first.pk).status == PassageStatus.CANCELLED, 15
        )
        for c in (requester, other, owner):
            await c.close()
        return other.errors, owner.errors, first_meanwhile, tokens_then, tokens_later

    other_errors, owner_errors, first_meanwhile, tokens_then, tokens_later = run_async(run())
    assert other_errors == [
        "Only the person who asked for this draft, or a project owner, can cancel it."
    ]
    assert owner_errors == []
    # The refused cancel changed nothing: the draft went on streaming.
    assert first_meanwhile.status == PassageStatus.STREAMING
    assert not first_meanwhile.cancel_requested
    assert tokens_later > tokens_then > 0
