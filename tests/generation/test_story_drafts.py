"""Story proposals down the hierarchy (``generation/drafts/story.py``,
``generation/story_prompts.py``): what each level is asked with, the request's checks,
what accepting one makes, permissions; and the whole hierarchy end to end (logline →
characters → beats → a card's brief → the scene's draft) with a real server, worker,
websockets and a scripted backend."""

import asyncio
import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from generation import feedback
from generation.core.prompting import Prompt, prompt_text
from generation.drafts import story as story_drafts
from generation.models import Passage, Preference, Rating
from generation.story_prompts import build_story_prompt, story_parts
from scripts_app import board, services, story
from scripts_app.models import Beat, Character, Project, Scene
from tests.support.models import register_tiny_version

CHARACTERS = """ELENA VOSS (antagonist)
The station's owner, who wants it sold.
Want: to sell Kestrel before it fails
Need: to admit she abandoned it
Flaw: pride
Arc: owner -> ally
Voice: polite, cold, exact

MARA (protagonist)
Already in the cast.

TOMAS REYES (ally)
A dock hand who owes Mara.
Want: a way off the station"""

BEATS = """1. The alarm — Mara finds the reactor leak and wakes Jonah. [A]
2. The buyer — Elena Voss arrives with an offer to buy Kestrel. [B]
3. The choice — Mara refuses to leave. [A, B]"""


@pytest.fixture
def model(settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return register_tiny_version(settings.MODEL_DIR)


@pytest.fixture
def storied(team):
    """The team's project with a story: logline, bible, plotlines, cards."""
    project = team.project
    services.project_update(project=project, logline="A salvage pilot must save her station.")
    bible = story.bible_for(project)
    bible.tone, bible.themes = "tense, dry", "duty against escape"
    bible.treatment = "Kestrel Station is failing. " * 2000  # 54,000 characters
    bible.save()
    a = story.plotline_create(project=project, name="The station", label="A")
    b = story.plotline_create(project=project, name="The sale", label="B")
    mara = Character.objects.get(project=project, name="MARA")
    Character.objects.filter(pk=mara.pk).update(role="protagonist", want="keep Kestrel running")
    card1 = board.beat_create(
        project=project,
        user=None,
        act=1,
        title="Alarm",
        summary="The leak is found.",
        plotline_ids=[a.pk],
        character_ids=[mara.pk],
    )
    card2 = board.beat_create(
        project=project,
        user=None,
        act=1,
        title="Offer",
        summary="A buyer calls.",
        plotline_ids=[b.pk],
    )
    card3 = board.beat_create(project=project, user=None, act=2, title="Storm", summary="")
    team.cards = [card1, card2, card3]
    team.plotlines = {"A": a, "B": b}
    return team


def proposal(team, kind, text="", *, act=None, beat=None, alternatives=1, status="done"):
    feedback.tags_for(team.project)
    group = uuid.uuid4()
    return [
        Passage.objects.create(
            project=team.project,
            kind=kind,
            act=act,
            beat=beat,
            group=group,
            alternative=i,
            alternatives=alternatives,
            requested_by=team.users["editor"],
            task="new",
            status=status,
            text=text,
            sampling={"preset": "balanced", "seed": i, "max_new_tokens": 64},
        )
        for i in range(alternatives)
    ]


# --- what each level is asked with -----------------------------------------------------------


def test_each_level_reads_the_level_above_it(storied):
    card1, card2, card3 = storied.cards
    logline = proposal(storied, "logline")[0]
    parts = dict(story_parts(logline)[0])
    assert parts["genre"] == "Genre and tone: tense, dry"
    assert "MARA (protagonist) — wants keep Kestrel running" in parts["characters"]
    assert parts["current logline"] == "Current logline: A salvage pilot must save her station."
    # The 54,000-character treatment is cut to a few thousand, and the cut is named.
    assert len(parts["treatment"]) < 4100
    assert "treatment (end)" in story_parts(logline)[1]

    chars = dict(story_parts(proposal(storied, "characters")[0])[0])
    assert chars["logline"] == "Logline: A salvage pilot must save her station."
    assert "MARA (protagonist)" in chars["cast"] and "JONAH" in chars["cast"]

    beats = dict(story_parts(proposal(storied, "beats", act=1)[0])[0])
    assert beats["act so far"].startswith("Act 1 of 3. It holds so far: 1. Alarm — The leak")
    assert "[A] The station" in beats["plotlines"] and "[B] The sale" in beats["plotlines"]
    assert beats["act after"] == "Act 2 begins: Storm"
    beats2 = dict(story_parts(proposal(storied, "beats", act=2)[0])[0])
    assert beats2["act before"] == "Act 1 ends: Alarm | Offer"

    brief, _, names = story_parts(proposal(storied, "brief", beat=card2)[0])
    brief = dict(brief)
    assert brief["card"].startswith("Card: Offer — A buyer calls. (act 1)")
    assert brief["plotlines"] == "Plotlines: [B] The sale"
    assert brief["card before"] == "Before it: Alarm — The leak is found."
    assert brief["card after"] == "After it: Storm"
    assert brief["logline"].startswith("Logline: A salvage pilot")


def test_the_prompt_fits_the_model_and_says_what_it_left_out(storied, model):
    from generation.core.tokenizer import ScriptTokenizer

    tok = ScriptTokenizer.load(model.path / "tokenizer.json")
    passage = proposal(storied, "logline")[0]
    fitted = build_story_prompt(passage, tok, block_size=256)
    assert len(fitted.ids) <= 256 - 64
    assert fitted.prompt.kind == "logline" and fitted.prompt.heading == "STORY — LOGLINE"
    assert fitted.prompt.text_prefix == ""
    # The treatment went first (it was cut to fit before that), the instruction never.
    assert "treatment" in fitted.dropped and "treatment (end)" in fitted.dropped
    assert "Title: The Long Night" in fitted.prompt.synopsis
    passage.prompt = fitted.as_record()
    assert "the treatment" in passage.left_out
    # Beats for act 2 are headed with their act (the house model's per-level prompt).
    beats = build_story_prompt(proposal(storied, "beats", act=2)[0], tok, block_size=256)
    assert beats.prompt.heading == "STORY — BEATS, ACT 2"


def test_an_external_model_gets_the_levels_instruction_not_a_fountain_page():
    prompt = Prompt("STORY — BEATS, ACT 2", ("MARA",), "Logline: X.", kind="beats")
    text = prompt_text(prompt)
    assert "act 2" in text.lower() and "Logline: X." in text and "INT." not in text
    assert Prompt.from_dict(prompt.as_dict()) == prompt
    assert "kind" not in Prompt("INT. A - DAY").as_dict()  # scene records keep their shape


def test_a_scene_draft_reads_its_card_and_the_logline(storied, model):
    from generation.prompts import build_prompt

    card = storied.cards[0]
    scene = board.beat_make_scene(project=storied.project, beat_id=card.pk, user=None)
    built = build_prompt(
        scene=scene,
        task="new",
        instruction="",
        scene_text="",
        selection=None,
        tokenizer=None,
        block_size=256,
        max_new_tokens=64,
    )
    assert "From the card: Alarm — The leak is found." in built.prompt.synopsis
    assert "Story: A salvage pilot must save her station." in built.prompt.synopsis


# --- requests --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "scene"}, "Choose what to propose"),
        ({"kind": ["logline"]}, "must be text"),
        ({"kind": "beats"}, "Choose the act"),
        ({"kind": "beats", "act": "13"}, "between 1 and 12"),
        ({"kind": "beats", "act": "two"}, "must be a number"),
        ({"kind": "brief"}, "Choose the card"),
        ({"kind": "brief", "beat": "999999"}, "Choose the card"),
        ({"kind": "logline", "instruction": "x" * 5000}, "at most"),
        ({"kind": "logline", "alternatives": "9"}, "between 1 and 4"),
        ({"kind": "logline", "length": "epic"}, "Choose a length"),
        ({"kind": "logline", "preset": "wild"}, "Unknown settings preset"),
    ],
)
def test_a_bad_request_is_refused_with_a_clear_message_and_queues_nothing(
    storied, model, data, message
):
    with pytest.raises(ValidationError) as exc:
        story_drafts.story_request(project=storied.project, user=storied.users["editor"], data=data)
    assert message in " ".join(exc.value.messages)
    assert not Passage.objects.exists()


def test_a_card_of_another_project_cannot_be_briefed(storied, model, django_user_model):
    other = services.project_create(user=storied.users["outsider"], title="Other")
    theirs = board.beat_create(project=other, user=None, act=1, title="Theirs")
    with pytest.raises(ValidationError):
        story_drafts.story_request(
            project=storied.project,
            user=storied.users["editor"],
            data={"kind": "brief", "beat": str(theirs.pk)},
        )


def test_a_request_queues_story_passages_with_no_scene(storied, model, settings):
    passages = story_drafts.story_request(
        project=storied.project,
        user=storied.users["editor"],
        data={"kind": "beats", "act": "2", "alternatives": "3", "length": "short"},
    )
    assert [p.alternative for p in passages] == [0, 1, 2]
    p = passages[0]
    assert p.scene_id is None and p.kind == "beats" and p.act == 2
    assert p.sampling["max_new_tokens"] == story_drafts.LENGTHS["beats"]["short"]
    assert "cast_cues" not in p.sampling
    assert p.room == f"project-{storied.project.pk}-story-drafts"
    assert p.request_label == "Beats for act 2"
    # The project's concurrency limit counts story passages too.
    settings.COWRITE_DRAFT_PROJECT_CONCURRENCY = 4
    with pytest.raises(ValidationError, match="drafts running"):
        story_drafts.story_request(
            project=storied.project,
            user=storied.users["editor"],
            data={"kind": "logline", "alternatives": "2"},
        )


# --- accepting -------------------------------------------------------------------------------


def test_accepting_a_logline_sets_it_once(storied):
    p = proposal(storied, "logline", 'Logline: "A pilot risks everything to keep Kestrel alive."')[
        0
    ]
    items = story_drafts.story_accept(passage=p, user=storied.users["editor"])
    project = Project.objects.get(pk=storied.project.pk)
    assert project.logline == "A pilot risks everything to keep Kestrel alive."
    assert items == [
        {
            "type": "logline",
            "text": project.logline,
            "was": "A salvage pilot must save her station.",
        }
    ]
    assert story.bible_version(story.bible_for(project), "logline") == 1
    with pytest.raises(ValidationError, match="accepted already"):
        story_drafts.story_accept(passage=p, user=storied.users["owner"])


def test_accepting_characters_creates_the_ticked_ones_and_leaves_out_the_cast(storied):
    alts = proposal(storied, "characters", CHARACTERS, alternatives=2)
    alts[1].text = "NOBODY"
    alts[1].save()
    p = alts[0]
    assert [c.name for c in p.proposal] == ["ELENA VOSS", "MARA", "TOMAS REYES"]
    items = story_drafts.story_accept(passage=p, user=storied.users["editor"], pick=["0", "1"])
    elena = Character.objects.get(project=storied.project, name="ELENA VOSS")
    assert (elena.role, elena.want, elena.need, elena.flaw) == (
        "antagonist",
        "to sell Kestrel before it fails",
        "to admit she abandoned it",
        "pride",
    )
    assert (elena.arc_start, elena.arc_end, elena.voice) == ("owner", "ally", "polite, cold, exact")
    assert elena.description == "The station's owner, who wants it sold."
    assert not Character.objects.filter(name="TOMAS REYES").exists()  # not ticked
    assert items[1] == {"type": "skipped", "name": "MARA", "why": "already in the cast"}
    # The accept is the team's preference over the other alternative.
    assert Preference.objects.filter(chosen=p, rejected=alts[1], source="accept").exists()


def test_a_refused_accept_changes_nothing(storied):
    p = proposal(storied, "characters", "MARA (protagonist)\n\nJONAH")[0]
    before = Character.objects.count()
    with pytest.raises(ValidationError, match="already in the cast"):
        story_drafts.story_accept(passage=p, user=storied.users["editor"])
    p.refresh_from_db()
    assert p.accepted_at is None and Character.objects.count() == before
    garbage = proposal(storied, "beats", "1.\n2. —\n- **\n***")[0]
    with pytest.raises(ValidationError, match="No beats could be read"):
        story_drafts.story_accept(passage=garbage, user=storied.users["editor"])
    with pytest.raises(ValidationError, match="list has changed"):
        story_drafts.story_accept(
            passage=proposal(storied, "beats", BEATS)[0], user=storied.users["editor"], pick=["7"]
        )
    assert Beat.objects.count() == 3


def test_accepting_beats_adds_cards_to_the_act_on_their_plotlines_with_their_characters(
    storied,
):
    services.character_create(project=storied.project, name="Elena Voss")
    p = proposal(storied, "beats", BEATS, act=2)[0]
    items = story_drafts.story_accept(passage=p, user=storied.users["editor"])
    act2 = list(Beat.objects.filter(project=storied.project, act=2).order_by("position"))
    assert [b.title for b in act2] == ["Storm", "The alarm", "The buyer", "The choice"]
    assert [i["name"] for i in items] == ["The alarm", "The buyer", "The choice"]
    alarm, buyer, choice = act2[1:]
    assert [pl.label for pl in alarm.plotlines.all()] == ["A"]
    assert sorted(pl.label for pl in choice.plotlines.all()) == ["A", "B"]
    assert sorted(c.name for c in alarm.characters.all()) == ["JONAH", "MARA"]
    assert [c.name for c in buyer.characters.all()] == ["ELENA VOSS"]


def test_accepting_a_brief_makes_the_scene_from_the_card_or_sets_its_synopsis(storied):
    card = storied.cards[1]
    p = proposal(
        storied, "brief", "Brief: Mara takes the call and lies about the leak.", beat=card
    )[0]
    items = story_drafts.story_accept(passage=p, user=storied.users["editor"])
    card.refresh_from_db()
    scene = Scene.objects.get(pk=card.scene_id)
    assert scene.synopsis == "Mara takes the call and lies about the leak."
    assert items[0]["made_scene"] is True and items[0]["id"] == scene.pk
    again = proposal(storied, "brief", "She tells the truth.", beat=card)[0]
    items = story_drafts.story_accept(passage=again, user=storied.users["editor"])
    scene.refresh_from_db()
    assert scene.synopsis == "She tells the truth." and items[0]["made_scene"] is False
    assert items[0]["was"] == "Mara takes the call and lies about the leak."


def test_a_brief_for_a_deleted_card_says_so(storied):
    card = storied.cards[0]
    p = proposal(storied, "brief", "Something happens.", beat=card)[0]
    board.beat_delete(project=storied.project, beat_id=card.pk)
    p.refresh_from_db()
    assert p.beat_id is None and p.request_label == "Brief for “a deleted card”"
    with pytest.raises(ValidationError, match="has been deleted"):
        story_drafts.story_accept(passage=p, user=storied.users["editor"])


def test_story_feedback_trains_as_its_own_task(storied):
    from generation.datasets import build_dataset, trl_records

    project = storied.project
    project.allow_training = True
    project.save()
    a, b = proposal(storied, "logline", "One.", alternatives=2)
    b.text = "Two."
    b.save()
    prompt = Prompt("STORY — LOGLINE", (), "Title: The Long Night", kind="logline").as_dict()
    Passage.objects.filter(pk__in=[a.pk, b.pk]).update(prompt=prompt)
    Rating.objects.create(passage=a, user=storied.users["owner"], score=5)
    Rating.objects.create(passage=b, user=storied.users["owner"], score=2)
    ds = build_dataset(fraction=0.0)
    assert [(p.prompt.kind, p.chosen, p.rejected) for p in ds.pairs] == [
        ("logline", "One.", "Two.")
    ]
    records = trl_records(ds)["preference"]
    assert records[0]["prompt_fields"]["kind"] == "logline"
    assert "logline" in records[0]["prompt"].lower() and "INT." not in records[0]["prompt"]


# --- permissions -----------------------------------------------------------------------------


def test_who_may_see_rate_and_accept_story_proposals(storied, client):
    p = proposal(storied, "logline", "A pilot stays.")[0]
    card = reverse("story_passage_card", args=[storied.project.pk, p.pk])
    accept = reverse("story_passage_accept", args=[storied.project.pk, p.pk])
    rate = reverse("story_passage_rate", args=[storied.project.pk, p.pk])
    client.force_login(storied.users["outsider"])
    assert client.get(card).status_code == 404
    assert client.post(rate, {"score": "5"}).status_code == 404
    client.force_login(storied.users["viewer"])
    assert client.get(card).status_code == 200
    assert client.post(accept, {"all": "1"}).status_code == 403
    assert client.post(rate, {"score": "5"}, HTTP_HX_REQUEST="true").status_code == 403
    client.force_login(storied.users["commenter"])
    assert client.post(rate, {"score": "4"}, HTTP_HX_REQUEST="true").status_code == 200
    assert Rating.objects.get(passage=p).score == 4
    assert client.post(accept, {"all": "1"}).status_code == 403
    # A scene draft is not a story proposal (and the other way round).
    scene_draft = Passage.objects.create(
        scene=storied.scenes[0], group=uuid.uuid4(), task="new", status="done", text="x"
    )
    assert (
        client.get(
            reverse("story_passage_card", args=[storied.project.pk, scene_draft.pk])
        ).status_code
        == 404
    )
    assert (
        client.get(
            reverse("passage_card", args=[storied.project.pk, storied.scenes[0].pk, p.pk])
        ).status_code
        == 404
    )
    client.force_login(storied.users["editor"])
    response = client.post(accept, {"all": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "logline" in response.content.decode()
    assert Project.objects.get(pk=storied.project.pk).logline == "A pilot stays."


def test_the_story_page_board_and_card_show_the_panel(storied, client, model):
    client.force_login(storied.users["viewer"])
    for url in (
        reverse("story_page", args=[storied.project.pk]),
        reverse("board", args=[storied.project.pk]),
        reverse("beat_detail", args=[storied.project.pk, storied.cards[0].pk]),
    ):
        html = client.get(url).content.decode()
        assert 'id="drafts-panel"' in html and "/story/drafts" in html, url
        assert 'id="story-draft-form"' not in html  # a viewer watches; editors ask
    client.force_login(storied.users["editor"])
    html = client.get(reverse("beat_detail", args=[storied.project.pk, storied.cards[1].pk]))
    html = html.content.decode()
    assert 'id="story-draft-form"' in html
    assert f'<option value="{storied.cards[1].pk}" selected>' in html


# --- the whole hierarchy, end to end -----------------------------------------------------------

# Hostile or mistaken frames on the story drafts socket, and the error each gets.
BAD_STORY_FRAMES = {
    json.dumps({"action": "draft_request", "kind": "scene"}): "Choose what to propose",
    json.dumps({"action": "draft_request", "kind": {"x": 1}}): "must be text",
    json.dumps({"action": "draft_request", "kind": "beats", "act": True}): "must be a number",
    json.dumps({"action": "draft_request", "kind": "brief", "beat": 10**30}): "between",
    json.dumps({"action": "draft_request", "kind": "logline", "seed": float("nan")}): "NaN",
    json.dumps({"action": "draft_cancel", "passage": 10**30}): "No such draft here.",
    json.dumps({"action": "drop_tables"}): "That action is not known.",
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_hierarchy_end_to_end_streams_to_everyone_and_each_accept_feeds_the_next(
    team, settings, tmp_path, client
):
    from tests.support.backends import read_record
    from tests.support.roomclient import RoomClient
    from tests.support.servers import generation_stack, session_for
    from tests.support.threads import run_async

    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    record = tmp_path / "prompts.jsonl"
    texts = {
        "logline": "Logline: A salvage pilot must choose between her debts and her station.",
        "characters": CHARACTERS,
        "beats": BEATS,
        "brief": "Mara finds the leak; Jonah wants to run; she makes him stay.",
        "scene": "MARA\nWe stay.",
    }
    env = {
        "COWRITE_GENERATION_BACKEND": "tests.support.backends.ScriptedBackend",
        "COWRITE_GENERATION_BACKEND_OPTIONS": json.dumps({"record": str(record), "texts": texts}),
    }
    project = team.project

    async def until(predicate, timeout=20.0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if await asyncio.to_thread(predicate):
                return True
            await asyncio.sleep(0.05)
        return await asyncio.to_thread(predicate)

    def done(kind):
        return lambda: Passage.objects.filter(project=project, kind=kind, status="done").count()

    with generation_stack(env=env) as (server, _):

        def story_room(user):
            return RoomClient(server.ws_url, project.pk, None, session_for(user), server.http_url)

        async def ask(kind, alternatives=1, **fields):
            editor, viewer = story_room(team.users["editor"]), story_room(team.users["viewer"])
            await editor.connect()
            await viewer.connect()
            await asyncio.sleep(0.3)
            await viewer.request_draft(kind=kind)  # refused: viewers watch
            for bad in BAD_STORY_FRAMES:  # each gets its error; the socket stays up
                await editor.ws.send(bad)
            await until(lambda: len(editor.errors) >= len(BAD_STORY_FRAMES), 10)
            await editor.request_draft(kind=kind, alternatives=alternatives, **fields)
            ok = await until(lambda: done(kind)() >= alternatives)
            ids = list(
                Passage.objects.filter(project=project, kind=kind).values_list("pk", flat=True)
            )
            await until(lambda: all(viewer.cards.get(i) == "done" for i in ids), 10)
            await editor.close()
            await viewer.close()
            return ok, ids, editor, viewer

        ok, ids, editor, viewer = run_async(ask("logline", alternatives=2))
        assert ok and len(ids) == 2
        assert any("Only editors and owners" in e for e in viewer.errors)
        for (_, expected), got in zip(BAD_STORY_FRAMES.items(), editor.errors, strict=True):
            assert expected in got, (expected, got)
        assert editor.close_code in (None, 1000)
        for i in ids:  # both collaborators saw every alternative stream, token by token
            text = Passage.objects.get(pk=i).text
            assert viewer.streamed_text(i) == text == editor.streamed_text(i) == texts["logline"]
            assert len(viewer.deltas[i]) > 1  # several flushes, not one final text
        client.force_login(team.users["editor"])

        def accept(pk, **data):
            url = reverse("story_passage_accept", args=[project.pk, pk])
            response = client.post(url, data or {"all": "1"}, HTTP_HX_REQUEST="true")
            assert response.status_code == 200, response.content.decode()

        accept(ids[0])
        assert Project.objects.get(pk=project.pk).logline.startswith("A salvage pilot must choose")

        ok, ids, *_ = run_async(ask("characters"))
        assert ok
        accept(ids[0])
        assert Character.objects.filter(project=project, name="TOMAS REYES").exists()

        story.plotline_create(project=project, name="The station", label="A")
        ok, ids, *_ = run_async(ask("beats", act="1"))
        assert ok
        accept(ids[0])
        first = Beat.objects.filter(project=project, act=1).order_by("position").first()
        assert first.title == "The alarm"

        ok, ids, *_ = run_async(ask("brief", beat=str(first.pk)))
        assert ok
        accept(ids[0])
        first.refresh_from_db()
        assert first.scene.synopsis == texts["brief"]

        # The scene's own draft, in its room: it reads its card and the new logline.
        async def scene_draft():
            room = RoomClient(
                server.ws_url,
                project.pk,
                first.scene_id,
                session_for(team.users["editor"]),
                server.http_url,
            )
            await room.connect()
            await asyncio.sleep(0.3)
            await room.request_draft(task="new")
            ok = await until(
                lambda: Passage.objects.filter(scene_id=first.scene_id, status="done").exists()
            )
            await room.close()
            return ok

        assert run_async(scene_draft())

    prompts = {r["kind"]: r for r in read_record(record)}
    # Each level was asked with what the team had accepted above it.
    assert "Logline: A salvage pilot must choose" in prompts["characters"]["synopsis"]
    assert "ELENA VOSS (antagonist)" in prompts["beats"]["synopsis"]
    assert "[A] The station" in prompts["beats"]["synopsis"]
    assert prompts["beats"]["heading"] == "STORY — BEATS, ACT 1"
    assert "Card: The alarm — Mara finds the reactor leak" in prompts["brief"]["synopsis"]
    scene_prompt = prompts["scene"]["synopsis"]
    assert scene_prompt.startswith(texts["brief"])
    assert "From the card: The alarm" in scene_prompt
    assert "Story: A salvage pilot must choose" in scene_prompt
