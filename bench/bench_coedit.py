"""Co-editing benchmark: N editors typing at human speed in one scene.

    .venv/bin/python bench/bench_coedit.py                 # 20 editors, 30 s each pass
    .venv/bin/python bench/bench_coedit.py --editors 20 --seconds 60 --rate 5

Runs two passes in the same run, each against a real Daphne server (subprocess):
  cowrite  — the app's SceneDocConsumer (role re-check, validation, update log in the DB)
  relay    — bench/relay_app.py: the same frames relayed with no checks and no persistence
and prints keystroke-to-peer latency (p50/p99 over every delivery to every peer), server
CPU per editor, and the update log's growth per hour of typing and after compaction.

Uses a fresh SQLite database in a temporary DATA_DIR unless DATABASE_URL is set (then it
creates its rows in that database). REDIS_URL, if set, selects the Redis channel layer.
"""

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="cowrite-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.db.models.functions import Length  # noqa: E402
from django.test import Client  # noqa: E402
from pycrdt import read_message  # noqa: E402

from scripts_app import documents, services  # noqa: E402
from scripts_app.models import Membership, Role, Scene, SceneUpdate  # noqa: E402
from tests.support.servers import DaphneServer  # noqa: E402
from tests.support.yclient import YClient  # noqa: E402

CHARS = "abcdefghijklmnopqrstuvwxyz      \n—’é"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def setup_scene(editors: int):
    from django.contrib.auth import get_user_model

    call_command("migrate", verbosity=0)
    User = get_user_model()
    stamp = int(time.time() * 1000)
    users = [
        User.objects.create_user(f"bench{stamp}-{i}", password="x" * 12) for i in range(editors)
    ]
    project = services.project_create(user=users[0], title=f"Bench {stamp}")
    for u in users[1:]:
        Membership.objects.create(project=project, user=u, role=Role.EDITOR)
    scene = services.scene_create(
        project=project, user=users[0], heading="INT. BENCH - DAY", text="Start.\n"
    )
    sessions = []
    for u in users:
        c = Client()
        c.force_login(u)
        sessions.append(c.cookies["sessionid"].value)
    return project, scene, sessions


async def typing_pass(server, project, scene, sessions, seconds: float, rate: float, seed: int):
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    timeline: list[tuple[float, float]] = []
    deliveries = {"count": 0}

    def on_frame(frame: bytes, received_at: float) -> None:
        if len(frame) > 2 and frame[0] == 0 and frame[1] == 2:
            t0 = sent.get(read_message(frame[2:]))
            if t0 is not None:
                latencies.append(received_at - t0)
                timeline.append((t0, received_at - t0))
                deliveries["count"] += 1

    clients = []
    for s in sessions:
        c = YClient(server.ws_url, project.pk, scene.pk, s, server.http_url)
        c.on_frame = on_frame
        clients.append(c)
    for c in clients:
        await c.connect()
    await asyncio.gather(*(asyncio.wait_for(c.synced.wait(), 30) for c in clients))

    # Record each keystroke's update bytes and send time (the server relays the same bytes).
    async def typist(i: int, client: YClient):
        rng = random.Random(seed + i)
        end = time.perf_counter() + seconds
        await asyncio.sleep(rng.uniform(0, 1 / rate))
        while time.perf_counter() < end:
            current = client.value()
            pos = rng.randint(0, len(current))
            ch = rng.choice(CHARS)
            before = client.doc.get_state()
            with client.doc.transaction():
                client.text.insert(len(current[:pos].encode()), ch)
            update = client.doc.get_update(before)
            sent[update] = time.perf_counter()
            await client.ws.send(b"\x00\x02" + _write(update))
            await asyncio.sleep(rng.expovariate(rate))

    cpu0, t0, me0 = cpu_seconds(server.pid), time.perf_counter(), cpu_seconds(os.getpid())
    await asyncio.gather(*(typist(i, c) for i, c in enumerate(clients)))
    await asyncio.sleep(1.0)  # let the last deliveries arrive
    cpu1, t1, me1 = cpu_seconds(server.pid), time.perf_counter(), cpu_seconds(os.getpid())
    for c in clients:
        await c.disconnect()
    if os.environ.get("BENCH_TIMELINE"):
        start = min(t for t, _ in timeline)
        for w in range(int(seconds) + 1):
            lat = sorted(v for t, v in timeline if w <= t - start < w + 1)
            if lat:
                print(
                    f"  t={w:3d}s n={len(lat):5d} p50={1000 * lat[len(lat) // 2]:7.1f} max={1000 * lat[-1]:7.1f}"
                )
    return {
        "keystrokes": len(sent),
        "deliveries": deliveries["count"],
        "expected": len(sent) * (len(clients) - 1),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * statistics.quantiles(latencies, n=100)[98],
        "max_ms": 1000 * max(latencies),
        "server_cpu_per_editor_pct": 100 * (cpu1 - cpu0) / (t1 - t0) / len(clients),
        "server_cpu_total_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
        "client_cpu_total_pct": 100 * (me1 - me0) / (t1 - t0),
    }


def _write(update: bytes) -> bytes:
    from pycrdt import write_message

    return write_message(update)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--editors", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=5.0, help="keystrokes per second per editor")
    args = parser.parse_args()

    project, scene, sessions = setup_scene(args.editors)
    results = {}
    for name, app in [
        ("cowrite", "cowrite.asgi:application"),
        ("relay", "bench.relay_app:application"),
    ]:
        with DaphneServer(app=app) as server:
            results[name] = asyncio.run(
                typing_pass(server, project, scene, sessions, args.seconds, args.rate, seed=7)
            )
        if name == "cowrite":
            log_bytes = (
                SceneUpdate.objects.filter(scene=scene).aggregate(n=Sum(Length("data")))["n"] or 0
            )
            log_rows = SceneUpdate.objects.filter(scene=scene).count()
            text = documents.compact(scene.pk)
            state = len(bytes(Scene.objects.get(pk=scene.pk).doc_state))
            results[name].update(
                log_rows=log_rows, log_bytes=log_bytes, compacted_bytes=state, text_chars=len(text)
            )

    hour = 3600 / args.seconds
    print(f"\n{args.editors} editors × {args.rate:g} keystrokes/s for {args.seconds:g} s each pass")
    print(f"{'':34}{'cowrite':>14}{'plain relay':>14}")
    rows = [
        ("keystrokes sent", "keystrokes", "{:.0f}"),
        ("deliveries / expected", None, None),
        ("keystroke→peer p50 (ms)", "p50_ms", "{:.1f}"),
        ("keystroke→peer p99 (ms)", "p99_ms", "{:.1f}"),
        ("keystroke→peer max (ms)", "max_ms", "{:.1f}"),
        ("server CPU per editor (% core)", "server_cpu_per_editor_pct", "{:.2f}"),
        ("server CPU total (% core)", "server_cpu_total_pct", "{:.1f}"),
        ("clients' CPU total (% core)", "client_cpu_total_pct", "{:.1f}"),
    ]
    for label, key, fmt in rows:
        if key is None:
            cells = [
                f"{r['deliveries']}/{r['expected']}" for r in (results["cowrite"], results["relay"])
            ]
        else:
            cells = [fmt.format(results[n][key]) for n in ("cowrite", "relay")]
        print(f"{label:34}{cells[0]:>14}{cells[1]:>14}")
    c = results["cowrite"]
    print(f"{'update log per hour of typing':34}{c['log_bytes'] * hour / 1e6:>11.1f} MB{'—':>14}")
    print(f"{'update log rows per hour':34}{c['log_rows'] * hour:>14,.0f}{'—':>14}")
    print(f"{'document after compaction':34}{c['compacted_bytes'] / 1e3:>11.1f} kB{'—':>14}")
    print(f"(compacted document holds {c['text_chars']:,} characters)")
    print(f"goal: p99 < 100 ms → {'met' if c['p99_ms'] < 100 else 'NOT met'}")


if __name__ == "__main__":
    main()
