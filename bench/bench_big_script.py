"""A very big script through the app: import, project page, page count header, reports —
the way it was and the way it is, side by side in one run.

    .venv/bin/python bench/bench_big_script.py                # 6,840 scenes, fresh SQLite
    .venv/bin/python bench/bench_big_script.py --scenes 2000  # quicker

The script is ``tests/scripts_app/formats/generate.py``'s feature script at that many scenes
(every Fountain element). "Before" is measured with the code paths the old views used:
the project page with every scene listed (the page size set past the script's length), the
header and the reports laid out on every view (``exports.project_report``). "After" is
the paginated page and the figures cached per script state (``scripts_app/script_stats.py``):
cold = the first view after a change (the layout), warm = every later view.
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
os.environ.setdefault("COWRITE_IMPORT_MAX_SCENES", "20000")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from scripts_app import exports, imports, script_stats, views  # noqa: E402
from tests.scripts_app.formats.generate import feature_script  # noqa: E402


def timed(fn):
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=6840)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"bench{time.time_ns()}", password="x" * 12)
    source = feature_script(scenes=args.scenes).encode()
    print(f"\nscript: {args.scenes:,} scenes, {len(source) / 1e6:.1f} MB")
    rows = []

    t_sync, project = timed(
        lambda: imports.script_import(user=user, upload=source, filename="big.fountain")
    )
    steps = []
    t_steps, _ = timed(
        lambda: imports.script_import_in_steps(
            user=user,
            upload=source,
            filename="big.fountain",
            project=None,
            progress=lambda done, total: steps.append(done),
        )
    )
    rows.append(
        (
            "import (one request)",
            f"{t_sync:.1f} s in the request",
            f"{t_steps:.1f} s as a job, {len(steps)} progress steps",
        )
    )

    client = Client()
    client.force_login(user)
    page_url = reverse("project_detail", args=[project.pk])
    client.get(page_url)  # warm-up: session, templates
    per_page = views.SCENES_PER_PAGE
    views.SCENES_PER_PAGE = 10**9  # the old page: every scene in one list
    t_old, old = timed(lambda: client.get(page_url))
    views.SCENES_PER_PAGE = per_page
    t_new, new = timed(lambda: client.get(page_url))
    rows.append(
        (
            "project page",
            f"{t_old:.2f} s, {len(old.content) / 1e6:.1f} MB",
            f"{t_new:.2f} s, {len(new.content) / 1e3:.0f} KB",
        )
    )
    t_part, part = timed(
        lambda: client.get(
            reverse("project_scenes", args=[project.pk]), {"page": 17}, HTTP_HX_REQUEST="true"
        )
    )
    rows.append(
        (
            "scene list page 17 (htmx partial)",
            "—",
            f"{t_part:.2f} s, {len(part.content) / 1e3:.0f} KB",
        )
    )

    t_old_report, _ = timed(lambda: exports.project_report(project))
    script_stats.forget(project.pk)
    length_url = reverse("script_length", args=[project.pk])
    t_cold_view, cold = timed(lambda: client.get(length_url))
    assert b"counting pages" in cold.content
    # The refresh the cold view started runs on a thread: wait for it, timed from the view.
    t0 = time.perf_counter()
    while script_stats.stats_cache().get(f"script-stats:{project.pk}") is None:
        time.sleep(0.05)
    t_cold = t_cold_view + time.perf_counter() - t0
    t_warm, warm = timed(lambda: client.get(length_url))
    rows.append(
        (
            "header page count",
            f"{t_old_report:.1f} s every view",
            f'cold {t_cold_view:.2f} s ("counting pages…"; counted in {t_cold:.1f} s '
            f"in the background), warm {t_warm * 1000:.0f} ms: {warm.content.decode()}",
        )
    )

    reports_url = reverse("script_reports", args=[project.pk])
    t_old_reports = t_old_report  # the old view laid out the script on every view
    script_stats.forget(project.pk)
    t_cold_r, _ = timed(lambda: client.get(reports_url))
    t_warm_r, body = timed(lambda: client.get(reports_url))
    rows.append(
        (
            "reports page",
            f"≥ {t_old_reports:.1f} s every view (layout alone)",
            f"cold {t_cold_r:.1f} s, warm {t_warm_r:.2f} s ({len(body.content) / 1e6:.1f} MB)",
        )
    )

    # One scene changes (a save or a compaction): stale figures at once, one refresh.
    scene = project.scenes.order_by("position").first()
    scene.text += "\nA new line of action.\n"
    scene.save(update_fields=["text", "updated_at"])
    t_stale, stale = timed(lambda: client.get(length_url))
    rows.append(
        (
            "header after a scene changes",
            f"{t_old_report:.1f} s",
            f"{t_stale * 1000:.0f} ms (old figures, “updating…”; one recount in the background)",
        )
    )
    while script_stats.stats_cache().get(f"script-stats:{project.pk}")["sig"] != (
        script_stats.signature(project)
    ):
        time.sleep(0.05)

    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  before | after")
    for label, before, after in rows:
        print(f"{label:{width}}  {before} | {after}")


if __name__ == "__main__":
    main()
