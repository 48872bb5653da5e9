"""Hardening of the co-editing socket, over real websockets against a real Daphne server.

Hostile frames are refused by the framing validator (never reaching pycrdt) while other
users keep working; presence carries the server's identity, not the client's; a removed
member's doc socket closes at once; the Origin check compares scheme, host and port; an
unknown path is refused cleanly; and the documented 16 MiB limit is what ``serve`` runs.
"""

import asyncio
import json
import time
import urllib.request

import pytest
import websockets
from pycrdt import (
    Decoder,
    Doc,
    Text,
    YMessageType,
    read_message,
    write_message,
    write_var_uint,
)

from scripts_app.models import SceneUpdate
from tests.support.servers import DaphneServer, http_post, session_for
from tests.support.threads import in_thread, run_async
from tests.support.yclient import team_client as make_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A request that answers in milliseconds on a healthy server; the hostile frames below
# stalled the whole server for 5 s (200 kB) to minutes (1 MiB) before the validator.
PROMPT = 2.0


async def wait_for(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


async def connected(client):
    await client.connect()
    await asyncio.wait_for(client.synced.wait(), 20)
    return client


def fetch(url: str, session: str, timeout: float) -> int:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        return response.status


def awareness_frame(entries) -> bytes:
    """An awareness message as y-websocket sends it: [1, varUint8Array(update)]."""
    body = write_var_uint(len(entries))
    for client_id, clock, state in entries:
        text = state if isinstance(state, str) else json.dumps(state)
        body += write_var_uint(client_id) + write_var_uint(clock) + write_message(text.encode())
    return bytes([YMessageType.AWARENESS]) + write_message(body)


def read_awareness(frame: bytes) -> dict[int, tuple[int, object]]:
    """{client id: (clock, state)} of an awareness frame."""
    decoder = Decoder(read_message(frame[1:]))
    out = {}
    for _ in range(decoder.read_var_uint()):
        client_id, clock = decoder.read_var_uint(), decoder.read_var_uint()
        out[client_id] = (clock, json.loads(decoder.read_var_string()))
    return out


def collect_awareness(client) -> list[dict]:
    seen = []
    client.on_frame = lambda frame, _t: (
        seen.append(read_awareness(frame)) if frame[0] == YMessageType.AWARENESS else None
    )
    return seen


FF_200K = b"\xff" * 200_000
FF_1M = b"\xff" * (1024 * 1024)
HOSTILE = {
    # 0xff runs where a length prefix is read: sync step 1, step 2, update, awareness.
    "step1 length 200 kB": bytes([0, 0]) + FF_200K,
    "step1 length 1 MiB": bytes([0, 0]) + FF_1M,
    "step2 length 200 kB": bytes([0, 1]) + FF_200K,
    "update length 1 MiB": bytes([0, 2]) + FF_1M,
    # A well-framed update whose own counts are a 0xff run.
    "update body 200 kB": bytes([0, 2]) + write_message(b"\x01" + FF_200K),
    "state vector body 200 kB": bytes([0, 0]) + write_message(FF_200K),
    # Awareness: small (the validator) and large (the size cap).
    "awareness body 12 kB": bytes([1]) + write_message(b"\x01" + b"\xff" * 12_000),
    "awareness length 200 kB": bytes([1]) + FF_200K,
    "awareness length 1 MiB": bytes([1]) + FF_1M,
}


def test_hostile_frames_are_refused_by_the_validator_while_others_keep_working(server, team):
    scene = team.scenes[0]
    page = f"{server.http_url}/projects/{team.project.pk}/scenes/{scene.pk}/"
    owner_session = session_for(team.users["owner"])
    log_start = server.log_path.stat().st_size  # the log is per port, appended to

    async def run():
        a = await connected(make_client(server, team, "editor"))
        b = await connected(make_client(server, team, "owner"))
        results = {}
        for name, frame in HOSTILE.items():
            hostile = await connected(make_client(server, team, "viewer"))
            before = b.received_updates
            await hostile.ws.send(frame)
            # Meanwhile another user types, and another loads a page: both answer at once
            # (within PROMPT; fetch raises a timeout past it).
            await a.insert(0, "k")
            relayed = await wait_for(lambda before=before: b.received_updates > before, PROMPT)
            status = await in_thread(fetch, page, owner_session, PROMPT)
            await wait_for(lambda h=hostile: h.close_code is not None, 10)
            results[name] = (hostile.close_code, relayed, status)
            await hostile.disconnect()
        for c in (a, b):
            await c.disconnect()
        return results

    results = run_async(run())
    for name, (code, relayed, status) in results.items():
        expected = 4413 if name.startswith("awareness length") else 4400
        assert (code, relayed, status) == (expected, True, 200), name
    # Refused by the validator: pycrdt's decoders never saw them.
    log = server.log_path.read_bytes()[log_start:].decode(errors="replace")
    refused = [name for name in HOSTILE if not name.startswith("awareness length")]
    assert log.count("(validator: varint too long") == len(refused), log
    assert not SceneUpdate.objects.filter(scene=scene, user=team.users["viewer"]).exists()


def test_spoofed_presence_is_relayed_only_with_the_real_identity(server, team):
    viewer_user = team.users["viewer"]

    async def run():
        owner = await connected(make_client(server, team, "owner"))
        seen = collect_awareness(owner)
        viewer = await connected(make_client(server, team, "viewer"))
        me = viewer.doc.client_id
        cursor = {
            "anchor": {
                "type": None,
                "tname": "text",
                "item": {"client": 5, "clock": 3},
                "assoc": 0,
            },
            "head": {"type": None, "tname": "text", "item": None, "assoc": -1},
        }
        spoofs = [
            {
                "user": {
                    "name": "owner",
                    "role": "owner",
                    "id": str(team.users["owner"].pk),
                    "canEdit": True,
                    "color": "red; position:fixed; inset:0; z-index:9999",
                    "colorLight": "red; position:fixed",
                },
                "cursor": cursor,
                "overlay": "<img src=x onerror=alert(1)>",
            },
            {"user": {"name": "x" * 10_000, "color": "#1F6FB2"}, "cursor": {"anchor": "evil"}},
            {"user": {"name": ["not", "a", "string"], "color": 7, "role": {"owner": 1}}},
            {"user": "owner", "cursor": {"anchor": cursor["anchor"], "head": {"item": "x"}}},
        ]
        for clock, state in enumerate(spoofs, start=1):
            await viewer.ws.send(awareness_frame([(me, clock, state)]))
        # Speaking for another client (the owner's) is dropped.
        await viewer.ws.send(
            awareness_frame([(owner.doc.client_id, 99, {"user": {"name": "owner"}})])
        )
        assert await wait_for(lambda: len(seen) >= len(spoofs), 10)
        await asyncio.sleep(0.3)
        # A frame over the awareness cap closes the socket; nothing of it is relayed.
        big = await connected(make_client(server, team, "viewer"))
        await big.ws.send(
            awareness_frame([(big.doc.client_id, 1, {"user": {"name": "y" * 20_000}})])
        )
        await wait_for(lambda: big.close_code is not None)
        await asyncio.sleep(0.3)
        frames = list(seen)
        codes = big.close_code
        for c in (owner, viewer):
            await c.disconnect()
        return me, owner.doc.client_id, frames, codes

    me, owner_client, frames, big_code = run_async(run())
    assert all(list(frame) == [me] for frame in frames), frames  # nobody else's client
    # One state per clock. A state may arrive twice: the viewer also answers the owner's
    # "who is here" query with its latest state (on Redis that query can land after the
    # spoofs); clients ignore a clock they have seen.
    by_clock: dict[int, object] = {}
    for frame in frames:
        clock, state = frame[me]
        assert by_clock.setdefault(clock, state) == state, (clock, state)
    assert sorted(by_clock) == [1, 2, 3, 4]
    states = [by_clock[clock] for clock in sorted(by_clock)]
    for state in states:
        assert set(state) == {"user", "cursor"}
        assert state["user"] == {
            "id": str(viewer_user.pk),
            "name": viewer_user.username,
            "role": "viewer",
            "canEdit": False,
            "color": state["user"]["color"],
            "colorLight": state["user"]["color"] + "33",
        }
        assert len(state["user"]["color"]) == 7 and state["user"]["color"].startswith("#")
        int(state["user"]["color"][1:], 16)
    assert states[1]["user"]["color"] == "#1f6fb2"  # a valid colour is kept
    assert states[0]["cursor"]["anchor"]["item"] == {"client": 5, "clock": 3}
    assert [s["cursor"] for s in states[1:]] == [None, None, None]
    assert big_code == 4413


def test_a_removed_members_doc_socket_closes_at_once(server, team):
    viewer_membership = team.membership["viewer"]
    path = f"/projects/{team.project.pk}/members/{viewer_membership.pk}/remove/"

    async def run():
        viewer = await connected(make_client(server, team, "viewer"))
        status = await in_thread(
            http_post, server.http_url, session_for(team.users["owner"]), path, {}
        )
        # No edit happens: the access notice alone closes the socket.
        closed = await wait_for(lambda: viewer.close_code is not None, 5)
        code = viewer.close_code
        await viewer.disconnect()
        return status, closed, code

    status, closed, code = run_async(run())
    assert status == 200 and closed and code == 4403


def test_the_origin_must_match_scheme_host_and_port(team):
    async def attempt(srv, origin):
        c = make_client(srv, team, "editor")
        c.headers["Origin"] = origin
        try:
            await c.connect()
        except websockets.InvalidStatus as exc:
            return exc.response.status_code
        ok = await wait_for(lambda: c.synced.is_set() or c.close_code is not None)
        code = "synced" if ok and c.synced.is_set() else c.close_code
        await c.disconnect()
        return code

    async def run(srv, origins):
        return {origin: await attempt(srv, origin) for origin in origins}

    with DaphneServer(env={"CSRF_TRUSTED_ORIGINS": "https://cowrite.example"}) as srv:
        port = srv.port
        codes = run_async(
            run(
                srv,
                [
                    f"http://127.0.0.1:{port}",  # the site itself
                    "https://cowrite.example",  # a trusted origin (a TLS proxy in front)
                    "http://127.0.0.1:9999",  # another port
                    f"https://127.0.0.1:{port}",  # another scheme
                    f"http://localhost:{port}",  # another (allowed) host name
                    "http://cowrite.example",  # the trusted host on another scheme
                    "http://evil.example",
                    "null",
                ],
            )
        )
    assert codes == {
        f"http://127.0.0.1:{port}": "synced",
        "https://cowrite.example": "synced",
        "http://127.0.0.1:9999": 403,
        f"https://127.0.0.1:{port}": 403,
        f"http://localhost:{port}": 403,
        "http://cowrite.example": 403,
        "http://evil.example": 403,
        "null": 403,
    }


def test_an_unknown_websocket_path_is_closed_with_4404(server, team):
    async def run():
        codes = []
        for path in ("/ws/nope", "/ws/projects/1/scenes/2/other", "/"):
            async with websockets.connect(
                server.ws_url + path,
                additional_headers={
                    "Cookie": f"sessionid={session_for(team.users['editor'])}",
                    "Origin": server.http_url,
                },
            ) as ws:
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
                codes.append(ws.close_code)
        return codes

    assert run_async(run()) == [4404, 4404, 4404]


def test_a_legit_frame_over_one_mebibyte_goes_through_manage_py_serve(team, tmp_path, settings):
    """README: a websocket message may be 16 MiB; Daphne's frame cap was 1 MiB."""
    doc = Doc()
    text = doc.get("text", type=Text)
    for i in range(40_000):  # offline edits with a long history: a large step 2
        text.insert(0, "😀x")
        if i % 3 == 0:
            del text[0:4]
    offline = str(text)
    assert len(doc.get_update()) > 1024 * 1024 + 100_000

    env = {"DATA_DIR": str(tmp_path), "SECRET_KEY": settings.SECRET_KEY}
    with DaphneServer(serve=True, env=env) as srv:

        async def run():
            writer = make_client(srv, team, "editor")
            writer.doc, writer.text = doc, text  # the offline document
            # Its step 2 (all the offline history, one frame over 1 MiB) answers the
            # server's step 1; the server's step 2 then marks it synced.
            await writer.connect()
            await asyncio.wait_for(writer.synced.wait(), 30)
            reader = await connected(make_client(srv, team, "viewer"))
            ok = await wait_for(lambda: offline in reader.value(), 30)
            values = writer.close_code, reader.value()
            for c in (writer, reader):
                await c.disconnect()
            return ok, values

        ok, (close_code, seen) = run_async(run())
    assert ok and close_code is None and offline in seen
