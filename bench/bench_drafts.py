"""Drafts fan-out benchmark: a real Daphne server, the Redis channel layer, a generation
worker separate from the server, and 50 websocket clients over 10 scenes.

    .venv/bin/python bench/bench_drafts.py                  # needs Redis (REDIS_URL or local)
    .venv/bin/python bench/bench_drafts.py --scenes 10 --clients-per-scene 5 --tokens 128

Two passes in the same run, same clients and requests:
  model — the worker runs drafts on a model version (random weights, the ``tiny`` preset's
          size: 4 layers × 256; the active version if the database has one) through the
          continuous-batching engine;
  echo  — the worker runs bench/echo_backend.EchoBackend (no model: fixed words at a fixed
          rate), so the model path's overhead is visible.
Prints per-delta fan-out latency (worker send → client receive, from the ``data-t`` stamp
each delta carries; one machine, one clock) p50/p99, time to first token, tokens/s
delivered, and the count of missing, duplicated and out-of-order deltas (each must be 0).
Daphne, the worker (one torch thread) and this process (the clients) are three processes.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
if not os.environ.get("DATABASE_URL"):
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="cowrite-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")
os.environ.setdefault("DEBUG", "0")
# The benchmark polls the database from its event loop (short queries, on purpose).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production-use-0123456789")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from generation.models import Passage  # noqa: E402
from scripts_app import services  # noqa: E402
from scripts_app.models import Membership, Role  # noqa: E402
from tests.support.roomclient import RoomClient  # noqa: E402
from tests.support.servers import DaphneServer, WorkerProcess  # noqa: E402


def setup(scenes: int, per_scene: int):
    """One project per scene (the per-project cap on running drafts stays out of the
    way), each with its own editors; returns [(project, scene, sessions)]."""
    from django.contrib.auth import get_user_model

    from generation.models import ModelVersion

    call_command("migrate", verbosity=0)
    stamp = int(time.time() * 1000)
    User = get_user_model()
    rooms = []
    for i in range(scenes):
        # No password: the clients log in by session (hashing 50 passwords is a minute
        # of CPU on a slow box, and not what is measured).
        users = [User.objects.create_user(f"b{stamp}-{i}-{k}") for k in range(per_scene)]
        project = services.project_create(user=users[0], title=f"Fan-out {stamp} #{i}")
        for u in users[1:]:
            Membership.objects.create(project=project, user=u, role=Role.EDITOR)
        mara = services.character_create(project=project, name="Mara")
        scene = services.scene_create(
            project=project,
            user=users[0],
            heading=f"INT. ROOM {i} - NIGHT",
            text="MARA\nWho's there?\n",
            cast_ids=[mara.pk],
        )
        sessions = []
        for u in users:
            c = Client()
            c.force_login(u)
            sessions.append(c.cookies["sessionid"].value)
        rooms.append((project, scene, sessions))
    if not ModelVersion.objects.filter(status="active").exists():
        from tests.support.models import register_tiny_version

        register_tiny_version(settings.MODEL_DIR, name=f"bench-{stamp}")
    return rooms


async def run_pass(server, rooms, per_scene, requests_per_scene, alternatives, tokens, backend):
    latencies: list[float] = []
    first_token: dict[int, float] = {}
    clients: list[RoomClient] = []

    def on_delta(pid, seq, text, received_at, sent_at):
        latencies.append(received_at - sent_at)  # both on this machine's wall clock
        first_token.setdefault(pid, received_at)

    for project, scene, sessions in rooms:
        for k in range(per_scene):
            c = RoomClient(server.ws_url, project.pk, scene.pk, sessions[k], server.http_url)
            c.on_delta = on_delta
            clients.append(c)
    for c in clients:
        await c.connect()
    worker = WorkerProcess(
        env={
            "COWRITE_GENERATION_BACKEND": backend[0],
            "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps(backend[1]),
            "COWRITE_GENERATION_MAX_BATCH": str(len(rooms) * requests_per_scene * alternatives),
            "OMP_NUM_THREADS": "1",  # one core for the model, one for Daphne and the clients
        },
        nice=NICE,
    ).start()
    await asyncio.sleep(6.0)  # the worker loads its model and joins the queue
    before = set(Passage.objects.values_list("pk", flat=True))
    requested_at = time.time()
    for s_idx in range(len(rooms)):
        requester = clients[s_idx * per_scene]
        await asyncio.sleep(0.01)
        for r in range(requests_per_scene):
            await requester.request_draft(
                task="continue",
                alternatives=alternatives,
                max_new_tokens=tokens,
                seed=100 + r,
                preset="balanced",
            )
    expected = len(rooms) * requests_per_scene * alternatives
    deadline = time.time() + 600
    while time.time() < deadline:
        errors = [e for c in clients for e in c.errors]
        if errors:
            raise SystemExit(f"a draft request was refused: {errors[0]}")
        done = (
            Passage.objects.exclude(pk__in=before)
            .exclude(status__in=["queued", "streaming"])
            .count()
        )
        if done >= expected:
            break
        await asyncio.sleep(0.2)
    finished_at = time.time()
    await asyncio.sleep(1.0)  # the last cards
    worker.stop()
    rows = list(
        Passage.objects.exclude(pk__in=before).values(
            "pk", "seq", "token_count", "scene_id", "status"
        )
    )
    missing = duplicated = out_of_order = 0
    scene_of = {row["pk"]: row["scene_id"] for row in rows}
    for c in clients:
        scene_id = int(c.url.rsplit("/scenes/", 1)[1].split("/")[0])
        for row in rows:
            if scene_of[row["pk"]] != scene_id:
                continue
            got = [s for s, _ in c.deltas.get(row["pk"], [])]
            missing += len(set(range(1, row["seq"] + 1)) - set(got))
            duplicated += len(got) - len(set(got))
            out_of_order += sum(1 for a, b in zip(got, got[1:], strict=False) if b < a)
    for c in clients:
        await c.close()
    tokens_total = sum(r["token_count"] for r in rows)
    ttft = [first_token[r["pk"]] - requested_at for r in rows if r["pk"] in first_token]
    return {
        "passages": len(rows),
        "done": sum(1 for r in rows if r["status"] == "done"),
        "deliveries": len(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * statistics.quantiles(latencies, n=100)[98],
        "max_ms": 1000 * max(latencies),
        "ttft_p50_ms": 1000 * statistics.median(ttft),
        "ttft_p99_ms": 1000 * max(ttft),
        "tokens_per_s": tokens_total / (finished_at - requested_at),
        "delivered_tokens_per_s": tokens_total
        * (len(clients) // len(rooms))
        / (finished_at - requested_at),
        "missing": missing,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
    }


NICE = 0


def main():
    global NICE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--clients-per-scene", type=int, default=5)
    parser.add_argument("--requests-per-scene", type=int, default=1)
    parser.add_argument("--alternatives", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--echo-rate", type=float, default=50.0, help="echo tokens/s per stream")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="run the worker at this niceness (CPU box shared with the web)",
    )
    parser.add_argument(
        "--passes", default="model,echo", help="which passes to run (comma-separated)"
    )
    args = parser.parse_args()
    NICE = args.worker_nice

    rooms = setup(args.scenes, args.clients_per_scene)
    passes = {
        "model": ("generation.core.backends.local.LocalBackend", {}),
        "echo": ("bench.echo_backend.EchoBackend", {"tokens_per_second": args.echo_rate}),
    }
    wanted = [p.strip() for p in args.passes.split(",") if p.strip()]
    passes = {name: passes[name] for name in wanted}
    results = {}
    with DaphneServer() as server:
        print(f"daphne pid {server.pid}", flush=True)
        for name, backend in passes.items():
            results[name] = asyncio.run(
                run_pass(
                    server,
                    rooms,
                    args.clients_per_scene,
                    args.requests_per_scene,
                    args.alternatives,
                    args.tokens,
                    backend,
                )
            )
    n_clients = args.scenes * args.clients_per_scene
    print(
        f"\n{n_clients} websocket clients over {args.scenes} scenes; "
        f"{args.requests_per_scene}×{args.alternatives} drafts of {args.tokens} tokens per scene "
        f"(Redis layer, Daphne + separate worker)"
    )
    names = list(results)
    print(f"{'':36}" + "".join(f"{n:>12}" for n in names))
    for label, key, fmt in [
        ("passages done / requested", None, None),
        ("fan-out latency p50 (ms)", "p50_ms", "{:.1f}"),
        ("fan-out latency p99 (ms)", "p99_ms", "{:.1f}"),
        ("fan-out latency max (ms)", "max_ms", "{:.1f}"),
        ("time to first token p50 (ms)", "ttft_p50_ms", "{:.0f}"),
        ("time to first token max (ms)", "ttft_p99_ms", "{:.0f}"),
        ("tokens/s generated", "tokens_per_s", "{:.0f}"),
        ("tokens/s delivered (× watchers)", "delivered_tokens_per_s", "{:.0f}"),
        ("deltas missing", "missing", "{}"),
        ("deltas duplicated", "duplicated", "{}"),
        ("deltas out of order", "out_of_order", "{}"),
    ]:
        if key is None:
            cells = [f"{results[n]['done']}/{results[n]['passages']}" for n in names]
        else:
            cells = [fmt.format(results[n][key]) for n in names]
        print(f"{label:36}" + "".join(f"{c:>12}" for c in cells))
    for name, m in results.items():
        ok = m["p99_ms"] < 50 and m["missing"] == m["duplicated"] == m["out_of_order"] == 0
        print(
            f"goal ({name}): p99 fan-out < 50 ms and zero lost deltas → {'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
