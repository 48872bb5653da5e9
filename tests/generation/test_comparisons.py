"""Blind comparisons (``generation/comparisons.py``): two real models (tiny house versions,
a server record) write drafts for the team's scenes; members who opted in judge pairs of
their own projects without seeing which model wrote what; picks become preferences; the
results, the ranking and the gate."""

import os
import re
import time

import pytest
from django.urls import reverse

from generation import comparisons, datasets, endpoints
from generation.drafts.render import recent_groups
from generation.models import (
    Comparison,
    ComparisonPair,
    ComparisonVote,
    ModelVersion,
    Passage,
    Preference,
    VersionStatus,
)
from scripts_app import services
from scripts_app.models import Membership, Role
from tests.conftest import make_user
from tests.support.models import two_house_versions


@pytest.fixture
def models(db, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    settings.COWRITE_COMPARISON_MAX_NEW_TOKENS = 24
    active, candidate = two_house_versions(settings.MODEL_DIR)
    return active, candidate


@pytest.fixture
def room(team, models):
    team.project.allow_training = True
    team.project.save()
    return team


def _staff(name="admin"):
    u = make_user(name)
    u.is_staff = True
    u.save()
    return u


def _prepared(active, candidate, **kw):
    c = comparisons.comparison_start(
        user=_staff(), a=f"v{active.pk}", b=f"v{candidate.pk}", launch=False, seed=3, **kw
    )
    return comparisons.comparison_prepare(c.pk)


def test_two_house_versions_write_the_same_briefs_blind(room, models):
    active, candidate = models
    c = _prepared(active, candidate)
    assert c.status == "open", c.status_reason
    pairs = list(c.pairs.select_related("a", "b", "scene"))
    assert {p.scene_id for p in pairs} == {s.pk for s in room.scenes}
    # The scene with a brief comes first.
    assert pairs[0].scene.synopsis == "Alarms."
    for p in pairs:
        assert p.a.status == p.b.status == "done" and p.a.text and p.b.text
        assert p.a.blind and p.b.blind and p.a.group == p.b.group == p.group
        assert p.a.model_version_id == active.pk and p.b.model_version_id == candidate.pk
        assert p.a.task == "new" and p.a.sampling["seed"] == p.b.sampling["seed"]
        assert p.a.prompt["heading"] == p.b.prompt["heading"] == p.scene.heading
        assert p.a.prompt == p.b.prompt  # one prompt for the pair
    # Never in a drafts panel, never as a card (its model is on the card).
    scene = room.scenes[0]
    assert recent_groups(scene) == []
    pair = pairs[0]
    client = __import__("django.test", fromlist=["Client"]).Client()
    client.force_login(room.users["owner"])
    url = reverse("passage_card", args=[room.project.pk, pair.scene_id, pair.a_id])
    assert client.get(url).status_code == 404


def test_a_judge_sees_only_their_projects_pairs_with_no_names_and_picks_once(room, models, client):
    active, candidate = models
    c = _prepared(active, candidate)
    judge = room.users["commenter"]
    client.force_login(judge)
    page = client.get(reverse("judge")).content.decode()
    assert "Join the blind judging" in page
    client.post(reverse("judge"), {"action": "join"})
    page = client.get(reverse("judge")).content.decode()
    shown = comparisons.next_pair(judge)
    assert shown is not None and shown.remaining == 2
    # The page names neither model nor any passage; only the pair.
    for secret in ("house-v1", "house-v2", "House model", f"passage-{shown.left.pk}"):
        assert secret not in page
    assert f'name="pair" value="{shown.pair.pk}"' in page
    assert shown.pair.scene.heading in page
    # The sides are drawn per judge and stay put on reload.
    assert comparisons.next_pair(judge).left.pk == shown.left.pk
    left = shown.left
    client.post(reverse("judge"), {"action": "vote", "pair": shown.pair.pk, "choice": "left"})
    vote = ComparisonVote.objects.get(user=judge)
    assert vote.choice == ("a" if left.pk == shown.pair.a_id else "b")
    pref = Preference.objects.get(user=judge)
    assert pref.source == "blind" and pref.chosen_id == left.pk
    assert pref.rejected_id == shown.right.pk
    # Once per pair.
    r = client.post(
        reverse("judge"), {"action": "vote", "pair": shown.pair.pk, "choice": "right"}, follow=True
    )
    assert "already judged" in r.content.decode()
    assert ComparisonVote.objects.filter(user=judge).count() == 1
    # "Both bad" is a judgement, not a preference.
    nxt = comparisons.next_pair(judge)
    comparisons.vote(user=judge, pair_id=nxt.pair.pk, choice="both_bad")
    assert Preference.objects.filter(user=judge).count() == 1
    assert comparisons.next_pair(judge) is None
    (result,) = comparisons.comparison_results([c])
    assert result.judged == 2 and result.b_rate.ties == 1


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_no_pair_for_a_viewer_or_an_outsider(room, models, who):
    active, candidate = models
    _prepared(active, candidate)
    user = room.users[who]
    comparisons.judge_join(user)
    assert comparisons.next_pair(user) is None
    pair = ComparisonPair.objects.first()
    with pytest.raises(comparisons.ComparisonError, match="not one you can judge"):
        comparisons.vote(user=user, pair_id=pair.pk, choice="left")
    assert not ComparisonVote.objects.exists()


@pytest.mark.parametrize(
    "pair_id, choice, message",
    [
        ("1", "middle", "Pick the left draft"),
        ("x", "left", "not one you can judge"),
        ("999999", "left", "not one you can judge"),
        (None, "left", "not one you can judge"),
    ],
)
def test_garbage_votes_are_refused(room, models, pair_id, choice, message):
    active, candidate = models
    _prepared(active, candidate)
    judge = room.users["editor"]
    comparisons.judge_join(judge)
    with pytest.raises(comparisons.ComparisonError, match=message):
        comparisons.vote(user=judge, pair_id=pair_id, choice=choice)


def test_a_judge_must_opt_in_and_a_closed_comparison_takes_no_votes(room, models):
    active, candidate = models
    c = _prepared(active, candidate)
    judge = room.users["editor"]
    pair = c.pairs.first()
    with pytest.raises(comparisons.ComparisonError, match="Join"):
        comparisons.vote(user=judge, pair_id=pair.pk, choice="left")
    comparisons.judge_join(judge)
    comparisons.comparison_close(comparison=c)
    assert comparisons.next_pair(judge) is None
    with pytest.raises(comparisons.ComparisonError, match="closed"):
        comparisons.vote(user=judge, pair_id=pair.pk, choice="left")


def test_blind_picks_train_the_next_round(room, models):
    active, candidate = models
    c = _prepared(active, candidate)
    judge = room.users["owner"]
    comparisons.judge_join(judge)
    pair = c.pairs.select_related("a", "b").first()
    comparisons.vote(user=judge, pair_id=pair.pk, choice="left")
    ds = datasets.build_dataset()
    texts = {(p.chosen, p.rejected) for p in ds.pairs + ds.heldout_pairs}
    assert (pair.a.text, pair.b.text) in texts or (pair.b.text, pair.a.text) in texts


def test_starting_is_checked(room, models):
    active, candidate = models
    staff = _staff()
    with pytest.raises(comparisons.ComparisonError, match="two different"):
        comparisons.comparison_start(user=staff, a=f"v{active.pk}", b=f"v{active.pk}", launch=False)
    with pytest.raises(comparisons.ComparisonError, match="from the list"):
        comparisons.comparison_start(user=staff, a=f"v{active.pk}", b="v999999", launch=False)
    with pytest.raises(comparisons.ComparisonError, match="between 1 and 50"):
        comparisons.comparison_start(
            user=staff, a=f"v{active.pk}", b=f"v{candidate.pk}", pairs=500, launch=False
        )
    room.project.allow_training = False
    room.project.save()
    with pytest.raises(comparisons.ComparisonError, match="no scenes to compare"):
        comparisons.comparison_start(
            user=staff, a=f"v{active.pk}", b=f"v{candidate.pk}", launch=False
        )


def test_an_unreachable_model_fails_the_comparison_with_the_reason(room, models):
    active, _ = models
    dead = endpoints.endpoint_create(
        user=None,
        name="Dead box",
        kind="openai",
        base_url="http://127.0.0.1:9/v1",
        model_name="m",
        timeout_s="2",
    )
    c = comparisons.comparison_start(
        user=_staff(), a=f"v{active.pk}", b=f"e{dead.pk}", launch=False
    )
    c = comparisons.comparison_prepare(c.pk)
    assert c.status == "failed"
    assert "No scene got a usable draft from both models" in c.status_reason
    # The house side's drafts were written; nothing reached a panel.
    assert Passage.objects.filter(blind=True, model_version=active, status="done").exists()
    assert all(recent_groups(s) == [] for s in room.scenes)


def test_the_models_page_shows_results_and_ranking_and_staff_start(room, models, client):
    active, candidate = models
    c = _prepared(active, candidate)
    comparisons.judge_join(room.users["owner"])
    pair = c.pairs.first()
    comparisons.vote(user=room.users["owner"], pair_id=pair.pk, choice="left")
    client.force_login(room.users["commenter"])
    page = client.get(reverse("model_list")).content.decode()
    assert "Blind comparisons" in page and "B: <strong>House model house-v2" in page
    assert "Ranking from every blind judgement" in page
    assert 'hx-get="/models/comparisons/"' in page  # live while open
    assert "Start a blind comparison" not in page  # staff only
    assert client.post(reverse("comparison_start"), {"a": "v1", "b": "v2"}).status_code == 403
    assert client.post(reverse("comparison_close", args=[c.pk])).status_code == 403
    staff = _staff("boss")
    client.force_login(staff)
    page = client.get(reverse("model_list")).content.decode()
    assert "Start a blind comparison" in page
    r = client.post(
        reverse("comparison_start"), {"a": f"v{active.pk}", "b": f"v{active.pk}"}, follow=True
    )
    assert "Choose two different models." in r.content.decode()
    client.post(reverse("comparison_close", args=[c.pk]))
    assert Comparison.objects.get(pk=c.pk).status == "closed"
    assert re.search(r"comparison-\d+", page)


def _judges(team, n):
    users = []
    for i in range(n):
        u = make_user(f"judge{i}")
        Membership.objects.create(project=team.project, user=u, role=Role.COMMENTER)
        comparisons.judge_join(u)
        users.append(u)
    return users


def _pick_b(user, pair):
    left_is_a = comparisons.a_on_left(pair.pk, user.pk)
    comparisons.vote(user=user, pair_id=pair.pk, choice="right" if left_is_a else "left")


def test_the_gate_promotes_a_candidate_the_team_prefers_blind(room, models, settings):
    active, candidate = models
    settings.COWRITE_GATE_BLIND_AB = True
    c = _prepared(active, candidate, votes=5, gate_version=candidate)
    pair = c.pairs.first()
    for u in _judges(room, 5):
        _pick_b(u, pair)
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.ACTIVE, candidate.status_reason
    assert "preferred it blind" in candidate.status_reason and "100%" in candidate.status_reason
    assert Comparison.objects.get(pk=c.pk).status == "closed"


def test_the_gate_keeps_a_candidate_that_is_not_clearly_preferred(room, models, settings):
    active, candidate = models
    c = _prepared(active, candidate, votes=4, gate_version=candidate)
    pair = c.pairs.first()
    judges = _judges(room, 4)
    for u in judges[:2]:
        _pick_b(u, pair)
    for u in judges[2:]:
        comparisons.vote(user=u, pair_id=pair.pk, choice="both_bad")
    candidate.refresh_from_db()
    assert candidate.status == VersionStatus.CANDIDATE
    assert "not clearly preferred blind" in candidate.status_reason
    assert ModelVersion.objects.get(pk=active.pk).status == VersionStatus.ACTIVE


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (runs in CI's Redis pass)"
)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_drafts_of_a_comparison_staff_started(settings, tmp_path):
    from celery.contrib.testing.worker import start_worker
    from django.test import Client

    from cowrite.celery import app

    settings.MODEL_DIR = tmp_path / "models"
    settings.COWRITE_COMPARISON_MAX_NEW_TOKENS = 24
    active, candidate = two_house_versions(settings.MODEL_DIR)
    owner = make_user("owner")
    project = services.project_create(user=owner, title="T")
    project.allow_training = True
    project.save()
    services.scene_create(project=project, user=owner, heading="INT. A - DAY", synopsis="Hi.")
    client = Client()
    client.force_login(_staff())
    with start_worker(
        app, perform_ping_check=False, pool="solo", queues=["training"], loglevel="WARNING"
    ):
        client.post(
            reverse("comparison_start"),
            {"a": f"v{active.pk}", "b": f"v{candidate.pk}", "pairs": "1"},
        )
        c = Comparison.objects.get()
        deadline = time.monotonic() + 120
        while c.status == "preparing" and time.monotonic() < deadline:
            time.sleep(0.5)
            c.refresh_from_db()
    assert c.status == "open", c.status_reason
    assert c.progress == {"done": 2, "total": 2}
