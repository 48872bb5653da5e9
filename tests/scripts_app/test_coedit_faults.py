"""Co-editing under load and faults: live clients must not be left behind.

Real Daphne servers (subprocesses, ``tests/support/probe_app.py`` adds probes) and real
websocket Yjs clients. Whatever a relay meets on the way (a full queue, a socket already
closing, a server dying between its commit and its publish), every live client converges
to the database's text soon after the typing stops.
"""

import asyncio
import json
import os
import random
import threading
import time
import urllib.request

import pytest
import websockets
from django.db import connection
from pycrdt import YMessageType, create_sync_message, write_message, write_var_uint

from scripts_app import documents
from scripts_app.models import SceneUpdate
from tests.scripts_app.test_coediting import Tokens, markers, wait_for
from tests.support.servers import DaphneServer, session_for
from tests.support.threads import in_thread, run_async
from tests.support.yclient import YClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROBE_APP = "tests.support.probe_app:application"
# (a)-(c) are about the in-memory layer (embedded mode), so their servers use it even in the
# Redis pass (over whichever database the run uses).
EMBEDDED_LAYER = {"REDIS_URL": ""}
CONVERGE_SECONDS = 5.0  # the bound: every live client has the database's text this soon


def probe(srv, path: str):
    with urllib.request.urlopen(f"{srv.http_url}/__probe__/{path}", timeout=10) as response:
        return json.loads(response.read())


class Client(YClient):
    """A YClient that reconnects like y-websocket: after any close but 4400-4499, at once
    and then with a short backoff, trying its servers in turn (one may be dead)."""

    def __init__(self, servers, team, who="editor"):
        self.servers = list(servers)
        super().__init__(
            self.servers[0].ws_url,
            team.project.pk,
            team.scenes[0].pk,
            session_for(team.users[who]),
            self.servers[0].http_url,
        )
        self.path = self.url.removeprefix(self.servers[0].ws_url)
        self.keeper: asyncio.Task | None = None
        self.reconnects = 0

    async def start(self) -> None:
        await self.connect()
        self.keeper = asyncio.create_task(self._keep_connected())

    async def _keep_connected(self) -> None:
        turn = 0
        while True:
            if self.reader is not None:
                await asyncio.gather(self.reader, return_exceptions=True)
            if self.close_code is not None and 4400 <= self.close_code < 4500:
                return
            await asyncio.sleep(0.1)
            srv = self.servers[turn % len(self.servers)]
            self.headers["Origin"] = srv.http_url  # one site behind a balancer, in effect
            try:
                await self.connect(srv.ws_url + self.path)
                self.reconnects += 1
            except OSError:
                turn += 1  # that server is gone: the next one
                self.reader = None

    async def stop(self) -> None:
        if self.keeper is not None:
            self.keeper.cancel()
            await asyncio.gather(self.keeper, return_exceptions=True)
        await self.disconnect()


async def type_randomly(clients, rng, seconds, typed, deleted, tokens, pause=0.1):
    """Each client types a token (or deletes) every ``pause`` seconds on average."""

    async def one(client):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            current = client.value()
            if current and rng.random() < 0.25:
                gone = await client.delete(rng.randrange(len(current)), rng.randint(1, 3))
                deleted.update(markers(gone))
            else:
                tok = tokens.token(rng)
                typed.update(markers(tok))
                await client.insert(rng.randint(0, len(current)), tok)
            await asyncio.sleep(rng.uniform(0, 2 * pause))

    await asyncio.gather(*(one(c) for c in clients))


async def converge_on_database(clients, scene_id, seconds=CONVERGE_SECONDS):
    """Poll until every client shows the database's text (the bound is ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        stored = await in_thread(documents.live_text, scene_id)
        if all(c.value() == stored for c in clients):
            return stored
        if time.monotonic() > deadline:
            behind = sum(c.value() != stored for c in clients)
            raise AssertionError(f"{behind} of {len(clients)} clients are behind the database")
        await asyncio.sleep(0.1)


def awareness_frame(client_id: int, name: str) -> bytes:
    state = json.dumps({"user": {"name": name, "color": "#123456"}}).encode()
    body = write_var_uint(1) + write_var_uint(client_id) + write_var_uint(1) + write_message(state)
    return bytes([YMessageType.AWARENESS]) + write_message(body)


# --- (a) a full queue drops relays: the dropped sockets are repaired -----------------------


def test_sixteen_editors_with_dropped_relays_all_converge_to_the_database(team):
    scene = team.scenes[0]
    rng = random.Random(16)

    async def run(srv):
        clients = [Client([srv], team) for _ in range(16)]
        for c in clients:
            await c.start()
        await asyncio.gather(*(asyncio.wait_for(c.synced.wait(), 20) for c in clients))
        typed, deleted, tokens = set(), set(), Tokens()
        await type_randomly(clients, rng, 4.0, typed, deleted, tokens)
        dropped = await in_thread(probe, srv, "dropped")
        final = await converge_on_database(clients, scene.pk)
        closed = [c.close_code for c in clients if c.close_code is not None]
        for c in clients:
            await c.stop()
        return dropped, final, typed, deleted, closed

    # A queue of 4 messages per socket: 16 editors typing overflow it all the time.
    with DaphneServer(app=PROBE_APP, env={**EMBEDDED_LAYER, "COWRITE_ROOMS_CAPACITY": "4"}) as srv:
        dropped, final, typed, deleted, closed = run_async(run(srv))
    assert dropped > 0, "the test did not make the layer drop anything"
    assert markers(final) == typed - deleted  # nothing typed was lost on the way
    assert closed == []  # repaired in place: nobody had to reconnect


# --- (b) a send on a socket that is already closing: the consumer leaves its group ---------


def test_a_consumer_whose_send_fails_leaves_its_group(team):
    scene = team.scenes[0]
    group = f"groups/scene-{scene.pk}-doc"

    async def run(srv):
        a, b = Client([srv], team), Client([srv], team, "owner")
        for c in (a, b):
            await c.start()
            await asyncio.wait_for(c.synced.wait(), 20)
        # A client that stops reading (a frozen tab, a dead network): it never answers the
        # server's close, so the server's side stays "closing" and every send raises.
        stuck = await websockets.connect(
            a.url, additional_headers=a.headers, max_size=None, close_timeout=0.1
        )
        await stuck.send(create_sync_message(a.doc))
        assert await wait_for(lambda: len(probe(srv, group)) == 3, 10)
        stuck.transport.pause_reading()
        await stuck.send(b"\x00")  # malformed: the server closes it (4400)…
        for i in range(20):  # …while relays keep coming for it
            await a.insert(0, f"{i} ")
            await asyncio.sleep(0.03)
        members = None
        for _ in range(40):
            members = await in_thread(probe, srv, group)
            if len(members) == 2:
                break
            await asyncio.sleep(0.1)
        await b.insert(0, "still live ")
        ok = await wait_for(lambda: a.value() == b.value() and "still live" in a.value(), 10)
        stuck.transport.abort()
        codes = a.close_code, b.close_code
        for c in (a, b):
            await c.stop()
        return members, ok, codes

    with DaphneServer(app=PROBE_APP, env=EMBEDDED_LAYER) as srv:
        members, ok, codes = run_async(run(srv))
        log = srv.log_path.read_text(errors="replace")
    assert len(members) == 2, members  # the dead socket left the scene's group
    assert ok and codes == (None, None)
    assert "Attempt to send on a closed protocol" not in log


# --- (c) answering a joiner whose queue is full does not kill the answering socket ----------


def test_presence_answer_to_a_full_queue_does_not_close_the_healthy_socket(team):
    async def run(srv):
        peers = [Client([srv], team) for _ in range(8)]
        for i, p in enumerate(peers):
            await p.start()
            await asyncio.wait_for(p.synced.wait(), 20)
            await p.ws.send(awareness_frame(1000 + i, f"peer {i}"))
        await asyncio.sleep(0.3)
        dropped_before = await in_thread(probe, srv, "dropped")
        joiners = [Client([srv], team, "owner") for _ in range(3)]
        for j in joiners:  # 8 presence answers into a queue of 2
            await j.start()
            await asyncio.wait_for(j.synced.wait(), 20)
        await asyncio.sleep(1.0)
        dropped = await in_thread(probe, srv, "dropped") - dropped_before
        await peers[0].insert(0, "after the joiners ")
        everyone = peers + joiners
        ok = await wait_for(
            lambda: all(c.value().startswith("after the joiners ") for c in everyone), 10
        )
        codes = [c.close_code for c in everyone]
        reconnects = sum(c.reconnects for c in everyone)
        for c in everyone:
            await c.stop()
        return dropped, ok, codes, reconnects

    with DaphneServer(app=PROBE_APP, env={**EMBEDDED_LAYER, "COWRITE_ROOMS_CAPACITY": "2"}) as srv:
        dropped, ok, codes, reconnects = run_async(run(srv))
        log = srv.log_path.read_text(errors="replace")
    assert dropped > 0, "the joiners' queues never overflowed"
    assert codes == [None] * 11 and reconnects == 0, codes
    assert ok
    assert "ChannelFull" not in log


# --- (d) two servers over PostgreSQL and Redis; one dies mid-run --------------------------

DISTRIBUTED = bool(os.environ.get("REDIS_URL")) and os.environ.get("DATABASE_URL", "").startswith(
    "postgres"
)


@pytest.mark.skipif(not DISTRIBUTED, reason="needs REDIS_URL and a PostgreSQL DATABASE_URL")
def test_a_server_dying_mid_run_leaves_no_live_client_behind(team):
    scene = team.scenes[0]
    rng = random.Random(8)

    async def run(one, two):
        ones = [Client([one, two], team) for _ in range(4)]
        twos = [Client([two, one], team) for _ in range(4)]
        everyone = ones + twos
        for c in everyone:
            await c.start()
        await asyncio.gather(*(asyncio.wait_for(c.synced.wait(), 20) for c in everyone))
        typed, deleted, tokens = set(), set(), Tokens()
        await type_randomly(everyone, rng, 1.5, typed, deleted, tokens)
        # Server two commits its clients' next updates but dies before publishing them.
        assert await in_thread(probe, two, "swallow-relays")
        await type_randomly(twos, rng, 0.5, typed, deleted, tokens)
        await asyncio.sleep(0.3)  # those updates are committed…
        two.stop(kill=True)  # …and the server is gone, mid-run
        await type_randomly(ones, rng, 1.0, typed, deleted, tokens)
        assert await wait_for(lambda: all(c.connected for c in everyone), 10)
        await type_randomly(everyone, rng, 1.0, typed, deleted, tokens)
        final = await converge_on_database(everyone, scene.pk)
        moved = sum(c.reconnects for c in twos)
        for c in everyone:
            await c.stop()
        return final, typed, deleted, moved

    one = DaphneServer(app=PROBE_APP).start()
    two = DaphneServer(app=PROBE_APP).start()
    try:
        final, typed, deleted, moved = run_async(run(one, two))
    finally:
        two.stop()
        one.stop()
    assert moved >= 4  # the dead server's clients reconnected to the survivor
    assert markers(final) == typed - deleted


# --- (e) load() against a compaction committing between its reads -------------------------


def test_load_is_consistent_against_a_compaction_committing_between_its_reads(team):
    scene = team.scenes[0]
    editor = team.users["editor"]
    documents.replace_text(scene_id=scene.pk, new_text="One.\n", user_id=editor.pk)
    documents.compact(scene.pk)
    documents.replace_text(scene_id=scene.pk, new_text="One.\nTwo, logged.\n", user_id=editor.pk)
    assert SceneUpdate.objects.filter(scene=scene).count() == 1
    fired = []

    def compact_elsewhere():
        thread = threading.Thread(target=_closing_compact, args=(scene.pk, fired))
        thread.start()
        thread.join(30)

    def between_reads(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        # After load()'s first read of the document (state or log), not ensure_doc's check.
        reads_doc = '"doc_state"' in sql or "sceneupdate" in sql
        if not fired and reads_doc and "IS NOT NULL" not in sql:
            compact_elsewhere()
        return result

    with connection.execute_wrapper(between_reads):
        text = documents.doc_text(documents.load(scene.pk).doc)
    assert fired == ["One.\nTwo, logged.\n"]  # the compaction did run in between
    assert not SceneUpdate.objects.filter(scene=scene).exists()
    assert text == "One.\nTwo, logged.\n"


def _closing_compact(scene_id, fired):
    from django.db import connections

    try:
        fired.append(documents.compact(scene_id))
    finally:
        connections.close_all()
