"""A chapter's drafts (``generation/drafts/chapter.py``): one request that drafts every
scene made from a chapter of a book — in order, one "write the scene" draft each, as many
as the project's limits allow now and the rest as earlier drafts end (each scene once,
even with two advances at once), deleted scenes skipped, counted once against the rate;
the refusals; who may ask, see and stop it; the panel on the book page; and end to end
with the real generation worker (a scripted backend) and the scene rooms."""

import asyncio
import json
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from generation import drafts
from generation.drafts import chapter as chapter_module
from generation.models import BatchState, ChapterDrafts, DraftTask, Passage, PassageStatus
from scripts_app import services
from scripts_app.models import Membership, Role, SceneSource, SourceText
from tests.conftest import make_user
from tests.support.models import register_tiny_version

BOOK_TEXT = "".join(f"Paragraph {i}. " for i in range(12))


@pytest.fixture
def model(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return register_tiny_version(settings.MODEL_DIR)


def make_book(project, user, scenes_in_first: int = 5):
    """A book of two chapters on ``project``: the first made into ``scenes_in_first``
    scenes (listed in the chapter's order, which is not the order they were made in),
    the second into none. Return the source and the first chapter's scenes in order."""
    spans = [[i * 13, i * 13 + 12] for i in range(12)]
    source = SourceText.objects.create(
        project=project,
        title="The Keeper's Daughter",
        source_format="text",
        text=BOOK_TEXT,
        words=24,
        chapters=[
            {"title": "CHAPTER I", "paragraphs": spans[:8], "breaks": []},
            {"title": "CHAPTER II", "paragraphs": spans[8:], "breaks": []},
        ],
    )
    made = [
        services.scene_create(
            project=project,
            user=user,
            heading=f"INT. LIGHTHOUSE - NIGHT {n}",
            synopsis=f"Beat {n}.",
        )
        for n in range(scenes_in_first)
    ]
    # The chapter's order is its paragraphs' (``first``): the reverse of creation here.
    ordered = list(reversed(made))
    for i, scene in enumerate(ordered):
        SceneSource.objects.create(scene=scene, source=source, chapter=0, first=i, last=i)
    return source, ordered


def ask(team, source, who="editor", chapter=0, **data):
    return drafts.chapter_drafts_request(
        project=team.project, source=source, chapter=chapter, user=team.users[who], data=data
    )


def run_passage(passage_id: int, reason: str = "stop") -> None:
    """What a worker does with a queued passage: claim it, write, finish it."""
    assert drafts.passage_claim(passage_id=passage_id, worker="test", version_id=None)
    drafts.passage_finish(
        passage_id=passage_id,
        text="MARA\nWe stay." if reason != "error" else "",
        seq=1,
        tokens=3,
        reason=reason,
        error="boom" if reason == "error" else "",
    )


def live(project) -> int:
    return Passage.objects.filter(project=project, status__in=drafts.LIVE).count()


# --- the request -----------------------------------------------------------------------------


def test_a_chapter_request_asks_one_new_scene_draft_per_scene_in_the_chapters_order(team, model):
    source, scenes = make_book(team.project, team.users["owner"])
    batch = ask(team, source, instruction="Keep the narration out.")
    passages = list(Passage.objects.filter(batch=batch).order_by("pk"))
    assert [p.scene_id for p in passages] == [s.pk for s in scenes]
    assert batch.scene_ids == [s.pk for s in scenes] and batch.state == BatchState.RUNNING
    assert batch.queued == {str(p.scene_id): p.pk for p in passages}
    for p in passages:
        assert (p.task, p.alternative, p.alternatives) == (DraftTask.NEW, 0, 1)
        assert p.status == PassageStatus.QUEUED and p.kind == "scene"
        assert p.instruction == "Keep the narration out."
        assert p.requested_by == team.users["editor"] and p.model_version == model
        assert p.sampling["preset"] == "balanced" and p.sampling["cast_cues"] is True
    assert len({p.group for p in passages}) == len(passages)  # each its own request
    assert len({p.sampling["seed"] for p in passages}) == len(passages)
    # The second chapter has no scene; a chapter with its scenes all deleted neither.
    with pytest.raises(ValidationError, match="No scene made from this chapter"):
        ask(team, source, chapter=1)


def test_over_the_project_cap_the_rest_wait_and_follow_as_drafts_end(team, model, settings):
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 2
    source, scenes = make_book(team.project, team.users["owner"])
    batch = ask(team, source)
    assert len(batch.queued) == 2
    shown = drafts.progress(batch)
    assert [r.state for r in shown.rows] == ["queued", "queued", "waiting", "waiting", "waiting"]
    assert shown.summary == "0 of 5 scenes drafted" and shown.live
    most = 0
    for _ in range(10):  # a worker finishes the oldest live draft, one after another
        nxt = Passage.objects.filter(batch=batch, status__in=drafts.LIVE).order_by("pk").first()
        if nxt is None:
            break
        # One of them fails: the batch goes on regardless.
        run_passage(nxt.pk, reason="error" if nxt.scene_id == scenes[1].pk else "stop")
        most = max(most, live(team.project))
    batch.refresh_from_db()
    assert most <= 2
    assert batch.state == BatchState.FINISHED and batch.finished_at is not None
    passages = list(Passage.objects.filter(batch=batch).order_by("pk"))
    assert [p.scene_id for p in passages] == [s.pk for s in scenes]  # each once, in order
    shown = drafts.progress(batch)
    assert [r.state for r in shown.rows] == ["finished", "failed"] + ["finished"] * 3
    assert shown.summary == "4 of 5 scenes drafted" and not shown.live


def test_a_place_freed_by_another_draft_or_a_cancel_is_taken_by_the_waiting_scenes(
    team, model, settings
):
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 3
    source, scenes = make_book(team.project, team.users["owner"])
    spec = drafts.draft_spec_from({"mode": "new"})
    (single,) = drafts.draft_request(scene=team.scenes[0], user=team.users["owner"], spec=spec)
    batch = ask(team, source)
    assert len(batch.queued) == 2  # 3 places, one taken by the draft asked on its own
    run_passage(single.pk)  # it ends: the chapter takes its place
    batch.refresh_from_db()
    assert len(batch.queued) == 3
    drafts.draft_cancel(
        passage=Passage.objects.get(pk=batch.queued[str(scenes[0].pk)]), user=team.users["editor"]
    )
    batch.refresh_from_db()
    assert len(batch.queued) == 4 and live(team.project) == 3
    assert drafts.progress(batch).rows[0].state == "cancelled"


def test_the_reaper_fails_a_dead_workers_draft_and_the_next_scene_follows(team, model, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 1
    source, scenes = make_book(team.project, team.users["owner"], scenes_in_first=2)
    batch = ask(team, source)
    first = Passage.objects.get(pk=batch.queued[str(scenes[0].pk)])
    drafts.passage_claim(passage_id=first.pk, worker="dead", version_id=None)
    Passage.objects.filter(pk=first.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert drafts.passages_reap(timeout_seconds=30) == 1
    batch.refresh_from_db()
    assert set(batch.queued) == {str(s.pk) for s in scenes}
    assert [r.state for r in drafts.progress(batch).rows] == ["failed", "queued"]


@pytest.mark.django_db(transaction=True)
def test_two_advances_at_once_queue_each_scene_once(team, model, settings, monkeypatch):
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 2
    source, scenes = make_book(team.project, team.users["owner"], scenes_in_first=4)
    batch = ask(team, source)
    # Both drafts end at once; each worker's finish advances the batch.
    Passage.objects.filter(batch=batch).update(status=PassageStatus.DONE)
    slow_room = chapter_module.room_for

    def room_for(project_id):  # hold the lock a while: an unlocked advance would race
        room = slow_room(project_id)
        time.sleep(0.3)
        return room

    monkeypatch.setattr(chapter_module, "room_for", room_for)
    start, errors = threading.Barrier(2), []

    def advance():
        try:
            start.wait()
            drafts.batch_advance(batch.pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=advance) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    per_scene = [Passage.objects.filter(batch=batch, scene=s).count() for s in scenes]
    assert per_scene == [1, 1, 1, 1]
    batch.refresh_from_db()
    assert sorted(batch.queued.values()) == sorted(
        Passage.objects.filter(batch=batch).values_list("pk", flat=True)
    )
    assert live(team.project) == 2


@pytest.mark.django_db(transaction=True)
def test_two_chapters_advancing_at_once_never_pass_the_project_cap(
    team, model, settings, monkeypatch
):
    owner = team.users["owner"]
    source, first = make_book(team.project, owner, scenes_in_first=3)
    second = [
        services.scene_create(project=team.project, user=owner, heading=f"EXT. SHORE - DAY {n}")
        for n in range(3)
    ]
    for i, scene in enumerate(second):
        SceneSource.objects.create(scene=scene, source=source, chapter=1, first=8 + i, last=8 + i)
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 2
    a = ask(team, source, chapter=0)  # 2 of 3 asked
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 3
    b = ask(team, source, chapter=1)  # 1 of 3 asked: the project is full (3)
    assert live(team.project) == 3
    # One of the first chapter's drafts ends: one place. Both chapters advance at once.
    Passage.objects.filter(pk=next(iter(a.queued.values()))).update(status=PassageStatus.DONE)
    slow_room = chapter_module.room_for

    def room_for(project_id):  # count, then wait: an unlocked pair would both see 1 place
        room = slow_room(project_id)
        time.sleep(0.3)
        return room

    monkeypatch.setattr(chapter_module, "room_for", room_for)
    start, errors = threading.Barrier(2), []

    def advance(batch_id):
        try:
            start.wait()
            drafts.batch_advance(batch_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=advance, args=(b_.pk,)) for b_ in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert live(team.project) == 3  # the one place went to one chapter
    assert Passage.objects.filter(batch__in=[a, b]).count() == 4


def test_a_scene_deleted_before_its_turn_is_skipped(team, model, settings):
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 2
    source, scenes = make_book(team.project, team.users["owner"], scenes_in_first=4)
    batch = ask(team, source)
    deleted = scenes[2].pk
    services.scene_delete(scene=scenes[2])
    for pk in list(batch.queued.values()):
        run_passage(pk)
    run_passage(Passage.objects.get(batch=batch, scene=scenes[3]).pk)
    batch.refresh_from_db()
    assert batch.state == BatchState.FINISHED and batch.skipped == [deleted]
    assert Passage.objects.filter(batch=batch).count() == 3
    shown = drafts.progress(batch)
    assert [r.state for r in shown.rows] == ["finished", "finished", "deleted", "finished"]
    assert shown.summary == "3 of 3 scenes drafted"
    # Every scene of a chapter deleted: nothing left to draft.
    for scene in (scenes[0], scenes[1], scenes[3]):
        services.scene_delete(scene=scene)
    with pytest.raises(ValidationError, match="No scene made from this chapter is left"):
        ask(team, source)


def test_refusals_already_drafting_no_model_full_queue_full_project(team, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    source, _ = make_book(team.project, team.users["owner"])
    with pytest.raises(ValidationError, match="no model to write drafts yet"):
        ask(team, source)
    register_tiny_version(settings.MODEL_DIR)
    settings.COWRITE_GENERATION_MAX_QUEUE = 0
    with pytest.raises(ValidationError, match="queue is full"):
        ask(team, source)
    settings.COWRITE_GENERATION_MAX_QUEUE = 64
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 1
    spec = drafts.draft_spec_from({"mode": "new"})
    drafts.draft_request(scene=team.scenes[0], user=team.users["owner"], spec=spec)
    with pytest.raises(ValidationError, match="already has 1 drafts running"):
        ask(team, source)
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 8
    batch = ask(team, source)
    with pytest.raises(ValidationError, match=r"already being drafted \(0 of 5 scenes drafted\)"):
        ask(team, source, who="owner")
    with pytest.raises(ValidationError, match="Choose a length"):
        ask(team, source, length="epic")
    assert ChapterDrafts.objects.count() == 1 and batch.state == BatchState.RUNNING


def test_the_rate_limit_counts_a_chapter_once(team, model, settings):
    settings.COWRITE_DRAFT_RATE_LIMIT = 2
    source, _ = make_book(team.project, team.users["owner"])
    batch = ask(team, source)
    assert len(batch.queued) == 5  # five drafts, one request
    spec = drafts.draft_spec_from({"mode": "new"})
    drafts.draft_request(scene=team.scenes[0], user=team.users["editor"], spec=spec)
    with pytest.raises(ValidationError, match="wait a little"):
        drafts.draft_request(scene=team.scenes[0], user=team.users["editor"], spec=spec)
    drafts.batch_cancel(batch=batch, user=team.users["editor"])
    with pytest.raises(ValidationError, match="wait a little"):
        ask(team, source)


def test_stopping_a_chapter_cancels_its_live_drafts_and_asks_no_more(team, model, settings):
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 2
    source, scenes = make_book(team.project, team.users["owner"])
    batch = ask(team, source)
    streaming, queued = (Passage.objects.get(pk=batch.queued[str(s.pk)]) for s in scenes[:2])
    drafts.passage_claim(passage_id=streaming.pk, worker="w", version_id=None)
    other_editor = make_user("editor2")
    Membership.objects.create(project=team.project, user=other_editor, role=Role.EDITOR)
    for who in (other_editor, team.users["viewer"]):
        with pytest.raises(ValidationError, match="Only the person who asked"):
            drafts.batch_cancel(batch=batch, user=who)
    assert drafts.batch_cancel(batch=batch, user=team.users["owner2"]).state == "cancelled"
    streaming.refresh_from_db()
    queued.refresh_from_db()
    assert streaming.cancel_requested and queued.status == PassageStatus.CANCELLED
    # The worker stops the streaming one; its end asks for no further scene.
    drafts.passage_finish(passage_id=streaming.pk, text="MA", seq=1, tokens=1, reason="cancelled")
    batch.refresh_from_db()
    assert batch.state == BatchState.CANCELLED and len(batch.queued) == 2
    shown = drafts.progress(batch)
    assert [r.state for r in shown.rows] == ["cancelled", "cancelled"] + ["not asked"] * 3
    assert not shown.live
    # The chapter can be asked again.
    assert ask(team, source).state == BatchState.RUNNING


# --- the book page and its panel -------------------------------------------------------------


def panel_url(team, source, chapter=0):
    return reverse("chapter_drafts", args=[team.project.pk, source.pk, chapter])


def test_who_sees_and_who_asks_on_the_book_page(team, model, client):
    source, scenes = make_book(team.project, team.users["owner"])
    book = reverse("book_detail", args=[team.project.pk, source.pk])
    client.force_login(team.users["viewer"])
    page = client.get(book + "?chapter=0").content.decode()
    assert "Drafts of this chapter's scenes" in page
    assert "5 scenes were made from this chapter" in page
    assert (
        "Draft this chapter&#x27;s scenes" not in page and "Draft this chapter's scenes" not in page
    )
    assert "chapter-drafts" not in client.get(book).content.decode()  # the chapter list: no panel
    for who in ("viewer", "commenter"):
        client.force_login(team.users[who])
        assert client.post(panel_url(team, source), {}).status_code == 403
    assert not ChapterDrafts.objects.exists()

    client.force_login(team.users["editor"])
    page = client.get(book + "?chapter=0").content.decode()
    assert "Draft this chapter" in page and 'name="instruction"' in page
    answer = client.post(panel_url(team, source), {"instruction": "Tense."}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "0 of 5 scenes drafted" in body and "5 queued" in body
    assert 'hx-trigger="every 2s"' in body  # live: the panel polls itself
    for scene in scenes:
        assert reverse("scene_detail", args=[team.project.pk, scene.pk]) in body
    assert "Stop drafting this chapter" in body
    batch = ChapterDrafts.objects.get()
    assert batch.instruction == "Tense." and batch.requested_by == team.users["editor"]
    # A second ask: the reason, in the panel.
    again = client.post(panel_url(team, source), {}, HTTP_HX_REQUEST="true")
    assert again.status_code == 422 and "already being drafted" in again.content.decode()
    assert "data-swap-errors" in again.content.decode()  # htmx swaps it (app.js)
    # A plain form post goes back to the chapter with a message.
    plain = client.post(panel_url(team, source), {})
    assert plain.status_code == 302 and plain.url.endswith("?chapter=0")

    # The viewer sees the status, live, but no button and no stop.
    client.force_login(team.users["viewer"])
    body = client.get(panel_url(team, source)).content.decode()
    assert "0 of 5 scenes drafted" in body and 'hx-trigger="every 2s"' in body
    assert "Stop drafting" not in body and "Draft this chapter" not in body

    # Once every draft ended, the panel stops polling and offers the button again.
    for pk in list(batch.queued.values()):
        run_passage(pk)
    client.force_login(team.users["editor"])
    body = client.get(panel_url(team, source)).content.decode()
    assert "5 of 5 scenes drafted" in body and "every 2s" not in body
    assert "Draft this chapter" in body


def test_outsiders_and_other_projects_books_and_chapters_are_404(team, model, client):
    source, _ = make_book(team.project, team.users["owner"])
    other = services.project_create(user=team.users["outsider"], title="Elsewhere")
    other_source, _ = make_book(other, team.users["outsider"], scenes_in_first=1)
    client.force_login(team.users["outsider"])
    assert client.get(panel_url(team, source)).status_code == 404
    assert client.post(panel_url(team, source), {}).status_code == 404
    client.force_login(team.users["editor"])
    # Another project's book through this project's URL, or that project's own URL.
    wrong = reverse("chapter_drafts", args=[team.project.pk, other_source.pk, 0])
    assert client.post(wrong, {}).status_code == 404
    theirs = reverse("chapter_drafts", args=[other.pk, other_source.pk, 0])
    assert client.post(theirs, {}).status_code == 404
    assert client.post(panel_url(team, source, chapter=2), {}).status_code == 404  # no such chapter
    assert not ChapterDrafts.objects.exists()
    # A stop only for a request of that chapter of that book.
    batch = ask(team, source)
    stop = reverse("chapter_drafts_cancel", args=[team.project.pk, source.pk, 1, batch.pk])
    assert client.post(stop).status_code == 404
    client.force_login(team.users["viewer"])
    stop = reverse("chapter_drafts_cancel", args=[team.project.pk, source.pk, 0, batch.pk])
    assert client.post(stop).status_code == 403
    client.force_login(team.users["owner"])
    answer = client.post(stop, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "stopped: Stopped by owner" in answer.content.decode()
    batch.refresh_from_db()
    assert batch.state == BatchState.CANCELLED


# --- end to end ------------------------------------------------------------------------------

SCRIPTED = "MARA\nThe lamp is dark and the ships are near.\n\nJONAH\nThen we burn the boat."


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_scene_of_a_chapter_gets_a_finished_draft_from_the_real_worker(team, model, tmp_path):
    """The request through the server, the real generation worker with a scripted
    backend, two places for the project: every scene of the chapter ends with one
    finished draft, in order, never more than two at once, and the last scene's draft
    (queued only once earlier ones ended) streams into that scene's room."""
    from tests.support.roomclient import RoomClient
    from tests.support.servers import generation_stack, http_post, session_for
    from tests.support.threads import run_async

    source, scenes = make_book(team.project, team.users["owner"], scenes_in_first=5)
    record = tmp_path / "prompts.jsonl"
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.ScriptedBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps(
            {"record": str(record), "texts": {"scene": SCRIPTED}, "delay": 0.02}
        ),
        "COWRITE_DRAFT_PROJECT_CONCURRENCY": "2",
    }
    last = scenes[-1]

    def finished() -> bool:
        batch = ChapterDrafts.objects.first()
        return batch is not None and batch.state != BatchState.RUNNING

    with generation_stack(env=env) as (server, _):

        async def run():
            watcher = RoomClient(
                server.ws_url,
                team.project.pk,
                last.pk,
                session_for(team.users["viewer"]),
                server.http_url,
            )
            await watcher.connect()
            await asyncio.sleep(0.3)
            status = await asyncio.to_thread(
                http_post,
                server.http_url,
                session_for(team.users["editor"]),
                panel_url(team, source),
                {"instruction": "Lean on the dialogue."},
            )
            assert status == 200
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not await asyncio.to_thread(finished):
                await asyncio.sleep(0.2)
            pid = await asyncio.to_thread(
                lambda: Passage.objects.filter(scene=last).values_list("pk", flat=True).first()
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and watcher.cards.get(pid) != "done":
                await asyncio.sleep(0.1)
            await watcher.close()
            return pid, watcher.cards.get(pid), watcher.streamed_text(pid)

        pid, card, streamed = run_async(run())

    batch = ChapterDrafts.objects.get()
    assert batch.state == BatchState.FINISHED
    passages = list(Passage.objects.filter(batch=batch).order_by("queued_at", "pk"))
    assert [p.scene_id for p in passages] == [s.pk for s in scenes]
    for p in passages:
        assert p.status == PassageStatus.DONE and p.text == SCRIPTED, (p.pk, p.status, p.error)
        assert p.instruction == "Lean on the dialogue." and p.task == DraftTask.NEW
    # Never more than the project's two places: when each was queued, at most one other
    # of the chapter's drafts was live.
    for p in passages:
        others = [
            o
            for o in passages
            if o.pk != p.pk and o.queued_at <= p.queued_at and o.finished_at > p.queued_at
        ]
        assert len(others) <= 1, (p.pk, [o.pk for o in others])
    # The last scene's draft streamed into its own room, as any draft does.
    assert pid == passages[-1].pk and card == "done" and streamed == SCRIPTED
    asked = [json.loads(line) for line in record.read_text().splitlines()]
    assert sorted(r["heading"] for r in asked) == sorted(s.heading for s in scenes)
