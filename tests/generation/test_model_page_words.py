"""The model page speaks to writers first; the engineering figures are one click away.

And the versions table's "Steps" of a running training is its progress, not the 0 that
``ModelVersion.steps`` holds until the run ends."""

import re
import time
import uuid

from django.urls import reverse

from generation.models import ModelVersion, Passage, Rating
from generation.views.models import learned_words, rated_words, run_words, time_left
from tests.conftest import make_user

ENGINEERING_WORDS = ("bits/byte", "SFT", "DPO", "TRL", "loss")


def _without_details(html: str) -> str:
    """The page as a writer sees it before opening anything (every <details> folded)."""
    return re.sub(r"<details.*?</details>", "", html, flags=re.S)


def _versions_row(html: str, name: str) -> list[str]:
    """The cells of ``name``'s row in the engineering table of versions."""
    table = html.split('id="versions"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if f"<strong>{name}</strong>" in r)
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def _first_model(step=119, progress=0.42, eta=300.0, **fields):
    return ModelVersion.objects.create(
        name="tiny-v1",
        preset="tiny",
        folder="tiny-v1",
        status="training",
        started_via="first-start",
        progress={
            "event": "step",
            "step": step,
            "progress": progress,
            "loss": 3.1,
            "eta_s": eta,
            "val_bpb": 2.345,
            "tokens_per_s": 1800.0,
            "threads": 2,
            "updated_at": time.time(),
        },
        loss_curve=[[1, 8.0], [step, 3.1]],
        **fields,
    )


def test_a_running_training_shows_its_step_in_the_versions_table(client, db):
    _first_model(step=119)
    client.force_login(make_user("writer"))
    body = client.get(reverse("model_list")).content.decode()
    cells = _versions_row(body, "tiny-v1")
    assert cells[4] == "119", cells  # the "Steps" column (it said 0 until the run ended)
    assert "step 119" in body  # the live figures agree
    # A finished version shows the steps its run recorded.
    ModelVersion.objects.filter(name="tiny-v1").update(status="active", steps=900)
    body = client.get(reverse("model_list")).content.decode()
    assert _versions_row(body, "tiny-v1")[4] == "900"


def test_a_writer_reads_words_first_and_figures_one_click_away(client, db):
    _first_model()
    client.force_login(make_user("writer"))
    body = client.get(reverse("model_list")).content.decode()
    shown = _without_details(body)
    assert "Training the first model — 42% done, about 5 minutes left." in shown
    assert "Training the first model: drafts work once it is ready." in shown
    for word in ENGINEERING_WORDS:
        assert word not in shown, f"{word!r} outside the engineering figures"
    # Every figure is still there, folded: the live run's and the versions table.
    folded = "".join(re.findall(r"<details.*?</details>", body, flags=re.S))
    assert "<summary>Engineering figures" in folded
    for figure in ("step 119", "loss 3.100", "validation 2.345 bits/byte", "eta 300 s", "1800"):
        assert figure in folded, figure
    assert 'value="0.42"' in shown and "42%" in shown  # the progress bar


def test_the_live_refresh_keeps_the_engineering_figures_open(client, db):
    """The run refreshes every 2 s; the <details> of its figures is outside what is
    replaced (its figures come in out of band), so an opened one stays open."""
    _first_model()
    client.force_login(make_user("writer"))
    body = client.get(reverse("model_list")).content.decode()
    runs = body.split('id="runs"')[1].split("</section>")[0]
    live = runs.split('id="runs-live"')[1].split("<details")[0]
    assert 'hx-trigger="every 2s"' in live and 'hx-select="#runs-live"' in live
    assert 'hx-select-oob="#runs-figures"' in live
    assert 'id="runs-figures"' in runs.split("<details")[1]
    # The refresh itself carries both parts.
    part = client.get(reverse("model_list"), HTTP_HX_REQUEST="true").content.decode()
    assert 'id="runs-live"' in part and 'id="runs-figures"' in part and "<html" not in part


def test_a_retrained_version_says_what_it_learned_and_how_its_drafts_are_rated(
    client, team, settings
):
    parent = ModelVersion.objects.create(
        name="tiny-v1", preset="tiny", folder="tiny-v1", status="retired", started_via="first-start"
    )
    v = ModelVersion.objects.create(
        name="tiny-v2",
        preset="tiny",
        folder="tiny-v2",
        status="active",
        parent=parent,
        started_via="staff",
        train_config={"kind": "retrain"},
        corpus_summary={"sft": 3, "scenes": 12, "pairs": 40, "unpaired": 5},
        metrics={"heldout_bpb": 2.0, "parent_heldout_bpb": 2.1, "val_bpb": 2.0},
        steps=1200,
    )
    g = uuid.uuid4()
    passages = [
        Passage.objects.create(
            scene=team.scenes[0],
            group=g,
            alternative=i,
            alternatives=2,
            task="new",
            status="done",
            text="MARA\nHi.\n",
            model_version=v,
        )
        for i in range(2)
    ]
    for passage, user, score in [
        (passages[0], "owner", 5),
        (passages[0], "editor", 4),
        (passages[1], "owner", 3),
        (passages[1], "editor", 3),
        (passages[1], "viewer", 4),
    ]:
        Rating.objects.create(passage=passage, user=team.users[user], score=score)
    client.force_login(team.users["viewer"])
    body = client.get(reverse("model_list")).content.decode()
    shown = _without_details(body)
    in_use = shown.split('id="in-use"')[1].split("</section>")[0]
    assert "Drafts come from <strong>tiny-v2</strong>" in in_use
    assert (
        "It learned from 40 choices between drafts (ratings and picks), 3 drafts your teams "
        "accepted or rated well and 12 scenes your teams wrote." in in_use
    )
    assert "Drafts rated 3.8 on average (5 ratings in your projects)." in in_use
    assert "It learned to write from Shakespeare&#x27;s plays" in shown  # tiny-v1, in the runs
    for word in ENGINEERING_WORDS:
        assert word not in shown, f"{word!r} outside the engineering figures"
    assert "2.100" in body and "1200" in body  # the figures, folded
    # Someone outside the project sees no figure from it.
    client.force_login(make_user("outsider2"))
    shown = _without_details(client.get(reverse("model_list")).content.decode())
    assert "No ratings of its drafts yet in your projects." in shown and "3.8" not in shown


def test_the_staff_view_keeps_the_engineering_words_folded_too(client, db):
    from tests.generation.test_retraining import make_staff

    ModelVersion.objects.create(
        name="tiny-v1", preset="tiny", folder="tiny-v1", status="active", started_via="first-start"
    )
    client.force_login(make_staff("admin"))
    body = client.get(reverse("model_list")).content.decode()
    shown = _without_details(body)
    assert "Retrain now" in shown
    for word in ENGINEERING_WORDS:
        assert word not in shown, f"{word!r} outside the engineering figures"
    folded = "".join(re.findall(r"<details.*?</details>", body, flags=re.S))
    assert "SFT" in folded and "DPO" in folded and "TRL JSONL" in folded


def test_the_words():
    assert time_left(30) == "less than a minute left"
    assert time_left(61) == "about 1 minute left"
    assert time_left(6 * 60 + 10) == "about 6 minutes left"
    assert time_left(float("nan")) == time_left(None) == time_left(-5) == ""
    assert rated_words({}, "your projects") == "No ratings of its drafts yet in your projects."
    assert rated_words({5: 1, 3: 3}, "all projects") == (
        "Drafts rated 3.5 on average (4 ratings in all projects)."
    )
    assert rated_words({4: 1}, "your projects") == (
        "Drafts rated 4.0 on average (1 rating in your projects)."
    )

    class V:
        is_retraining, started_via, status, name, parent = True, "staff", "candidate", "v2", None
        corpus_summary, metrics = {}, {"data": {"pairs": 1}}

    assert learned_words(V()) == "It learned from 1 choice between drafts (ratings and picks)."
    V.metrics = {}
    assert learned_words(V()) == "It learned from the feedback of projects that allow it."


def test_a_retraining_round_in_words(db):
    parent = ModelVersion.objects.create(name="tiny-v1", preset="tiny", folder="a", status="active")
    v = ModelVersion.objects.create(
        name="tiny-v2",
        preset="tiny",
        folder="b",
        parent=parent,
        train_config={"kind": "retrain"},
        progress={"step": 20, "progress": 0.3, "phase": "dpo", "eta_s": 200, "updated_at": 100.0},
    )
    v.state = "running"
    words = run_words(v, now=100.0)
    assert words["line"] == (
        "Retraining the model from tiny-v1 — 30% done, about 3 minutes left. "
        "Now learning from your teams' choices between drafts."
    )
    assert run_words(v, now=220.0)["left"] == "about 1 minute left"  # counts down between reports
    v.state = "queued"
    assert (
        run_words(v)["line"] == "Retraining the model from tiny-v1 — waiting for a training worker."
    )
