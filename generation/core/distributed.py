"""Data-parallel training helpers: who am I under ``torchrun``, and how to launch it.

``train.py`` runs as one process per device when started by ``torchrun``
(``torch.distributed.run``), which sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in
each process's environment. Without them (or with ``WORLD_SIZE=1``) training is the plain
single-process run and no process group is created.

How to run on a GPU box (one process per GPU, here 8; from the repository root)::

    python -m torch.distributed.run --standalone --nproc_per_node=8 \\
        -m generation.core.train --corpus data/corpus/shakespeare --out models/small-v2 \\
        --preset small --steps 3000 --batch-size 64

``--batch-size`` stays the *global* batch (each of the 8 processes takes 8 rows of the
64), so a run's result does not depend on the process count (see ``train.train``). On CPU
the processes use the ``gloo`` backend: ``torchrun_command(2, [...])`` builds such a
launch (what ``tests/generation/core/test_ddp.py`` runs).

Helpers: ``is_distributed()``, ``rank()``, ``local_rank()``, ``world_size()``,
``is_main()``, ``shard_size(batch_size, world)`` (the batch-divisibility check) and
``torchrun_command(nproc, train_args)``.
"""

from __future__ import annotations

import os
import sys


def world_size() -> int:
    """The number of training processes (``WORLD_SIZE``; 1 when not under ``torchrun``)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_distributed() -> bool:
    """True when launched as more than one process (``WORLD_SIZE`` > 1)."""
    return world_size() > 1


def rank() -> int:
    """This process's global rank (``RANK``; 0 when not distributed)."""
    return int(os.environ.get("RANK", "0") or 0) if is_distributed() else 0


def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``): the CUDA device it uses."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0) if is_distributed() else 0


def is_main() -> bool:
    """True on the process that writes files, logs and reports progress (rank 0)."""
    return rank() == 0


def shard_size(batch_size: int, world: int) -> int:
    """Return the rows per process of a global batch of ``batch_size`` split over ``world``
    processes; ``ValueError`` unless it splits evenly (an uneven split would weight the
    processes' gradients unequally and break the equivalence with a single-process run)."""
    if world < 1:
        raise ValueError(f"world size must be >= 1, got {world}")
    if batch_size < world or batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} does not split evenly over {world} processes: "
            f"give a --batch-size that is a multiple of the process count ({world})"
        )
    return batch_size // world


def torchrun_command(nproc: int, train_args: list[str]) -> list[str]:
    """The command line that trains with ``nproc`` local processes (one machine)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "generation.core.train",
        *train_args,
    ]
