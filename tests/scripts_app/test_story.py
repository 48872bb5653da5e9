"""The story layer: the bible (field-level saves with versions), characters' story fields
and relationships, plotlines; their views for every role; limits and bad input."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cowrite import events
from scripts_app import services, story
from scripts_app.models import (
    Beat,
    Character,
    CharacterRelation,
    Plotline,
    Project,
    StoryBible,
)
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ROLES = ("owner", "editor", "commenter", "viewer", "outsider")
WRITERS = {"owner", "editor"}


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish", lambda event, **kw: sent.append(event))
    return sent


# --- the bible: services ------------------------------------------------------------------


def test_bible_is_created_on_first_use(team, login):
    login(team.users["viewer"]).get(reverse("story_page", args=[team.project.pk]))
    assert not StoryBible.objects.filter(project=team.project).exists()  # reading writes nothing
    bible = story.bible_for(team.project)
    assert bible.versions == {} and story.bible_for(team.project).pk == bible.pk


def test_a_field_saves_and_bumps_its_version(team, published):
    bible = story.bible_save_field(
        project=team.project, name="tone", value=" Dry. ", base_version=0
    )
    assert bible.tone == "Dry." and bible.versions == {"tone": 1}
    bible = story.bible_save_field(
        project=team.project, name="themes", value="Duty", base_version=0
    )
    assert bible.versions == {"tone": 1, "themes": 1}
    assert [(e.project, e.part) for e in published] == [(team.project.pk, "bible")] * 2


def test_a_save_from_an_older_version_is_a_conflict_and_changes_nothing(team, published):
    story.bible_save_field(project=team.project, name="themes", value="A's", base_version=0)
    with pytest.raises(story.FieldConflict) as caught:
        story.bible_save_field(project=team.project, name="themes", value="B's", base_version=0)
    assert caught.value.current == "A's" and caught.value.version == 1
    bible = StoryBible.objects.get(project=team.project)
    assert bible.themes == "A's" and bible.versions == {"themes": 1}
    # Saved from the version shown with the conflict, it overwrites (merge by hand).
    story.bible_save_field(project=team.project, name="themes", value="A's + B's", base_version=1)
    assert StoryBible.objects.get(project=team.project).themes == "A's + B's"
    assert len(published) == 2


def test_a_stale_save_of_the_same_text_is_no_conflict(team):
    story.bible_save_field(project=team.project, name="tone", value="Same", base_version=0)
    bible = story.bible_save_field(project=team.project, name="tone", value="Same", base_version=0)
    assert bible.versions == {"tone": 1}


def test_other_fields_do_not_conflict(team):
    story.bible_save_field(project=team.project, name="tone", value="T", base_version=0)
    story.bible_save_field(project=team.project, name="setting", value="S", base_version=0)
    bible = StoryBible.objects.get(project=team.project)
    assert (bible.tone, bible.setting) == ("T", "S")


def test_logline_and_genre_are_the_projects_fields(team):
    story.bible_save_field(project=team.project, name="logline", value="New one.", base_version=0)
    story.bible_save_field(project=team.project, name="genre", value="Thriller", base_version=0)
    project = Project.objects.get(pk=team.project.pk)
    assert (project.logline, project.genre) == ("New one.", "Thriller")
    with pytest.raises(story.FieldConflict):
        story.bible_save_field(project=team.project, name="logline", value="Old", base_version=0)


@pytest.mark.parametrize("name", story.BIBLE_FIELDS)
def test_bible_fields_are_limited_to_the_models_length(team, name):
    limit = story.bible_limit(name)
    with pytest.raises(ValidationError, match="limit"):
        story.bible_save_field(
            project=team.project, name=name, value="x" * (limit + 1), base_version=0
        )
    story.bible_save_field(project=team.project, name=name, value="x" * limit, base_version=0)


def test_bible_bad_input(team):
    with pytest.raises(ValidationError):
        story.bible_save_field(project=team.project, name="versions", value="x", base_version=0)
    with pytest.raises(ValidationError, match="single line"):
        story.bible_save_field(project=team.project, name="genre", value="a\nb", base_version=0)
    with pytest.raises(ValidationError, match="NUL"):
        story.bible_save_field(project=team.project, name="tone", value="a\x00", base_version=0)
    with pytest.raises(ValidationError, match="out of date"):
        story.bible_save_field(project=team.project, name="tone", value="a", base_version="x")


# --- characters: services -----------------------------------------------------------------


def test_character_field_saves_with_its_text_version(team, published):
    mara = team.characters[0]
    v0 = story.character_version(mara, "want")
    story.character_save_field(character=mara, name="want", value="Get home", base_version=v0)
    mara.refresh_from_db()
    assert mara.want == "Get home"
    with pytest.raises(story.FieldConflict) as caught:
        story.character_save_field(character=mara, name="want", value="Stay", base_version=v0)
    assert caught.value.current == "Get home"
    assert Character.objects.get(pk=mara.pk).want == "Get home"
    assert published[-1].part == "characters" and published[-1].item == mara.pk


def test_character_role_must_be_a_choice(team):
    mara = team.characters[0]
    v = story.character_version(mara, "role")
    story.character_save_field(character=mara, name="role", value="protagonist", base_version=v)
    with pytest.raises(ValidationError, match="role"):
        story.character_save_field(character=mara, name="role", value="hero", base_version=v)
    with pytest.raises(ValidationError):
        story.character_save_field(character=mara, name="name", value="X", base_version=v)
    with pytest.raises(ValidationError, match="limit"):
        story.character_save_field(
            character=mara, name="voice", value="x" * 2001, base_version=story.text_version("")
        )


def test_character_limit(team, monkeypatch):
    monkeypatch.setattr(story, "MAX_CHARACTERS", 3)
    services.character_create(project=team.project, name="Third")
    with pytest.raises(ValidationError, match="at most 3 characters"):
        services.character_create(project=team.project, name="Fourth")


def test_appearances_from_cast_and_cues(team):
    mara, jonah = team.characters
    # Jonah speaks in scene 1 without being in its cast; he is cast in scene 2.
    scene1 = team.scenes[0]
    services.scene_save_text(
        scene=scene1,
        user=team.users["editor"],
        text=scene1.text + "\nJONAH\nCopy that.\nStill copying.\n",
        base_revision_id=scene1.head_id,
    )
    found = story.character_appearances(jonah)
    assert [s.pk for s in found.scenes] == [team.scenes[0].pk, team.scenes[1].pk]
    assert found.speeches == 1 and found.lines == 2
    rows = {r["character"].name: r for r in story.characters_overview(team.project)}
    assert rows["MARA"]["scenes"] == 1 and rows["MARA"]["lines"] == 1
    assert rows["JONAH"]["scenes"] == 2


# --- relationships ------------------------------------------------------------------------


def test_relations(team):
    mara, jonah = team.characters
    rel = story.relation_create(project=team.project, source=mara, target=jonah, kind="sister of")
    assert str(rel) == "MARA sister of JONAH"
    with pytest.raises(ValidationError, match="already sister of"):
        story.relation_create(project=team.project, source=mara, target=jonah, kind="Sister of")
    with pytest.raises(ValidationError, match="themselves"):
        story.relation_create(project=team.project, source=mara, target=mara, kind="rival")
    with pytest.raises(ValidationError, match="Name the relationship"):
        story.relation_create(project=team.project, source=mara, target=jonah, kind="  ")
    with pytest.raises(ValidationError, match="limit"):
        story.relation_create(project=team.project, source=mara, target=jonah, kind="x" * 61)
    other = services.project_create(user=team.users["outsider"], title="Other")
    stranger = services.character_create(project=other, name="Stranger")
    with pytest.raises(ValidationError, match="belong"):
        story.relation_create(project=team.project, source=mara, target=stranger, kind="rival")
    assert CharacterRelation.objects.count() == 1
    story.relation_delete(relation=rel)
    assert CharacterRelation.objects.count() == 0


def test_relation_limit(team, monkeypatch):
    monkeypatch.setattr(story, "MAX_RELATIONS", 1)
    mara, jonah = team.characters
    story.relation_create(project=team.project, source=mara, target=jonah, kind="rival")
    with pytest.raises(ValidationError, match="at most 1 relationships"):
        story.relation_create(project=team.project, source=jonah, target=mara, kind="rival")


# --- plotlines ----------------------------------------------------------------------------


def test_plotline_crud_and_order(team, published):
    a = story.plotline_create(project=team.project, name="The heist", colour="#AA0000")
    b = story.plotline_create(project=team.project, name="Love", colour="#00aa00")
    c = story.plotline_create(project=team.project, name="Father", label="x", colour="#0000aa")
    assert (a.label, b.label, c.label) == ("A", "B", "X") and a.colour == "#aa0000"
    assert [p.position for p in (a, b, c)] == [0, 1, 2]
    story.plotline_move(plotline=c, direction="up")
    assert list(Plotline.objects.values_list("name", flat=True)) == ["The heist", "Father", "Love"]
    story.plotline_move(plotline=a, direction="up")  # already first: stays
    assert Plotline.objects.first().pk == a.pk
    story.plotline_update(plotline=b, name="Romance", label="B", colour="#123456", description="d")
    assert Plotline.objects.get(pk=b.pk).name == "Romance"
    with pytest.raises(ValidationError, match="already a plotline"):
        story.plotline_update(plotline=b, name="the HEIST", colour="#123456")
    story.plotline_delete(plotline=a)
    assert list(Plotline.objects.values_list("position", flat=True)) == [0, 1]
    assert {e.part for e in published} == {"plotlines"}


@pytest.mark.parametrize("colour", ["red", "#fff", "#12345g", "", "#1234567", "123456"])
def test_plotline_colour_is_validated(team, colour):
    with pytest.raises(ValidationError, match="#rrggbb"):
        story.plotline_create(project=team.project, name="A", colour=colour)
    assert not Plotline.objects.exists()


def test_plotline_bad_input(team):
    with pytest.raises(ValidationError, match="needs a name"):
        story.plotline_create(project=team.project, name=" ")
    with pytest.raises(ValidationError, match="limit"):
        story.plotline_create(project=team.project, name="x" * 101)
    with pytest.raises(ValidationError, match="limit"):
        story.plotline_create(project=team.project, name="A", label="ABCDE")
    story.plotline_create(project=team.project, name="Main")
    with pytest.raises(ValidationError, match="already a plotline"):
        story.plotline_create(project=team.project, name="MAIN")


def test_plotline_limit(team):
    for i in range(story.MAX_PLOTLINES):
        story.plotline_create(project=team.project, name=f"Line {i}")
    with pytest.raises(ValidationError, match=f"at most {story.MAX_PLOTLINES} plotlines"):
        story.plotline_create(project=team.project, name="One more")
    assert Plotline.objects.count() == story.MAX_PLOTLINES


def test_deleting_a_plotline_keeps_its_beats(team, published):
    line = story.plotline_create(project=team.project, name="Heist")
    beats = [Beat.objects.create(project=team.project, title=f"B{i}", position=i) for i in range(3)]
    for beat in beats[:2]:
        beat.plotlines.add(line)
    assert story.plotline_delete(plotline=line) == 2
    assert Beat.objects.filter(project=team.project).count() == 3
    assert Beat.plotlines.through.objects.count() == 0
    assert "board" in {e.part for e in published}


# --- views --------------------------------------------------------------------------------


def _expect(role: str, need_write: bool) -> int:
    if role == "outsider":
        return 404
    if need_write and role not in WRITERS:
        return 403
    return 200


@pytest.mark.parametrize("role", ROLES)
def test_story_page_for_every_role(team, login, role):
    client = login(team.users[role])
    story.plotline_create(project=team.project, name="Heist")
    resp = client.get(reverse("story_page", args=[team.project.pk]))
    assert resp.status_code == _expect(role, False)
    if resp.status_code == 200:
        html = resp.content.decode()
        assert "Story bible" in html and "Heist" in html and "MARA" in html
        assert f'ws-connect="/ws/projects/{team.project.pk}/story"' in html
        assert ("<textarea" in html) == (role in WRITERS)
        assert ("Add plotline" in html) == (role in WRITERS)


@pytest.mark.parametrize("role", ROLES)
def test_fragments_for_every_role(team, login, role):
    client = login(team.users[role])
    p, c = team.project.pk, team.characters[0].pk
    for url in (
        reverse("story_bible_field", args=[p, "tone"]),
        reverse("story_characters", args=[p]),
        reverse("story_plotlines", args=[p]),
        reverse("character_story_field", args=[p, c, "want"]),
        reverse("character_relations", args=[p, c]),
        reverse("character_detail", args=[p, c]),
    ):
        assert client.get(url).status_code == _expect(role, False), url


@pytest.mark.parametrize("role", ROLES)
def test_writes_for_every_role(team, login, role):
    client = login(team.users[role])
    p = team.project.pk
    mara, jonah = team.characters
    line = story.plotline_create(project=team.project, name="Heist")
    expected = _expect(role, True)
    posts = [
        (reverse("story_bible_save", args=[p, "tone"]), {"value": "Dry", "version": "0"}),
        (
            reverse("character_story_save", args=[p, mara.pk, "want"]),
            {"value": "Home", "version": story.text_version("")},
        ),
        (
            reverse("relation_create", args=[p, mara.pk]),
            {"kind": "sister of", "target": jonah.pk},
        ),
        (reverse("plotline_create", args=[p]), {"name": "Love", "colour": "#00aa00"}),
        (
            reverse("plotline_update", args=[p, line.pk]),
            {"name": "Heist 2", "colour": "#00aa00"},
        ),
        (reverse("plotline_move", args=[p, line.pk]), {"direction": "down"}),
    ]
    for url, data in posts:
        resp = client.post(url, data, HTTP_HX_REQUEST="true")
        assert resp.status_code == expected, (url, resp.content[:300])
    rel = CharacterRelation.objects.filter(project=team.project).first()
    if rel:
        resp = client.post(reverse("relation_delete", args=[p, mara.pk, rel.pk]))
        assert resp.status_code == 302
    resp = client.post(reverse("plotline_delete", args=[p, line.pk]))
    assert resp.status_code == (302 if expected == 200 else expected)
    written = expected == 200
    assert (StoryBible.objects.filter(project=team.project, tone="Dry").exists()) == written
    assert (Character.objects.get(pk=mara.pk).want == "Home") == written
    assert Plotline.objects.filter(pk=line.pk).exists() != written
    if not written:
        assert not CharacterRelation.objects.exists()


def test_bible_save_view_conflict_keeps_the_writers_text(team, login):
    story.bible_save_field(project=team.project, name="themes", value="Alice's", base_version=0)
    client = login(team.users["editor"])
    url = reverse("story_bible_save", args=[team.project.pk, "themes"])
    resp = client.post(url, {"value": "Bob's themes", "version": "0"}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 409
    html = resp.content.decode()
    assert "Alice&#x27;s" in html and "Bob&#x27;s themes</textarea>" in html
    assert 'name="version" value="1"' in html and 'data-story-busy="true"' in html
    assert StoryBible.objects.get(project=team.project).themes == "Alice's"
    # Saving again from the version shown overwrites.
    resp = client.post(url, {"value": "Merged", "version": "1"}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 200 and 'name="version" value="2"' in resp.content.decode()
    assert StoryBible.objects.get(project=team.project).themes == "Merged"


def test_bible_save_view_bad_input(team, login):
    client = login(team.users["editor"])
    p = team.project.pk
    url = reverse("story_bible_save", args=[p, "tone"])
    resp = client.post(url, {"value": "x" * 1001, "version": "0"})
    assert resp.status_code == 400 and "limit is 1,000" in resp.content.decode()
    assert client.post(reverse("story_bible_save", args=[p, "versions"]), {}).status_code == 404
    assert client.get(reverse("story_bible_field", args=[p, "nope"])).status_code == 404
    assert client.get(reverse("story_bible_save", args=[p, "tone"])).status_code == 405
    assert not StoryBible.objects.filter(project=team.project).exclude(tone="").exists()


def test_editor_edits_the_logline_through_the_bible(team, login):
    client = login(team.users["editor"])
    url = reverse("story_bible_save", args=[team.project.pk, "logline"])
    resp = client.post(url, {"value": "A station fails.", "version": "0"})
    assert resp.status_code == 200
    assert Project.objects.get(pk=team.project.pk).logline == "A station fails."


def test_character_views_bad_input(team, login):
    client = login(team.users["editor"])
    p = team.project.pk
    mara, jonah = team.characters
    other = services.project_create(user=team.users["editor"], title="Other")
    stranger = services.character_create(project=other, name="Stranger")
    # A character of another project is no character of this one.
    url = reverse("relation_create", args=[p, mara.pk])
    assert client.post(url, {"kind": "rival", "target": stranger.pk}).status_code == 404
    assert client.post(url, {"kind": "rival", "target": "x"}).status_code == 404
    resp = client.post(
        reverse("character_story_save", args=[p, stranger.pk, "want"]), {"value": "x"}
    )
    assert resp.status_code == 404
    resp = client.post(url, {"kind": "rival", "target": mara.pk}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 400 and "themselves" in resp.content.decode()
    client.post(url, {"kind": "rival", "target": jonah.pk}, HTTP_HX_REQUEST="true")
    resp = client.post(url, {"kind": "rival", "target": jonah.pk}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 400 and "already rival" in resp.content.decode()
    resp = client.post(
        reverse("character_story_save", args=[p, mara.pk, "need"]),
        {"value": "x" * 1001, "version": story.text_version("")},
    )
    assert resp.status_code == 400
    resp = client.post(
        reverse("character_story_save", args=[p, mara.pk, "role"]),
        {"value": "villain", "version": story.text_version("")},
    )
    assert resp.status_code == 400
    assert CharacterRelation.objects.count() == 1


def test_character_view_conflict(team, login):
    mara = team.characters[0]
    v0 = story.text_version("")
    story.character_save_field(character=mara, name="flaw", value="Pride", base_version=v0)
    client = login(team.users["editor"])
    url = reverse("character_story_save", args=[team.project.pk, mara.pk, "flaw"])
    resp = client.post(url, {"value": "Fear", "version": v0})
    assert resp.status_code == 409
    assert "Pride" in resp.content.decode() and "Fear</textarea>" in resp.content.decode()
    assert Character.objects.get(pk=mara.pk).flaw == "Pride"


def test_character_page_shows_story_and_appearances(team, login):
    mara, jonah = team.characters
    story.relation_create(project=team.project, source=jonah, target=mara, kind="brother of")
    client = login(team.users["viewer"])
    html = client.get(reverse("character_detail", args=[team.project.pk, mara.pk])).content
    html = html.decode()
    assert "JONAH</a> <em>brother of</em>" in html
    assert "1 scene · 1 speech · 1 line of dialogue" in html
    assert "INT. STATION - NIGHT" in html and "<textarea" not in html


def test_plotline_views_messages(team, login):
    client = login(team.users["editor"])
    p = team.project.pk
    resp = client.post(
        reverse("plotline_create", args=[p]),
        {"name": "A", "colour": "blue"},
        HTTP_HX_REQUEST="true",
    )
    assert resp.status_code == 400 and "#rrggbb" in resp.content.decode()
    line = story.plotline_create(project=team.project, name="Heist")
    for i in range(2):
        Beat.objects.create(project=team.project, title=f"B{i}", position=i).plotlines.add(line)
    resp = client.post(reverse("plotline_delete", args=[p, line.pk]), HTTP_HX_REQUEST="true")
    assert "removed from 2 beats" in resp.content.decode()
    assert Beat.objects.filter(project=team.project).count() == 2
    other = services.project_create(user=make_user("stranger"), title="Other")
    foreign = story.plotline_create(project=other, name="Theirs")
    resp = client.post(reverse("plotline_move", args=[p, foreign.pk]), {"direction": "up"})
    assert resp.status_code == 404


def test_project_page_links_to_the_story(team, login):
    html = login(team.users["viewer"]).get(team.project.get_absolute_url()).content.decode()
    assert reverse("story_page", args=[team.project.pk]) in html


# --- the demo -----------------------------------------------------------------------------


def test_the_demo_has_a_story_layer(db, settings):
    import io

    from django.core.management import call_command

    from scripts_app.management.commands.seed_demo import seed_story

    settings.DATABASE_URL = ""
    call_command("seed_demo", stdout=io.StringIO())
    project = Project.objects.get(title="Kestrel")
    bible = StoryBible.objects.get(project=project)
    assert project.logline and bible.tone and bible.themes
    characters = list(project.characters.exclude(role="").exclude(want=""))
    assert len(characters) >= 4 and all(c.need or c.role == "antagonist" for c in characters)
    assert all(c.arc_start and c.arc_end for c in characters)
    assert project.character_relations.count() == 3
    assert project.plotlines.count() == 2
    beats = Beat.objects.filter(project=project)
    assert beats.count() >= 20 and set(beats.values_list("act", flat=True)) == {1, 2, 3}
    assert beats.filter(scene__isnull=False).count() == 3
    for act in (1, 2, 3):
        positions = list(beats.filter(act=act).values_list("position", flat=True))
        assert positions == list(range(len(positions)))
    # Seeding again changes nothing.
    cast = {c.name: c for c in project.characters.all()}
    seed_story(project, project.created_by, cast)
    assert Beat.objects.filter(project=project).count() == beats.count()
    assert project.plotlines.count() == 2


# --- sections and synopses: import and export ---------------------------------------------

OUTLINED = (
    "Title: Kestrel\n\n"
    "# ACT ONE\n\n"
    "INT. STATION - NIGHT\n= Mara counts the days.\n\nAlarms pulse.\n\nMARA\nForty.\n\n"
    "INT. DECK - LATER\n\nJonah waits.\n\n"
    "# ACT TWO\n\n"
    "## The long middle\n\n"
    "EXT. HULL - DAY\n= Mara goes outside.\n\nStars.\n\n"
    "INT. HYDROPONICS - NIGHT\n= Something is growing.\n\nLeaves.\n\n"
    "# ACT THREE\n\n"
    "EXT. STORM - NIGHT\n= The landing.\n\nRain.\n"
)


def _import(user, text, project=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from scripts_app import imports

    upload = SimpleUploadedFile("k.fountain", text.encode(), content_type="text/plain")
    return imports.script_import(user=user, upload=upload, filename="k.fountain", project=project)


def _cards(project):
    return list(
        Beat.objects.filter(project=project).values_list(
            "act", "position", "title", "summary", "scene__heading"
        )
    )


def test_import_maps_sections_and_synopses_to_acts_and_cards(team):
    project = _import(team.users["editor"], OUTLINED)
    assert _cards(project) == [
        (1, 0, "Mara counts the days.", "Mara counts the days.", "INT. STATION - NIGHT"),
        (2, 0, "Mara goes outside.", "Mara goes outside.", "EXT. HULL - DAY"),
        (2, 1, "Something is growing.", "Something is growing.", "INT. HYDROPONICS - NIGHT"),
        (3, 0, "The landing.", "The landing.", "EXT. STORM - NIGHT"),
    ]
    texts = list(project.scenes.order_by("position").values_list("text", flat=True))
    assert texts[0] == "Alarms pulse.\n\nMARA\nForty.\n"
    assert "# ACT" not in "".join(texts) and "= " not in "".join(texts)
    assert "## The long middle" in texts[1]  # lower sections stay in the text


def test_round_trip_of_sections_and_synopses(team):
    from scripts_app import exports

    project = _import(team.users["editor"], OUTLINED)
    source = exports.export_project(project, "fountain").content.decode()
    assert source.count("# Act ") == 3
    assert "# Act 1\n\nINT. STATION - NIGHT\n= Mara counts the days.\n\nAlarms pulse." in source
    assert "# Act 2\n\n" in source and "# Act 3\n\nEXT. STORM - NIGHT\n= The landing.\n" in source
    again = _import(team.users["editor"], source)
    assert [c[:4] for c in _cards(again)] == [c[:4] for c in _cards(project)]
    assert list(again.scenes.values_list("heading", "text")) == list(
        project.scenes.values_list("heading", "text")
    )
    # Other formats and the page counts do not see the outline.
    assert "Act 1" not in exports.project_source(project)


def test_import_without_sections_is_unchanged(team):
    text = "INT. STATION - NIGHT\n= A synopsis, no acts.\n\nAlarms.\n"
    project = _import(team.users["editor"], text)
    assert not Beat.objects.filter(project=project).exists()
    assert project.scenes.get().text == "= A synopsis, no acts.\n\nAlarms.\n"


def test_import_with_sections_but_no_cards_is_unchanged(team):
    text = "# ACT ONE\n\nINT. STATION - NIGHT\n\n= Not after the heading.\n"
    project = _import(team.users["editor"], text)
    assert not Beat.objects.filter(project=project).exists()
    assert "# ACT ONE" in project.notes
    assert project.scenes.get().text == "= Not after the heading.\n"


def test_import_into_a_project_appends_cards_to_their_acts(team):
    Beat.objects.create(project=team.project, act=1, position=0, title="Existing")
    _import(team.users["editor"], OUTLINED, project=team.project)
    act1 = Beat.objects.filter(project=team.project, act=1).order_by("position")
    assert [b.title for b in act1] == ["Existing", "Mara counts the days."]
    assert act1[1].scene.heading == "INT. STATION - NIGHT"


def test_export_writes_acts_and_synopses_from_cards(team):
    from scripts_app import exports

    scene1, scene2 = team.scenes
    Beat.objects.create(project=team.project, act=1, title="Alarms", summary="", scene=scene1)
    Beat.objects.create(
        project=team.project, act=2, title="Out", summary="Jonah goes\nout.", scene=scene2
    )
    Beat.objects.create(project=team.project, act=3, title="Unlinked card")
    source = exports.export_project(team.project, "fountain").content.decode()
    assert "# Act 1\n\nINT. STATION - NIGHT\n= Alarms\n\nAlarms pulse amber." in source
    assert "# Act 2\n\nEXT. HULL - CONTINUOUS\n= Jonah goes out.\n" in source
    assert "Act 3" not in source
    fdx_text = exports.export_project(team.project, "fdx").content.decode()
    assert "Act 1" not in fdx_text and "Jonah goes out" not in fdx_text
