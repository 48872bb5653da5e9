"""Importing a full-length novel for adaptation: time and peak memory of each step.

    .venv/bin/python bench/bench_adaptation.py            # ~110k words, fresh SQLite
    .venv/bin/python bench/bench_adaptation.py --copies 20

The novel is the gold set's Pride and Prejudice chapters (public domain, Gutenberg #1342,
tests/fixtures/adaptation/pride.txt) repeated as numbered chapters until it passes 100k
words. Steps: reading (``formats/prose.read_prose``), the breakdown (cast, attribution,
scenes, Fountain: ``adaptation.adapt``), and the whole import into a new project
(``adaptation.adaptation_import``: read + breakdown + storing scenes, characters, the
source and its passages). Peak memory: the process's maximum resident size after each
step (``ru_maxrss``) and the Python allocations' peak (``tracemalloc``) of the import.
The issue's goal: import + breakdown of a ≥ 100k-word novel under 30 s on this machine.
"""

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if not os.environ.get("DATABASE_URL"):
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="cowrite-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from scripts_app import adaptation  # noqa: E402
from scripts_app.formats.prose import read_prose  # noqa: E402
from scripts_app.models import Character, SceneSource  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "adaptation" / "pride.txt"


def novel(copies: int) -> bytes:
    lines = [
        ln for ln in FIXTURE.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")
    ]
    body = "\n".join(lines).strip()
    parts = [f"CHAPTER {i + 1}\n\n{body}\n" for i in range(copies)]
    return ("Pride and Prejudice (repeated)\n\nby Jane Austen\n\n" + "\n".join(parts)).encode()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=12)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    data = novel(args.copies)
    settings.COWRITE_BOOK_MAX_BYTES = max(settings.COWRITE_BOOK_MAX_BYTES, len(data) + 1)
    user = get_user_model().objects.create_user(f"bench{time.time_ns()}", password="x" * 12)

    t0 = time.perf_counter()
    book = read_prose(data, "pride.txt")
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    adapted = adaptation.adapt(book)
    adapt_s = time.perf_counter() - t0
    rss_after_adapt = rss_mb()

    tracemalloc.start()
    t0 = time.perf_counter()
    project = adaptation.adaptation_import(user=user, data=data, filename="pride.txt")
    import_s = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    scenes = SceneSource.objects.filter(scene__project=project).count()
    characters = Character.objects.filter(project=project).count()
    print(
        f"\n{book.words:,} words, {len(data) / 1e6:.1f} MB, {len(book.chapters)} chapters → "
        f"{scenes} scenes, {characters} characters (this machine)"
    )
    print(f"read the text            {read_s:7.2f} s")
    print(f"breakdown (no database)  {adapt_s:7.2f} s   ({len(adapted.scenes)} scenes)")
    print(f"whole import             {import_s:7.2f} s   (read + breakdown + store)")
    print(f"peak resident memory     {max(rss_after_adapt, rss_mb()):7.0f} MB (the whole process)")
    print(f"import's Python peak     {peak / 1e6:7.0f} MB (tracemalloc)")


if __name__ == "__main__":
    main()
