"""Services of the generation app: model versions, training runs, the bootstrap model.

The heavy lifting is in ``generation/core`` (no Django there); this module records what
happens in the database and decides where a training run executes:

- distributed (``REDIS_URL`` set): a Celery task on the ``training`` queue;
- embedded: a child process (``manage.py train_model``), so the web process stays
  responsive while PyTorch uses the CPU cores.
"""

import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ModelEvent, ModelEventKind, ModelVersion, StartedVia, VersionStatus

log = logging.getLogger(__name__)

# A training run that has not reported progress for this long is considered dead.
STALE_TRAINING_SECONDS = 300


def active_version() -> ModelVersion | None:
    """Return the version that serves drafts, if any."""
    return ModelVersion.objects.filter(status=VersionStatus.ACTIVE).first()


def bootstrap_corpus_dir() -> Path:
    return settings.DATA_DIR / "corpus" / "shakespeare"


def _next_name(preset: str) -> str:
    n = ModelVersion.objects.filter(preset=preset).count() + 1
    while ModelVersion.objects.filter(name=f"{preset}-v{n}").exists():
        n += 1
    return f"{preset}-v{n}"


def version_create(
    *,
    preset: str,
    train_config: dict,
    parent: ModelVersion | None = None,
    user=None,
    started_via: str = "",
) -> ModelVersion:
    """Register a version that is about to train (``started_via``: a ``StartedVia``)."""
    name = _next_name(preset)
    return ModelVersion.objects.create(
        name=name,
        preset=preset,
        folder=name,
        parent=parent,
        status=VersionStatus.TRAINING,
        train_config=train_config,
        created_by=user,
        started_via=started_via,
        progress={"step": 0, "progress": 0.0, "updated_at": time.time()},
    )


@transaction.atomic
def version_activate(*, version: ModelVersion, reason: str = "") -> ModelVersion:
    """Make ``version`` the one that serves drafts; the previous active one is retired."""
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status not in (VersionStatus.CANDIDATE, VersionStatus.RETIRED, VersionStatus.ACTIVE):
        raise ValueError(f"A {version.get_status_display().lower()} version cannot be activated.")
    if not (version.path / "model.safetensors").exists():
        raise ValueError(f"The weights of {version.name} are missing from {version.path}.")
    ModelVersion.objects.select_for_update().filter(status=VersionStatus.ACTIVE).exclude(
        pk=version.pk
    ).update(status=VersionStatus.RETIRED)
    version.status = VersionStatus.ACTIVE
    version.activated_at = timezone.now()
    if reason:
        version.status_reason = reason
    version.save(update_fields=["status", "activated_at", "status_reason"])
    return version


class ProgressRecorder:
    """Write a training run's progress to its row, at most every ``interval`` seconds."""

    def __init__(self, version_id: int, interval: float = 2.0):
        self.version_id, self.interval, self.last = version_id, interval, 0.0
        self.curve: list[list[float]] = []

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "step":
            self.curve.append([event["step"], round(event["loss"], 4)])
        now = time.time()
        if kind == "step" and now - self.last < self.interval:
            return
        self.last = now
        fields = {
            "progress": {**{k: v for k, v in event.items() if _jsonable(v)}, "updated_at": now}
        }
        if kind in ("step", "done"):
            fields["loss_curve"] = self.curve[-500:]  # enough for the chart
        ModelVersion.objects.filter(pk=self.version_id).update(**fields)


def _jsonable(v) -> bool:
    return isinstance(v, (int, str, bool)) or (
        isinstance(v, float) and v == v and abs(v) != float("inf")
    )


def version_failed(*, version_id: int, what: str, exc: BaseException) -> None:
    """Mark a run failed with the reason; the active version is left as it is."""
    ModelVersion.objects.filter(pk=version_id).update(
        status=VersionStatus.FAILED,
        status_reason=f"{what} failed: {type(exc).__name__}: {exc}",
        finished_at=timezone.now(),
    )


def training_run(*, version_id: int, corpus_dir: str, resume: bool = False) -> ModelVersion:
    """Train a registered version to completion (in this process) and record the result.

    A crash leaves the version ``failed`` with the reason; the active version is untouched.
    """
    # Function-level: the trainer imports torch; only a training process runs this (the
    # web process imports this module for its other services).
    from generation.core.train import TrainConfig, train

    version = ModelVersion.objects.get(pk=version_id)
    cfg = TrainConfig(**version.train_config)
    if version.parent is not None and not cfg.init_from:
        cfg.init_from = str(version.parent.path)
    recorder = ProgressRecorder(version.pk)
    processes = int(getattr(settings, "COWRITE_TRAIN_PROCESSES", 1))
    try:
        if processes > 1:
            meta = _train_distributed(cfg, corpus_dir, version, recorder, resume, processes)
        else:
            meta = train(
                cfg, corpus_dir, version.path, progress_cb=recorder, resume=resume, console=False
            )
    except BaseException as exc:
        version_failed(version_id=version.pk, what="Training", exc=exc)
        raise
    version.refresh_from_db()
    version.metrics = meta.get("metrics", {})
    version.steps = meta.get("steps", 0)
    version.params = meta.get("params", 0)
    version.corpus_hash = meta.get("corpus_hash") or ""
    version.train_config = asdict(cfg)
    version.status = VersionStatus.CANDIDATE
    version.finished_at = timezone.now()
    version.progress = {**version.progress, "progress": 1.0, "updated_at": time.time()}
    version.save()
    if active_version() is None:
        version_activate(version=version, reason="The first trained model is activated.")
        ModelEvent.objects.create(version=version, kind=ModelEventKind.FIRST_ACTIVATED)
        version.refresh_from_db()
    return version


def _train_distributed(cfg, corpus_dir, version, recorder, resume: bool, processes: int) -> dict:
    """Train under ``torchrun`` with ``processes`` local processes (DDP: NCCL on GPUs,
    gloo on CPU; ``core/distributed.py``): the trainer's CLI in child processes, its
    progress read back from a JSON-lines file into the version's row while it runs; the
    result is the version folder's metadata, as in-process training returns it."""
    from generation.core.distributed import torchrun_command

    out = Path(version.path)
    out.parent.mkdir(parents=True, exist_ok=True)
    progress = out.parent / f".progress-{version.pk}.jsonl"
    progress.unlink(missing_ok=True)
    log_path = out.parent / f".torchrun-{version.pk}.log"
    args = ["--config-json", json.dumps(asdict(cfg)), "--corpus", str(corpus_dir)]
    args += ["--out", str(out), "--progress-file", str(progress)]
    if resume:
        args.append("--resume")
    offset = 0

    def feed() -> None:
        nonlocal offset
        if not progress.exists():
            return
        with open(progress, encoding="utf-8") as f:
            f.seek(offset)
            for line in f:
                if not line.endswith("\n"):
                    break  # half-written: read it next time
                offset += len(line.encode("utf-8"))
                recorder(json.loads(line))

    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            torchrun_command(processes, args),
            cwd=settings.BASE_DIR,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            while proc.poll() is None:
                time.sleep(1.0)
                feed()
        except BaseException:
            proc.terminate()
            proc.wait(30)
            raise
    feed()
    progress.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"torchrun with {processes} processes exited with {proc.returncode}: "
            f"{_child_error(log_path.read_text(errors='replace'))} (log: {log_path})"
        )
    return json.loads((out / "metadata.json").read_text(encoding="utf-8"))


def _child_error(log: str) -> str:
    """The training process's own error from a torchrun log (not the launcher's
    ``ChildFailedError`` report around it)."""
    lines = (re.sub(r"^\[rank\d+\]:\s*", "", line.strip()) for line in log.splitlines())
    errors = [
        line
        for line in lines
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt)\b.*:", line.strip())
        and "ChildFailedError" not in line
    ]
    return errors[-1][:1000] if errors else log[-1000:]


def bootstrap_train_config() -> dict:
    """The first-start recipe: the ``tiny`` preset on the Shakespeare corpus, on the CPU.

    The story recipe (``recipe.py``) with a 512-token block. Two torch threads while the
    machine is otherwise idle, one while the web app or a worker needs a core
    (``train.ThreadGovernor``). Measured in docs/BENCHMARKS.md ("Drafts that follow the
    story").
    """
    return {
        "preset": "tiny",
        "time_budget": float(settings.COWRITE_BOOTSTRAP_SECONDS),
        "batch_size": 8,
        "warmup_steps": 50,
        "lr": 2e-3,
        "seed": 1337,
        "threads": 2,
        "adaptive_threads": True,
    }


def training_is_alive(version: ModelVersion) -> bool:
    updated = (version.progress or {}).get("updated_at", 0)
    return time.time() - updated < STALE_TRAINING_SECONDS


def bootstrap_status() -> str:
    """Say whether a first model exists ("ready"), is training, or cannot be trained."""
    if ModelVersion.objects.filter(status=VersionStatus.ACTIVE).exists():
        return "ready"
    running = ModelVersion.objects.filter(status=VersionStatus.TRAINING).first()
    if running and training_is_alive(running):
        return "training"
    if not (bootstrap_corpus_dir() / "manifest.json").exists():
        return "no-corpus"
    return "needed"


def bootstrap_start(*, launch=True) -> ModelVersion | None:
    """Start (or resume) training the first model when none exists; return its version.

    A run left dead by a restart is resumed from its last checkpoint.
    """
    status = bootstrap_status()
    if status in ("ready", "training"):
        return ModelVersion.objects.filter(
            status__in=[VersionStatus.ACTIVE, VersionStatus.TRAINING]
        ).first()
    if status == "no-corpus":
        log.warning(
            "No bootstrap corpus in %s: run `make run` (it fetches the plays at setup).",
            bootstrap_corpus_dir(),
        )
        return None
    stale = ModelVersion.objects.filter(status=VersionStatus.TRAINING).first()
    resume = stale is not None and (stale.path / "resume").exists()
    version = stale or version_create(
        preset="tiny", train_config=bootstrap_train_config(), started_via=StartedVia.FIRST_START
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        progress={**(version.progress or {}), "updated_at": time.time()}
    )
    if launch:
        training_launch(version=version, corpus_dir=bootstrap_corpus_dir(), resume=resume)
    return version


def training_launch(*, version: ModelVersion, corpus_dir: Path, resume: bool = False) -> None:
    """Run ``training_run`` where this deployment runs long jobs (see module docstring)."""
    argv = ["train_model", "--version-id", str(version.pk), "--corpus", str(corpus_dir)]
    if resume:
        argv.append("--resume")
    background_launch(
        name=version.name,
        task="generation.tasks.train_version",
        kwargs={"version_id": version.pk, "corpus_dir": str(corpus_dir), "resume": resume},
        manage_argv=argv,
    )


def background_launch(*, name: str, task: str, kwargs: dict, manage_argv: list[str]) -> None:
    """Start a long job after the current transaction commits: the Celery task named
    ``task`` (sent by name: the task modules call this one, not the other way round) on
    the ``training`` queue with REDIS_URL, else ``manage.py <manage_argv>`` as a detached child
    process logging to ``DATA_DIR/training-<name>.log`` (the web process stays responsive,
    and the job survives a restart of the server)."""
    if settings.REDIS_URL:
        transaction.on_commit(lambda: current_app.send_task(task, kwargs=kwargs, queue="training"))
        return
    cmd = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), *manage_argv]
    log_path = settings.DATA_DIR / f"training-{name}.log"

    def spawn():
        with open(log_path, "ab") as log_file:
            subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        log.info("%s runs in the background; log: %s", name, log_path)

    transaction.on_commit(spawn)
