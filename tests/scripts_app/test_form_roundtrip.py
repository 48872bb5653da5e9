"""Every edit form round-trips every field it shows: submitted unchanged, it changes nothing.

The forms are read from the pages as a browser reads them (tests/support/htmlforms.py),
so a field the page renders without a usable control (the scene's cast once rendered as
bare options, and "Save details" emptied it) fails here.
"""

import pytest
from django.urls import reverse

from scripts_app import services
from scripts_app.models import Character, Membership, Project, Scene
from tests.support.htmlforms import form_posting_to


def full_snapshot():
    return (
        list(
            Project.objects.order_by("pk").values_list(
                "pk", "title", "logline", "genre", "notes", "allow_training"
            )
        ),
        list(Membership.objects.order_by("pk").values_list("pk", "user_id", "role")),
        list(Character.objects.order_by("pk").values_list("pk", "name", "description", "notes")),
        list(
            Scene.objects.order_by("pk").values_list(
                "pk", "position", "heading", "synopsis", "text", "head_id"
            )
        ),
        sorted(Scene.cast.through.objects.values_list("scene_id", "character_id")),
    )


@pytest.fixture
def sisters(team):
    """The scene from the report: INT. DINER - NIGHT with CLAIRE and JUNE, a rich project."""
    project = team.project
    services.project_update(
        project=project,
        title="The Long Night",
        logline="Two sisters, one house.\nSecond line of the logline.",
        genre="Drama",
        notes="Notes with <b>markup</b> & “quotes”\n\n  indented line",
        allow_training=True,
    )
    claire = services.character_create(
        project=project, name="Claire", description="The elder", notes="Wants to sell."
    )
    june = services.character_create(project=project, name="June", description="", notes="")
    scene = services.scene_create(
        project=project,
        user=team.users["owner"],
        heading="INT. DINER - NIGHT",
        synopsis="Two estranged sisters meet after their father's funeral.",
        cast_ids=[claire.pk, june.pk],
    )
    return team, scene, claire, june


def _submit_unchanged(client, page_url, action):
    page = client.get(page_url)
    assert page.status_code == 200
    form = form_posting_to(page.content.decode(), action, page_url)
    assert form.method == "post"
    return client.post(action, form.data())


def test_scene_details_saved_unchanged_keep_the_cast(client, sisters):
    team, scene, claire, june = sisters
    client.force_login(team.users["editor"])
    before = full_snapshot()
    response = _submit_unchanged(
        client, scene.get_absolute_url(), reverse("scene_update", args=[team.project.pk, scene.pk])
    )
    assert response.status_code == 302
    assert full_snapshot() == before
    assert {c.name for c in scene.cast.all()} == {"CLAIRE", "JUNE"}


def test_scene_cast_is_set_with_checkboxes(client, sisters):
    team, scene, claire, june = sisters
    client.force_login(team.users["editor"])
    action = reverse("scene_update", args=[team.project.pk, scene.pk])
    form = form_posting_to(client.get(scene.get_absolute_url()).content.decode(), action)
    boxes = form.controls["cast"]
    assert {b["type"] for b in boxes} == {"checkbox"}
    assert {int(b["value"]) for b in boxes} == set(
        team.project.characters.values_list("pk", flat=True)
    )
    # Untick June, tick Mara: what a writer does with the boxes.
    data = form.data()
    mara = team.characters[0]
    data["cast"] = [str(claire.pk), str(mara.pk)]
    assert client.post(action, data).status_code == 302
    assert {c.name for c in scene.cast.all()} == {"CLAIRE", "MARA"}


def test_a_bad_heading_keeps_what_was_typed(client, sisters):
    team, scene, claire, june = sisters
    client.force_login(team.users["editor"])
    action = reverse("scene_update", args=[team.project.pk, scene.pk])
    data = form_posting_to(client.get(scene.get_absolute_url()).content.decode(), action).data()
    data["heading"] = ["DINER AT NIGHT"]  # no INT./EXT.
    data["synopsis"] = ["A new synopsis the writer typed."]
    data["cast"] = [str(june.pk)]
    before = full_snapshot()
    response = client.post(action, data)
    assert response.status_code == 400
    assert full_snapshot() == before
    page = response.content.decode()
    assert "errorlist" in page
    shown = form_posting_to(page, action).data()
    assert shown["heading"] == ["DINER AT NIGHT"]
    assert shown["synopsis"] == ["A new synopsis the writer typed."]
    assert shown["cast"] == [str(june.pk)]


def test_project_settings_round_trip(client, sisters):
    team = sisters[0]
    client.force_login(team.users["owner"])
    url = reverse("project_settings", args=[team.project.pk])
    before = full_snapshot()
    response = _submit_unchanged(client, url, url)
    assert response.status_code == 302
    assert full_snapshot() == before


def test_character_round_trip(client, sisters):
    team, _, claire, _ = sisters
    client.force_login(team.users["editor"])
    url = reverse("character_detail", args=[team.project.pk, claire.pk])
    before = full_snapshot()
    response = _submit_unchanged(client, url, url)
    assert response.status_code == 302
    assert full_snapshot() == before


def test_member_role_forms_round_trip(client, sisters):
    team = sisters[0]
    client.force_login(team.users["owner"])
    before = full_snapshot()
    for membership in Membership.objects.filter(project=team.project):
        action = reverse("member_role", args=[team.project.pk, membership.pk])
        response = _submit_unchanged(client, team.project.get_absolute_url(), action)
        assert response.status_code == 302, membership.user.username
    assert full_snapshot() == before
