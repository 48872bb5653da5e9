"""Retraining an open-weights model record from the team's feedback (``lora_runs.py``): a
LoRA round on a tiny Hugging Face folder built in the test, from the same dataset as the
house model's rounds; the result is a new record (base + adapter) the worker's backend
serves; failures leave a reason and change nothing else; staff only."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from generation import endpoints, lora_runs
from generation.models import EndpointStatus, ModelEndpoint, Preference
from tests.conftest import make_user
from tests.generation.test_retraining import _group, _rate
from tests.support.tiny_hf import SIMPLE_CHAT_TEMPLATE, build_tiny_llama

FAST = {"sft_steps": 6, "dpo_steps": 6, "batch_size": 2, "lr_sft": 1e-2, "lr_dpo": 1e-2}


@pytest.fixture
def base(db, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    build_tiny_llama(settings.MODEL_DIR / "tiny-llama", chat_template=SIMPLE_CHAT_TEMPLATE)
    return endpoints.endpoint_create(user=None, name="Tiny", kind="hf", folder="tiny-llama")


@pytest.fixture
def fed(team):
    team.project.allow_training = True
    team.project.save()
    scene, owner = team.scenes[0], team.users["owner"]
    for i in range(6):
        good, bad = _group(scene, [f"MARA\nWe hold, {i}.\n", f"GHOST\nBoo {i}.\n"])
        _rate(good, owner, 5)
        _rate(bad, owner, 1)
        Preference.objects.create(chosen=good, rejected=bad, user=owner, source="pick")
    return team


def test_a_round_makes_a_candidate_record_that_serves_base_plus_adapter(base, fed):
    child = lora_runs.lora_start(endpoint=base, user=None, launch=False)
    assert child.status == EndpointStatus.TRAINING and not child.enabled
    assert child.parent == base and child.name == "Tiny · team LoRA 1"
    with pytest.raises(ValidationError, match="already running"):
        lora_runs.lora_start(endpoint=base, user=None, launch=False)
    done = lora_runs.lora_run(child.pk, FAST)
    assert done.status == EndpointStatus.CANDIDATE, done.status_reason
    m = done.metrics
    assert m["steps"] == {"sft": 6, "dpo": 6} and m["adapter_bytes"] > 0
    assert m["gate"]["verdict"] == done.status_reason
    folder = endpoints.resolve_folder(done.folder)
    assert (folder / "adapter_config.json").exists()
    # The backend the worker builds for it loads the base plus this adapter and writes.
    backend = endpoints.endpoint_backend(done)
    assert backend.adapter_dir is not None
    checked = endpoints.endpoint_check(done.pk)
    assert checked.healthy is True, checked.health_error
    # A LoRA record retrains from its base, never stacking adapters.
    again = lora_runs.lora_start(endpoint=done, user=None, launch=False)
    assert again.parent == base and again.name == "Tiny · team LoRA 2"


def test_no_feedback_fails_the_round_with_the_reason(base, team):
    child = lora_runs.lora_start(endpoint=base, user=None, launch=False)
    failed = lora_runs.lora_run(child.pk, FAST)
    assert failed.status == EndpointStatus.FAILED
    assert "to learn from" in failed.status_reason
    assert ModelEndpoint.objects.get(pk=base.pk).status == EndpointStatus.READY


def test_a_server_record_cannot_be_retrained_here(db):
    server = endpoints.endpoint_create(
        user=None, name="Box", kind="openai", base_url="http://box/v1", model_name="m"
    )
    with pytest.raises(ValidationError, match="folder here"):
        lora_runs.lora_start(endpoint=server, user=None, launch=False)


def test_the_gate_passes_only_when_held_out_accuracy_does_not_fall():
    assert lora_runs.lora_gate({"pref_accuracy_before": 0.5, "pref_accuracy_after": 0.75})[0]
    assert not lora_runs.lora_gate({"pref_accuracy_before": 0.5, "pref_accuracy_after": 0.25})[0]
    assert lora_runs.lora_gate({"pref_accuracy_before": None, "pref_accuracy_after": None})[0]


def test_only_staff_start_a_round(base, team, client, monkeypatch):
    launched = []
    monkeypatch.setattr("generation.services.background_launch", lambda **kw: launched.append(kw))
    url = reverse("endpoint_retrain", args=[base.pk])
    client.force_login(team.users["owner"])
    assert client.post(url).status_code == 403
    assert ModelEndpoint.objects.count() == 1
    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.post(url).status_code == 302
    child = ModelEndpoint.objects.exclude(pk=base.pk).get()
    assert child.status == EndpointStatus.TRAINING
    assert launched and launched[0]["kwargs"] == {"endpoint_id": child.pk}
    page = client.get(reverse("model_list")).content.decode()
    assert "Tiny · team LoRA 1" in page and "learning from the team" in page


def test_staff_export_an_adapter_and_give_up_on_a_dead_round(base, fed, client):
    import io
    import zipfile

    staff = make_user("staff")
    staff.is_staff = True
    staff.save()
    child = lora_runs.lora_start(endpoint=base, user=None, launch=False)
    # Its process died: staff give up on it; the next round can start.
    client.force_login(team_owner := fed.users["owner"])
    assert client.post(reverse("endpoint_stop", args=[child.pk])).status_code == 403
    client.force_login(staff)
    page = client.get(reverse("model_list")).content.decode()
    assert "Give up on this round" in page
    assert client.post(reverse("endpoint_stop", args=[child.pk])).status_code == 302
    child.refresh_from_db()
    assert child.status == EndpointStatus.FAILED and "Stopped by staff" in child.status_reason
    # A process that finishes late leaves it failed.
    assert lora_runs.lora_run(child.pk, FAST).status == EndpointStatus.FAILED
    with pytest.raises(ValidationError, match="training can be stopped"):
        lora_runs.lora_stop(endpoint=child)
    assert client.get(reverse("endpoint_adapter", args=[child.pk])).status_code == 404
    done = lora_runs.lora_run(lora_runs.lora_start(endpoint=base, user=None, launch=False).pk, FAST)
    assert done.status == EndpointStatus.CANDIDATE, done.status_reason
    url = reverse("endpoint_adapter", args=[done.pk])
    assert "Export adapter" in client.get(reverse("model_list")).content.decode()
    client.force_login(team_owner)
    assert client.get(url).status_code == 403
    client.force_login(staff)
    r = client.get(url)
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    names = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))).namelist()
    folder = "tiny-team-lora-2"
    assert f"{folder}/adapter_config.json" in names and f"{folder}/README.txt" in names
    assert any(n.startswith(f"{folder}/adapter_model") for n in names)
    # The base record has no adapter to export.
    assert client.get(reverse("endpoint_adapter", args=[base.pk])).status_code == 404
