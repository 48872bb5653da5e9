"""Coverage of a feature-length script, beside the reports page of the same script.

    .venv/bin/python bench/bench_coverage.py              # ~120 pages, fresh SQLite
    .venv/bin/python bench/bench_coverage.py --scenes 500

Seeds a project with a script of N scenes (varied lengths, six speaking characters, a
beat board over three acts, some slips for the problems list), then times, best of 5:

- the analysis alone (``formats.coverage.coverage`` on the scenes, no cache);
- the coverage page cold (its cache cleared before each run) and warm (cached: the
  script did not change);
- the reports page cold (``script_stats`` cleared: the script laid out again) and warm.

Ratios hold on noisy machines; absolute times do not. The issue's target: coverage of a
120-page script computed in under 2 s on this machine.
"""

import argparse
import os
import random
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
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from scripts_app import coverage as cov  # noqa: E402
from scripts_app import script_stats, services  # noqa: E402
from scripts_app.formats.coverage import coverage  # noqa: E402
from scripts_app.models import Beat, Revision, RevisionOrigin, Scene  # noqa: E402

NAMES = ("MARA", "JONAH", "IDA", "OSKAR", "LENA", "PIETRO")
LINES = (
    "We hold the line until the morning comes, whatever they say.",
    "You never told me why you came back here.",
    "Because the station is failing and nobody else will fix it.",
    "I hate this place. I love this place. Both.",
    "Tell me the truth for once.",
    "It's holding. For now.",
)
WORDS = [
    "storm",
    "hull",
    "light",
    "door",
    "signal",
    "morning",
    "truth",
    "station",
    "water",
    "cold",
    "brother",
    "promise",
    "key",
    "radio",
    "engine",
    "window",
    "silence",
    "alarm",
    "father",
    "river",
    "north",
    "quiet",
    "broken",
    "glass",
    "winter",
]
ACTION = (
    "Alarms pulse amber across the cracked displays. Water drips from a seam in the hull.",
    "She crosses to the window and looks out at the storm, counting the seconds.",
    "A long silence. Somewhere below, metal groans.",
)


def scene_text(rng: random.Random, i: int) -> str:
    parts = [rng.choice(ACTION)]
    for _ in range(rng.randint(4, 14)):
        who = rng.choice(NAMES[: 2 + i % 5])
        words = rng.choice(LINES).split() + rng.sample(WORDS, rng.randint(2, 9))
        parts.append(f"{who}\n{' '.join(words)}.")
        if rng.random() < 0.3:
            parts.append(rng.choice(ACTION))
    if i % 17 == 0:
        parts.append("JON\nWhere is everyone?")  # a likely misspelling of JONAH
    return "\n\n".join(parts) + "\n"


def seed(user, n: int):
    rng = random.Random(7)
    project = services.project_create(user=user, title=f"Coverage bench {n}")
    chars = [services.character_create(project=project, name=name) for name in NAMES]
    with transaction.atomic():
        scenes = Scene.objects.bulk_create(
            Scene(
                project=project,
                position=i,
                heading=f"{'INT' if i % 3 else 'EXT'}. STATION ROOM {i % 12} - "
                f"{'NIGHT' if i % 4 else 'DAY'}",
                text=scene_text(rng, i),
            )
            for i in range(n)
        )
        revisions = Revision.objects.bulk_create(
            Revision(scene=s, number=1, text=s.text, origin=RevisionOrigin.CREATE, author=user)
            for s in scenes
        )
        for s, r in zip(scenes, revisions, strict=True):
            s.head = r
        Scene.objects.bulk_update(scenes, ["head"])
        Scene.cast.through.objects.bulk_create(
            Scene.cast.through(scene=s, character=chars[j])
            for i, s in enumerate(scenes)
            for j in range(2 + i % 5)
        )
        per_act = -(-n // 3)
        Beat.objects.bulk_create(
            Beat(
                project=project,
                act=1 + i // per_act,
                position=i % per_act,
                title=f"Beat {i}",
                scene=s,
                created_by=user,
            )  # fmt: skip
            for i, s in enumerate(scenes)
        )
    return project


def best_of(fn, runs=5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=130)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"bench{time.time_ns()}", password="x" * 12)
    project = seed(user, args.scenes)
    client = Client()
    client.force_login(user)
    cov_url = reverse("script_coverage", args=[project.pk])
    rep_url = reverse("script_reports", args=[project.pk])
    client.get(rep_url)  # warm-up: session, templates, VADER's lexicon
    client.get(cov_url)
    inputs, _, _ = cov._inputs(project, None)
    result = coverage(inputs)

    def cold(url, forget):
        def run():
            forget()
            assert client.get(url).status_code == 200

        return run

    def forget_coverage():
        script_stats.stats_cache().delete(f"coverage:{project.pk}")

    rows = [
        ("analysis alone", best_of(lambda: coverage(inputs))),
        ("coverage page, cold", best_of(cold(cov_url, forget_coverage))),
        ("coverage page, cached", best_of(lambda: client.get(cov_url))),
        ("reports page, cold", best_of(cold(rep_url, lambda: script_stats.forget(project.pk)))),
        ("reports page, cached", best_of(lambda: client.get(rep_url))),
    ]
    print(
        f"\n{len(result.scenes)} scenes, {result.pages} pages, {len(result.characters)} "
        f"speaking characters, {len(result.problems)} problems; best of 5 (this machine)"
    )
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:{width}}  {seconds * 1000:7.0f} ms")
    ratio = rows[1][1] / rows[3][1]
    print(f"coverage page cold / reports page cold: {ratio:.1f}x")


if __name__ == "__main__":
    main()
