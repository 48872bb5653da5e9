"""Every draft scored when it finishes (``generation/scoring.py`` via ``passage_finish``):
the memorisation check against the house version's corpus index and the other projects'
scenes, the other scores, the card, and the learning loop leaving copies out of SFT."""

import uuid

import pytest
from django.urls import reverse

from generation import datasets, scoring
from generation.core.memorisation import NgramIndex
from generation.drafts.queue import passage_finish
from generation.models import Passage, PassageStatus
from scripts_app import services
from tests.support.models import register_tiny_version

CORPUS_SCENE = (
    "The lighthouse keeper climbs the spiral stairs for the last time, counting each of the "
    "hundred and twelve steps aloud the way her father taught her, and at the top she "
    "finds the lamp already lit by a hand she cannot see, burning a colour no lamp has "
    "ever burned, green as the sea under ice, and she understands that the storm has "
    "finally come for the island and everyone who stayed behind to keep its light alive."
)
ORIGINAL = (
    "MARA\nWe hold the line until dawn.\n\nJONAH\nAnd after dawn?\n\nMARA\n"
    "After dawn we find out who we are when nobody is watching the doors.\n"
)


@pytest.fixture
def house(db, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    version = register_tiny_version(settings.MODEL_DIR)
    NgramIndex.build([("hamlet_gut.txt", CORPUS_SCENE)]).save(version.path / "ngrams.npz")
    scoring.forget()
    yield version
    scoring.forget()


def _streaming(scene, version, user, cast=("MARA", "JONAH")):
    return Passage.objects.create(
        project_id=scene.project_id,
        scene=scene,
        group=uuid.uuid4(),
        requested_by=user,
        task="new",
        sampling={"max_new_tokens": 192, "seed": 1},
        prompt={"heading": scene.heading, "cast": list(cast), "synopsis": "", "text": ""},
        model_version=version,
        status=PassageStatus.STREAMING,
    )


def _finish(passage, text, tokens=60):
    passage_finish(passage_id=passage.pk, text=text, seq=3, tokens=tokens, reason="stop")
    passage.refresh_from_db()
    return passage


def test_a_draft_copying_the_training_scripts_is_flagged_and_an_original_one_is_not(
    team, house, client
):
    scene, owner = team.scenes[0], team.users["owner"]
    copied = _finish(
        _streaming(scene, house, owner), f"MARA\nListen.\n\n{CORPUS_SCENE}\n\nJONAH\nWhat?\n"
    )
    s = copied.scores
    assert s["memorised"] and s["copied_words"] >= 40
    assert s["copied_source"] == "the training scripts"  # never the file's name
    original = _finish(_streaming(scene, house, owner), ORIGINAL)
    s = original.scores
    assert not s["memorised"] and s["copied_words"] < 10
    assert s["format_ok"] and s["cast_adherence"] == 1.0 and s["unknown_speakers"] == []
    assert 0 < s["length_ratio"] < 1
    # On the card, in the writers' words.
    client.force_login(owner)
    url = reverse("passage_card", args=[team.project.pk, scene.pk, copied.pk])
    body = client.get(url).content.decode()
    assert "words in a row are word for word from the training scripts" in body
    body = client.get(reverse("passage_card", args=[team.project.pk, scene.pk, original.pk]))
    assert "Copied:" not in body.content.decode() and "Layout ✓" in body.content.decode()


def test_copying_another_project_is_flagged_without_naming_it_and_its_own_is_not(team, house):
    scene, owner = team.scenes[0], team.users["owner"]
    other = services.project_create(user=owner, title="Secret Other Film")
    services.scene_create(
        project=other, user=owner, heading="INT. LAB - DAY", text=f"{CORPUS_SCENE[::-1]}\n"
    )
    secret = (
        "Nobody in the laboratory remembers the day the power failed for the first time "
        "because everyone who was there signed the same promise never to speak of the "
        "machine in the basement or the woman who built it from parts of a broken radio "
        "telescope and the heart of an old clock that still ticks when it rains outside."
    )
    services.scene_create(project=other, user=owner, heading="INT. BASEMENT", text=secret)
    services.scene_create(
        project=team.project, user=owner, heading="INT. ATTIC", text=ORIGINAL + ORIGINAL
    )
    draft = _finish(_streaming(scene, house, owner), f"MARA\n{secret}\n")
    assert draft.scores["memorised"] and draft.scores["copied_source"] == "another project"
    assert "Secret Other Film" not in str(draft.scores)
    own = _finish(_streaming(scene, house, owner), ORIGINAL + ORIGINAL)
    assert not own.scores["memorised"]  # its own project's text is not a copy


def test_a_speaker_outside_the_cast_and_a_broken_layout_show(team, house):
    scene, owner = team.scenes[0], team.users["owner"]
    p = _finish(
        _streaming(scene, house, owner, cast=("MARA",)),
        "MARA\nHold it.\n\nGHOST\nNo.\n\nMARA\n",
    )
    s = p.scores
    assert s["unknown_speakers"] == ["GHOST"] and s["cast_adherence"] == pytest.approx(0.5)
    assert s["format_ok"] is False and s["format_issues"]


def test_failed_or_empty_drafts_are_not_scored(team, house):
    scene, owner = team.scenes[0], team.users["owner"]
    p = _streaming(scene, house, owner)
    passage_finish(passage_id=p.pk, text="", seq=0, tokens=0, reason="error", error="boom")
    p.refresh_from_db()
    assert p.status == PassageStatus.FAILED and p.scores == {}


def test_a_copied_draft_never_becomes_sft_even_when_accepted(team, house):
    team.project.allow_training = True
    team.project.save()
    scene, owner = team.scenes[0], team.users["owner"]
    copied = _finish(_streaming(scene, house, owner), f"MARA\n{CORPUS_SCENE}\n")
    fine = _finish(_streaming(scene, house, owner), ORIGINAL)
    now = fine.finished_at
    Passage.objects.filter(pk__in=[copied.pk, fine.pk]).update(accepted_at=now, accepted_by=owner)
    ds = datasets.build_dataset()
    texts = {ex.completion for ex in ds.sft + ds.heldout_sft}
    assert ORIGINAL in texts and not any(CORPUS_SCENE[:40] in t for t in texts)


@pytest.mark.django_db(transaction=True)
def test_the_other_projects_index_is_served_stale_and_rebuilt_in_the_background(
    monkeypatch, settings, tmp_path
):
    import threading
    import time

    from tests.conftest import make_user

    owner = make_user("owner")
    mine = services.project_create(user=owner, title="Mine")
    other = services.project_create(user=owner, title="Other")
    first = scoring._others_index(mine.pk)
    assert len(first) == 0
    services.scene_create(project=other, user=owner, heading="INT. LAB - DAY", text=CORPUS_SCENE)
    monkeypatch.setattr(scoring, "OTHERS_TTL", 0.0)
    assert scoring._others_index(mine.pk) is first  # stale, served at once...
    deadline = time.monotonic() + 10
    while scoring._others[mine.pk][1] is first and time.monotonic() < deadline:
        time.sleep(0.05)  # ...while a thread builds the fresh one
    fresh = scoring._others[mine.pk][1]
    assert fresh is not first and len(fresh) > 0
    for t in threading.enumerate():  # its connection closed before the test's database goes
        if t.name.startswith("others-index-"):
            t.join(10)
    scoring.forget()
