"""Live drafts end to end: a real server (Daphne), the real channel layer, a real generation
worker (in-process in the embedded pass; a separate process in the Redis pass), real
websockets, and a real (tiny, random-weight) model on the engine."""

import asyncio
import os

import pytest

from generation import drafts
from generation.models import DEFAULT_FEEDBACK_TAGS, FeedbackTag, Passage, PassageStatus
from scripts_app.models import Revision, RevisionOrigin
from tests.support.models import register_tiny_version
from tests.support.roomclient import RoomClient
from tests.support.servers import generation_stack, session_for
from tests.support.threads import in_thread, run_async

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
REDIS = bool(os.environ.get("REDIS_URL"))


@pytest.fixture
def model(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return register_tiny_version(settings.MODEL_DIR)


@pytest.fixture
def stack(team, model):
    """Web + generation: one embedded process, or Daphne + a worker process with Redis."""
    with generation_stack(env={"COWRITE_GENERATION_STALE_SECONDS": "3"}) as pair:
        yield pair


def room(server, team, who, scene=None):
    scene = scene or team.scenes[0]
    return RoomClient(
        server.ws_url, team.project.pk, scene.pk, session_for(team.users[who]), server.http_url
    )


async def until(predicate, timeout=60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def _done(passage_ids):
    return lambda: (
        Passage.objects.filter(pk__in=passage_ids).exclude(status__in=drafts.LIVE).count()
        == len(passage_ids)
    )


def test_two_watchers_receive_the_complete_identical_text_of_a_draft_a_third_requested(stack, team):
    server, _ = stack
    scene = team.scenes[0]

    async def run():
        watchers = [room(server, team, "viewer"), room(server, team, "commenter")]
        requester = room(server, team, "editor")
        for c in (*watchers, requester):
            await c.connect()
        await asyncio.sleep(0.3)
        await requester.request_draft(
            task="continue", alternatives=2, length="short", seed=7, preset="balanced"
        )
        assert await until(lambda: Passage.objects.filter(scene=scene).count() == 2)
        ids = list(Passage.objects.filter(scene=scene).values_list("pk", flat=True))
        assert await until(lambda: all(w.cards.get(i) == "done" for w in watchers for i in ids))
        result = {i: [w.streamed_text(i) for w in watchers] for i in ids}
        gaps = {i: [w.gaps(i) for w in watchers] for i in ids}
        for c in (*watchers, requester):
            await c.close()
        return ids, result, gaps, [w.card_texts for w in watchers]

    ids, result, gaps, card_texts = run_async(run())
    for pid in ids:
        passage = Passage.objects.get(pk=pid)
        assert passage.status == PassageStatus.DONE and passage.text
        assert passage.model_version.name == "tiny-test-v1"
        assert passage.first_token_at and passage.finished_at and passage.token_count > 0
        assert passage.prompt["heading"] == "INT. STATION - NIGHT" and passage.prompt["cast"] == [
            "MARA"
        ]
        # Every watcher saw every token, in order, and the same text the database kept.
        assert result[pid] == [passage.text, passage.text], pid
        assert gaps[pid] == [[], []]
        assert all(ct[pid] == passage.text for ct in card_texts)
    a, b = Passage.objects.filter(pk__in=ids).order_by("alternative")
    assert a.group == b.group and (a.alternative, b.alternative) == (0, 1)
    assert a.sampling["seed"] != b.sampling["seed"]
    # The request (a write) gave the project its default tags for the cards to offer.
    tags = FeedbackTag.objects.filter(project=team.project).values_list("name", flat=True)
    assert sorted(tags) == sorted(DEFAULT_FEEDBACK_TAGS)


def test_a_late_joiner_gets_the_text_so_far_then_the_live_tokens(stack, team):
    server, _ = stack
    scene = team.scenes[0]

    async def run():
        requester = room(server, team, "editor")
        await requester.connect()
        await asyncio.sleep(0.3)
        await requester.request_draft(task="new", alternatives=1, max_new_tokens=400, seed=3)
        assert await until(lambda: any(len(v) >= 3 for v in requester.deltas.values()))
        late = room(server, team, "viewer")
        await late.connect()
        pid = Passage.objects.get(scene=scene).pk
        assert await until(
            lambda: late.cards.get(pid) == "done" or Passage.objects.get(pk=pid).status == "done"
        )
        await until(lambda: late.cards.get(pid) == "done", 10)
        text = late.streamed_text(pid)
        for c in (requester, late):
            await c.close()
        return pid, text, late.snapshots.get(pid)

    pid, text, snapshot = run_async(run())
    passage = Passage.objects.get(pk=pid)
    assert snapshot is not None and snapshot[0] >= 1  # it got the text so far…
    assert text == passage.text  # …and then every later token


def test_cancel_stops_one_draft_and_not_the_others(stack, team):
    server, _ = stack
    scene = team.scenes[0]

    async def run():
        editor = room(server, team, "editor")
        await editor.connect()
        await asyncio.sleep(0.3)
        # A random tiny model may write its end token early: a round where a draft ended by
        # itself (before the cancel reached it, or before outgrowing the cancelled one)
        # proves nothing, so it is asked again with another seed.
        for seed in (11, 12, 13):
            await editor.request_draft(
                task="new", alternatives=2, max_new_tokens=500, seed=seed, preset="adventurous"
            )
            assert await until(
                lambda: Passage.objects.filter(scene=scene, status="streaming").count() == 2
            )
            first, second = Passage.objects.filter(scene=scene, status="streaming").order_by(
                "alternative"
            )
            await editor.send(action="draft_cancel", passage=first.pk)
            assert await until(_done([first.pk, second.pk]), 90)
            first.refresh_from_db()
            second.refresh_from_db()
            if first.finish_reason != "stop" and second.token_count > first.token_count:
                break
        await until(lambda: editor.cards.get(first.pk) == "cancelled", 10)
        await editor.close()
        return first.pk, second.pk, editor.cards

    first, second, cards = run_async(run())
    a, b = Passage.objects.get(pk=first), Passage.objects.get(pk=second)
    assert a.status == PassageStatus.CANCELLED and a.finish_reason == "cancelled"
    assert b.status == PassageStatus.DONE and b.token_count > a.token_count
    assert cards[first] == "cancelled"


def test_viewers_cannot_request_or_cancel_and_outsiders_cannot_listen(stack, team):
    server, _ = stack
    scene = team.scenes[0]

    async def run():
        viewer, commenter, outsider = (
            room(server, team, w) for w in ("viewer", "commenter", "outsider")
        )
        for c in (viewer, commenter, outsider):
            await c.connect()
        await asyncio.sleep(0.3)
        await viewer.request_draft(task="new")
        await commenter.request_draft(task="new")
        await until(lambda: viewer.errors and commenter.errors, 10)
        # An editor's draft is not seen by the outsider (closed at connect).
        editor = room(server, team, "editor")
        await editor.connect()
        await asyncio.sleep(0.3)
        await editor.request_draft(task="new", max_new_tokens=20, seed=1)
        await until(
            lambda: Passage.objects.filter(scene=scene).exclude(status__in=drafts.LIVE).exists()
        )
        pid = Passage.objects.get(scene=scene).pk
        await viewer.send(action="draft_cancel", passage=pid)
        await editor.send(action="frobnicate")
        await editor.ws.send("not json")
        await until(lambda: len(viewer.errors) >= 2 and len(editor.errors) >= 2, 10)
        for c in (viewer, commenter, outsider, editor):
            await c.close()
        return viewer.errors, commenter.errors, outsider.close_code, outsider.frames, editor.errors

    v_errors, c_errors, outsider_code, outsider_frames, e_errors = run_async(run())
    assert v_errors[0] == "Only editors and owners can ask for or cancel drafts."
    assert c_errors == ["Only editors and owners can ask for or cancel drafts."]
    assert outsider_code == 4404 and outsider_frames == 0
    assert e_errors == ["That action is not known.", "That message was not understood."]
    assert Passage.objects.filter(scene=scene).count() == 1  # only the editor's


def test_bad_requests_get_clear_errors_and_create_nothing(stack, team, settings):
    server, _ = stack

    async def run():
        editor = room(server, team, "editor")
        await editor.connect()
        await asyncio.sleep(0.3)
        for fields in [
            {"task": "poem"},
            {"task": "new", "alternatives": 9},
            {"task": "new", "temperature": "hot"},
            {"task": "new", "max_new_tokens": 100000},
            {"task": "new", "instruction": "x" * 3000},
            {"task": "rewrite", "instruction": "punchier"},
            {
                "task": "rewrite",
                "instruction": "punchier",
                "selection_start": 0,
                "selection_end": 99999,
            },
            {
                "mode": "rewrite",
                "instruction": "punchier",
                "selection_start": 0,
                "selection_end": 3,
                "anchor_start": "AP//////////////AQ==",
                "anchor_end": "AAAA",
            },
            {"mode": "dialogue", "character": "HAMLET", "selection_start": 0, "selection_end": 3},
        ]:
            await editor.request_draft(**fields)
        await until(lambda: len(editor.errors) >= 9, 15)
        await editor.close()
        return editor.errors

    errors = run_async(run())
    assert errors == [
        "Choose what to write: the scene, a continuation, a rewrite of the selection, "
        "or a dialogue pass.",
        "Alternatives must be between 1 and 4.",
        "Temperature must be a number.",
        f"Max new tokens must be between 1 and {settings.COWRITE_DRAFT_MAX_NEW_TOKENS}.",
        f"The instruction is at most {settings.COWRITE_DRAFT_MAX_INSTRUCTION_CHARS:,} characters.",
        "Select the passage to rewrite first.",
        "The selection is outside the scene's text; select it again.",
        "The selection's place in the scene was not understood (malformed position "
        "(varint too long)); reload the page and try again.",
        "HAMLET is not in this scene's cast; pick one of: MARA.",
    ]
    assert not Passage.objects.exists()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS, reason="a separate worker process needs REDIS_URL (CI's Redis pass)")
def test_a_worker_killed_mid_draft_fails_the_draft_and_the_page_says_so(stack, team):
    from generation.tasks import reap_stalled_drafts

    server, worker = stack
    scene = team.scenes[0]

    async def run():
        editor = room(server, team, "editor")
        await editor.connect()
        await asyncio.sleep(0.3)
        await editor.request_draft(task="new", max_new_tokens=500, seed=5)
        assert await until(lambda: Passage.objects.filter(scene=scene, status="streaming").exists())
        assert await until(lambda: editor.deltas)
        worker.stop(kill=True)  # SIGKILL: no goodbye
        pid = Passage.objects.get(scene=scene).pk
        # Beat runs reap_stalled_drafts every few seconds; here the test plays beat.
        for _ in range(100):
            await in_thread(reap_stalled_drafts)
            if editor.cards.get(pid) == "failed":
                break
            await asyncio.sleep(0.2)
        await editor.close()
        return pid, editor.cards.get(pid)

    pid, card = run_async(run())
    passage = Passage.objects.get(pk=pid)
    assert passage.status == PassageStatus.FAILED and "worker stopped" in passage.error
    assert card == "failed"


def test_rate_limit_and_full_queue_and_project_cap(team, model, settings):
    from django.core.exceptions import ValidationError

    scene = team.scenes[0]
    spec = drafts.draft_spec_from({"task": "new", "alternatives": "1"})
    settings.COWRITE_DRAFT_RATE_LIMIT = 2
    drafts.draft_request(scene=scene, user=team.users["editor"], spec=spec)
    drafts.draft_request(scene=scene, user=team.users["editor"], spec=spec)
    with pytest.raises(ValidationError, match="wait a little"):
        drafts.draft_request(scene=scene, user=team.users["editor"], spec=spec)
    settings.COWRITE_DRAFT_RATE_LIMIT = 100
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 3
    drafts.draft_request(scene=scene, user=team.users["owner"], spec=spec)
    with pytest.raises(ValidationError, match="already has 3 drafts running"):
        drafts.draft_request(scene=scene, user=team.users["owner"], spec=spec)
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 100
    settings.COWRITE_GENERATION_MAX_QUEUE = 4
    with pytest.raises(ValidationError, match="queue is full"):
        drafts.draft_request(
            scene=scene,
            user=team.users["owner"],
            spec=drafts.draft_spec_from({"task": "new", "alternatives": "2"}),
        )
    assert Passage.objects.count() == 3


def test_accepting_a_passage_appends_or_replaces_as_a_revision(team, model, client):
    from django.urls import reverse

    from scripts_app import services

    scene = team.scenes[0]
    text = scene.text  # "Alarms pulse amber.\n\nMARA\nIt's holding.\n"
    start = text.index("It's holding.")
    spec = drafts.draft_spec_from(
        {
            "task": "rewrite",
            "instruction": "more fear",
            "selection_start": start,
            "selection_end": start + 13,
        }
    )
    (passage,) = drafts.draft_request(scene=scene, user=team.users["editor"], spec=spec)
    assert passage.selection_text == "It's holding."
    Passage.objects.filter(pk=passage.pk).update(status="done", text="It's… not holding.")
    client.force_login(team.users["viewer"])
    url = reverse("passage_accept", args=[team.project.pk, scene.pk, passage.pk])
    assert client.post(url, {"mode": "replace"}).status_code == 403
    client.force_login(team.users["editor"])
    response = client.post(url, {"mode": "replace"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "accepted" in response.content.decode()
    scene.refresh_from_db()
    assert scene.text == "Alarms pulse amber.\n\nMARA\nIt's… not holding.\n"
    revision = scene.head
    passage.refresh_from_db()
    assert revision.origin == RevisionOrigin.PASSAGE and passage.accepted_revision == revision
    # Appending a continuation.
    (cont,) = drafts.draft_request(
        scene=scene, user=team.users["editor"], spec=drafts.draft_spec_from({"task": "continue"})
    )
    Passage.objects.filter(pk=cont.pk).update(status="done", text="JONAH\nThen we run.\n")
    client.post(
        reverse("passage_accept", args=[team.project.pk, scene.pk, cont.pk]), {"mode": "append"}
    )
    scene.refresh_from_db()
    assert scene.text.endswith("It's… not holding.\n\nJONAH\nThen we run.\n")
    assert Revision.objects.filter(scene=scene, origin=RevisionOrigin.PASSAGE).count() == 2
    # A queued passage cannot be accepted; a rewrite whose selection changed cannot replace.
    (queued,) = drafts.draft_request(
        scene=scene, user=team.users["editor"], spec=drafts.draft_spec_from({"task": "new"})
    )
    response = client.post(
        reverse("passage_accept", args=[team.project.pk, scene.pk, queued.pk]),
        {"mode": "append"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "Only a finished draft" in response.content.decode()
    # Accepted once: a second accept is refused (tests/generation/test_drafts_modes.py).
    response = client.post(url, {"mode": "replace"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "already in the scene" in response.content.decode()
    # A rewrite whose text changed since (no positions: searched for) cannot replace.
    start = scene.text.index("Alarms pulse")
    (stale,) = drafts.draft_request(
        scene=scene,
        user=team.users["editor"],
        spec=drafts.draft_spec_from(
            {
                "task": "rewrite",
                "instruction": "x",
                "selection_start": start,
                "selection_end": start + 6,
            }
        ),
    )
    Passage.objects.filter(pk=stale.pk).update(status="done", text="Sirens")
    services.scene_save_text(
        scene=scene,
        user=team.users["editor"],
        text=scene.text.replace("Alarms", "Horns"),
        base_revision_id=scene.head_id,
    )
    response = client.post(
        reverse("passage_accept", args=[team.project.pk, scene.pk, stale.pk]),
        {"mode": "replace"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "has changed since" in response.content.decode()


def _tokenizer(version):
    from generation.core.tokenizer import ScriptTokenizer

    return ScriptTokenizer.load(version.path / "tokenizer.json")


def test_prompt_builder_fits_the_budget_and_records_what_it_cut(team, model):
    from generation.prompts import build_prompt
    from scripts_app import services

    tok = _tokenizer(model)
    scene = team.scenes[1]
    services.scene_update(
        scene=scene,
        heading=scene.heading,
        synopsis="Jonah goes outside.",
        cast_ids=[team.characters[0].pk],
    )
    long_text = "MARA\nWe hold.\n\n" * 300
    built = build_prompt(
        scene=scene,
        task="continue",
        instruction="Make it tense",
        scene_text=long_text,
        selection=None,
        tokenizer=tok,
        block_size=256,
        max_new_tokens=128,
    )
    assert len(built.ids) <= 128
    assert "Jonah goes outside." in built.prompt.synopsis
    assert "Make it tense" in built.prompt.synopsis
    assert (
        "start of the text" in built.dropped
        and built.prompt.text_prefix.startswith("MARA")
        and long_text.endswith(built.prompt.text_prefix)
    )
    short = build_prompt(
        scene=scene,
        task="new",
        instruction="",
        scene_text="",
        selection=None,
        tokenizer=tok,
        block_size=256,
        max_new_tokens=64,
    )
    assert "Before this: INT. STATION - NIGHT — Alarms." in short.prompt.synopsis
    assert "Cast: MARA — Engineer" in short.prompt.synopsis and short.dropped == []


def test_the_worker_builds_a_requests_prompt_once_from_the_scene_as_it_is_then(team, model):
    """The request stores what was asked; the first alternative claimed builds the prompt
    (the scene as it is now: a rewrite finds its selection again after edits above it),
    tokenized once; its siblings get the same prompt."""
    from generation.core.prompting import format_prompt
    from generation.prompts import prompt_for
    from scripts_app import services

    tok = _tokenizer(model)
    scene = team.scenes[0]
    text = scene.text
    start = text.index("MARA")
    (a, b) = drafts.draft_request(
        scene=scene,
        user=team.users["editor"],
        spec=drafts.draft_spec_from(
            {
                "task": "rewrite",
                "instruction": "Shorter.",
                "alternatives": 2,
                "selection_start": start,
                "selection_end": len(text.rstrip("\n")),
            }
        ),
    )
    assert a.prompt == {} and b.prompt == {}  # the web side did not tokenize anything
    # Someone types a line above the selection before a worker starts the draft.
    services.scene_save_text(
        scene=scene,
        text="A new first line.\n\n" + text,
        base_revision_id=scene.head_id,
        user=team.users["owner"],
    )
    built = prompt_for(b, tok, block_size=256)  # the second alternative is claimed first
    assert built.prompt.text_prefix == "A new first line.\n\n" + text[:start]
    assert built.ids == format_prompt(tok, built.prompt)
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.prompt == b.prompt == built.as_record()
    again = prompt_for(a, tok, block_size=256)  # the sibling reads it, tokenized for itself
    assert again.prompt == built.prompt and again.ids == built.ids


def test_switching_the_active_version_keeps_streams_in_flight(stack, team, settings):
    from generation import services as gen_services
    from generation.models import ModelVersion
    from tests.support.models import build_tiny_version

    server, _ = stack
    scene = team.scenes[0]
    build_tiny_version(settings.MODEL_DIR / "tiny-test-v2", seed=1)
    v2 = ModelVersion.objects.create(
        name="tiny-test-v2", preset="test", folder="tiny-test-v2", status="candidate"
    )

    async def run():
        editor = room(server, team, "editor")
        await editor.connect()
        await asyncio.sleep(0.3)
        await editor.request_draft(task="new", max_new_tokens=500, seed=21)
        assert await until(lambda: editor.deltas)
        first = await in_thread(lambda: Passage.objects.get(scene=scene))
        await in_thread(gen_services.version_activate, version=v2)
        await asyncio.sleep(1.5)  # the worker looks between batches (every second)
        await editor.request_draft(task="new", max_new_tokens=20, seed=22)
        assert await until(lambda: Passage.objects.filter(scene=scene).count() == 2)
        ids = await in_thread(
            lambda: list(Passage.objects.filter(scene=scene).values_list("pk", flat=True))
        )
        assert await until(_done(ids), 90)
        await until(lambda: all(editor.cards.get(i) for i in ids), 10)
        text = editor.streamed_text(first.pk)
        await editor.close()
        return first.pk, text

    first_id, streamed = run_async(run())
    first = Passage.objects.get(pk=first_id)
    second = Passage.objects.exclude(pk=first_id).get(scene=scene)
    assert first.status == PassageStatus.DONE and first.model_version.name == "tiny-test-v1"
    assert streamed == first.text  # not dropped, not cut
    assert second.status == PassageStatus.DONE and second.model_version.name == "tiny-test-v2"


def test_a_draft_asked_while_the_first_model_trains_waits_then_streams(team, settings, tmp_path):
    """No model yet but one training: the request is queued (not refused), its card says
    it waits for the model, nothing runs it; once the model is active a worker takes it."""
    import time

    from django.test import Client
    from django.urls import reverse

    from generation.models import ModelVersion

    settings.MODEL_DIR = tmp_path / "models"
    version = register_tiny_version(settings.MODEL_DIR, status="training")
    ModelVersion.objects.filter(pk=version.pk).update(progress={"updated_at": time.time()})
    scene = team.scenes[0]
    with generation_stack(env={"COWRITE_GENERATION_STALE_SECONDS": "3"}):
        (passage,) = drafts.draft_request(
            scene=scene,
            user=team.users["editor"],
            spec=drafts.draft_spec_from(
                # Seeded: a random tiny model could rightly end a draft at once, empty.
                {"task": "continue", "alternatives": 1, "length": "short", "seed": 7}
            ),
        )
        assert passage.status == PassageStatus.QUEUED and passage.model_version_id is None
        client = Client()
        client.force_login(team.users["viewer"])
        card = client.get(reverse("passage_card", args=[team.project.pk, scene.pk, passage.pk]))
        assert "waits for the model in training" in card.content.decode()
        time.sleep(2.5)  # the workers sweep every second: none runs it without a model
        passage.refresh_from_db()
        assert passage.status == PassageStatus.QUEUED
        ModelVersion.objects.filter(pk=version.pk).update(status="active")
        assert run_async(until(_done([passage.pk])))
    passage.refresh_from_db()
    assert passage.status == PassageStatus.DONE and passage.text
    assert passage.model_version_id == version.pk and passage.prompt["heading"] == scene.heading


def test_a_draft_is_refused_when_no_model_exists_or_trains(team, settings, tmp_path):
    from django.core.exceptions import ValidationError

    settings.MODEL_DIR = tmp_path / "models"
    with pytest.raises(ValidationError, match="no model to write drafts yet"):
        drafts.draft_request(
            scene=team.scenes[0],
            user=team.users["editor"],
            spec=drafts.draft_spec_from({"task": "continue"}),
        )
    assert not Passage.objects.exists()


def test_who_speaks_is_part_of_the_request_and_reaches_the_sampling_parameters():
    from django.core.exceptions import ValidationError

    from generation.core.params import SamplingParams

    cast_only = drafts.draft_spec_from({"task": "continue"})  # the default: the scene's cast
    anyone = drafts.draft_spec_from({"task": "continue", "speakers": "any"})
    assert SamplingParams.from_dict(cast_only.sampling()).cast_cues is True
    assert SamplingParams.from_dict(anyone.sampling()).cast_cues is False
    assert "cast_cues" not in anyone.sampling()
    for bad in ("everyone", ["cast"], 1):
        with pytest.raises(ValidationError):
            drafts.draft_spec_from({"task": "continue", "speakers": bad})
    with pytest.raises(ValueError, match="Cast cues"):
        SamplingParams.from_dict({"cast_cues": "yes"})
