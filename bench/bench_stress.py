"""Stress benchmark: a stranger with an account attacks; does anyone else notice?

    .venv/bin/python bench/bench_stress.py                  # 20 s quiet, 20 s under attack
    .venv/bin/python bench/bench_stress.py --seconds 30 --api-burst 40

One real server (``manage.py serve``: Daphne with the generation worker in-process; the
worker streams with bench/echo_backend.EchoBackend so the API burst costs the worker
nothing but its queue). Two writers share a scene: one types 5 keystrokes a second, the
other's browser stand-in receives them, and the second writer's page is fetched every
0.25 s. The same run has two passes, side by side:

  quiet   — only the writers;
  attack  — meanwhile a stranger (a user of the same server with a project of its own
            and an API token) sends hostile co-editing frames on its own scene (runs of
            0xff in length prefixes, 200 kB and 1 MiB, in sync and awareness messages)
            on fresh sockets, over and over, and fires bursts of concurrent streaming API
            calls at /v1/completions.

Prints the writers' keystroke→peer and page latency (p50/p99/max) for both passes, how
each hostile frame was answered (close code, time to refusal), and the API calls' status
codes (what the rate limit and the concurrency cap answered).

Uses a fresh SQLite database in a temporary DATA_DIR unless DATABASE_URL is set. With
REDIS_URL set the server uses the Redis layers and a separate worker is NOT started
(API calls would then wait in the queue): leave REDIS_URL unset for this command.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="cowrite-stress-")
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from pycrdt import read_message, write_message  # noqa: E402

from scripts_app import services  # noqa: E402
from scripts_app.models import Membership, Role  # noqa: E402
from tests.support.servers import DaphneServer, session_for  # noqa: E402
from tests.support.yclient import YClient  # noqa: E402

CHARS = "abcdefghijklmnopqrstuvwxyz     \n"


def hostile_frames() -> list[tuple[str, bytes]]:
    """The frames that once froze the server: 0xff runs where a length prefix goes."""
    frames = []
    for size in (200_000, 1_000_000):
        run = b"\xff" * size
        label = f"{size // 1000} kB"
        frames.append((f"sync update, 0xff prefix, {label}", b"\x00\x02" + run))
        frames.append((f"sync step 2, 0xff prefix, {label}", b"\x00\x01" + run))
        frames.append((f"sync update, 0xff in update, {label}", b"\x00\x02" + write_message(run)))
        frames.append((f"awareness, 0xff prefix, {label}", b"\x01" + run))
        frames.append((f"awareness, 0xff in state, {label}", b"\x01" + write_message(run)))
    return frames


def setup():
    from django.contrib.auth import get_user_model

    from generation.api import token_create
    from tests.support.models import register_tiny_version

    call_command("migrate", verbosity=0)
    User = get_user_model()
    stamp = int(time.time() * 1000)
    writer_a = User.objects.create_user(f"writer-a-{stamp}", password="x" * 12)
    writer_b = User.objects.create_user(f"writer-b-{stamp}", password="x" * 12)
    stranger = User.objects.create_user(f"stranger-{stamp}", password="x" * 12)
    project = services.project_create(user=writer_a, title=f"Stress {stamp}")
    Membership.objects.create(project=project, user=writer_b, role=Role.EDITOR)
    scene = services.scene_create(
        project=project, user=writer_a, heading="INT. DINER - NIGHT", text="Start.\n"
    )
    own = services.project_create(user=stranger, title=f"Stranger's {stamp}")
    own_scene = services.scene_create(project=own, user=stranger, heading="INT. LAIR - NIGHT")
    register_tiny_version(Path(settings.MODEL_DIR), name=f"stress-{stamp}")
    _, secret = token_create(user=stranger, name="stress")
    return {
        "project": project,
        "scene": scene,
        "own": own,
        "own_scene": own_scene,
        "model": f"stress-{stamp}",
        "session_a": session_for(writer_a),
        "session_b": session_for(writer_b),
        "session_stranger": session_for(stranger),
        "secret": secret,
    }


async def writers(server, ctx, seconds: float, seed: int):
    """Writer A types; writer B's socket receives; writer B's page is fetched meanwhile."""
    sent: dict[bytes, float] = {}
    keys: list[float] = []

    def on_frame(frame: bytes, received_at: float) -> None:
        if len(frame) > 2 and frame[0] == 0 and frame[1] == 2:
            t0 = sent.get(read_message(frame[2:]))
            if t0 is not None:
                keys.append(received_at - t0)

    a = YClient(
        server.ws_url, ctx["project"].pk, ctx["scene"].pk, ctx["session_a"], server.http_url
    )
    b = YClient(
        server.ws_url, ctx["project"].pk, ctx["scene"].pk, ctx["session_b"], server.http_url
    )
    b.on_frame = on_frame
    for c in (a, b):
        await c.connect()
    await asyncio.gather(*(asyncio.wait_for(c.synced.wait(), 60) for c in (a, b)))

    pages: list[float] = []
    page_errors = Counter()
    end = time.perf_counter() + seconds

    async def typist():
        rng = random.Random(seed)
        while time.perf_counter() < end:
            current = a.value()
            pos = rng.randint(0, len(current))
            before = a.doc.get_state()
            with a.doc.transaction():
                a.text.insert(len(current[:pos].encode()), rng.choice(CHARS))
            update = a.doc.get_update(before)
            sent[update] = time.perf_counter()
            await a.ws.send(b"\x00\x02" + write_message(update))
            await asyncio.sleep(rng.expovariate(5.0))

    def fetch_page() -> int:
        request = urllib.request.Request(
            f"{server.http_url}{ctx['scene'].get_absolute_url()}",
            headers={"Cookie": f"sessionid={ctx['session_b']}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    async def reader():
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            try:
                status = await asyncio.to_thread(fetch_page)
            except OSError as exc:
                status = type(exc).__name__
            if status == 200:
                pages.append(time.perf_counter() - t0)
            else:
                page_errors[status] += 1
            await asyncio.sleep(0.25)

    await asyncio.gather(typist(), reader())
    await asyncio.sleep(1.0)  # the last deliveries
    for c in (a, b):
        await c.disconnect()
    return {"keys": keys, "sent": len(sent), "pages": pages, "page_errors": page_errors}


async def hostile_sockets(server, ctx, stop: asyncio.Event):
    """Send each hostile frame on a fresh socket of the stranger's own scene, in a loop."""
    url = f"{server.ws_url}/ws/projects/{ctx['own'].pk}/scenes/{ctx['own_scene'].pk}/doc"
    headers = {"Cookie": f"sessionid={ctx['session_stranger']}", "Origin": server.http_url}
    answers: dict[str, list] = {}
    frames = hostile_frames()
    while not stop.is_set():
        for label, frame in frames:
            if stop.is_set():
                break
            code, elapsed = None, None
            try:
                async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
                    await asyncio.wait_for(ws.recv(), 30)  # the server's sync step 1
                    t0 = time.perf_counter()
                    await ws.send(frame)
                    try:
                        while True:
                            await asyncio.wait_for(ws.recv(), 30)
                    except websockets.ConnectionClosed:
                        pass
                    elapsed = time.perf_counter() - t0
                    code = ws.close_code
            except (OSError, websockets.WebSocketException, TimeoutError) as exc:
                code = type(exc).__name__
            answers.setdefault(label, []).append((code, elapsed))
    return answers


def api_call(server, ctx) -> int | str:
    """One streaming completion, read to its end; its HTTP status."""
    body = {
        "model": ctx["model"],
        "prompt": "INT. DINER - NIGHT\n\n",
        "max_tokens": 64,
        "stream": True,
    }
    request = urllib.request.Request(
        f"{server.http_url}/v1/completions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ctx['secret']}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            while response.read(65536):
                pass
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__


async def api_bursts(server, ctx, stop: asyncio.Event, burst: int):
    """Bursts of concurrent streaming completions from one token, one burst a second."""
    codes = Counter()
    while not stop.is_set():
        results = await asyncio.gather(
            *(asyncio.to_thread(api_call, server, ctx) for _ in range(burst))
        )
        codes.update(results)
        await asyncio.sleep(1.0)
    return codes


async def run_pass(server, ctx, seconds: float, attack: bool, burst: int):
    stop = asyncio.Event()
    tasks = []
    if attack:
        tasks = [
            asyncio.create_task(hostile_sockets(server, ctx, stop)),
            asyncio.create_task(api_bursts(server, ctx, stop, burst)),
        ]
    result = await writers(server, ctx, seconds, seed=11)
    stop.set()
    if tasks:
        done = await asyncio.gather(*tasks)
        result["hostile"], result["api"] = done
    return result


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return float("nan") if not values else 1000 * values[0]
    return 1000 * statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--api-burst", type=int, default=20, help="concurrent API calls a burst")
    args = parser.parse_args()

    ctx = setup()
    env = {"COWRITE_GENERATION_BACKEND": "bench.echo_backend.EchoBackend"}
    with DaphneServer(serve=True, env=env) as server:
        time.sleep(3.0)  # the in-process worker starts
        quiet = asyncio.run(run_pass(server, ctx, args.seconds, False, args.api_burst))
        attack = asyncio.run(run_pass(server, ctx, args.seconds, True, args.api_burst))

    print(f"\nTwo writers on one scene, {args.seconds:g} s a pass (same server, same run)")
    print(f"{'':36}{'quiet':>12}{'attack':>12}")
    for label, key in (("keystroke→peer", "keys"), ("page load", "pages")):
        for q in (50, 99):
            cells = [f"{pct(r[key], q):.1f}" for r in (quiet, attack)]
            print(f"{label + f' p{q} (ms)':36}{cells[0]:>12}{cells[1]:>12}")
        cells = [f"{1000 * max(r[key]):.1f}" if r[key] else "—" for r in (quiet, attack)]
        print(f"{label + ' max (ms)':36}{cells[0]:>12}{cells[1]:>12}")
    cells = [f"{len(r['keys'])}/{r['sent']}" for r in (quiet, attack)]
    print(f"{'keystrokes delivered / typed':36}{cells[0]:>12}{cells[1]:>12}")
    cells = [str(len(r["pages"])) for r in (quiet, attack)]
    print(f"{'pages loaded':36}{cells[0]:>12}{cells[1]:>12}")
    cells = [json.dumps(dict(r["page_errors"])) or "{}" for r in (quiet, attack)]
    print(f"{'page errors':36}{cells[0]:>12}{cells[1]:>12}")

    print("\nHostile frames (the stranger's own scene, a fresh socket each)")
    for label, answers in attack.get("hostile", {}).items():
        codes = Counter(str(c) for c, _ in answers)
        times = [t for _, t in answers if t is not None]
        slowest = f"{1000 * max(times):.0f} ms" if times else "—"
        print(f"  {label:40} ×{len(answers):<3} closed {dict(codes)}  slowest refusal {slowest}")
    api = attack.get("api", Counter())
    print(f"\nAPI calls from one token (bursts of {args.api_burst}): {dict(api)}")
    print("  (200: streamed; 429: rate limit or concurrency cap; 503: generation queue full)")


if __name__ == "__main__":
    main()
