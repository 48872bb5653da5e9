"""Production revisions on a feature: what locking pages and marking revisions costs over
the plain layout, side by side in one run.

    .venv/bin/python bench/bench_production.py              # 140 scenes (~115 pages)
    .venv/bin/python bench/bench_production.py --scenes 700 # a very long script

Baseline: ``pagination.lay_out`` of the script (what the page count and the PDF do).
Production: ``production.build`` against the last issue (parse per scene, the element diff,
numbering, marks) plus the locked layout, for the script unchanged since the lock and
after a revision (every 7th scene edited, one scene deleted, one added). Also the
production PDF against the plain PDF. Pure ``scripts_app/formats``: no database.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts_app.formats import pdf  # noqa: E402
from scripts_app.formats import production as P  # noqa: E402
from scripts_app.formats.pagination import lay_out  # noqa: E402
from tests.scripts_app.formats.generate import feature_script, split_scenes  # noqa: E402


def scenes_of(text: str) -> list[P.SceneText]:
    return [P.SceneText(i, h, body) for i, (h, body) in enumerate(split_scenes(text), 1)]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=140)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    scenes = scenes_of(feature_script(args.scenes))
    white = P.lock(scenes, "12/01/26")
    revised = [
        P.SceneText(s.id, s.heading, s.text + "\n\nA new line of action for the revision.\n")
        if i % 7 == 0
        else s
        for i, s in enumerate(scenes)
        if i != len(scenes) // 2
    ] + [P.SceneText(10**6, "EXT. NEW PLACE - DAY", "Wind.\n")]
    prod_same = P.build(scenes, [white])
    prod_rev = P.build(revised, [white])
    pages = len(prod_rev.lay_out().pages)
    print(f"{len(scenes)} scenes, {len(prod_same.script.elements)} printed elements, "
          f"{len(white.pages)} locked pages; revised: {prod_rev.changed} marked elements, "
          f"{pages} pages")  # fmt: skip
    rows = [
        ("lay out (baseline)", lambda: lay_out(prod_same.script)),
        ("build + locked layout, unchanged", lambda: P.build(scenes, [white]).lay_out()),
        ("build + locked layout, revised", lambda: P.build(revised, [white]).lay_out()),
        ("issue a revision (snapshot)", lambda: prod_rev.issue("12/02/26")),
        ("PDF (baseline)", lambda: pdf.render_pdf(prod_same.script, scene_numbers=True)),
        (
            "production PDF, revised",
            lambda: pdf.render_pdf(
                prod_rev.script, scene_numbers=True, locks=prod_rev.locks, revisions={1: "Blue"}
            ),
        ),
    ]
    base = {}
    print(f"{'':36} {'best s':>8} {'median s':>9} {'× baseline':>11}")
    for name, fn in rows:
        b, m = best(fn, args.repeat)
        key = "pdf" if "PDF" in name else "layout"
        base.setdefault(key, b)
        print(f"{name:36} {b:8.3f} {m:9.3f} {b / base[key]:10.2f}×")


if __name__ == "__main__":
    main()
