"""Importing a full-length novel for adaptation: time and peak memory of each step.

    .venv/bin/python bench/bench_adaptation.py            # ~110k words, fresh SQLite
    .venv/bin/python bench/bench_adaptation.py --copies 20

The novel is the gold set's Pride and Prejudice chapters (public domain, Gutenberg #1342,
tests/fixtures/adaptation/pride.txt) repeated as numbered chapters until it passes 100k
words. Steps: reading (``formats/prose.read_prose``), the breakdown (cast, attribution,
scenes, Fountain: ``adaptation.adapt``), and the whole import into a new project
(``adaptation.adaptation_import``: read + breakdown + storing scenes, characters, the
source and its passages), then saving the names page once (``adaptation.confirm_names``:
three aliases merged into ELIZABETH, two names marked "not a person"; every scene is still
as imported, so every one is read again). Peak memory: the process's maximum resident size after each
step (``ru_maxrss``) and the Python allocations' peak (``tracemalloc``) of the import.
The issue's goal: import + breakdown of a ≥ 100k-word novel under 30 s on this machine.

Proposed headings: for the fixtures pride.txt and alice.txt and the novel, the share of
scene headings with an unknown place ("INT. ? - …") and an unknown time ("… - ?"), BEFORE
(the first rule, kept here as ``old_heading``: the first place word and the first time word
anywhere in the scene's narration) and AFTER (``formats/adaptation._locate``: locative
phrases, proper-noun places, the opening paragraphs first, continuity between scenes), and
a sample of 10 scenes side by side. ``--headings`` prints only that (no database work).
"""

import argparse
import os
import re
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
from scripts_app.formats import adaptation as core  # noqa: E402
from scripts_app.formats.prose import read_prose  # noqa: E402
from scripts_app.models import Character, SceneSource  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "adaptation"
FIXTURE = FIXTURES / "pride.txt"


def fixture_text(path: Path) -> str:
    """The fixture without its ``#`` comment lines (the source note)."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    return "\n".join(lines).strip()


def novel(copies: int) -> bytes:
    body = fixture_text(FIXTURE)
    parts = [f"CHAPTER {i + 1}\n\n{body}\n" for i in range(copies)]
    return ("Pride and Prejudice (repeated)\n\nby Jane Austen\n\n" + "\n".join(parts)).encode()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------- proposed headings

# The heading rule before the locative / continuity rules: the baseline.
OLD_INT = ["drawing-room", "drawing", "room", "parlour", "parlor", "room", "library", "hall",
           "kitchen", "chamber", "study", "house", "church", "inn", "ballroom", "assembly-room",
           "dining-room", "bedroom", "cottage", "tavern", "shop", "office", "cellar", "attic",
           "chapel", "castle", "palace", "lodgings"]  # fmt: skip
OLD_EXT = ["garden", "road", "park", "field", "fields", "street", "forest", "wood", "woods",
           "lane", "village", "yard", "lawn", "croquet-ground", "shore", "beach", "river",
           "bridge", "square", "courtyard", "meadow", "hill", "moor", "orchard", "churchyard",
           "highway"]  # fmt: skip
OLD_TIMES = [
    ("NIGHT", r"\b(?:night|midnight|dark)\b"),
    ("EVENING", r"\b(?:evening|dusk|sunset|supper)\b"),
    ("MORNING", r"\b(?:morning|dawn|sunrise|breakfast)\b"),
    ("DAY", r"\b(?:day|noon|afternoon|dinner|tea-time)\b"),
]


def old_heading(narrative: str) -> str:
    """The first rule: the first place word and the first time word of the narration."""
    low = narrative.lower()
    best = None
    for word, kind in [(w, "INT") for w in OLD_INT] + [(w, "EXT") for w in OLD_EXT]:
        m = re.search(rf"\b{re.escape(word)}\b", low)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), kind, word)
    where = f"{best[1]}. {best[2].upper().replace('-', ' ')}" if best else "INT. ?"
    first = None
    for label, pat in OLD_TIMES:
        m = re.search(pat, low)
        if m and (first is None or m.start() < first[0]):
            first = (m.start(), label)
    return f"{where} - {first[1] if first else '?'}"


def heading_rows(book) -> list[tuple[str, str, str]]:
    """(before, after, synopsis) of every scene, the chapters as ``adaptation.adapt`` reads
    them (one cast for the book, the front matter skipped)."""
    story = adaptation.story_chapters(book)
    everything = [p.text for i in sorted(story) for p in book.chapters[i].paragraphs]
    cast = core.find_cast(everything)
    rows = []
    for ci, chapter in enumerate(book.chapters):
        paragraphs = [p.text for p in chapter.paragraphs]
        if ci not in story:
            continue
        ctx = core._build_ctx(paragraphs, cast, core.attribute(paragraphs, cast))
        for cut in core.breakdown(paragraphs, cast, breaks=chapter.breaks):
            narrative = " ".join(
                ctx.masked[i]
                for i in range(cut.first, cut.last + 1)
                if not core._is_marker(paragraphs[i])
            )
            rows.append((old_heading(narrative), cut.heading, cut.synopsis))
    return rows


def unknown(headings: list[str]) -> tuple[float, float, float]:
    """Shares of headings with an unknown place, an unknown time, and both."""
    n = max(1, len(headings))
    place = [h.split(". ", 1)[1].startswith("?") for h in headings]
    when = [h.rsplit(" - ", 1)[1] == "?" for h in headings]
    both = [p and t for p, t in zip(place, when, strict=True)]
    return sum(place) / n, sum(when) / n, sum(both) / n


def print_headings(label: str, book) -> None:
    rows = heading_rows(book)
    print(f"\n{label}: {len(rows)} scenes   unknown place / unknown time / both")
    for name, col in (("before", 0), ("after", 1)):
        p, t, b = unknown([r[col] for r in rows])
        print(f"  {name:7}  {p:6.0%} {t:14.0%} {b:7.0%}")
    sample = rows if len(rows) <= 10 else [rows[i * len(rows) // 10] for i in range(10)]
    print(f"  {'before':26} {'after':38} synopsis")
    for before, after, synopsis in sample:
        print(f"  {before:26} {after:38} {synopsis[:56]}")


def headings_report(novel_book) -> None:
    for name in ("pride", "alice"):
        text = fixture_text(FIXTURES / f"{name}.txt").encode()
        print_headings(f"{name}.txt", read_prose(text, f"{name}.txt"))
    print_headings(f"the novel ({novel_book.words:,} words)", novel_book)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--headings", action="store_true", help="only the headings' figures")
    args = parser.parse_args()
    data = novel(args.copies)
    if args.headings:
        headings_report(read_prose(data, "pride.txt"))
        return
    call_command("migrate", verbosity=0)
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

    # Who is who saved on the names page: every scene untouched, so every one is read again.
    source = project.sources.get()
    choices = [
        adaptation.NameChoice("ELIZABETH", ["Lizzy", "Eliza", "Miss Eliza"], "keep"),
        *[
            adaptation.NameChoice(name, [], "merge", "ELIZABETH")
            for name in ("LIZZY", "LIZZIE", "MISS ELIZA")
            if name in source.cast
        ],
        *[
            adaptation.NameChoice(n, [], "none")
            for n in ("LONGBOURN", "ENGLAND")
            if n in source.cast
        ],
    ]
    t0 = time.perf_counter()
    result = adaptation.confirm_names(source=source, user=user, choices=choices)
    names_s = time.perf_counter() - t0
    print(
        f"who is who saved         {names_s:7.2f} s   ({result.reread} scenes read again, "
        f"{len(result.merged)} merges; in the request)"
    )
    headings_report(book)


if __name__ == "__main__":
    main()
