"""Live co-editing over real websockets against a real Daphne server (subprocess).

Convergence under concurrency, offline edits merging on reconnect, a server restart,
and permissions (viewers read-only, outsiders refused, tampered rooms).
"""

import asyncio
import random
from collections import Counter

import pytest

from scripts_app import documents, services
from scripts_app.models import Revision, RevisionOrigin, Scene, SceneUpdate
from tests.support.servers import DaphneServer, http_post, session_for
from tests.support.threads import in_thread, run_async
from tests.support.yclient import YClient
from tests.support.yclient import team_client as make_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SPICE = ["—", "’", "é", "😀", "“", "ß", "漢"]


async def wait_for(predicate, timeout=20.0, interval=0.05):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


class Tokens:
    """Unique private-use characters, so every typed character can be traced."""

    def __init__(self):
        self.next = 0xF0000  # Supplementary Private Use Area-A

    def token(self, rng) -> str:
        # One unique marker per insert, surrounded by characters Yjs and pycrdt count
        # differently (UTF-16 units vs UTF-8 bytes).
        marker = chr(self.next)
        self.next += 1
        return rng.choice(SPICE) + marker + rng.choice(SPICE) + rng.choice("ab \n")


async def random_session(clients, rng, rounds, typed: set, deleted: set, tokens: Tokens, flaky=()):
    async def one(client, idx):
        for r in range(rounds):
            if idx in flaky and r == rounds // 3:
                await client.disconnect()  # goes offline, keeps typing
            if idx in flaky and r == (2 * rounds) // 3:
                await client.connect()
            current = client.value()
            if current and rng.random() < 0.3:
                gone = await client.delete(rng.randrange(len(current)), rng.randint(1, 4))
                deleted.update(ch for ch in gone if ord(ch) >= 0xF0000)
            else:
                tok = tokens.token(rng)
                typed.update(ch for ch in tok if ord(ch) >= 0xF0000)
                await client.insert(rng.randint(0, len(current)), tok)
            await asyncio.sleep(rng.uniform(0, 0.02))

    await asyncio.gather(*(one(c, i) for i, c in enumerate(clients)))


def markers(text: str) -> set:
    return {ch for ch in text if ord(ch) >= 0xF0000}


def test_eight_clients_converge_with_disconnects_and_nothing_typed_is_lost(server, team):
    scene = team.scenes[0]
    initial = scene.text
    rng = random.Random(1234)

    async def run():
        clients = [make_client(server, team, "editor") for _ in range(8)]
        for c in clients:
            await c.connect()
        await asyncio.gather(*(asyncio.wait_for(c.synced.wait(), 20) for c in clients))
        assert all(c.value() == initial for c in clients)
        typed, deleted, tokens = set(), set(), Tokens()
        await random_session(
            clients, rng, rounds=30, typed=typed, deleted=deleted, tokens=tokens, flaky={1, 4, 6}
        )
        assert await wait_for(lambda: len({c.value() for c in clients}) == 1), [
            c.value() for c in clients
        ]
        final = clients[0].value()
        fresh = make_client(server, team, "viewer")
        await fresh.connect()
        await asyncio.wait_for(fresh.synced.wait(), 20)
        assert fresh.value() == final
        for c in [*clients, fresh]:
            await c.disconnect()
        return final, typed, deleted

    final, typed, deleted = run_async(run())
    # Every unique character typed is there unless some client deleted it.
    assert markers(final) == typed - deleted
    assert typed and deleted
    # The database's document and plain text agree with every client.
    assert documents.doc_text(documents.load(scene.pk).doc) == final
    assert documents.compact(scene.pk) == final
    scene.refresh_from_db()
    assert scene.text == final
    assert not SceneUpdate.objects.filter(scene=scene).exists()


def test_server_restart_mid_session_loses_nothing(team):
    scene = team.scenes[0]
    rng = random.Random(99)

    async def run():
        srv = DaphneServer().start()
        try:
            clients = [make_client(srv, team, "editor") for _ in range(3)]
            for c in clients:
                await c.connect()
            await asyncio.gather(*(asyncio.wait_for(c.synced.wait(), 20) for c in clients))
            typed, deleted, tokens = set(), set(), Tokens()
            await random_session(
                clients, rng, rounds=10, typed=typed, deleted=deleted, tokens=tokens
            )
            await wait_for(lambda: len({c.value() for c in clients}) == 1)
            srv.stop()  # the server goes away mid-session…
            assert await wait_for(lambda: not any(c.connected for c in clients), 10)
            # …clients keep typing while it is down…
            await random_session(
                clients, rng, rounds=5, typed=typed, deleted=deleted, tokens=tokens
            )
            srv.start()  # …and it comes back on the same port
            for c in clients:
                await c.connect()
            assert await wait_for(lambda: len({c.value() for c in clients}) == 1)
            final = clients[0].value()
            for c in clients:
                await c.disconnect()
            return final, typed, deleted
        finally:
            srv.stop()

    final, typed, deleted = run_async(run())
    assert markers(final) == typed - deleted
    assert documents.compact(scene.pk) == final


def test_viewer_update_is_refused_and_never_reaches_others_or_the_log(server, team):
    scene = team.scenes[0]

    async def run():
        editor = make_client(server, team, "editor")
        viewer = make_client(server, team, "viewer")
        commenter = make_client(server, team, "commenter")
        for c in (editor, viewer, commenter):
            await c.connect()
            await asyncio.wait_for(c.synced.wait(), 20)
        logged_before = SceneUpdate.objects.filter(scene=scene).count()
        await viewer.insert(0, "VIEWER WAS HERE ")
        await commenter.insert(0, "COMMENTER TOO ")
        await editor.insert(0, "EDITOR ")
        assert await wait_for(lambda: viewer.value().count("EDITOR ") == 1)
        await asyncio.sleep(0.5)
        values = editor.value(), viewer.value()
        for c in (editor, viewer, commenter):
            await c.disconnect()
        return logged_before, values

    logged_before, (editor_text, viewer_text) = run_async(run())
    assert "VIEWER WAS HERE" not in editor_text and "COMMENTER TOO" not in editor_text
    assert SceneUpdate.objects.filter(scene=scene).count() == logged_before + 1
    assert "VIEWER" not in documents.doc_text(documents.load(scene.pk).doc)


def test_outsider_anonymous_and_tampered_rooms_are_refused(server, team):
    from scripts_app import services as svc

    other = svc.project_create(user=team.users["outsider"], title="Other")
    other_scene = svc.scene_create(
        project=other, user=team.users["outsider"], heading="INT. X - DAY", text="secret"
    )

    async def run():
        codes = {}
        outsider = make_client(server, team, "outsider")
        await outsider.connect()
        await wait_for(lambda: outsider.close_code is not None, 10)
        codes["outsider"] = outsider.close_code
        anon = YClient(server.ws_url, team.project.pk, team.scenes[0].pk, "nope", server.http_url)
        await anon.connect()
        await wait_for(lambda: anon.close_code is not None, 10)
        codes["anonymous"] = anon.close_code
        # An editor of project A naming project A with project B's scene id.
        tampered = YClient(
            server.ws_url,
            team.project.pk,
            other_scene.pk,
            session_for(team.users["editor"]),
            server.http_url,
        )
        await tampered.connect()
        await wait_for(lambda: tampered.close_code is not None, 10)
        codes["tampered"] = tampered.close_code
        codes["leaked"] = "secret" in tampered.value() or "Alarms" in outsider.value()
        return codes

    codes = run_async(run())
    assert codes == {"outsider": 4404, "anonymous": 4401, "tampered": 4404, "leaked": False}


def test_bad_origin_is_refused(server, team):
    async def run():
        c = make_client(server, team, "editor")
        c.headers["Origin"] = "http://evil.example"
        try:
            await c.connect()
        except Exception as exc:  # the handshake itself is refused (403)
            return type(exc).__name__
        await wait_for(lambda: c.close_code is not None, 5)
        return c.close_code

    assert run_async(run()) in ("InvalidStatus", 1006, 403)


def test_malformed_and_oversized_frames_close_the_socket_and_change_nothing(server, team, settings):
    scene = team.scenes[0]

    async def run():
        results = []
        for frame in [b"\x00", b"\x00\x02\x05garbage", b"\x00\x07\x00", b"\x01\xff\xff\xff"]:
            c = make_client(server, team, "editor")
            await c.connect()
            await asyncio.wait_for(c.synced.wait(), 20)
            await c.ws.send(frame)
            await wait_for(lambda c=c: c.close_code is not None, 10)
            results.append(c.close_code)
        return results

    codes = run_async(run())
    assert codes == [4400, 4400, 4400, 4400]
    assert not SceneUpdate.objects.filter(scene=scene).exists()


def test_server_side_restore_reaches_open_editors_with_non_ascii_text(server, team):
    scene = team.scenes[0]
    services.scene_save_text(
        scene=scene,
        user=team.users["editor"],
        text="Café — “quoted” 😀 end.\n",
        base_revision_id=scene.head_id,
    )
    scene.refresh_from_db()

    async def run():
        a, b = make_client(server, team, "editor"), make_client(server, team, "owner")
        for c in (a, b):
            await c.connect()
            await asyncio.wait_for(c.synced.wait(), 20)
        await a.insert(len("Café — “quoted” 😀"), " and more")
        assert await wait_for(lambda: "😀 and more end." in b.value())
        # A restore on the server (through the real page) is a live edit every open
        # editor receives.
        first = await in_thread(Revision.objects.get, scene=scene, number=1)
        path = f"/projects/{team.project.pk}/scenes/{scene.pk}/revisions/1/restore/"
        status = await in_thread(
            http_post, server.http_url, session_for(team.users["owner"]), path, {}
        )
        assert status == 200
        assert await wait_for(lambda: a.value() == first.text and b.value() == first.text)
        for c in (a, b):
            await c.disconnect()

    run_async(run())
    scene.refresh_from_db()
    # The live edits were kept as an auto-saved revision before the restore replaced them.
    autosave = Revision.objects.filter(scene=scene, origin=RevisionOrigin.AUTOSAVE).get()
    assert "😀 and more end." in autosave.text
    assert scene.head.origin == RevisionOrigin.RESTORE and scene.text == scene.head.text


def test_compaction_task_snapshots_a_revision_after_a_burst(team, settings):
    from scripts_app.tasks import compact_scene_docs

    settings.COWRITE_DOC_COMPACT_QUIET_SECONDS = 0
    scene = team.scenes[0]
    documents.replace_text(
        scene_id=scene.pk, new_text="Edited live.\n", user_id=team.users["editor"].pk
    )
    assert SceneUpdate.objects.filter(scene=scene).count() == 1
    assert compact_scene_docs() == {"compacted": 1}
    scene = Scene.objects.get(pk=scene.pk)
    assert scene.text == "Edited live.\n" and scene.head.origin == RevisionOrigin.AUTOSAVE
    assert scene.head.author == team.users["editor"]
    assert compact_scene_docs() == {"compacted": 0}


def test_stale_form_save_after_live_edits_is_a_conflict(team):
    scene = team.scenes[0]
    base = scene.head_id
    documents.replace_text(
        scene_id=scene.pk, new_text="Typed live.\n", user_id=team.users["editor"].pk
    )
    result = services.scene_save_text(
        scene=scene, user=team.users["owner"], text="From a script.\n", base_revision_id=base
    )
    assert result.conflict
    scene.refresh_from_db()
    assert scene.text == "Typed live.\n"
    assert (
        Counter(Revision.objects.filter(scene=scene).values_list("origin", flat=True))[
            RevisionOrigin.AUTOSAVE
        ]
        == 1
    )


def test_a_long_scene_with_heavy_history_syncs_over_one_mebibyte(server, team):
    """Daphne's default 1 MiB websocket cap would drop this first sync (see serve)."""
    from pycrdt import Doc, Text

    scene = team.scenes[0]
    doc = Doc()
    text = doc.get("text", type=Text)
    for i in range(60_000):  # many small edits: a large state for a modest text
        text.insert(0, "😀x")
        if i % 3 == 0:
            del text[0:4]
    state = doc.get_update()
    assert len(state) > 1024 * 1024
    Scene.objects.filter(pk=scene.pk).update(doc_state=state)
    expected = str(text)

    async def run():
        c = make_client(server, team, "editor")
        await c.connect()
        await asyncio.wait_for(c.synced.wait(), 30)
        await c.insert(0, "Still editable. ")
        other = make_client(server, team, "viewer")
        await other.connect()
        await asyncio.wait_for(other.synced.wait(), 30)
        ok = await wait_for(lambda: other.value().startswith("Still editable. "))
        values = c.value(), other.value()
        await c.disconnect()
        await other.disconnect()
        return ok, values

    ok, (a, b) = run_async(run())
    assert ok and a == b == "Still editable. " + expected


def test_an_edit_past_the_scene_size_limit_is_refused(server, team, settings):
    scene = team.scenes[0]

    async def run():
        big, other = make_client(server, team, "editor"), make_client(server, team, "owner")
        for c in (big, other):
            await c.connect()
            await asyncio.wait_for(c.synced.wait(), 20)
        await big.insert(0, "é" * (settings.COWRITE_SCENE_TEXT_MAX_CHARS + 1))
        await wait_for(lambda: big.close_code is not None, 10)
        await other.insert(0, "Still fine. ")
        await asyncio.sleep(0.5)
        values = big.close_code, other.value()
        await other.disconnect()
        return values

    code, other_text = run_async(run())
    assert code == 4413
    assert "é" * 10 not in other_text and other_text.startswith("Still fine. ")
    assert "é" * 10 not in documents.doc_text(documents.load(scene.pk).doc)
