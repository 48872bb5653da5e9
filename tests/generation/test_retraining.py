"""The learning loop: dataset rules, export, gate, retraining, promote/rollback, schedule."""

import json
import os
import time
import uuid

import pytest
from django.urls import reverse

from generation import datasets, lifecycle, retraining, services
from generation.core.prompting import Prompt
from generation.models import ModelVersion, Passage, Preference, Rating, VersionStatus
from scripts_app.models import Revision
from tests.conftest import make_user
from tests.support.models import register_tiny_version

SMALL = {"sft_steps": 2, "dpo_steps": 2, "batch_size": 2, "eval_max_tokens": 2000}


@pytest.fixture
def model_dir(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    settings.DATA_DIR = tmp_path
    settings.COWRITE_RETRAIN_CONFIG = SMALL
    settings.COWRITE_RETRAIN_MIN_INTERVAL_SECONDS = 0  # tests of the interval set their own
    return settings.MODEL_DIR


def _group(scene, texts, heading="INT. STATION - NIGHT", cast=("MARA",)):
    g = uuid.uuid4()
    prompt = {"heading": heading, "cast": list(cast), "synopsis": "Alarms.", "text_prefix": ""}
    return [
        Passage.objects.create(
            scene=scene,
            group=g,
            alternative=i,
            alternatives=len(texts),
            task="new",
            prompt=prompt,
            status="done",
            text=t,
        )
        for i, t in enumerate(texts)
    ]


def _rate(passage, user, score):
    Rating.objects.create(passage=passage, user=user, score=score)


@pytest.fixture
def fed(team):
    """A training-allowed project with rated groups, picks, an edit and an accept."""
    team.project.allow_training = True
    team.project.save()
    u = team.users
    scene = team.scenes[0]
    a = _group(scene, ["MARA\nGood.\n", "MARA\nOkay.\n", "GHOST\nBad.\nBad.\n"])
    _rate(a[0], u["owner"], 5)
    _rate(a[1], u["owner"], 4)  # margin 1.0 from the best: paired
    _rate(a[1], u["editor"], 5)  # mean 4.5: margin 0.5, not paired
    _rate(a[2], u["owner"], 2)
    b = _group(scene, ["MARA\nPicked.\n", "MARA\nNot picked.\n"], heading="INT. HULL - DAY")
    Preference.objects.create(chosen=b[0], rejected=b[1], user=u["editor"], source="pick")
    c = _group(scene, ["MARA\nAccepted.\n"], heading="INT. DECK - DAY")
    c[0].accepted_revision = Revision.objects.create(
        scene=scene, number=99, text="x", origin="passage", author=u["owner"]
    )
    c[0].save(update_fields=["accepted_revision"])
    Preference.objects.create(
        chosen_text="MARA\nEdited by a human.\n", rejected=c[0], user=u["owner"], source="edit"
    )
    return {"a": a, "b": b, "c": c, "team": team}


def _pairs(ds):
    return {(p.chosen, p.rejected) for p in ds.pairs + ds.heldout_pairs}


def test_dataset_rules_pairs_margins_and_sft(fed):
    ds = datasets.build_dataset(fraction=0.0)
    assert _pairs(ds) == {
        ("MARA\nGood.\n", "GHOST\nBad.\nBad.\n"),  # best-rated vs lower by >= 1.0
        ("MARA\nPicked.\n", "MARA\nNot picked.\n"),  # a pick
        ("MARA\nEdited by a human.\n", "MARA\nAccepted.\n"),  # an edit
    }
    pair = next(p for p in ds.pairs if p.chosen == "MARA\nGood.\n")
    assert pair.prompt == Prompt("INT. STATION - NIGHT", ("MARA",), "Alarms.", "")
    sft = {e.completion for e in ds.sft}
    assert sft == {"MARA\nGood.\n", "MARA\nOkay.\n", "MARA\nAccepted.\n"}  # >= 4 or accepted
    assert {e.completion for e in ds.scenes} == {"Alarms pulse amber.\n\nMARA\nIt's holding.\n"}
    labels = {u.completion: u.label for u in ds.unpaired}
    assert labels["GHOST\nBad.\nBad.\n"] is False and labels["MARA\nAccepted.\n"] is True
    # A smaller margin lets the near-miss in.
    assert ("MARA\nGood.\n", "MARA\nOkay.\n") in _pairs(datasets.build_dataset(margin=0.5))


def test_pairs_only_within_one_prompt_group(fed):
    u = fed["team"].users
    # A "pick" across two different requests is ignored.
    Preference.objects.create(
        chosen=fed["a"][0], rejected=fed["b"][1], user=u["owner"], source="pick"
    )
    for p in datasets.build_dataset(fraction=0.0).pairs:
        groups = {x.group for x in Passage.objects.filter(text__in=[p.chosen, p.rejected])} - {None}
        assert len(groups) <= 1 or p.chosen.startswith("MARA\nEdited")
    assert ("MARA\nGood.\n", "MARA\nNot picked.\n") not in _pairs(datasets.build_dataset())


def test_opt_out_and_allow_training_are_respected(fed):
    team = fed["team"]
    m = team.membership["editor"]
    m.feedback_opt_out = True
    m.save()
    ds = datasets.build_dataset(fraction=0.0)
    assert ("MARA\nPicked.\n", "MARA\nNot picked.\n") not in _pairs(ds)  # the editor's pick
    # The editor's 5 no longer lifts "Okay." (owner's 4 alone): margin 1.0 -> paired now.
    assert ("MARA\nGood.\n", "MARA\nOkay.\n") in _pairs(ds)
    assert datasets.feedback_count_since(None) == 4  # owner: 3 ratings + 1 edit
    team.project.allow_training = False
    team.project.save()
    ds = datasets.build_dataset(fraction=0.0)
    assert not (ds.pairs or ds.sft or ds.scenes or ds.unpaired)
    assert datasets.feedback_count_since(None) == 0


def test_heldout_split_is_stable_and_never_trains(fed):
    scene = fed["team"].scenes[0]
    owner = fed["team"].users["owner"]
    for i in range(30):
        g = _group(scene, [f"MARA\nLine {i}.\n", f"GHOST\nNo {i}.\n"], heading=f"INT. R{i}")
        _rate(g[0], owner, 5)
        _rate(g[1], owner, 1)
    ds = datasets.build_dataset(fraction=0.3)
    assert ds.heldout_pairs and ds.pairs
    assert not ds.keys["train"] & ds.keys["heldout"]
    train_texts = {p.chosen for p in ds.pairs} | {e.completion for e in ds.sft}
    held_texts = {p.chosen for p in ds.heldout_pairs} | {e.completion for e in ds.heldout_sft}
    assert not train_texts & held_texts
    # More data never moves an existing group between the splits.
    g = _group(scene, ["MARA\nNew.\n", "GHOST\nNew.\n"], heading="INT. NEW")
    _rate(g[0], owner, 5)
    _rate(g[1], owner, 1)
    again = datasets.build_dataset(fraction=0.3)
    assert ds.keys["heldout"] <= again.keys["heldout"] and ds.keys["train"] <= again.keys["train"]


def test_export_loads_with_datasets_and_has_trl_columns(fed, tmp_path, settings):
    from django.core.management import call_command

    settings.COWRITE_HELDOUT_FRACTION = 0.0  # everything in the training files
    hf = pytest.importorskip("datasets")
    call_command("export_feedback", str(tmp_path / "out"))
    pref = hf.load_dataset(
        "json", data_files=str(tmp_path / "out" / "preference.jsonl"), split="train"
    )
    assert {"prompt", "chosen", "rejected"} <= set(pref.column_names) and len(pref) >= 1
    assert isinstance(pref[0]["prompt"], str) and "INT." in pref[0]["prompt"]
    unp = hf.load_dataset(
        "json", data_files=str(tmp_path / "out" / "unpaired.jsonl"), split="train"
    )
    assert {"prompt", "completion", "label"} <= set(unp.column_names)
    assert all(isinstance(x, bool) for x in unp["label"])


def test_export_view_permissions(client, fed, settings):
    settings.COWRITE_HELDOUT_FRACTION = 0.0
    url = reverse("feedback_export", args=["preference"])
    client.force_login(fed["team"].users["editor"])
    assert client.get(url).status_code == 403  # not an owner
    client.force_login(fed["team"].users["owner"])
    r = client.get(url)
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    rows = [json.loads(line) for line in r.content.decode().splitlines()]
    assert rows and all({"prompt", "chosen", "rejected"} <= set(x) for x in rows)
    # Another user's own project: none of the team's data.
    from scripts_app import services as script_services

    stranger = make_user("stranger")
    p = script_services.project_create(user=stranger, title="Mine")
    p.allow_training = True
    p.save()
    client.force_login(stranger)
    assert client.get(url).content == b""


def test_gate():
    ok, reason = retraining.gate(
        {
            "heldout_bpb": 2.0,
            "parent_heldout_bpb": 2.0,
            "pref_accuracy": 0.6,
            "parent_pref_accuracy": 0.5,
        },
        0.02,
    )
    assert ok and reason.startswith("Promoted")
    ok, reason = retraining.gate({"heldout_bpb": 2.1, "parent_heldout_bpb": 2.0}, 0.02)
    assert not ok and "held-out scenes" in reason
    ok, reason = retraining.gate({"pref_accuracy": 0.4, "parent_pref_accuracy": 0.5}, 0.02)
    assert not ok and "preference accuracy" in reason
    assert retraining.gate({}, 0.02)[0]  # nothing to compare on does not block


def make_staff(username):
    user = make_user(username)
    user.is_staff = True
    user.save()
    return user


def _active(model_dir):
    v = register_tiny_version(model_dir, status="candidate")
    return services.version_activate(version=v)


def _hold_out_scenes_and_group_a(monkeypatch, fed):
    held = {str(fed["a"][0].group)}
    monkeypatch.setattr(
        datasets, "is_heldout", lambda key, fraction=None: key.startswith("scene:") or key in held
    )


@pytest.mark.slow
def test_retrain_promotes_or_keeps_candidate(fed, model_dir, settings, monkeypatch):
    _hold_out_scenes_and_group_a(monkeypatch, fed)
    parent = _active(model_dir)
    v = lifecycle.retrain_start(make_staff("admin"), launch=False)
    settings.COWRITE_RETRAIN_BPB_TOLERANCE = 10.0
    v = retraining.retrain_run(version_id=v.pk)
    assert v.status == VersionStatus.ACTIVE and v.parent == parent
    event = v.events.get()  # who is credited: the staff member who started the round
    assert event.kind == "auto-promoted" and event.user.username == "admin"
    assert (v.path / "model.safetensors").exists() and v.loss_curve
    m = v.metrics
    assert m["parent_heldout_bpb"] > 0 and m["heldout_bpb"] > 0 and m["gate"]["promote"]
    assert m["data"]["pairs"] + m["data"]["heldout_pairs"] >= 3
    parent.refresh_from_db()
    assert parent.status == VersionStatus.RETIRED
    # A gate nothing can pass keeps the next one a candidate, with the reason.
    settings.COWRITE_RETRAIN_BPB_TOLERANCE = -0.9
    w = retraining.retrain_run(version_id=lifecycle.retrain_start(launch=False).pk)
    assert w.status == VersionStatus.CANDIDATE and "worse than its parent" in w.status_reason
    assert services.active_version() == v


def test_promote_and_rollback_keep_exactly_one_active(db, model_dir):
    old = _active(model_dir)
    new = register_tiny_version(model_dir, name="tiny-test-v2", status="candidate")
    lifecycle.version_promote(new)
    assert list(ModelVersion.objects.filter(status="active")) == [new]
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.version_promote(old)  # retired, not a candidate
    lifecycle.version_rollback(old)
    assert list(ModelVersion.objects.filter(status="active")) == [old]
    with pytest.raises(lifecycle.LifecycleError):
        lifecycle.version_rollback(old)  # already active
    assert ModelVersion.objects.get(pk=new.pk).status == VersionStatus.RETIRED


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_crash_or_kill_mid_training_leaves_the_active_version(fed, model_dir, monkeypatch, exc):
    from generation.core import retrain_round

    active = _active(model_dir)
    v = lifecycle.retrain_start(launch=False)

    def explode(*a, **k):
        raise exc

    monkeypatch.setattr(retrain_round, "dpo_train", explode)
    monkeypatch.setattr(retrain_round, "sft_train", explode)
    with pytest.raises(type(exc)):
        retraining.retrain_run(version_id=v.pk)
    v.refresh_from_db()
    assert v.status == VersionStatus.FAILED and type(exc).__name__ in v.status_reason
    assert services.active_version() == active


def test_a_killed_process_is_reaped_as_failed(db, model_dir):
    active = _active(model_dir)
    v = lifecycle.retrain_start(launch=False)
    assert lifecycle.running_retraining() == v
    with pytest.raises(lifecycle.LifecycleError, match="already training"):
        lifecycle.retrain_start(launch=False)
    ModelVersion.objects.filter(pk=v.pk).update(progress={"updated_at": 0})  # went silent
    assert lifecycle.reap_stale_runs() == 1
    v.refresh_from_db()
    assert v.status == VersionStatus.FAILED and services.active_version() == active


def test_schedule_needs_enough_feedback_and_respects_the_interval(fed, model_dir, settings):
    import datetime

    from django.utils import timezone

    active = _active(model_dir)
    settings.COWRITE_RETRAIN_MIN_FEEDBACK = 3
    assert lifecycle.maybe_retrain(launch=False) is None  # all feedback predates the model
    old = timezone.now() - datetime.timedelta(days=1)
    ModelVersion.objects.filter(pk=active.pk).update(created_at=old)
    settings.COWRITE_RETRAIN_MIN_FEEDBACK = 100
    assert lifecycle.maybe_retrain(launch=False) is None
    settings.COWRITE_RETRAIN_MIN_FEEDBACK = 3
    v = lifecycle.maybe_retrain(launch=False)
    assert v is not None and v.train_config["kind"] == "retrain"
    ModelVersion.objects.filter(pk=v.pk).update(status="failed")
    assert lifecycle.maybe_retrain(launch=False) is None  # within the interval
    settings.COWRITE_RETRAIN_INTERVAL_SECONDS = 0
    assert lifecycle.maybe_retrain(launch=False) is not None
    assert "maybe-retrain" in settings.CELERY_BEAT_SCHEDULE


def _model_state():
    """Everything a lifecycle request could change, as comparable values."""
    from generation.models import ModelEvent, RetrainSuggestion

    return (
        list(ModelVersion.objects.order_by("pk").values_list("pk", "status", "status_reason")),
        list(ModelEvent.objects.order_by("pk").values_list("pk", "kind", "version_id")),
        list(RetrainSuggestion.objects.order_by("pk").values_list("pk", "status", "version_id")),
    )


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def test_model_page_buttons_and_permissions(client, fed, model_dir):
    """Retrain, promote and roll back are staff actions: an owner gets 403, nothing changes."""
    team = fed["team"]
    active = _active(model_dir)
    for p in fed["a"]:
        Passage.objects.filter(pk=p.pk).update(model_version=active)
    cand = register_tiny_version(model_dir, name="tiny-test-v2", status="candidate")
    cand.parent = active
    cand.metrics = {
        "heldout_bpb": 2.0,
        "parent_heldout_bpb": 2.1,
        "gate": {"promote": False, "reason": "x"},
    }
    cand.save()
    retired = register_tiny_version(model_dir, name="tiny-test-v0", status="retired")
    for who in ("editor", "owner", "owner2"):
        client.force_login(team.users[who])
        body = client.get(reverse("model_list")).content.decode()
        assert "Retrain now" not in body and "Promote" not in body and "Roll back" not in body
        assert "Ratings of its passages: 4 ratings" in body and "2.100" in body
        before = _model_state()
        assert client.post(reverse("model_retrain")).status_code == 403
        assert client.post(reverse("model_promote", args=[cand.pk])).status_code == 403
        assert client.post(reverse("model_rollback", args=[retired.pk])).status_code == 403
        assert _model_state() == before, f"a refused request by {who} changed the model"
    assert services.active_version() == active
    # Not even through the lifecycle API.
    with pytest.raises(lifecycle.LifecycleError, match="staff"):
        lifecycle.retrain_start(team.users["owner"], launch=False)
    assert not ModelVersion.objects.filter(status="training").exists()

    staff = make_staff("admin")
    client.force_login(staff)
    body = client.get(reverse("model_list")).content.decode()
    assert "Retrain now" in body and "Promote" in body and "csrfmiddlewaretoken" in body
    r = client.post(reverse("model_retrain"), follow=True)  # launched on commit (never here)
    assert "Retraining started" in r.content.decode()
    round_ = ModelVersion.objects.get(status="training")
    assert round_.created_by == staff and round_.started_via == "staff"
    assert "Retrain now" not in r.content.decode()  # the page says a round is in the queue
    r = client.post(reverse("model_retrain"), follow=True)
    assert "already training" in r.content.decode()  # a clear error, nothing started
    assert ModelVersion.objects.filter(status="training").count() == 1
    body = r.content.decode()
    assert "retraining round" in body and "admin" in body  # who started it, in the queue
    ModelVersion.objects.filter(status="training").delete()
    r = client.post(reverse("model_promote", args=[cand.pk]), follow=True)
    assert "is now the active model" in r.content.decode()
    assert services.active_version() == cand
    r = client.post(reverse("model_promote", args=[cand.pk]), follow=True)
    assert "Only a candidate can be promoted" in r.content.decode()  # a clear error
    r = client.post(reverse("model_rollback", args=[active.pk]), follow=True)
    assert services.active_version() == active
    history = r.content.decode().split('id="history"')[1].split("</section>")[0]
    assert "admin promoted <strong>tiny-test-v2</strong>" in history
    assert "admin rolled back to <strong>tiny-test-v1</strong>" in history
    assert client.get(reverse("model_retrain")).status_code == 405  # POST only


def test_owner_suggests_a_retraining_and_staff_start_or_dismiss_it(client, fed, model_dir):
    from generation.models import RetrainSuggestion
    from scripts_app import services as script_services

    team = fed["team"]
    _active(model_dir)
    n = datasets.feedback_count_since(None, project_ids=[team.project.pk])
    assert n == 6  # 4 ratings + a pick + an edit
    client.force_login(team.users["owner"])
    body = client.get(reverse("model_list")).content.decode()
    assert f"Suggest retraining — the model learns from your team's {n} ratings" in body
    url = reverse("retrain_suggest", args=[team.project.pk])
    r = client.post(url, {"note": "We rated a lot of dialogue."}, follow=True)
    assert "staff will see your suggestion" in r.content.decode()
    s = RetrainSuggestion.objects.get()
    assert (s.project, s.user, s.note, s.status) == (
        team.project,
        team.users["owner"],
        "We rated a lot of dialogue.",
        "open",
    )
    assert s.created_at is not None
    # One open suggestion per project (the other owner too).
    client.force_login(team.users["owner2"])
    r = client.post(url, {"note": "again"}, follow=True)
    assert "already suggested" in _messages(r)
    assert RetrainSuggestion.objects.count() == 1
    assert "staff will look at it" in r.content.decode()
    # Members below owner: 403; outsiders: 404; nothing recorded.
    for who, code in (("editor", 403), ("viewer", 403), ("outsider", 404)):
        client.force_login(team.users[who])
        assert client.post(url, {"note": "x"}).status_code == code
    # A project that does not allow training cannot suggest.
    stranger = make_user("stranger")
    mine = script_services.project_create(user=stranger, title="Mine")
    client.force_login(stranger)
    r = client.post(reverse("retrain_suggest", args=[mine.pk]), follow=True)
    assert "allow training" in _messages(r)
    assert RetrainSuggestion.objects.count() == 1
    # Owners cannot start or dismiss; staff see it and start a round from it.
    client.force_login(team.users["owner"])
    before = _model_state()
    assert client.post(reverse("retrain_suggestion_start", args=[s.pk])).status_code == 403
    assert client.post(reverse("retrain_suggestion_dismiss", args=[s.pk])).status_code == 403
    assert _model_state() == before
    staff = make_staff("admin")
    client.force_login(staff)
    body = client.get(reverse("model_list")).content.decode()
    suggestions = body.split('id="suggestions"')[1].split("</table>")[0]
    assert "The Long Night" in suggestions and "We rated a lot of dialogue." in suggestions
    r = client.post(reverse("retrain_suggestion_start", args=[s.pk]), follow=True)
    assert "Retraining started" in r.content.decode()
    s.refresh_from_db()
    v = ModelVersion.objects.get(status="training")
    assert (s.status, s.version, s.handled_by) == ("started", v, staff)
    assert v.train_config["suggestion"] == s.pk and v.created_by == staff
    client.force_login(team.users["owner"])
    body = client.get(reverse("model_list")).content.decode()
    assert f"retraining started — {v.name} by admin" in body
    # Rate limit: the project suggests again only after the cooldown; staff can dismiss.
    r = client.post(url, {"note": "more"}, follow=True)
    assert "suggest again in" in _messages(r)
    assert RetrainSuggestion.objects.count() == 1


def test_staff_dismiss_and_the_cooldown(client, fed, model_dir, settings):
    from generation.models import RetrainSuggestion

    team = fed["team"]
    _active(model_dir)
    settings.COWRITE_RETRAIN_SUGGESTION_COOLDOWN_SECONDS = 0
    client.force_login(team.users["owner"])
    url = reverse("retrain_suggest", args=[team.project.pk])
    client.post(url, {"note": "one"})
    s = RetrainSuggestion.objects.get()
    client.force_login(make_staff("admin"))
    r = client.post(reverse("retrain_suggestion_dismiss", args=[s.pk]), follow=True)
    assert "dismissed" in _messages(r)
    s.refresh_from_db()
    assert s.status == "dismissed" and not ModelVersion.objects.filter(status="training").exists()
    r = client.post(reverse("retrain_suggestion_start", args=[s.pk]), follow=True)
    assert "already answered" in _messages(r)  # a dismissed one cannot start a round
    assert not ModelVersion.objects.filter(status="training").exists()
    client.force_login(team.users["owner"])
    client.post(url, {"note": "two"})
    assert RetrainSuggestion.objects.filter(status="open").count() == 1


def test_minimum_interval_refuses_a_second_round(client, fed, model_dir, settings):
    import datetime

    from django.utils import timezone

    active = _active(model_dir)
    ModelVersion.objects.filter(pk=active.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=1)
    )
    settings.COWRITE_RETRAIN_MIN_INTERVAL_SECONDS = 3600
    settings.COWRITE_RETRAIN_INTERVAL_SECONDS = 0
    settings.COWRITE_RETRAIN_MIN_FEEDBACK = 1
    client.force_login(make_staff("admin"))
    r = client.post(reverse("model_retrain"), follow=True)
    assert "Retraining started" in _messages(r)
    first = ModelVersion.objects.get(status="training")
    first.status = "failed"  # finished (it failed): not running, but it still counts
    first.save()
    r = client.post(reverse("model_retrain"), follow=True)
    msg = _messages(r)
    assert "Too soon" in msg and first.name in msg and "next one can start in 60 minutes" in msg
    assert "COWRITE_RETRAIN_MIN_INTERVAL_SECONDS" in msg
    assert ModelVersion.objects.filter(train_config__kind="retrain").count() == 1
    assert "Retrain now" not in r.content.decode()  # the page says when instead
    # The schedule obeys it too.
    assert lifecycle.maybe_retrain(launch=False) is None
    ModelVersion.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - datetime.timedelta(seconds=3601)
    )
    v = lifecycle.maybe_retrain(launch=False)
    assert v is not None and v.started_via == "schedule"
    assert v.created_by is None
    body = client.get(reverse("model_list")).content.decode()
    runs = body.split('id="runs"')[1].split("</section>")[0]
    assert v.name in runs and "scheduled" in runs and "queued" in runs


def test_the_gate_promotes_only_rounds_started_by_staff_or_the_schedule(fed, model_dir):
    from generation.models import StartedVia

    _active(model_dir)
    staff = make_staff("admin")
    owner = fed["team"].users["owner"]
    v = lifecycle.retrain_start(staff, launch=False)
    assert lifecycle.may_auto_promote(v)
    v.status = "failed"
    v.save()
    assert lifecycle.may_auto_promote(lifecycle.maybe_retrain(launch=False) or v)
    for via, user in (
        (StartedVia.STAFF, owner),  # a non-staff user, however recorded
        ("", owner),
        ("", None),  # an unknown origin
        (StartedVia.SCHEDULE, owner),
    ):
        v = services.version_create(preset="test", train_config={}, user=user, started_via=via)
        assert not lifecycle.may_auto_promote(v), (via, user)
    staff.is_staff = False  # demoted while the round trained
    staff.save()
    v = services.version_create(
        preset="test", train_config={}, user=staff, started_via=StartedVia.STAFF
    )
    assert not lifecycle.may_auto_promote(v)


@pytest.mark.slow
def test_a_passing_round_not_started_by_staff_stays_a_candidate(
    fed, model_dir, settings, monkeypatch
):
    _hold_out_scenes_and_group_a(monkeypatch, fed)
    parent = _active(model_dir)
    staff = make_staff("admin")
    v = lifecycle.retrain_start(staff, launch=False)
    staff.is_staff = False  # no longer staff when the round finishes
    staff.save()
    settings.COWRITE_RETRAIN_BPB_TOLERANCE = 10.0
    v = retraining.retrain_run(version_id=v.pk)
    assert v.metrics["gate"]["promote"]  # it passed the gate...
    assert v.status == VersionStatus.CANDIDATE  # ...but staff decide
    assert "not started by staff" in v.status_reason
    assert services.active_version() == parent


def test_model_page_shows_each_user_only_their_projects_ratings(client, fed, model_dir):
    from scripts_app import services as script_services

    team = fed["team"]
    active = _active(model_dir)
    for p in fed["a"]:  # project A: 4 ratings of this version's drafts
        Passage.objects.filter(pk=p.pk).update(model_version=active)
    b_owner = make_user("b_owner")
    b = script_services.project_create(user=b_owner, title="Project B")
    b_scene = script_services.scene_create(project=b, user=b_owner, heading="INT. B - DAY")
    others = [make_user(f"b{i}") for i in range(3)]
    for text in ("B one.\n", "B two.\n"):
        (p,) = _group(b_scene, [text])
        Passage.objects.filter(pk=p.pk).update(model_version=active)
        for u in [b_owner, *others]:
            _rate(p, u, 1)  # project B: 8 one-star ratings

    def ratings_of(user, **headers):
        client.force_login(user)
        return client.get(reverse("model_list"), **headers).content.decode()

    body = ratings_of(team.users["viewer"])  # any member of A: A's figures only
    assert "Ratings of its passages: 4 ratings" in body and "12 ratings" not in body
    assert "1 stars: 8" not in body and "1 stars: 0" in body and "your projects" in body
    assert "Project B" not in body
    body = ratings_of(b_owner)
    assert "Ratings of its passages: 8 ratings, mean 1.0" in body and "4 ratings" not in body
    assert "The Long Night" not in body
    body = ratings_of(make_user("nobody"))  # in no project: no figures at all
    assert "Ratings of its passages" not in body
    # The htmx refresh of the page carries no figures from other projects either.
    ModelVersion.objects.filter(pk=active.pk).update(status="training")
    body = ratings_of(team.users["viewer"], HTTP_HX_REQUEST="true")
    assert "<html" not in body and "8 ratings" not in body and "12 ratings" not in body
    ModelVersion.objects.filter(pk=active.pk).update(status="active")
    body = ratings_of(make_staff("admin"))  # staff: installation-wide, labelled
    assert "Ratings of its passages: 12 ratings" in body
    assert "all projects, installation-wide" in body


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (runs in CI's Redis pass)"
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retrains_end_to_end(model_dir, settings, monkeypatch):
    from celery.contrib.testing.worker import start_worker

    from cowrite.celery import app
    from scripts_app import services as script_services
    from scripts_app.models import Membership, Role

    owner = make_user("owner")
    project = script_services.project_create(user=owner, title="T")
    project.allow_training = True
    project.save()
    assert Membership.objects.filter(project=project, user=owner, role=Role.OWNER).exists()
    scene = script_services.scene_create(
        project=project, user=owner, heading="INT. A - DAY", text="MARA\nHello.\n"
    )
    g = _group(scene, ["MARA\nGood.\n", "GHOST\nBad.\n"])
    _rate(g[0], owner, 5)
    _rate(g[1], owner, 1)
    # The hashed split would hold out the one group (a random uuid) one run in five, and
    # leave nothing to train on: the scene is held out (evaluation), the group trains. The
    # worker runs in this process (pool "solo"), so the patch reaches it.
    monkeypatch.setattr(datasets, "is_heldout", lambda key, fraction=None: key.startswith("scene:"))
    settings.COWRITE_RETRAIN_BPB_TOLERANCE = 10.0
    parent = _active(model_dir)
    with start_worker(
        app, perform_ping_check=False, pool="solo", queues=["training"], loglevel="WARNING"
    ):
        # The app's own launch: the task is sent by name to the training queue on commit.
        version = lifecycle.retrain_start(make_staff("admin"))
        deadline = time.monotonic() + 120
        while version.status in ("training", "queued") and time.monotonic() < deadline:
            time.sleep(0.5)
            version.refresh_from_db()
    assert version.status == "active" and version.metrics["gate"]["promote"]
    assert ModelVersion.objects.get(pk=parent.pk).status == VersionStatus.RETIRED


def test_embedded_launch_runs_a_child_process(
    db, model_dir, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.REDIS_URL = ""
    _active(model_dir)
    calls = []
    # The child process is started by the shared launcher in generation.services.
    monkeypatch.setattr(services.subprocess, "Popen", lambda cmd, **kw: calls.append(cmd))
    with django_capture_on_commit_callbacks(execute=True):
        v = lifecycle.retrain_start()
    assert len(calls) == 1 and calls[0][-3:-1] == ["shell", "-c"]
    assert f"retrain_run(version_id={v.pk})" in calls[0][-1]


@pytest.mark.slow
def test_with_the_blind_gate_a_passing_round_waits_for_the_team(
    fed, model_dir, settings, monkeypatch
):
    """COWRITE_GATE_BLIND_AB: the round passes the automatic checks, stays a candidate,
    and a blind comparison with its parent starts (the team's verdict decides)."""
    from generation.models import Comparison

    _hold_out_scenes_and_group_a(monkeypatch, fed)
    launched = []
    monkeypatch.setattr("generation.services.background_launch", lambda **kw: launched.append(kw))
    settings.COWRITE_GATE_BLIND_AB = True
    settings.COWRITE_GATE_BLIND_VOTES = 7
    settings.COWRITE_RETRAIN_BPB_TOLERANCE = 10.0
    parent = _active(model_dir)
    v = retraining.retrain_run(
        version_id=lifecycle.retrain_start(make_staff("admin"), launch=False).pk
    )
    assert v.status == VersionStatus.CANDIDATE and services.active_version() == parent
    assert "Waiting for the team's blind comparison" in v.status_reason
    c = Comparison.objects.get()
    assert c.gate_version == v and c.a_version == parent and c.b_version == v
    assert c.votes_wanted == 7 and v.metrics["gate"]["blind"] == c.pk
    assert launched[-1]["kwargs"] == {"comparison_id": c.pk}
