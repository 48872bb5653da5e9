"""The feedback-loop experiment: does retraining on ratings make the drafts rate higher?

    python manage.py feedback_experiment --model models/tiny-v1 --rounds 5 --seed 0
    python manage.py feedback_experiment --synthetic --rounds 3      # the fast setting

The experiment itself (both settings, the loop, the rater's tastes, what each round
measures) is ``generation/core/experiment.py``, free of Django; this command parses the
arguments, finds the model (``--model``, else the active version) and the bootstrap
corpus, and prints the per-round table.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from django.core.management.base import BaseCommand, CommandError

from generation.core.checkpoint import load_version
from generation.core.experiment import run_corpus_experiment, run_experiment
from generation.core.rater import TASTES
from generation.services import active_version, bootstrap_corpus_dir


class Command(BaseCommand):
    help = "Run the scripted-rater feedback loop and print per-round metrics."

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            help="a version folder to start from (corpus setting), e.g. models/tiny-v1; "
            "default: the active version",
        )
        parser.add_argument(
            "--corpus",
            help="the bootstrap corpus folder (default: the app's, data/corpus/shakespeare)",
        )
        parser.add_argument(
            "--synthetic", action="store_true", help="the fast synthetic setting instead"
        )
        parser.add_argument("--rounds", type=int, default=5)
        parser.add_argument("--prompts", type=int, default=48, help="training prompts")
        parser.add_argument("--held-out", type=int, default=32, help="held-out prompts")
        parser.add_argument("--alternatives", type=int, default=6)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sft-steps", type=int, default=40)
        parser.add_argument("--dpo-steps", type=int, default=40)
        parser.add_argument("--max-new-tokens", type=int, default=64)
        parser.add_argument("--temperature", type=float, default=0.9)
        parser.add_argument(
            "--replay", type=float, default=3.0, help="general windows per SFT example"
        )
        parser.add_argument(
            "--taste",
            choices=TASTES,
            help="the rater's taste (generation/core/rater.py); default: brisk on the corpus "
            "setting (a first-recipe model never names the cast; a story-recipe one does: "
            "docs/BENCHMARKS.md runs it with --taste cast), cast on the synthetic",
        )
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--base-steps", type=int, default=300, help="synthetic: pretraining")
        parser.add_argument("--corpus-docs", type=int, default=2000, help="synthetic: corpus size")
        parser.add_argument("--lr", type=float, default=3e-4, help="synthetic: learning rate")

    def handle(self, *args, **o):
        torch.set_num_threads(o["threads"])
        t0 = time.time()
        common = dict(
            rounds=o["rounds"],
            prompts=o["prompts"],
            held_out=o["held_out"],
            alternatives=o["alternatives"],
            seed=o["seed"],
            sft_steps=o["sft_steps"],
            dpo_steps=o["dpo_steps"],
            max_new_tokens=o["max_new_tokens"],
            replay=o["replay"],
            log=self.stdout.write,
        )
        if o["synthetic"]:
            run_experiment(
                taste=o["taste"] or "cast",
                base_steps=o["base_steps"],
                corpus_docs=o["corpus_docs"],
                lr=o["lr"],
                temperature=o["temperature"],
                **common,
            )
        else:
            path = o["model"]
            if not path:
                version = active_version()
                if version is None:
                    raise CommandError(
                        "No active model version: pass --model (a version folder) or --synthetic."
                    )
                path = version.path
            corpus = Path(o["corpus"]) if o["corpus"] else bootstrap_corpus_dir()
            if not (corpus / "val.jsonl").exists():
                raise CommandError(
                    f"No corpus in {corpus}: run `manage.py fetch_bootstrap_corpus` first."
                )
            model, tok, meta = load_version(path)
            self.stdout.write(
                f"model {path} ({model.num_params() / 1e6:.1f}M parameters), corpus {corpus}"
            )
            run_corpus_experiment(model, tok, corpus, temperature=o["temperature"], **common)
        self.stdout.write(f"total {time.time() - t0:.0f} s")
