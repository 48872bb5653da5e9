"""Export the team's feedback as TRL JSONL datasets.

    python manage.py export_feedback OUT_DIR [--project ID ...]

Writes ``preference.jsonl`` ({"prompt", "chosen", "rejected"}), ``unpaired.jsonl``
({"prompt", "completion", "label"}), ``sft.jsonl`` ({"prompt", "completion"}) and a
``.heldout.jsonl`` twin of each (the held-out split, never trained on). The rules of what
is included are ``generation/datasets.py``'s: only projects that allow training, only
feedback of members who have not opted out.
"""

from django.core.management.base import BaseCommand

from generation import datasets


class Command(BaseCommand):
    help = "Export feedback (ratings, picks, edits, scenes) as TRL JSONL files."

    def add_arguments(self, parser):
        parser.add_argument("out_dir")
        parser.add_argument("--project", type=int, action="append", help="only these projects")

    def handle(self, *args, **o):
        ds = datasets.build_dataset(project_ids=o["project"])
        counts = datasets.write_export(ds, o["out_dir"])
        for name, n in counts.items():
            self.stdout.write(f"{name}: {n}")
