"""Import and export of a 120-page script through the app (database included), timed,
beside the independent tool screenplain rendering the same script to PDF.

    .venv/bin/python bench/bench_import.py            # best of 3, fresh SQLite database

Goal (issue): import under 2 s, PDF under 3 s on this machine. The pure-library steps
(parse, FDX, pagination) are in bench/bench_formats.py.
"""

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

from scripts_app.exports import export_project  # noqa: E402
from scripts_app.formats import fdx, fountain  # noqa: E402
from scripts_app.imports import script_import  # noqa: E402
from tests.scripts_app.formats.generate import feature_script  # noqa: E402


def best(fn, repeat=3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main():
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(f"bench{time.time_ns()}", password="x" * 12)
    source = feature_script()
    fdx_bytes = fdx.dumps(fountain.parse(source))
    rows = []
    t, project = best(
        lambda: script_import(user=user, upload=source.encode(), filename="feature.fountain")
    )
    rows.append(("import .fountain → new project (DB)", t))
    t, _ = best(lambda: script_import(user=user, upload=fdx_bytes, filename="feature.fdx"))
    rows.append(("import .fdx → new project (DB)", t))
    for fmt in ("fountain", "fdx", "html", "pdf"):
        t, _ = best(lambda fmt=fmt: export_project(project, fmt))
        rows.append((f"export {fmt} (from the DB)", t))
    try:
        import io

        from screenplain.export.pdf import to_pdf
        from screenplain.parsers import fountain as sp_fountain

        def independent():
            out = io.BytesIO()
            to_pdf(sp_fountain.parse(io.StringIO(source)), out)
            return out

        t, _ = best(independent)
        rows.append(("[screenplain] fountain → pdf", t))
    except ImportError:
        rows.append(("[screenplain] not installed", float("nan")))
    scenes = project.scenes.count()
    print(f"\n120-page script: {scenes} scenes, {len(source) / 1024:.0f} KiB; best of 3")
    for label, seconds in rows:
        print(f"{label:44}{seconds:8.3f} s")
    imp = max(rows[0][1], rows[1][1])
    pdf = next(s for label, s in rows if label.startswith("export pdf"))
    print(
        f"goal: import < 2 s ({imp:.2f}), PDF < 3 s ({pdf:.2f}) → {'met' if imp < 2 and pdf < 3 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
