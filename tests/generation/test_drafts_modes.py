"""The drafts panel's modes and the accept that follows them (issue 13):

- what a request may ask (modes, rewrite presets, a dialogue pass for one of the cast,
  the selection or cursor as Yjs relative positions) and the messages when it may not;
- accept once (two at once: exactly one wins), what the card then says, and undo;
- a rewrite lands on the selected characters, found again by their relative positions in
  the server's live document after others typed before or after them; a continuation
  from the cursor lands at that cursor; a draft can go in at any writer's cursor.

The browser here is real Yjs (Node, ``tests/support/yjs.py``): its positions and its
typing are the bytes a page would send. No model runs: passages are marked done with a
text, as a worker would leave them."""

import html
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.urls import reverse

from generation import drafts
from generation.models import ModelVersion, Passage, Preference
from scripts_app import documents, services
from scripts_app.models import Revision, RevisionOrigin, Scene
from tests.support import yjs

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
CAST = ["MARA", "JONAH"]


@pytest.fixture
def version(db):
    return ModelVersion.objects.create(name="v", preset="test", folder="v", status="active")


# --- what a request may ask -----------------------------------------------------------------


def spec(cast=CAST, **data):
    return drafts.draft_spec_from(data, cast=cast)


def test_each_mode_is_a_task_and_an_instruction():
    assert spec(mode="new").task == "new"
    assert spec(mode="continue").task == "continue"
    assert spec(task="continue").task == "continue"  # the old field still works
    rewrite = spec(mode="rewrite", instruction="colder", selection_start=0, selection_end=4)
    assert (rewrite.task, rewrite.instruction) == ("rewrite", "colder")
    tight = spec(mode="rewrite", rewrite="tighten", selection_start=0, selection_end=4)
    assert tight.instruction.startswith("Tighten it:")
    punch = spec(
        mode="rewrite",
        rewrite="punch_up",
        instruction="keep the joke",
        selection_start=0,
        selection_end=4,
    )
    assert punch.instruction.startswith("Punch it up:") and punch.instruction.endswith(
        " keep the joke"
    )
    tone = spec(
        mode="rewrite", rewrite="tone", instruction="drier", selection_start=0, selection_end=4
    )
    assert tone.instruction == "Change the tone: drier."
    voice = spec(
        mode="rewrite", rewrite="voice", character="jonah", selection_start=0, selection_end=4
    )
    assert voice.instruction == "Rewrite it in JONAH's voice." and voice.character == "JONAH"
    dialogue = spec(
        mode="dialogue",
        character="Mara",
        instruction="more evasive",
        selection_start=0,
        selection_end=4,
    )
    assert dialogue.task == "rewrite"
    assert dialogue.instruction == "Rewrite only MARA's dialogue: more evasive"
    bare = spec(mode="dialogue", character="MARA", selection_start=0, selection_end=4)
    assert bare.instruction == "Rewrite only MARA's dialogue."
    # A continuation from the cursor: start = end; with none, from the end.
    cursor = spec(mode="continue", selection_start=7, selection_end=99)
    assert (cursor.selection_start, cursor.selection_end) == (7, 7)
    assert spec(mode="continue").selection_start is None
    # Fields of other modes are ignored (the form sends them all).
    assert spec(mode="new", rewrite="tighten", character="NOBODY").instruction == ""


BAD = [
    ({"mode": "poem"}, "Choose what to write"),
    ({"mode": ["new"]}, "Mode must be text"),
    (
        {"mode": "rewrite", "rewrite": "sonnet", "selection_start": 0, "selection_end": 3},
        "Unknown rewrite “sonnet”: choose Tighten, Punch up, Change tone, In a character's voice",
    ),
    (
        {"mode": "rewrite", "selection_start": 0, "selection_end": 3},
        "Say how to rewrite the selection, or pick a preset.",
    ),
    (
        {"mode": "rewrite", "rewrite": "tone", "selection_start": 0, "selection_end": 3},
        "Say which tone",
    ),
    (
        {"mode": "rewrite", "rewrite": "voice", "selection_start": 0, "selection_end": 3},
        "Pick whose voice to rewrite it in.",
    ),
    (
        {
            "mode": "rewrite",
            "rewrite": "voice",
            "character": "HAMLET",
            "selection_start": 0,
            "selection_end": 3,
        },
        "HAMLET is not in this scene's cast; pick one of: JONAH, MARA.",
    ),
    (
        {"mode": "dialogue", "selection_start": 0, "selection_end": 3},
        "Pick whose dialogue to rewrite.",
    ),
    (
        {"mode": "dialogue", "character": "Ghost", "selection_start": 0, "selection_end": 3},
        "Ghost is not in this scene's cast",
    ),
    ({"mode": "dialogue", "character": "MARA"}, "Select the passage to rewrite first."),
    (
        {
            "mode": "rewrite",
            "instruction": "x" * 1801 + "y" * 300,
            "selection_start": 0,
            "selection_end": 3,
        },
        "The instruction is at most 2,000 characters.",
    ),
    (
        {
            "mode": "rewrite",
            "instruction": "x",
            "selection_start": 0,
            "selection_end": 3,
            "anchor_start": "AI/D8FwAAA==",
        },
        "with one end only",
    ),
    (
        {
            "mode": "rewrite",
            "instruction": "x",
            "selection_start": 0,
            "selection_end": 3,
            "anchor_start": "%%%",
            "anchor_end": "AI/D8FwAAA==",
        },
        "The selection's place in the scene was not understood",
    ),
    (
        {"mode": "continue", "selection_start": 3, "anchor_start": "AgEBAA=="},
        "The cursor's place in the scene was not understood",
    ),
    (
        {"mode": "continue", "selection_start": 3, "anchor_start": "A" * 500},
        "The cursor's place in the scene was not understood",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_a_request_that_cannot_be_written_says_why(data, message):
    with pytest.raises(ValidationError) as exc:
        spec(**data)
    assert message in " ".join(exc.value.messages)


def test_a_cast_pick_needs_a_cast():
    with pytest.raises(ValidationError, match="no cast yet"):
        spec(cast=[], mode="dialogue", character="MARA", selection_start=0, selection_end=3)


@pytest.mark.django_db(transaction=True)
def test_the_room_refuses_a_hostile_position_with_a_message(team, version):
    """Through the scene room socket (what the page uses): an error line, no passage."""
    import asyncio

    from channels.testing import WebsocketCommunicator

    from generation.consumers import SceneRoomConsumer
    from tests.support.threads import run_async

    scene = team.scenes[0]

    async def run():
        c = WebsocketCommunicator(
            SceneRoomConsumer.as_asgi(), f"/ws/projects/{team.project.pk}/scenes/{scene.pk}/room"
        )
        c.scope["user"] = team.users["editor"]
        c.scope["url_route"] = {"kwargs": {"project_id": team.project.pk, "scene_id": scene.pk}}
        ok, _ = await c.connect()
        assert ok
        await asyncio.sleep(0.2)
        while not await c.receive_nothing(0.1):
            await c.receive_from()
        await c.send_json_to(
            {
                "action": "draft_request",
                "mode": "rewrite",
                "instruction": "x",
                "selection_start": 0,
                "selection_end": 3,
                "anchor_start": "////////////////////w==",
                "anchor_end": "AAAA",
            }
        )
        got = await c.receive_from(5)
        await c.disconnect()
        return got

    frame = run_async(run())
    assert "not understood" in frame and "draft-errors" in frame
    assert not Passage.objects.exists()


# --- helpers: a scene with a live document, a browser, a finished draft ------------------------


TEXT = "INT. STATION — NIGHT\n\nAlarms pulse amber.\n\nMARA\nIt’s holding. Café!\n\nJONAH\nRun.\n"


@pytest.fixture
def scene(team, version):
    s = team.scenes[0]
    services.scene_save_text(
        scene=s, user=team.users["editor"], text=TEXT, base_revision_id=s.head_id
    )
    documents.ensure_doc(s.pk)
    return Scene.objects.get(pk=s.pk)


def live(scene) -> str:
    return documents.live_text(scene.pk)


def ask(scene, user, steps_for, **data) -> Passage:
    """Ask as a browser would: positions taken by real Yjs on the live document now."""
    b = yjs.browser(scene.pk, steps_for)
    if data.get("mode") in ("rewrite", "dialogue"):
        data["anchor_start"], data["anchor_end"] = b.positions
    elif b.positions:
        data["anchor_start"] = b.positions[0]
    (passage,) = drafts.draft_request(
        scene=scene, user=user, spec=drafts.draft_spec_from(data, cast=CAST)
    )
    return passage


def finish(passage, text) -> Passage:
    Passage.objects.filter(pk=passage.pk).update(status="done", text=text)
    passage.refresh_from_db()
    return passage


def select(text, needle):
    start = text.index(needle)
    return start, start + len(needle)


def rewrite(scene, user, needle, result):
    start, end = select(live(scene), needle)
    p = ask(
        scene,
        user,
        [{"op": "pos", "index": start, "assoc": 0}, {"op": "pos", "index": end, "assoc": -1}],
        mode="rewrite",
        instruction="more fear",
        selection_start=start,
        selection_end=end,
    )
    return finish(p, result)


# --- a rewrite lands on its selection, whatever others typed -----------------------------------


def test_a_rewrite_replaces_exactly_its_span_after_others_typed_before_and_after(team, scene):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "It’s holding. Café!", "It’s… not holding.")
    assert p.selection_text == "It’s holding. Café!" and p.anchor_start and p.anchor_end
    # Meanwhile others type, in real Yjs: before the selection (it moves), right at both of
    # its edges, and after it; and the first line changes length (accents: UTF-8 != UTF-16).
    text = live(scene)
    start, end = select(text, "It’s holding. Café!")
    yjs.type_into(
        scene.pk,
        [
            {"op": "insert", "index": end, "text": " (beat)"},
            {"op": "insert", "index": start, "text": "Ç’est — "},
            {"op": "insert", "index": 0, "text": "FADE IN: ☕ “cold”\n\n"},
            {"op": "insert", "index": len(text) + len("Ç’est — ") + 7 + 19, "text": "THE END\n"},
        ],
        user_id=team.users["owner"].pk,
    )
    before = live(scene)
    revision = drafts.passage_accept(passage=p, user=editor, mode="replace")
    after = live(scene)
    assert after == before.replace("It’s holding. Café!", "It’s… not holding.")
    assert "FADE IN: ☕ “cold”" in after and "Ç’est — It’s… not holding. (beat)" in after
    assert after.endswith("THE END\n")
    scene.refresh_from_db()
    assert scene.text == after and revision.text == after and scene.head == revision
    assert revision.origin == RevisionOrigin.PASSAGE
    p.refresh_from_db()
    assert p.accepted_revision == revision and p.accept_place == "replace"
    assert p.accept_summary == "replaced the selection"
    assert p.accepted_text == "It’s… not holding." and p.accepted_removed == "It’s holding. Café!"


def test_a_rewrite_whose_selection_was_edited_is_refused(team, scene):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "It’s holding.", "It’s gone.")
    start = live(scene).index("holding")
    yjs.type_into(scene.pk, [{"op": "insert", "index": start, "text": "barely "}])
    before = live(scene)
    with pytest.raises(ValidationError, match="has been edited since it was asked for"):
        drafts.passage_accept(passage=p, user=editor, mode="replace")
    assert live(scene) == before
    p.refresh_from_db()
    assert p.accepted_at is None  # refused: nothing recorded, it can go in elsewhere
    drafts.passage_accept(passage=p, user=editor, mode="append")
    assert live(scene).endswith("Run.\n\nIt’s gone.\n")


def test_a_deleted_selection_is_refused(team, scene):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "Run.", "Walk.")
    start = live(scene).index("Run.")
    yjs.type_into(scene.pk, [{"op": "delete", "index": start, "length": 4}])
    with pytest.raises(ValidationError, match="edited since"):
        drafts.passage_accept(passage=p, user=editor, mode="replace")


def test_without_positions_the_text_is_searched_near_where_it_was(team, scene):
    editor = team.users["editor"]
    start, end = select(live(scene), "Run.")
    (p,) = drafts.draft_request(
        scene=scene,
        user=editor,
        spec=drafts.draft_spec_from(
            {"mode": "rewrite", "instruction": "x", "selection_start": start, "selection_end": end}
        ),
    )
    assert p.anchor_start is None and p.selection_text == "Run."
    finish(p, "Walk.")
    yjs.type_into(scene.pk, [{"op": "insert", "index": 0, "text": "COLD OPEN\n\n"}])
    drafts.passage_accept(passage=p, user=editor, mode="replace")
    assert live(scene).endswith("JONAH\nWalk.\n") and live(scene).startswith("COLD OPEN")


def test_a_dialogue_pass_is_a_rewrite_of_the_selection(team, scene):
    editor = team.users["editor"]
    start, end = select(live(scene), "MARA\nIt’s holding. Café!")
    p = ask(
        scene,
        editor,
        [{"op": "pos", "index": start, "assoc": 0}, {"op": "pos", "index": end, "assoc": -1}],
        mode="dialogue",
        character="mara",
        instruction="afraid",
        selection_start=start,
        selection_end=end,
    )
    assert p.task == "rewrite" and p.instruction == "Rewrite only MARA's dialogue: afraid"
    assert p.request_label == "Dialogue pass"
    finish(p, "MARA\nIt… it’s holding.")
    drafts.passage_accept(passage=p, user=editor, mode="replace")
    assert "MARA\nIt… it’s holding.\n\nJONAH" in live(scene)


# --- continue from the cursor; insert at a cursor ----------------------------------------------


def test_a_continuation_from_the_cursor_goes_in_at_that_cursor(team, scene):
    editor = team.users["editor"]
    cursor = live(scene).index("\n\nJONAH")  # after "Café!"
    p = ask(
        scene,
        editor,
        [{"op": "pos", "index": cursor, "assoc": -1}],
        mode="continue",
        selection_start=cursor,
    )
    assert (p.selection_start, p.selection_end, p.selection_text) == (cursor, cursor, "")
    assert p.continues_from_cursor and p.request_label == "Continue from the cursor"
    finish(p, " Maybe.")
    # Someone types before the cursor, and someone right after it.
    yjs.type_into(
        scene.pk,
        [
            {"op": "insert", "index": cursor, "text": "\n(JONAH looks away)"},
            {"op": "insert", "index": 0, "text": "☕\n"},
        ],
    )
    drafts.passage_accept(passage=p, user=editor, mode="insert")
    after = live(scene)
    # The model continued the text before the cursor: it goes in exactly there, as is.
    assert "It’s holding. Café! Maybe.\n(JONAH looks away)" in after
    p.refresh_from_db()
    assert p.accept_place == "insert" and p.accept_summary == f"inserted at line {6 + 1}"


def test_a_cursor_at_the_end_is_a_continuation_from_the_end(team, scene):
    end = len(live(scene))
    p = ask(
        scene,
        team.users["editor"],
        [{"op": "pos", "index": end, "assoc": -1}],
        mode="continue",
        selection_start=end,
    )
    assert p.selection_start is None and p.anchor_start is None
    assert p.request_label == "Continue from the end"
    with pytest.raises(ValidationError, match="Put your cursor in the scene"):
        drafts.passage_accept(passage=finish(p, "More."), user=team.users["editor"], mode="insert")


def test_any_draft_goes_in_at_a_writers_cursor_as_its_own_lines(team, scene, client):
    editor = team.users["editor"]
    (p,) = drafts.draft_request(
        scene=scene, user=editor, spec=drafts.draft_spec_from({"mode": "new"})
    )
    finish(p, "\nMARA\nWe go now.\n")
    at = live(scene).index("JONAH")  # the start of a line after a blank line
    b = yjs.browser(scene.pk, [{"op": "pos", "index": at, "assoc": -1}])
    client.force_login(editor)
    url = reverse("passage_accept", args=[team.project.pk, scene.pk, p.pk])
    response = client.post(url, {"mode": "insert", "cursor": b.positions[0]}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "accepted into the scene as revision" in body and "inserted at line 8" in body
    assert "Café!\n\nMARA\nWe go now.\n\nJONAH\nRun.\n" in live(scene)
    # Mid-line: the draft still gets lines of its own.
    (q,) = drafts.draft_request(
        scene=scene, user=editor, spec=drafts.draft_spec_from({"mode": "new"})
    )
    finish(q, "BANG.")
    at = live(scene).index("amber") + len("amber")
    b = yjs.browser(scene.pk, [{"op": "pos", "index": at, "assoc": -1}])
    client.post(
        reverse("passage_accept", args=[team.project.pk, scene.pk, q.pk]),
        {"mode": "insert", "cursor": b.positions[0]},
        **HX,
    )
    assert "Alarms pulse amber\n\nBANG.\n\n." in live(scene)


@pytest.mark.parametrize(
    ("cursor", "message"),
    [
        (
            "not base64",
            "Your cursor's place in the scene was not understood (a position is base64)",
        ),
        ("AgEBAA==", "not understood (the position is not in the scene's text)"),
        ("A" * 300, "not understood (a position is a short base64 text)"),
        ("AP////////////8BAA==", "not understood (malformed position (varint too long))"),
    ],
)
def test_a_hostile_cursor_gets_a_400_that_says_why(team, scene, client, cursor, message):
    (p,) = drafts.draft_request(
        scene=scene, user=team.users["editor"], spec=drafts.draft_spec_from({"mode": "new"})
    )
    finish(p, "X.")
    client.force_login(team.users["editor"])
    url = reverse("passage_accept", args=[team.project.pk, scene.pk, p.pk])
    before = live(scene)
    response = client.post(url, {"mode": "insert", "cursor": cursor}, **HX)
    assert response.status_code == 400 and message in html.unescape(response.content.decode())
    assert client.post(url, {"mode": "sideways"}, **HX).status_code == 400
    assert live(scene) == before and not Passage.objects.get(pk=p.pk).accepted_at


def test_a_cursor_the_server_does_not_have_yet_is_refused_clearly(team, scene):
    (p,) = drafts.draft_request(
        scene=scene, user=team.users["editor"], spec=drafts.draft_spec_from({"mode": "new"})
    )
    finish(p, "X.")
    # A character typed in a browser whose update has not reached the server.
    b = yjs.browser(
        scene.pk,
        [{"op": "insert", "index": 0, "text": "Q"}, {"op": "pos", "index": 1, "assoc": -1}],
    )
    from scripts_app.positions import from_b64

    with pytest.raises(ValidationError, match="not in the scene's text as the server has it"):
        drafts.passage_accept(
            passage=p, user=team.users["editor"], mode="insert", cursor=from_b64(b.positions[0])
        )


# --- accept once ----------------------------------------------------------------------------------


def test_a_second_accept_is_refused_and_the_card_says_what_happened(team, scene, client):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "Run.", "Walk.")
    client.force_login(editor)
    url = reverse("passage_accept", args=[team.project.pk, scene.pk, p.pk])
    assert client.post(url, {"mode": "replace"}, **HX).status_code == 200
    after = live(scene)
    response = client.post(url, {"mode": "append"}, **HX)
    assert response.status_code == 422
    assert "This draft is already in the scene" in response.content.decode()
    assert live(scene) == after
    assert Revision.objects.filter(scene=scene, origin=RevisionOrigin.PASSAGE).count() == 1
    card = client.get(reverse("passage_card", args=[team.project.pk, scene.pk, p.pk])).content
    card = card.decode()
    assert "Accepted</strong> — replaced the selection" in card and "by editor" in card
    assert ">Undo</button>" in card
    assert "Replace selection" not in card and "At the end" not in card
    # A viewer sees what happened, without the buttons.
    client.force_login(team.users["viewer"])
    card = client.get(reverse("passage_card", args=[team.project.pk, scene.pk, p.pk])).content
    assert b"replaced the selection" in card and b">Undo<" not in card


@pytest.mark.django_db(transaction=True)
def test_of_two_accepts_at_once_exactly_one_wins(team, version):
    scene = team.scenes[0]
    documents.ensure_doc(scene.pk)
    (p,) = drafts.draft_request(
        scene=scene, user=team.users["editor"], spec=drafts.draft_spec_from({"mode": "new"})
    )
    finish(p, "JONAH\nOnce.")
    barrier = threading.Barrier(2)
    results = []

    def accept(who):
        try:
            barrier.wait(5)
            drafts.passage_accept(
                passage=Passage.objects.get(pk=p.pk), user=team.users[who], mode="append"
            )
            results.append("ok")
        except ValidationError as exc:
            results.append(" ".join(exc.messages))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(w,)) for w in ("editor", "owner")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [
        "This draft is already in the scene; undo that accept first to put it in again.",
        "ok",
    ]
    assert live(scene).count("Once.") == 1
    assert Revision.objects.filter(scene=scene, origin=RevisionOrigin.PASSAGE).count() == 1


# --- undo -------------------------------------------------------------------------------------


def test_undo_takes_out_exactly_what_went_in_and_keeps_everyone_elses_edits(team, scene, client):
    editor = team.users["editor"]
    (p,) = drafts.draft_request(
        scene=scene, user=editor, spec=drafts.draft_spec_from({"mode": "new"})
    )
    finish(p, "MARA\nWe go now.")
    alternative = Passage.objects.create(
        scene=scene,
        group=p.group,
        alternative=1,
        alternatives=2,
        task="new",
        status="done",
        text="MARA\nStay.",
        requested_by=editor,
    )
    Passage.objects.filter(pk=p.pk).update(alternatives=2)
    p.refresh_from_db()
    drafts.passage_accept(passage=p, user=editor, mode="append")
    assert Preference.objects.filter(chosen=p, rejected=alternative, source="accept").exists()
    # Others type right before and right after the accepted text (its glue lines
    # included: the accept put them in too), and elsewhere.
    p.refresh_from_db()
    assert p.accepted_text == "\nMARA\nWe go now.\n" and p.accept_summary == "added at the end"
    text = live(scene)
    start = text.rindex(p.accepted_text)
    end = start + len(p.accepted_text)
    yjs.type_into(
        scene.pk,
        [
            {"op": "insert", "index": end, "text": "(after)"},
            {"op": "insert", "index": start, "text": "(before)"},
            {"op": "insert", "index": 0, "text": "COLD OPEN\n\n"},
        ],
    )
    expected = live(scene).replace(p.accepted_text, "", 1)
    assert expected == "COLD OPEN\n\n" + TEXT.replace("Run.\n", "Run.\n(before)(after)")
    client.force_login(editor)
    url = reverse("passage_undo", args=[team.project.pk, scene.pk, p.pk])
    response = client.post(url, **HX)
    assert (
        response.status_code == 200 and "taken out of the scene again" in response.content.decode()
    )
    assert live(scene) == expected
    scene.refresh_from_db()
    assert scene.head.text == expected and scene.head.label == f"Undid accepted draft {p.pk}"
    p.refresh_from_db()
    assert p.accepted_at is None and p.accepted_revision is None and p.undone_revision == scene.head
    assert not Preference.objects.filter(chosen=p, source="accept").exists()
    # Undone: the accept buttons are back; a second undo has nothing to do.
    card = client.get(reverse("passage_card", args=[team.project.pk, scene.pk, p.pk])).content
    assert b"At the end" in card and b"Taken out again" in card
    response = client.post(url, **HX)
    assert response.status_code == 422 and "nothing to undo" in response.content.decode()
    drafts.passage_accept(passage=p, user=editor, mode="append")  # and it may go in again
    assert live(scene).endswith("MARA\nWe go now.\n")


def test_undoing_a_replace_puts_the_selection_back(team, scene):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "It’s holding. Café!", "It’s gone.")
    drafts.passage_accept(passage=p, user=editor, mode="replace")
    yjs.type_into(scene.pk, [{"op": "insert", "index": 0, "text": "☕ "}])
    drafts.passage_undo(passage=p, user=editor)
    assert live(scene) == "☕ " + TEXT


def test_undo_of_edited_accepted_text_is_refused(team, scene):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "Run.", "Walk away.")
    drafts.passage_accept(passage=p, user=editor, mode="replace")
    at = live(scene).index("away")
    yjs.type_into(scene.pk, [{"op": "insert", "index": at, "text": "far "}])
    before = live(scene)
    with pytest.raises(ValidationError, match="accepted text has been edited since"):
        drafts.passage_undo(passage=p, user=editor)
    assert live(scene) == before
    assert Passage.objects.get(pk=p.pk).accepted_at is not None


def test_only_editors_undo(team, scene, client):
    p = rewrite(scene, team.users["editor"], "Run.", "Walk.")
    drafts.passage_accept(passage=p, user=team.users["editor"], mode="replace")
    client.force_login(team.users["commenter"])
    url = reverse("passage_undo", args=[team.project.pk, scene.pk, p.pk])
    assert client.post(url, **HX).status_code == 403
    client.force_login(team.users["outsider"])
    assert client.post(url, **HX).status_code == 404


# --- compare ----------------------------------------------------------------------------------


def test_compare_lays_the_alternatives_out_as_screenplay_columns(team, scene, client):
    editor = team.users["editor"]
    (a, b, c) = drafts.draft_request(
        scene=scene,
        user=editor,
        spec=drafts.draft_spec_from({"mode": "new", "alternatives": "3"}),
    )
    for p, text in ((a, "MARA\nOne."), (b, "JONAH\n<b>Two</b>.")):
        finish(p, text)
    client.force_login(team.users["commenter"])
    page = client.get(
        reverse("drafts_compare", args=[team.project.pk, scene.pk, a.group])
    ).content.decode()
    assert "Compare 3 alternatives" in page and 'class="compare-grid cols-3"' in page
    assert page.count('class="screenplay compare-page"') == 2 and "Still writing…" in page
    assert '<p class="fx-character">MARA</p>' in page and "&lt;b&gt;Two&lt;/b&gt;" in page
    assert page.count('title="Rate 5 of 5"') == 2  # a commenter rates in each column
    assert "Replace selection" not in page and "At the end" not in page  # not an editor
    client.force_login(editor)
    page = client.get(
        reverse("drafts_compare", args=[team.project.pk, scene.pk, a.group])
    ).content.decode()
    assert page.count(">At the end</button>") == 2
    client.force_login(team.users["outsider"])
    assert (
        client.get(reverse("drafts_compare", args=[team.project.pk, scene.pk, a.group])).status_code
        == 404
    )
    # The panel offers the compare control for a request with alternatives.
    client.force_login(editor)
    panel = client.get(reverse("drafts_list", args=[team.project.pk, scene.pk])).content
    assert b"Compare side by side" in panel


def test_a_continuation_from_the_cursor_is_prompted_with_the_text_before_it(team, scene):
    from generation.prompts import prompt_for

    cursor = live(scene).index("\n\nJONAH")
    p = ask(
        scene,
        team.users["editor"],
        [{"op": "pos", "index": cursor, "assoc": -1}],
        mode="continue",
        selection_start=cursor,
    )
    fitted = prompt_for(p, None, 512)
    assert fitted.prompt.text_prefix == live(scene)[:cursor]


def test_a_retry_keeps_where_the_request_was_asked(team, scene):
    editor = team.users["editor"]
    p = rewrite(scene, editor, "Run.", "Walk.")
    Passage.objects.filter(pk=p.pk).update(status="failed")
    (again,) = drafts.draft_retry(passage=Passage.objects.get(pk=p.pk), user=editor)
    assert bytes(again.anchor_start) == bytes(p.anchor_start)
    assert bytes(again.anchor_end) == bytes(p.anchor_end)
    assert (again.selection_text, again.instruction) == ("Run.", "more fear")
