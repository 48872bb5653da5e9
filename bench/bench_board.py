"""The beat board with many cards, next to the project page of the same project.

    .venv/bin/python bench/bench_board.py              # 300 cards, 300 scenes, fresh SQLite
    .venv/bin/python bench/bench_board.py --cards 1000

Seeds a project with N cards over three acts (each card on one or two of four plotlines,
with two characters, every card linked to its own scene), then times the board page, its
live fragment, the list and structure views, and the project page (scene list), best of
5, with the number of queries of each (it must not grow with the number of cards).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="cowrite-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from scripts_app import script_stats, services  # noqa: E402
from scripts_app.models import Beat, Plotline, Revision, RevisionOrigin, Scene  # noqa: E402


def seed(user, n: int):
    project = services.project_create(user=user, title=f"Board bench {n}")
    characters = [
        services.character_create(project=project, name=name)
        for name in ("MARA", "JONAH", "IDA", "OSKAR", "LENA", "PIETRO")
    ]
    plots = [
        Plotline.objects.create(project=project, name=f"{label} story", label=label, position=i)
        for i, label in enumerate("ABCD")
    ]
    text = "Mara crosses the room.\n\nMARA\nWe go now.\n\nJONAH\nNot yet.\n"
    with transaction.atomic():
        scenes = Scene.objects.bulk_create(
            Scene(project=project, position=i, heading=f"INT. ROOM {i} - DAY", text=text)
            for i in range(n)
        )
        revisions = Revision.objects.bulk_create(
            Revision(scene=s, number=1, text=text, origin=RevisionOrigin.CREATE, author=user)
            for s in scenes
        )
        for s, r in zip(scenes, revisions, strict=True):
            s.head = r
        Scene.objects.bulk_update(scenes, ["head"])
        per_act = -(-n // 3)
        beats = Beat.objects.bulk_create(
            Beat(
                project=project,
                act=1 + i // per_act,
                position=i % per_act,
                title=f"Beat {i + 1}: the turn of the screw",
                summary="Mara finds the letter and hides it before Jonah sees. " * 3,
                sequence=f"Sequence {i // 10 + 1}",
                target_eighths=8 + i % 16,
                scene=scenes[i],
                created_by=user,
            )
            for i in range(n)
        )
        Beat.plotlines.through.objects.bulk_create(
            Beat.plotlines.through(beat=b, plotline=plots[j])
            for i, b in enumerate(beats)
            for j in {i % 4, (i * 7) % 4}
        )
        Beat.characters.through.objects.bulk_create(
            Beat.characters.through(beat=b, character=characters[j])
            for i, b in enumerate(beats)
            for j in (i % 6, (i + 1) % 6)
        )
    return project


def best_of(client, url, runs=5):
    times, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            resp = client.get(url)
            times.append(time.perf_counter() - t0)
        assert resp.status_code == 200, (url, resp.status_code)
        queries = len(ctx.captured_queries)
    return min(times), queries, len(resp.content)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=300)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"bench{time.time_ns()}", password="x" * 12)
    small = seed(user, 10)
    project = seed(user, args.cards)
    client = Client()
    client.force_login(user)
    board = reverse("board", args=[project.pk])
    script_stats.script_stats(project, wait=True)  # the page counts, as a warm server has them
    script_stats.script_stats(small, wait=True)
    client.get(board)  # warm-up: session, templates
    rows = [
        ("board", board),
        ("board: live fragment", board + "?fragment=1"),
        ("list view", board + "?view=list"),
        ("structure view", board + "?view=structure"),
        ("project page (scene list)", reverse("project_detail", args=[project.pk])),
    ]
    small_board = reverse("board", args=[small.pk])
    _, small_queries, _ = best_of(client, small_board, runs=1)
    print(f"\n{args.cards} cards, {args.cards} scenes; best of 5 (SQLite, this machine)")
    width = max(len(label) for label, _ in rows)
    for label, url in rows:
        seconds, queries, size = best_of(client, url)
        print(
            f"{label:{width}}  {seconds * 1000:6.0f} ms  {queries:3d} queries  {size / 1e3:5.0f} KB"
        )
    print(f"{'board with 10 cards':{width}}  {'':6}     {small_queries:3d} queries")


if __name__ == "__main__":
    main()
