"""Bad input: each gets a clear error and changes nothing."""

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from scripts_app import services
from scripts_app.models import Character, Membership, Revision, Scene

from .test_permissions import snapshot


def _error_messages(response):
    return [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]


def test_oversized_scene_text_is_refused_and_typed_text_stays_on_the_page(client, team):
    scene = team.scenes[0]
    client.force_login(team.users["editor"])
    before = snapshot()
    text = "A" * (settings.COWRITE_SCENE_TEXT_MAX_CHARS + 1)
    response = client.post(
        reverse("scene_save", args=[team.project.pk, scene.pk]),
        {"text": text, "base_revision": scene.head_id},
    )
    assert response.status_code == 400
    assert "the limit is 200,000" in response.content.decode()
    assert text[:1000] in response.content.decode()  # what was typed is not lost
    assert snapshot() == before


def test_request_body_over_the_upload_cap_is_refused(client, team):
    scene = team.scenes[0]
    client.force_login(team.users["editor"])
    before = snapshot()
    response = client.post(
        reverse("scene_save", args=[team.project.pk, scene.pk]),
        {"text": "A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)},
    )
    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize(
    "heading",
    ["", "   ", "KITCHEN", "INT.", "INT. OK\nEXT. SNEAKY", "..ellipsis", "INT. " + "X" * 300],
)
def test_invalid_heading(client, team, heading):
    client.force_login(team.users["editor"])
    before = snapshot()
    response = client.post(
        reverse("scene_create", args=[team.project.pk]),
        {"heading": heading, "synopsis": "What I typed stays."},
    )
    # The project page again, with the error and the form as typed (nothing lost).
    assert response.status_code == 400, heading
    page = response.content.decode()
    assert 'class="errorlist' in page, heading
    assert "What I typed stays." in page
    assert snapshot() == before


@pytest.mark.parametrize(
    "heading",
    [
        "INT. STATION - NIGHT",
        "ext. hull - day",
        "INT./EXT. CAR - MOVING",
        "I/E TRAIN",
        ".THE VOID",
        "EST. CITY",
    ],
)
def test_valid_headings(heading):
    assert services.validate_heading(heading) == heading


def test_typographic_apostrophe_in_a_character_name():
    # The importer reads MAN’S VOICE as a cue; the name rule used to refuse the ’.
    assert services.normalize_character_name("man’s  voice") == "MAN’S VOICE"
    assert services.normalize_character_name("MAN'S VOICE") == "MAN'S VOICE"


def test_duplicate_character_name_is_refused_case_insensitively(client, team):
    client.force_login(team.users["editor"])
    before = snapshot()
    response = client.post(
        reverse("character_create", args=[team.project.pk]),
        {"name": "mara", "description": "Typed description"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is already a character called MARA." in page
    assert "Typed description" in page
    assert snapshot() == before
    # Renaming into a clash is refused too.
    jonah = team.characters[1]
    response = client.post(
        reverse("character_detail", args=[team.project.pk, jonah.pk]), {"name": "Mara"}
    )
    assert response.status_code == 400
    assert "already a character called MARA" in response.content.decode()
    assert snapshot() == before


def test_removing_or_demoting_the_last_owner_is_refused(client, team):
    # Make "owner" the only owner.
    Membership.objects.filter(project=team.project, user=team.users["owner2"]).update(role="editor")
    owner_m = Membership.objects.get(project=team.project, user=team.users["owner"])
    client.force_login(team.users["owner"])
    before = snapshot()
    for url, data in [
        (reverse("member_role", args=[team.project.pk, owner_m.pk]), {"role": "viewer"}),
        (reverse("member_remove", args=[team.project.pk, owner_m.pk]), {}),
        (reverse("project_leave", args=[team.project.pk]), {}),
    ]:
        response = client.post(url, data)
        assert any("at least one owner" in m for m in _error_messages(response)), url
    assert snapshot() == before
    with pytest.raises(ValidationError):
        services.member_set_role(membership=owner_m, role="editor")


def test_tampered_ids_and_values(client, team):
    client.force_login(team.users["editor"])
    scene = team.scenes[0]
    other = services.project_create(user=team.users["outsider"], title="Other")
    foreign = services.character_create(project=other, name="Zed")
    foreign_scene = services.scene_create(
        project=other, user=team.users["outsider"], heading="INT. X - DAY"
    )
    foreign_rev = Revision.objects.get(scene=foreign_scene)
    before = snapshot()
    # A cast member from another project.
    response = client.post(
        reverse("scene_update", args=[team.project.pk, scene.pk]),
        {"heading": "INT. STATION - DAY", "cast": [foreign.pk]},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    # A base revision of another scene.
    response = client.post(
        reverse("scene_save", args=[team.project.pk, scene.pk]),
        {"text": "x", "base_revision": foreign_rev.pk},
    )
    assert response.status_code == 400
    assert "not a revision of this scene" in response.content.decode()
    # A reorder that leaves out or adds scenes.
    for order in [
        f"{scene.pk}",
        f"{team.scenes[0].pk},{team.scenes[1].pk},{foreign_scene.pk}",
        "1,x",
    ]:
        response = client.post(reverse("scene_reorder", args=[team.project.pk]), {"order": order})
        assert _error_messages(response), order
    # An unknown role.
    client.force_login(team.users["owner"])
    response = client.post(
        reverse("member_role", args=[team.project.pk, team.membership["viewer"].pk]),
        {"role": "god"},
    )
    assert _error_messages(response)
    response = client.post(
        reverse("member_add", args=[team.project.pk]), {"who": "someone@", "role": "editor"}
    )
    # (An unknown username or address is not an error: it gets an invitation, like a
    # known one; tests/scripts_app/test_accounts.py.)
    assert _error_messages(response)[-1] == "“someone@” is not a valid email address."
    response = client.post(
        reverse("member_add", args=[team.project.pk]), {"who": "viewer", "role": "editor"}
    )
    assert _error_messages(response)[-1] == "viewer is already a member."
    assert snapshot() == before


def test_project_delete_needs_the_exact_title(client, team):
    client.force_login(team.users["owner"])
    before = snapshot()
    response = client.post(
        reverse("project_delete", args=[team.project.pk]), {"confirm_title": "the long night"}
    )
    assert _error_messages(response)
    assert snapshot() == before


def test_generated_or_typed_markup_is_escaped_everywhere(client, team):
    scene = team.scenes[0]
    evil = "<script>alert(1)</script>\n\nMARA\n<img src=x onerror=alert(2)>\n"
    services.scene_save_text(
        scene=scene, user=team.users["editor"], text=evil, base_revision_id=scene.head_id
    )
    Character.objects.filter(pk=team.characters[0].pk).update(description="<b>bold</b>")
    Scene.objects.filter(pk=scene.pk).update(synopsis="<i>syn</i>")
    client.force_login(team.users["viewer"])
    for url in [
        reverse("scene_detail", args=[team.project.pk, scene.pk]),
        reverse("scene_preview", args=[team.project.pk, scene.pk]),
        reverse("revision_detail", args=[team.project.pk, scene.pk, 3]),
        reverse("project_detail", args=[team.project.pk]),
        reverse("character_detail", args=[team.project.pk, team.characters[0].pk]),
    ]:
        body = client.get(url).content.decode()
        assert (
            "<script>alert" not in body and "<img src=x" not in body and "<i>syn</i>" not in body
        ), url
        assert "<b>bold</b>" not in body
