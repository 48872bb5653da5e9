"""Train a model version and register it.

    python manage.py train_model --preset tiny --corpus data/corpus/shakespeare --time-budget 600
    python manage.py train_model --version-id 3 --corpus data/corpus/shakespeare --resume

The first form registers a new version; the second trains (or resumes) a registered one
(that is how the embedded server runs its background training).
"""

import json

from django.core.management.base import BaseCommand, CommandError

from generation import services
from generation.models import ModelVersion


class Command(BaseCommand):
    help = "Train a model version on a built corpus and register it."

    def add_arguments(self, parser):
        parser.add_argument("--corpus", required=True, help="a corpus folder (build_corpus)")
        parser.add_argument("--version-id", type=int, help="train this registered version")
        parser.add_argument("--preset", default="tiny")
        parser.add_argument("--steps", type=int)
        parser.add_argument("--time-budget", type=float, help="seconds")
        parser.add_argument("--batch-size", type=int, default=16)
        parser.add_argument("--lr", type=float, default=2e-3)
        parser.add_argument("--seed", type=int, default=1337)
        parser.add_argument("--parent", help="name of a version to fine-tune from")
        parser.add_argument("--resume", action="store_true")

    def handle(self, *args, **o):
        if o["version_id"]:
            try:
                version = ModelVersion.objects.get(pk=o["version_id"])
            except ModelVersion.DoesNotExist:
                raise CommandError(f"No model version {o['version_id']}.") from None
        else:
            if not (o["steps"] or o["time_budget"]):
                raise CommandError("Give --steps or --time-budget.")
            parent = None
            if o["parent"]:
                parent = ModelVersion.objects.filter(name=o["parent"]).first()
                if parent is None:
                    raise CommandError(f"No model version called {o['parent']}.")
            cfg = {
                "preset": o["preset"],
                "steps": o["steps"],
                "time_budget": o["time_budget"],
                "batch_size": o["batch_size"],
                "lr": o["lr"],
                "seed": o["seed"],
            }
            version = services.version_create(
                preset=o["preset"], train_config=cfg, parent=parent, started_via="command"
            )
        self.stdout.write(f"Training {version.name} into {version.path} …")
        version = services.training_run(
            version_id=version.pk, corpus_dir=o["corpus"], resume=o["resume"]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{version.name}: {version.status}; metrics {json.dumps(version.metrics)}"
            )
        )
