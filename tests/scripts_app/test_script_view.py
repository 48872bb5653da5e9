"""The whole-script view's services and endpoints (scripts_app/script_view.py,
views_script.py): split at a heading typed in a scene's text, merge into the scene
before, where the printed pages break, and who may do what."""

import base64
import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pycrdt import Assoc, Text

from scripts_app import documents, exports, script_view, services
from scripts_app.formats import pagination
from scripts_app.models import Scene

pytestmark = pytest.mark.django_db


def _position(scene_id: int, index: int) -> str:
    """What the browser sends: a relative position on the live text (ASCII text here, so
    pycrdt's own sticky index is exact)."""
    doc = documents.load(scene_id).doc
    sticky = doc.get("text", type=Text).sticky_index(index, Assoc.AFTER)
    return base64.b64encode(sticky.encode()).decode()


def _type(scene_id: int, index: int, text: str, user_id=None) -> None:
    """Another writer's keystrokes, as their editor would send them (one logged update)."""
    doc = documents.load(scene_id).doc
    ytext = doc.get("text", type=Text)
    before = doc.get_state()
    ytext.insert(len(str(ytext)[:index].encode()), text)
    documents.append_update(scene_id=scene_id, data=doc.get_update(before), user_id=user_id)


def _order(project) -> list[Scene]:
    return list(Scene.objects.filter(project=project).order_by("position", "pk"))


BODY = "Alarms pulse.\n\nEXT. HULL - CONTINUOUS\n\nJonah floats.\n"


@pytest.fixture
def scene(team):
    s = team.scenes[0]
    documents.replace_text(scene_id=s.pk, new_text=BODY, user_id=None)
    return s


def test_split_at_a_heading_makes_the_rest_a_new_scene(team, scene):
    index = BODY.index("EXT.")
    new = script_view.scene_split(
        scene=scene, user=team.users["editor"], position=_position(scene.pk, index + 3)
    )
    order = _order(team.project)
    assert [s.pk for s in order[:2]] == [scene.pk, new.pk]
    assert len(order) == 3
    assert new.heading == "EXT. HULL - CONTINUOUS"
    assert documents.live_text(new.pk) == "Jonah floats.\n"
    assert documents.live_text(scene.pk) == "Alarms pulse.\n"
    scene.refresh_from_db()
    assert scene.head.text == "Alarms pulse.\n"  # both have a revision
    assert new.head.text == "Jonah floats.\n"
    # The whole script reads as before, word for word.
    assert exports.project_source(team.project).count("Jonah floats.") == 1


def test_split_is_refused_at_a_line_that_is_no_heading(team, scene):
    with pytest.raises(ValidationError):
        script_view.scene_split(
            scene=scene, user=team.users["editor"], position=_position(scene.pk, 2)
        )
    assert documents.live_text(scene.pk) == BODY
    assert len(_order(team.project)) == 2


def test_split_keeps_what_others_typed_meanwhile(team, scene):
    position = _position(scene.pk, BODY.index("EXT."))
    # After the browser took the position, two others typed: before and after the cut.
    _type(scene.pk, 0, "EARLY ")
    _type(scene.pk, len("EARLY " + BODY) - 1, " LATE")
    new = script_view.scene_split(scene=scene, user=team.users["editor"], position=position)
    assert documents.live_text(scene.pk) == "EARLY Alarms pulse.\n"
    assert documents.live_text(new.pk) == "Jonah floats. LATE\n"


def test_merge_keeps_all_text(team, scene):
    second = team.scenes[1]
    documents.replace_text(scene_id=second.pk, new_text="Jonah waves.\n", user_id=None)
    _type(second.pk, 0, "Unsaved typing. ")
    into = script_view.scene_merge(scene=second, user=team.users["editor"])
    assert into.pk == scene.pk
    assert not Scene.objects.filter(pk=second.pk).exists()
    text = documents.live_text(scene.pk)
    assert text == BODY + "\nEXT. HULL - CONTINUOUS\n\nUnsaved typing. Jonah waves.\n"
    scene.refresh_from_db()
    assert scene.head.text == text


def test_split_then_merge_gives_back_the_same_script(team, scene):
    services.scene_sync_live(scene_id=scene.pk, autosave=False)
    before = exports.project_source(team.project)
    new = script_view.scene_split(
        scene=scene, user=team.users["editor"], position=_position(scene.pk, BODY.index("EXT."))
    )
    script_view.scene_merge(scene=new, user=team.users["editor"])
    services.scene_sync_live(scene_id=scene.pk, autosave=False)
    assert exports.project_source(team.project) == before


def test_the_first_scene_cannot_merge(team, scene):
    with pytest.raises(ValidationError):
        script_view.scene_merge(scene=scene, user=team.users["editor"])


# --- page breaks ----------------------------------------------------------------------------


def _long_project(team, scenes=60, paragraphs=6):
    para = "The corridor is long and the lights flicker as she runs past door after door.\n\n"
    for i in range(scenes):
        services.scene_create(
            project=team.project,
            user=team.users["owner"],
            heading=f"INT. ROOM {i} - NIGHT",
            text=para * paragraphs + f"MARA\nLine {i}.\n",
        )


def test_page_breaks_match_the_pdf_pagination(team):
    _long_project(team, 30)
    result = script_view.page_breaks(team.project)
    laid = pagination.lay_out(exports.project_source(team.project))
    assert result["pages"] == laid.page_count > 5
    order = _order(team.project)
    starts = [result["scenes"][str(s.pk)]["start"] for s in order]
    assert starts == [s // laid.layout.lines_per_page + 1 for s in laid.scene_starts]
    # Every page after the first begins in exactly one scene, at a line that exists.
    seen = []
    for s in order:
        entry = result["scenes"][str(s.pk)]
        lines = s.text.split("\n")
        for line, page in entry["breaks"]:
            assert -1 <= line < len(lines)
            seen.append(page)
        # Repeated paragraphs: each page still begins further down the text.
        found = [line for line, _ in entry["breaks"]]
        assert found == sorted(set(found))
    assert sorted(seen) == list(range(2, result["pages"] + 1))


def test_a_page_begins_at_the_line_it_prints_first(team):
    scene = services.scene_create(
        project=team.project,
        user=team.users["owner"],
        heading="INT. LIST - DAY",
        text="".join(f"Numbered line {i} of the long list.\n\n" for i in range(200)),
    )
    result = script_view.page_breaks(team.project, [scene.pk])
    laid = pagination.lay_out(exports.project_source(team.project))
    lines = scene.text.split("\n")
    breaks = result["scenes"][str(scene.pk)]["breaks"]
    assert breaks
    for line, page in breaks:
        first = next(row for row in laid.pages[page - 1].rows if row)
        assert first[0].text in lines[line]


def test_page_breaks_follow_live_typing(team):
    _long_project(team, 10)
    first = script_view.page_breaks(team.project)
    scene = _order(team.project)[0]
    documents.ensure_doc(scene.pk)
    _type(scene.pk, 0, "A new paragraph that is long enough to push things down.\n\n" * 30)
    second = script_view.page_breaks(team.project)
    assert second["pages"] > first["pages"]


def test_page_breaks_of_a_120_page_script_are_quick(team):
    _long_project(team, 130, paragraphs=16)
    started = time.perf_counter()
    result = script_view.page_breaks(team.project)
    took = time.perf_counter() - started
    assert result["pages"] >= 120
    print(f"page breaks of {result['pages']} pages: {took:.3f} s")
    assert took < 1.0, took
    started = time.perf_counter()
    script_view.page_breaks(team.project)
    assert time.perf_counter() - started < 0.1  # cached for the same script state


# --- endpoints and permissions --------------------------------------------------------------


def _urls(team, scene):
    p = team.project.pk
    return {
        "view": ("get", reverse("script_view", args=[p]), {}),
        "outline": ("get", reverse("script_outline", args=[p]), {}),
        "pages": ("get", reverse("script_pages", args=[p]), {"scenes": str(scene.pk)}),
        "split": (
            "post",
            reverse("script_scene_split", args=[p, scene.pk]),
            {"position": _position(scene.pk, BODY.index("EXT.")), "line": "EXT. HULL - CONTINUOUS"},
        ),
        "heading": (
            "post",
            reverse("script_scene_heading", args=[p, scene.pk]),
            {"heading": "INT. DECK - DAY"},
        ),
        "merge": ("post", reverse("script_scene_merge", args=[p, team.scenes[1].pk]), {}),
        "panel": ("get", reverse("script_scene_panel", args=[p, scene.pk]), {}),
    }


@pytest.mark.parametrize("name", ["view", "outline", "pages", "split", "heading", "merge", "panel"])
def test_outsiders_get_404(team, scene, login, name):
    method, url, data = _urls(team, scene)[name]
    client = login(team.users["outsider"])
    assert getattr(client, method)(url, data).status_code == 404


@pytest.mark.parametrize("name", ["split", "heading", "merge"])
def test_viewers_may_not_change_the_script(team, scene, login, name):
    method, url, data = _urls(team, scene)[name]
    client = login(team.users["viewer"])
    assert client.post(url, data).status_code == 403
    assert len(_order(team.project)) == 2
    assert documents.live_text(scene.pk) == BODY


@pytest.mark.parametrize("name", ["view", "outline", "pages", "panel"])
def test_viewers_read(team, scene, login, name):
    method, url, data = _urls(team, scene)[name]
    assert login(team.users["viewer"]).get(url, data).status_code == 200


def test_the_side_column_shows_the_scenes_drafts_panel(team, scene, login):
    """The focused scene's panel (views_script.scene_panel): the scene page's drafts panel
    for that scene, read-only for viewers; a scene of another project is 404."""
    urls = _urls(team, scene)
    editor = login(team.users["editor"]).get(urls["panel"][1]).content.decode()
    assert f'data-scene-id="{scene.pk}"' in editor
    assert 'id="drafts-panel"' in editor
    assert f"/ws/projects/{team.project.pk}/scenes/{scene.pk}/room" in editor
    assert 'id="draft-form"' in editor
    assert scene.heading in editor
    viewer = login(team.users["viewer"]).get(urls["panel"][1]).content.decode()
    assert 'id="drafts-panel"' in viewer
    assert 'id="draft-form"' not in viewer
    other = services.project_create(user=team.users["editor"], title="Elsewhere")
    wrong = reverse("script_scene_panel", args=[other.pk, scene.pk])
    assert login(team.users["editor"]).get(wrong).status_code == 404


def test_blocks_carry_their_panel_and_no_drafts_link(team, scene, login):
    client = login(team.users["editor"])
    page = client.get(reverse("script_view", args=[team.project.pk])).content.decode()
    assert reverse("script_scene_panel", args=[team.project.pk, scene.pk]) in page
    assert 'id="script-side"' in page
    assert "Drafts…" not in page
    outline = client.get(reverse("script_outline", args=[team.project.pk])).json()
    assert outline["scenes"][0]["panel_url"] == reverse(
        "script_scene_panel", args=[team.project.pk, scene.pk]
    )


def test_editors_split_merge_and_rename(team, scene, login):
    client = login(team.users["editor"])
    urls = _urls(team, scene)
    response = client.post(urls["split"][1], urls["split"][2])
    assert response.status_code == 201
    new_id = response.json()["scene"]["id"]
    assert response.json()["scene"]["heading"] == "EXT. HULL - CONTINUOUS"
    assert client.post(urls["heading"][1], urls["heading"][2]).status_code == 200
    scene.refresh_from_db()
    assert scene.heading == "INT. DECK - DAY"
    merge = reverse("script_scene_merge", args=[team.project.pk, new_id])
    assert client.post(merge).json() == {"into": scene.pk, "removed": new_id}
    page = client.get(urls["view"][1])
    assert page.status_code == 200
    assert b'id="script-view"' in page.content


@pytest.mark.parametrize(
    "position", ["", "not base64!", "AAAA", base64.b64encode(b"\x07" * 70).decode(), "A" * 200]
)
def test_malformed_positions_are_400(team, scene, login, position):
    client = login(team.users["editor"])
    url = reverse("script_scene_split", args=[team.project.pk, scene.pk])
    response = client.post(url, {"position": position})
    assert response.status_code == 400
    assert response.json()["error"]
    assert documents.live_text(scene.pk) == BODY


def test_bad_headings_and_scene_lists_are_refused(team, scene, login):
    client = login(team.users["editor"])
    url = reverse("script_scene_heading", args=[team.project.pk, scene.pk])
    assert client.post(url, {"heading": "not a heading"}).status_code == 400
    pages = reverse("script_pages", args=[team.project.pk])
    assert client.get(pages, {"scenes": "1,x"}).status_code == 400


def test_outline_answers_204_while_nothing_changed(team, scene, login):
    client = login(team.users["viewer"])
    url = reverse("script_outline", args=[team.project.pk])
    state = client.get(url).json()["state"]
    assert client.get(url, {"state": state}).status_code == 204
    services.scene_create(project=team.project, user=team.users["owner"], heading="INT. A - DAY")
    assert client.get(url, {"state": state}).status_code == 200


def test_a_big_script_is_laid_out_in_the_background(team, monkeypatch):
    """Over script_stats.INLINE_SCENES the request never lays the script out itself: it
    gives the previous answer (stale) or none yet, and one refresh starts."""
    started = []
    script_view.script_stats.stats_cache().delete(script_view._pages_key(team.project.pk))
    monkeypatch.setattr(script_view.script_stats, "INLINE_SCENES", 1)
    monkeypatch.setattr(script_view, "_refresh_in_background", started.append)
    assert script_view.page_breaks(team.project) == {"pages": None, "scenes": {}, "stale": True}
    assert started == [team.project.pk]
    script_view._store(team.project)  # what the thread does
    fresh = script_view.page_breaks(team.project)
    assert fresh["pages"] >= 1 and not fresh["stale"]
    services.scene_create(project=team.project, user=team.users["owner"], heading="INT. B - DAY")
    stale = script_view.page_breaks(team.project)
    assert stale["stale"] and stale["scenes"] == fresh["scenes"]
    assert started == [team.project.pk] * 2
