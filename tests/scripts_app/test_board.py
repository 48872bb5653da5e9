"""The beat board (scripts_app/board.py, views_board.py): cards, versions, moves with dense
positions, the link with scenes both ways, limits, and every view for every role."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scripts_app import board, services
from scripts_app.models import Beat, Plotline, Scene, StoryBible

pytestmark = pytest.mark.django_db


def card(team, title="Card", act=1, **kw):
    return board.beat_create(
        project=team.project, user=team.users["editor"], act=act, title=title, **kw
    )


def layout(project):
    """{act: [titles in order]} and a check that positions are dense."""
    out = {}
    for b in Beat.objects.filter(project=project).order_by("act", "position"):
        out.setdefault(b.act, []).append(b)
    for cards in out.values():
        assert [b.position for b in cards] == list(range(len(cards)))
    return {act: [b.title for b in cards] for act, cards in out.items()}


def scene_order(project):
    return list(
        Scene.objects.filter(project=project).order_by("position").values_list("heading", flat=True)
    )


# --- services -----------------------------------------------------------------------------


def test_create_puts_cards_at_the_end_of_their_act(team):
    a, b = card(team, "A"), card(team, "B")
    card(team, "C", act=2)
    card(team, "A2", position=1)
    assert layout(team.project) == {1: ["A", "A2", "B"], 2: ["C"]}
    assert a.version == 1 and b.created_by == team.users["editor"]


def test_create_with_plotlines_characters_and_target(team):
    plot = Plotline.objects.create(project=team.project, name="A story")
    mara = team.characters[0]
    beat = card(
        team,
        "Opening",
        summary="Mara wakes.",
        sequence="Wake-up",
        target_eighths=board.parse_target("1 3/8"),
        plotline_ids=[plot.pk],
        character_ids=[str(mara.pk)],
    )
    assert beat.target_eighths == 11
    assert list(beat.plotlines.all()) == [plot] and list(beat.characters.all()) == [mara]


@pytest.mark.parametrize(
    "text,eighths", [("", None), ("3/8", 3), ("2", 16), ("1 3/8", 11), ("1.5", 12)]
)
def test_parse_target(text, eighths):
    assert board.parse_target(text) == eighths


@pytest.mark.parametrize("text", ["abc", "0", "-1", "999", "1/4"])
def test_parse_target_refuses(text):
    with pytest.raises(ValidationError):
        board.parse_target(text)


def test_limits(team, monkeypatch):
    with pytest.raises(ValidationError, match="title"):
        card(team, "x" * (board.TITLE_MAX + 1))
    with pytest.raises(ValidationError, match="summary"):
        card(team, "ok", summary="x" * (board.SUMMARY_MAX + 1))
    with pytest.raises(ValidationError, match="needs a title"):
        card(team, "  ")
    with pytest.raises(ValidationError, match="act"):
        card(team, "ok", act=board.MAX_ACTS + 1)
    with pytest.raises(ValidationError, match="act"):
        card(team, "ok", act=0)
    card(team, "x" * board.TITLE_MAX, act=board.MAX_ACTS, summary="y" * board.SUMMARY_MAX)
    assert board.MAX_CARDS == 1000 and board.MAX_ACTS == 12
    monkeypatch.setattr(board, "MAX_CARDS", 2)
    card(team, "two")
    with pytest.raises(ValidationError, match="at most 2 cards"):
        card(team, "three")
    assert Beat.objects.filter(project=team.project).count() == 2


def test_links_from_another_project_are_refused(team):
    other = services.project_create(user=team.users["outsider"], title="Other")
    stranger = services.character_create(project=other, name="Stranger")
    foreign = Plotline.objects.create(project=other, name="Theirs")
    with pytest.raises(ValidationError, match="character"):
        card(team, "x", character_ids=[stranger.pk])
    with pytest.raises(ValidationError, match="plotline"):
        card(team, "x", plotline_ids=[foreign.pk])
    with pytest.raises(ValidationError):
        card(team, "x", plotline_ids=["nope"])
    assert not Beat.objects.exists()


def test_edit_bumps_the_version_and_a_stale_edit_is_refused(team):
    beat = card(team, "Old")
    board.beat_update(project=team.project, beat_id=beat.pk, version=1, title="New")
    beat.refresh_from_db()
    assert (beat.title, beat.version) == ("New", 2)
    with pytest.raises(board.StaleCard) as stale:
        board.beat_update(project=team.project, beat_id=beat.pk, version=1, title="Mine")
    assert stale.value.current.title == "New"
    beat.refresh_from_db()
    assert (beat.title, beat.version) == ("New", 2)


def test_edit_of_a_deleted_card(team):
    beat = card(team, "Doomed")
    board.beat_delete(project=team.project, beat_id=beat.pk)
    with pytest.raises(board.CardGone):
        board.beat_update(project=team.project, beat_id=beat.pk, version=1, title="Mine")
    board.beat_delete(project=team.project, beat_id=beat.pk)  # twice: nothing to do


def test_delete_closes_the_gap(team):
    a, b, c = card(team, "A"), card(team, "B"), card(team, "C")
    board.beat_delete(project=team.project, beat_id=b.pk)
    assert layout(team.project) == {1: ["A", "C"]}
    del a, c


def test_move_within_and_across_acts_keeps_positions_dense(team):
    a, b, c = card(team, "A"), card(team, "B"), card(team, "C")
    d = card(team, "D", act=2)
    board.beat_move(project=team.project, beat_id=c.pk, act=1, position=0)
    assert layout(team.project) == {1: ["C", "A", "B"], 2: ["D"]}
    board.beat_move(project=team.project, beat_id=a.pk, act=2, position=0)
    assert layout(team.project) == {1: ["C", "B"], 2: ["A", "D"]}
    board.beat_move(project=team.project, beat_id=b.pk, act=3, position=99)
    assert layout(team.project) == {1: ["C"], 2: ["A", "D"], 3: ["B"]}
    with pytest.raises(ValidationError):
        board.beat_move(project=team.project, beat_id=d.pk, act=13, position=0)
    with pytest.raises(ValidationError):
        board.beat_move(project=team.project, beat_id=d.pk, act=1, position="x")
    assert Beat.objects.get(pk=b.pk).version == 1  # moves do not touch the content version


def test_two_people_dragging_the_same_card_both_apply_in_order(team):
    a, b, c = card(team, "A"), card(team, "B"), card(team, "C")
    card(team, "D", act=2)
    # Both writers saw B at act 1, position 1; one drags it to act 2, the other to the top.
    board.beat_move(project=team.project, beat_id=b.pk, act=2, position=1)
    board.beat_move(project=team.project, beat_id=b.pk, act=1, position=0)
    assert layout(team.project) == {1: ["B", "A", "C"], 2: ["D"]}
    board.beat_move(project=team.project, beat_id=a.pk, act=2, position=0)
    board.beat_move(project=team.project, beat_id=a.pk, act=2, position=5)
    assert layout(team.project) == {1: ["B", "C"], 2: ["D", "A"]}
    del c


@pytest.mark.django_db(transaction=True)
def test_concurrent_drags_of_the_same_card_all_apply_and_stay_dense(team):
    cards = [card(team, f"C{i}", act=1 + i % 2) for i in range(6)]
    moved = cards[0]
    barrier = threading.Barrier(2)
    errors = []

    def drag(moves):
        try:
            barrier.wait()
            for act, position in moves:
                board.beat_move(project=team.project, beat_id=moved.pk, act=act, position=position)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=drag, args=([(2, 0), (1, 2)] * 5,)),
        threading.Thread(target=drag, args=([(3, 0), (1, 0)] * 5,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    placed = layout(team.project)  # dense in every act
    assert sorted(t for titles in placed.values() for t in titles) == [f"C{i}" for i in range(6)]
    assert Beat.objects.get(pk=moved.pk).act == 1  # each writer's last move was to act 1


def test_make_scene_places_the_scene_after_the_previous_cards_scene(team):
    project = team.project
    mara = team.characters[0]
    a, b = card(team, "A"), card(team, "B", summary="Mara runs.", character_ids=[mara.pk])
    c = card(team, "C", act=2)
    # A is linked to scene 1 of two; B's scene goes right after it.
    Beat.objects.filter(pk=a.pk).update(scene=team.scenes[0])
    scene = board.beat_make_scene(project=project, beat_id=b.pk, user=team.users["editor"])
    assert scene.heading == board.PLACEHOLDER_HEADING
    assert scene.synopsis == "Mara runs." and list(scene.cast.all()) == [mara]
    assert scene_order(project) == [
        "INT. STATION - NIGHT",
        board.PLACEHOLDER_HEADING,
        "EXT. HULL - CONTINUOUS",
    ]
    assert Beat.objects.get(pk=b.pk).scene == scene
    with pytest.raises(ValidationError, match="already"):
        board.beat_make_scene(project=project, beat_id=b.pk, user=team.users["editor"])
    with pytest.raises(ValidationError):
        board.beat_make_scene(
            project=project, beat_id=c.pk, user=team.users["editor"], heading="not a heading"
        )
    s3 = board.beat_make_scene(
        project=project, beat_id=c.pk, user=team.users["editor"], heading="EXT. ROOF - DAWN"
    )
    assert scene_order(project)[2] == "EXT. ROOF - DAWN"
    assert s3.beat.pk == c.pk


def test_make_scene_without_earlier_linked_cards(team):
    project = team.project
    first, second = card(team, "First"), card(team, "Second")
    Beat.objects.filter(pk=second.pk).update(scene=team.scenes[0])
    board.beat_make_scene(
        project=project, beat_id=first.pk, user=team.users["editor"], heading="INT. DOCK - DAY"
    )
    assert scene_order(project)[0] == "INT. DOCK - DAY"  # before the next linked card's scene
    lone = services.project_create(user=team.users["owner"], title="Alone")
    services.scene_create(project=lone, user=team.users["owner"], heading="INT. A - DAY")
    only = board.beat_create(project=lone, user=team.users["owner"], title="Only")
    board.beat_make_scene(project=lone, beat_id=only.pk, user=team.users["owner"])
    assert scene_order(lone) == ["INT. A - DAY", board.PLACEHOLDER_HEADING]  # at the end


def _linked(team, n=3):
    """n cards in act 1, each linked to a new scene (scene order = card order), after the
    team's two unlinked scenes."""
    cards = []
    for i in range(n):
        beat = card(team, f"C{i}")
        board.beat_make_scene(
            project=team.project,
            beat_id=beat.pk,
            user=team.users["editor"],
            heading=f"INT. ROOM {i} - DAY",
        )
        cards.append(beat)
    return cards


def test_moving_cards_reorders_their_scenes(team):
    project = team.project
    c0, c1, c2 = _linked(team)
    assert scene_order(project)[:2] == ["INT. STATION - NIGHT", "EXT. HULL - CONTINUOUS"]
    # Linked scenes were placed at the end, in outline order.
    assert scene_order(project)[2:] == [
        "INT. ROOM 0 - DAY",
        "INT. ROOM 1 - DAY",
        "INT. ROOM 2 - DAY",
    ]
    board.beat_move(project=project, beat_id=c2.pk, act=1, position=0)
    assert scene_order(project) == [
        "INT. STATION - NIGHT",
        "EXT. HULL - CONTINUOUS",
        "INT. ROOM 2 - DAY",
        "INT. ROOM 0 - DAY",
        "INT. ROOM 1 - DAY",
    ]
    # Across acts too: C2 to act 2 puts its scene after the others.
    board.beat_move(project=project, beat_id=c2.pk, act=2, position=0)
    assert scene_order(project)[2:] == [
        "INT. ROOM 0 - DAY",
        "INT. ROOM 1 - DAY",
        "INT. ROOM 2 - DAY",
    ]
    del c0, c1


def test_reordering_scenes_resorts_linked_cards_within_their_acts(team):
    project = team.project
    c0, c1, c2 = _linked(team)
    unlinked = card(team, "Loose", position=1)  # act 1: C0, Loose, C1, C2
    later = card(team, "Later", act=2)
    ids = dict(Scene.objects.filter(project=project).values_list("heading", "pk"))
    # Reverse the three linked scenes in the script.
    order = [
        ids["INT. STATION - NIGHT"],
        ids["EXT. HULL - CONTINUOUS"],
        ids["INT. ROOM 2 - DAY"],
        ids["INT. ROOM 1 - DAY"],
        ids["INT. ROOM 0 - DAY"],
    ]
    services.scene_reorder(project=project, scene_ids=order)
    assert layout(project) == {1: ["C2", "Loose", "C1", "C0"], 2: ["Later"]}
    # A scene move (services.scene_move) does the same.
    services.scene_move(scene=Scene.objects.get(pk=ids["INT. ROOM 0 - DAY"]), to_position=0)
    assert layout(project) == {1: ["C0", "Loose", "C2", "C1"], 2: ["Later"]}
    del c0, c1, c2, unlinked, later


def test_a_deleted_scene_leaves_its_card_and_a_deleted_plotline_leaves_the_cards(team, monkeypatch):
    plot = Plotline.objects.create(project=team.project, name="B story")
    beat = card(team, "Kept", plotline_ids=[plot.pk])
    Beat.objects.filter(pk=beat.pk).update(scene=team.scenes[1])
    sent = []
    with monkeypatch.context() as m:
        m.setattr(services.events, "publish", lambda event, **kw: sent.append(event))
        services.scene_delete(scene=team.scenes[1])
    assert ("board", 0) in [(e.part, e.item) for e in sent if hasattr(e, "part")]
    beat.refresh_from_db()
    assert beat.scene is None
    assert beat.scene_lost == "EXT. HULL - CONTINUOUS"  # the card says which scene it lost
    plot.delete()
    assert beat.plotlines.count() == 0 and Beat.objects.filter(pk=beat.pk).exists()


def test_page_guides(team):
    assert board.page_guides(team.project.pk) == [25, 55, 85, 110]
    assert board.page_guides_update(project=team.project, guides=" 20, 50 ,90") == [20, 50, 90]
    assert StoryBible.objects.get(project=team.project).page_guides == "20,50,90"
    for bad in ["a,b", "50,20", "0", "5000", ",".join(["1"] * 13), "10,10"]:
        with pytest.raises(ValidationError):
            board.page_guides_update(project=team.project, guides=bad)
    assert board.page_guides(team.project.pk) == [20, 50, 90]


def test_act_breaks_compare_first_scenes_with_guides(team):
    a, b = card(team, "A"), card(team, "B", act=2)
    Beat.objects.filter(pk=a.pk).update(scene=team.scenes[0])
    Beat.objects.filter(pk=b.pk).update(scene=team.scenes[1])
    cards = list(board.outline(team.project.pk))
    breaks = board.act_breaks(cards, [1, 2, 3], [25, 55], {team.scenes[1].pk: 30})
    assert [(x.act, x.guide, x.page, x.off_by) for x in breaks] == [
        (2, 25, 30, 5),
        (3, 55, None, None),
    ]


def test_writes_publish_story_changes(team, monkeypatch):
    sent = []
    monkeypatch.setattr(board.events, "publish", lambda event, **kw: sent.append(event))
    beat = card(team, "A")
    board.beat_update(project=team.project, beat_id=beat.pk, version=1, title="B")
    board.beat_move(project=team.project, beat_id=beat.pk, act=2, position=0)
    assert [(e.part, e.item) for e in sent] == [("board", 0), ("beat", beat.pk), ("board", 0)]


# --- views --------------------------------------------------------------------------------


def url(team, name, *args):
    return reverse(name, args=[team.project.pk, *args])


@pytest.mark.parametrize("role", ["owner", "editor", "commenter", "viewer"])
@pytest.mark.parametrize("view", ["", "?view=list", "?view=structure", "?view=board&fragment=1"])
def test_members_read_every_view(team, login, role, view):
    beat = card(team, "Visible card", summary="A summary.")
    client = login(team.users[role])
    resp = client.get(url(team, "board") + view)
    assert resp.status_code == 200
    assert (b"Act breaks" if "structure" in view else b"Visible card") in resp.content
    editable = b"data-move-url" in resp.content
    assert editable == (
        role in ("owner", "editor") and "list" not in view and "structure" not in view
    )
    resp = client.get(url(team, "beat_detail", beat.pk))
    assert resp.status_code == 200
    assert (b'id="beat-form"' in resp.content) == (role in ("owner", "editor"))


def test_outsider_gets_404_everywhere(team, login):
    beat = card(team, "Secret")
    client = login(team.users["outsider"])
    assert client.get(url(team, "board")).status_code == 404
    assert client.get(url(team, "beat_detail", beat.pk)).status_code == 404
    for name, args in [
        ("beat_create", ()),
        ("beat_detail", (beat.pk,)),
        ("beat_delete", (beat.pk,)),
        ("beat_move", (beat.pk,)),
        ("beat_make_scene", (beat.pk,)),
        ("board_guides", ()),
    ]:
        assert client.post(url(team, name, *args), {"title": "x", "act": 1}).status_code == 404


def test_anonymous_is_sent_to_log_in(team, client):
    assert client.get(url(team, "board")).status_code == 302


@pytest.mark.parametrize("role", ["viewer", "commenter"])
def test_low_roles_get_403_on_writes(team, login, role):
    beat = card(team, "Mine")
    client = login(team.users[role])
    for name, args in [
        ("beat_create", ()),
        ("beat_detail", (beat.pk,)),
        ("beat_delete", (beat.pk,)),
        ("beat_move", (beat.pk,)),
        ("beat_make_scene", (beat.pk,)),
        ("board_guides", ()),
    ]:
        resp = client.post(
            url(team, name, *args),
            {"title": "x", "act": 1, "version": 1, "position": 0, "guides": "1"},
        )
        assert resp.status_code == 403, name
    beat.refresh_from_db()
    assert (
        beat.title == "Mine"
        and Beat.objects.count() == 1
        and not Scene.objects.filter(beat=beat).exists()
    )


def test_editor_creates_edits_moves_makes_scene_and_deletes(team, login):
    client = login(team.users["editor"])
    mara = team.characters[0]
    resp = client.post(
        url(team, "beat_create"),
        {"act": 2, "title": "Chase", "summary": "Run.", "characters": [mara.pk], "target": "1 1/8"},
    )
    assert resp.status_code == 302
    beat = Beat.objects.get(title="Chase")
    assert (beat.act, beat.target_eighths) == (2, 9)
    resp = client.post(
        url(team, "beat_detail", beat.pk), {"version": 1, "title": "Chase 2", "summary": "Run!"}
    )
    assert resp.status_code == 302
    beat.refresh_from_db()
    assert (beat.title, beat.version, beat.characters.count()) == ("Chase 2", 2, 0)
    resp = client.post(url(team, "beat_move", beat.pk), {"act": 1, "position": 0})
    assert resp.status_code == 200 and resp.json()["act"] == 1
    resp = client.post(url(team, "beat_make_scene", beat.pk), {"heading": ""})
    beat.refresh_from_db()
    assert resp.status_code == 302 and resp.url == beat.scene.get_absolute_url()
    page = client.get(beat.scene.get_absolute_url())
    assert b"From the outline: Chase 2" in page.content
    board_page = client.get(url(team, "board"))
    assert f"Scene {beat.scene.number}: {board.PLACEHOLDER_HEADING}".encode() in board_page.content
    assert client.post(url(team, "beat_delete", beat.pk)).status_code == 302
    assert not Beat.objects.filter(pk=beat.pk).exists()


def test_stale_save_returns_409_with_the_current_card_and_keeps_the_text(team, login):
    beat = card(team, "Theirs")
    board.beat_update(project=team.project, beat_id=beat.pk, version=1, title="Their new title")
    client = login(team.users["owner"])
    resp = client.post(
        url(team, "beat_detail", beat.pk),
        {"version": 1, "title": "My title", "summary": "My long summary."},
    )
    assert resp.status_code == 409
    body = resp.content.decode()
    assert "Someone changed this card" in body and "Their new title" in body
    assert "My long summary." in body and 'value="My title"' in body
    assert 'name="version" value="2"' in body
    beat.refresh_from_db()
    assert beat.title == "Their new title"


def test_save_of_a_deleted_card_says_so_and_shows_the_text(team, login):
    beat = card(team, "Doomed")
    board.beat_delete(project=team.project, beat_id=beat.pk)
    client = login(team.users["editor"])
    resp = client.post(
        url(team, "beat_detail", beat.pk),
        {"version": 1, "title": "My title", "summary": "Words to keep."},
    )
    assert resp.status_code == 410
    assert b"This card was deleted" in resp.content and b"Words to keep." in resp.content
    assert client.get(url(team, "beat_detail", beat.pk)).status_code == 404


def test_bad_input_is_400(team, login):
    other = services.project_create(user=team.users["outsider"], title="Other")
    stranger = services.character_create(project=other, name="Stranger")
    client = login(team.users["editor"])
    beat = card(team, "Ok")
    cases = [
        {"act": 1, "title": "x", "characters": [stranger.pk]},
        {"act": 1, "title": "x", "plotlines": ["abc"]},
        {"act": 99, "title": "x"},
        {"act": "one", "title": "x"},
        {"act": 1, "title": "x" * 201},
        {"act": 1, "title": "x", "summary": "y" * 5001},
        {"act": 1, "title": "x", "target": "lots"},
        {"act": 1, "title": ""},
    ]
    for data in cases:
        resp = client.post(url(team, "beat_create"), data)
        assert resp.status_code == 400, data
        assert b'role="alert"' in resp.content
    assert Beat.objects.count() == 1
    resp = client.post(
        url(team, "beat_detail", beat.pk), {"version": 1, "title": "x", "characters": [stranger.pk]}
    )
    assert resp.status_code == 400
    assert (
        client.post(url(team, "beat_move", beat.pk), {"act": 13, "position": 0}).status_code == 400
    )
    assert client.post(url(team, "beat_move", beat.pk), {"act": 1}).status_code == 400
    assert client.post(url(team, "board_guides"), {"guides": "90,10"}).status_code == 400
    assert (
        client.post(url(team, "beat_make_scene", beat.pk), {"heading": "nope"}).status_code == 400
    )
    assert client.post(url(team, "beat_move", 999999), {"act": 1, "position": 0}).status_code == 400
    assert client.get(url(team, "beat_detail", 999999)).status_code == 404


def test_guides_form_and_structure_view(team, login):
    a = card(team, "Opening")
    b = card(team, "Turn", act=2)
    plot = Plotline.objects.create(project=team.project, name="A story", colour="#ff0000")
    a.plotlines.add(plot)
    Beat.objects.filter(pk=b.pk).update(scene=team.scenes[1])
    client = login(team.users["editor"])
    assert client.post(url(team, "board_guides"), {"guides": "1,2"}).status_code == 302
    resp = client.get(url(team, "board") + "?view=structure")
    body = resp.content.decode()
    assert "p. 1, p. 2" in body and "EXT. HULL - CONTINUOUS" in body
    assert 'class="on"' in body and "--plot: #ff0000" in body
    list_view = client.get(url(team, "board") + "?view=list").content.decode()
    assert "Act 2" in list_view and "page 1" in list_view  # scene 2 starts on page 1


def test_colours_are_checked_before_reaching_a_style(team, login):
    plot = Plotline.objects.create(project=team.project, name="Odd", colour="red;x")
    card(team, "A", plotline_ids=[plot.pk])
    body = login(team.users["viewer"]).get(url(team, "board")).content.decode()
    assert "red;x" not in body and "--plot: #2f6fdd" in body


def test_board_queries_do_not_grow_with_cards(team, login):
    client = login(team.users["editor"])
    plot = Plotline.objects.create(project=team.project, name="A story")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(team, "board")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        card(team, f"c{i}", plotline_ids=[plot.pk], character_ids=[team.characters[0].pk])
    few = count()
    for i in range(30):
        card(
            team,
            f"d{i}",
            act=1 + i % 3,
            plotline_ids=[plot.pk],
            character_ids=[team.characters[1].pk],
        )
    assert count() == few
