"""Build a training corpus (one Fountain document per scene, fixed train/val split).

    python manage.py build_corpus data/corpus/mine scripts/*.fountain plays/ --projects
    python manage.py build_corpus data/corpus/shakespeare --bootstrap

Sources: ``.fountain``, ``.fdx`` and plain-text (``.txt``) stage plays, files or folders;
``--projects`` adds the scenes of projects whose owners allow training; ``--bootstrap``
the Shakespeare plays fetched at setup. Bad files are reported and skipped; the corpus is
written whole or not at all.
"""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.core.corpus import build_corpus
from generation.core.shakespeare import SDIST_NAME, VAL_PLAYS, iter_play_sources
from generation.corpus_sources import fdx_reader, project_documents


class Command(BaseCommand):
    help = "Build a training corpus from files, the projects that allow it, or the bootstrap plays."

    def add_arguments(self, parser):
        parser.add_argument("out", help="the corpus folder to write")
        parser.add_argument("paths", nargs="*", help=".fountain/.fdx/.txt files or folders")
        parser.add_argument("--projects", action="store_true", help="add projects' scenes")
        parser.add_argument("--bootstrap", action="store_true", help="add the Shakespeare plays")
        parser.add_argument("--val-fraction", type=float, default=0.1)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, out, paths, projects, bootstrap, val_fraction, seed, **options):
        sources: list = [Path(p) for p in paths]
        val_groups = []
        if bootstrap:
            sdist = settings.DATA_DIR / "shakespeare" / SDIST_NAME
            if not sdist.exists():
                raise CommandError(
                    f"{sdist} is missing: run `make run` or scripts/fetch_shakespeare.py."
                )
            sources += iter_play_sources(sdist)
            val_groups = list(VAL_PLAYS)
        if projects:
            sources += project_documents()
        if not sources:
            raise CommandError("Nothing to build from: give paths, --projects or --bootstrap.")
        manifest = build_corpus(
            sources,
            out,
            val_fraction=val_fraction,
            seed=seed,
            readers={".fdx": fdx_reader},
            val_groups=val_groups,
        )
        for skipped in manifest.get("skipped", []):
            self.stderr.write(f"skipped {skipped['name']}: {skipped['reason']}")
        summary = {k: manifest[k] for k in ("corpus_hash", "counts") if k in manifest}
        self.stdout.write(self.style.SUCCESS(f"Corpus written to {out}: {json.dumps(summary)}"))
