"""The Django side of the model: corpus command, training runs, versions, bootstrap, page."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from generation import services
from generation.models import ModelVersion, VersionStatus
from scripts_app import services as script_services

SCENE = """INT. KITCHEN - NIGHT

Rain against the window. ANNA stirs a pot.

ANNA
(quietly)
You came back.

BEN
I said I would.

EXT. ROAD - CONTINUOUS

Headlights sweep across the hedges.

BEN
We should go before it floods.
"""


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path
    return settings.MODEL_DIR


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12):
        (src / f"script{i}.fountain").write_text(SCENE.replace("ANNA", f"ANNA{i}"))
    (src / "broken.fountain").write_bytes(b"\x00\x01\x02binary")
    out = tmp_path / "corpus"
    call_command("build_corpus", str(out), str(src), "--val-fraction", "0.3", "--seed", "1")
    return out


def test_build_corpus_reports_bad_files_and_adds_allowed_projects(db, tmp_path, team):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.fountain").write_text(SCENE)
    (src / "junk.fountain").write_bytes(b"\x00\x00\xff")
    team.project.allow_training = True
    team.project.save()
    other = script_services.project_create(user=team.users["outsider"], title="Private")
    script_services.scene_create(
        project=other, user=team.users["outsider"], heading="INT. X - DAY", text="PRIVATE TEXT"
    )
    out = tmp_path / "corpus"
    call_command("build_corpus", str(out), str(src), "--projects")
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["name"].split("/")[-1] for s in manifest["skipped"]] == ["junk.fountain"]
    texts = "".join((out / f).read_text() for f in ("train.jsonl", "val.jsonl"))
    assert "Alarms pulse amber." in texts  # the project that allows training
    assert "PRIVATE TEXT" not in texts  # a project that does not


@pytest.mark.slow
def test_train_model_registers_an_active_version_with_metrics(db, model_dir, corpus):
    call_command(
        "train_model",
        "--corpus",
        str(corpus),
        "--preset",
        "tiny",
        "--steps",
        "6",
        "--batch-size",
        "2",
    )
    version = ModelVersion.objects.get()
    assert version.status == VersionStatus.ACTIVE  # the first model is activated
    assert version.val_bpb is not None and version.val_bpb > 0
    assert version.steps == 6 and version.params > 0
    assert version.loss_curve and version.progress["progress"] == 1.0
    for name in ("model.safetensors", "config.json", "tokenizer.json", "metadata.json"):
        assert (version.path / name).exists(), name
    assert services.active_version() == version
    # A second run is a candidate, not silently activated.
    call_command(
        "train_model",
        "--corpus",
        str(corpus),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--parent",
        version.name,
    )
    child = ModelVersion.objects.exclude(pk=version.pk).get()
    assert child.status == VersionStatus.CANDIDATE and child.parent == version
    services.version_activate(version=child)
    version.refresh_from_db()
    assert version.status == VersionStatus.RETIRED
    assert services.active_version() == child


def test_a_failed_run_is_marked_failed_and_leaves_the_active_version(db, model_dir, tmp_path):
    (model_dir / "tiny-v1").mkdir(parents=True)
    (model_dir / "tiny-v1" / "model.safetensors").write_bytes(b"x")
    active = ModelVersion.objects.create(
        name="tiny-v1", preset="tiny", folder="tiny-v1", status="candidate"
    )
    services.version_activate(version=active)
    version = services.version_create(preset="tiny", train_config={"preset": "tiny", "steps": 3})
    with pytest.raises(FileNotFoundError):
        services.training_run(version_id=version.pk, corpus_dir=str(tmp_path / "no-such-corpus"))
    version.refresh_from_db()
    assert version.status == VersionStatus.FAILED and "FileNotFoundError" in version.status_reason
    assert services.active_version() == active


def test_only_one_version_is_active(db, model_dir):
    from django.db import IntegrityError, transaction

    ModelVersion.objects.create(name="a", preset="tiny", folder="a", status="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(name="b", preset="tiny", folder="b", status="active")
    missing = ModelVersion.objects.create(name="c", preset="tiny", folder="c", status="candidate")
    with pytest.raises(ValueError, match="weights"):
        services.version_activate(version=missing)


def test_bootstrap_status_and_start(db, model_dir, corpus, settings):
    assert services.bootstrap_status() == "no-corpus"
    target = services.bootstrap_corpus_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(corpus, target)
    assert services.bootstrap_status() == "needed"
    version = services.bootstrap_start(launch=False)
    assert version.status == VersionStatus.TRAINING and version.preset == "tiny"
    assert services.bootstrap_status() == "training"
    assert services.bootstrap_start(launch=False) == version  # not started twice
    # A run whose process died (no progress for a while) is picked up again.
    ModelVersion.objects.filter(pk=version.pk).update(progress={"updated_at": 0})
    assert services.bootstrap_status() == "needed"
    assert services.bootstrap_start(launch=False).pk == version.pk
    assert ModelVersion.objects.count() == 1


def test_model_page_shows_versions_and_live_progress(client, db, model_dir):
    from tests.conftest import make_user

    v = ModelVersion.objects.create(
        name="tiny-v1",
        preset="tiny",
        folder="tiny-v1",
        status="training",
        progress={"progress": 0.42, "step": 420, "loss": 3.1, "eta_s": 300},
        loss_curve=[[1, 8.0], [420, 3.1]],
    )
    response = client.get(reverse("model_list"))
    assert response.status_code == 302  # log in first
    client.force_login(make_user("someone"))
    body = client.get(reverse("model_list")).content.decode()
    assert "tiny-v1" in body and 'value="0.42"' in body and "42%" in body and "<svg" in body
    assert 'hx-trigger="every 2s"' in body  # polls while training
    v.status = "active"
    v.save()
    body = client.get(reverse("model_list"), HTTP_HX_REQUEST="true").content.decode()
    assert "every 2s" not in body and "<html" not in body


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (runs in CI's Redis pass)"
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_the_training_queue_trains_a_version(model_dir, corpus):
    from celery.contrib.testing.worker import start_worker

    from cowrite.celery import app
    from generation.tasks import train_version

    version = services.version_create(
        preset="tiny", train_config={"preset": "tiny", "steps": 3, "batch_size": 2}
    )
    with start_worker(
        app, perform_ping_check=False, pool="solo", queues=["training"], loglevel="WARNING"
    ):
        result = train_version.apply_async(
            kwargs={"version_id": version.pk, "corpus_dir": str(corpus)}, queue="training"
        )
        out = result.get(timeout=120)
    assert out["status"] == "active" and out["metrics"]["val_bpb"] > 0
    assert Path(ModelVersion.objects.get(pk=version.pk).path, "model.safetensors").exists()


@pytest.mark.slow
def test_the_training_queue_runs_house_training_under_torchrun(db, model_dir, corpus, settings):
    """COWRITE_TRAIN_PROCESSES=2: the same training_run launches two gloo processes
    (torchrun + DDP) and records their progress and result on the version's row."""
    settings.COWRITE_TRAIN_PROCESSES = 2
    config = {
        "preset": "tiny",
        "steps": 4,
        "batch_size": 4,
        "warmup_steps": 1,
        "eval_interval": 2,
        "vocab_size": 300,
        "recipe": "stream",
        "device": "cpu",
        "threads": 1,
        "model_overrides": {"n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 32},
    }
    version = services.version_create(preset="tiny", train_config=config)
    services.training_run(version_id=version.pk, corpus_dir=str(corpus))
    version.refresh_from_db()
    assert version.status == VersionStatus.ACTIVE  # the first model goes into use
    assert version.steps == 4 and version.params > 0
    assert version.metrics["val_bpb"] > 0
    assert version.loss_curve and version.progress["progress"] == 1.0
    assert not list(model_dir.glob(".progress-*"))


def test_a_failing_torchrun_fails_the_version_with_its_output(db, model_dir, settings, tmp_path):
    settings.COWRITE_TRAIN_PROCESSES = 2
    version = services.version_create(preset="tiny", train_config={"preset": "tiny", "steps": 3})
    with pytest.raises(RuntimeError, match="torchrun with 2 processes exited"):
        services.training_run(version_id=version.pk, corpus_dir=str(tmp_path / "no-such-corpus"))
    version.refresh_from_db()
    assert version.status == VersionStatus.FAILED and "no-such-corpus" in version.status_reason
