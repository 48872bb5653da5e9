"""The permission matrix: every view and action × every role, a non-member and a visitor.

Allowed requests must work; denied ones get 403 (member, role too low), 404 (non-member:
they learn nothing of the project) or a redirect to the login page (visitor), and must
change nothing in the database.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse

from scripts_app.models import (
    Character,
    Invitation,
    Membership,
    Project,
    Revision,
    Role,
    Scene,
)


def snapshot():
    """Everything a request could change, as comparable values."""
    return (
        list(
            Project.objects.order_by("pk").values_list("pk", "title", "logline", "allow_training")
        ),
        list(Membership.objects.order_by("pk").values_list("pk", "user_id", "role")),
        list(Character.objects.order_by("pk").values_list("pk", "name", "description")),
        list(
            Scene.objects.order_by("pk").values_list(
                "pk", "position", "heading", "synopsis", "text", "head_id"
            )
        ),
        sorted(Scene.cast.through.objects.values_list("scene_id", "character_id")),
        list(Revision.objects.order_by("pk").values_list("pk", "number", "text")),
        list(
            Invitation.objects.order_by("pk").values_list(
                "pk", "kind", "role", "sent_to", "revoked_at", "uses"
            )
        ),
    )


@dataclass
class Action:
    name: str
    method: str
    need: Role
    url: Callable
    data: Callable = lambda t: {}
    changes: bool = True  # an allowed POST must change the database


def _invitation(t):
    """An open invitation of the team's project (made before the request is snapshotted)."""
    from scripts_app import invitations

    invitation, _ = invitations.create_link(
        project=t.project, by=t.users["owner"], role=Role.VIEWER
    )
    return invitation


def _scene_url(name, extra=()):
    return lambda t: reverse(name, args=[t.project.pk, t.scenes[0].pk, *extra])


ACTIONS = [
    Action("home", "GET", Role.VIEWER, lambda t: reverse("home"), changes=False),
    Action(
        "project_detail",
        "GET",
        Role.VIEWER,
        lambda t: reverse("project_detail", args=[t.project.pk]),
        changes=False,
    ),
    Action(
        "project_settings_view",
        "GET",
        Role.OWNER,
        lambda t: reverse("project_settings", args=[t.project.pk]),
        changes=False,
    ),
    Action(
        "project_settings_save",
        "POST",
        Role.OWNER,
        lambda t: reverse("project_settings", args=[t.project.pk]),
        lambda t: {"title": "Renamed", "logline": "x", "genre": "", "notes": ""},
    ),
    Action(
        "project_delete",
        "POST",
        Role.OWNER,
        lambda t: reverse("project_delete", args=[t.project.pk]),
        lambda t: {"confirm_title": t.project.title},
    ),
    Action(
        "member_add",
        "POST",
        Role.OWNER,
        lambda t: reverse("member_add", args=[t.project.pk]),
        lambda t: {"who": "outsider", "role": "editor"},
    ),
    Action(
        "invitation_list",
        "GET",
        Role.OWNER,
        lambda t: reverse("invitation_list", args=[t.project.pk]),
        changes=False,
    ),
    Action(
        "invitation_link",
        "POST",
        Role.OWNER,
        lambda t: reverse("invitation_list", args=[t.project.pk]),
        lambda t: {"role": "commenter"},
    ),
    Action(
        "invitation_revoke",
        "POST",
        Role.OWNER,
        lambda t: reverse("invitation_revoke", args=[t.project.pk, _invitation(t).pk]),
    ),
    Action(
        "member_role",
        "POST",
        Role.OWNER,
        lambda t: reverse("member_role", args=[t.project.pk, t.membership["viewer"].pk]),
        lambda t: {"role": "editor"},
    ),
    Action(
        "member_remove",
        "POST",
        Role.OWNER,
        lambda t: reverse("member_remove", args=[t.project.pk, t.membership["commenter"].pk]),
    ),
    Action(
        "project_leave",
        "POST",
        Role.VIEWER,
        lambda t: reverse("project_leave", args=[t.project.pk]),
    ),
    Action(
        "character_create",
        "POST",
        Role.EDITOR,
        lambda t: reverse("character_create", args=[t.project.pk]),
        lambda t: {"name": "Priya", "description": "", "notes": ""},
    ),
    Action(
        "character_view",
        "GET",
        Role.VIEWER,
        lambda t: reverse("character_detail", args=[t.project.pk, t.characters[0].pk]),
        changes=False,
    ),
    Action(
        "character_update",
        "POST",
        Role.EDITOR,
        lambda t: reverse("character_detail", args=[t.project.pk, t.characters[0].pk]),
        lambda t: {"name": "Mara", "description": "Chief engineer", "notes": ""},
    ),
    Action(
        "character_delete",
        "POST",
        Role.EDITOR,
        lambda t: reverse("character_delete", args=[t.project.pk, t.characters[1].pk]),
    ),
    Action(
        "scene_create",
        "POST",
        Role.EDITOR,
        lambda t: reverse("scene_create", args=[t.project.pk]),
        lambda t: {"heading": "INT. AIRLOCK - DAY", "synopsis": ""},
    ),
    Action("scene_detail", "GET", Role.VIEWER, _scene_url("scene_detail"), changes=False),
    Action(
        "scene_update",
        "POST",
        Role.EDITOR,
        _scene_url("scene_update"),
        lambda t: {"heading": "INT. STATION - DAY", "synopsis": "", "cast": [t.characters[1].pk]},
    ),
    Action(
        "scene_save",
        "POST",
        Role.EDITOR,
        _scene_url("scene_save"),
        lambda t: {"text": "New text.\n", "base_revision": t.scenes[0].head_id, "label": ""},
    ),
    Action("scene_delete", "POST", Role.EDITOR, _scene_url("scene_delete")),
    Action(
        "scene_reorder",
        "POST",
        Role.EDITOR,
        lambda t: reverse("scene_reorder", args=[t.project.pk]),
        lambda t: {"order": f"{t.scenes[1].pk},{t.scenes[0].pk}"},
    ),
    Action("scene_move", "POST", Role.EDITOR, _scene_url("scene_move"), lambda t: {"to": 2}),
    Action("scene_preview", "GET", Role.VIEWER, _scene_url("scene_preview"), changes=False),
    Action("revision_list", "GET", Role.VIEWER, _scene_url("revision_list"), changes=False),
    Action(
        "revision_detail", "GET", Role.VIEWER, _scene_url("revision_detail", [1]), changes=False
    ),
    Action(
        "revision_diff",
        "GET",
        Role.VIEWER,
        lambda t: reverse("revision_diff", args=[t.project.pk, t.scenes[0].pk]) + "?a=1&b=2",
        changes=False,
    ),
    Action("revision_restore", "POST", Role.EDITOR, _scene_url("revision_restore", [1])),
]

WHO = ["owner", "editor", "commenter", "viewer", "outsider", "anonymous"]
ROLE_OF = {
    "owner": Role.OWNER,
    "editor": Role.EDITOR,
    "commenter": Role.COMMENTER,
    "viewer": Role.VIEWER,
}


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_permission_matrix(client, team, action, who):
    if who != "anonymous":
        client.force_login(team.users[who])
    url, data = action.url(team), action.data(team)
    before = snapshot()
    response = client.get(url) if action.method == "GET" else client.post(url, data)
    after = snapshot()

    if action.name == "home":  # the dashboard belongs to no project
        allowed = who != "anonymous"
    else:
        allowed = who in ROLE_OF and ROLE_OF[who].at_least(action.need)

    if allowed:
        expected = 200 if action.method == "GET" else 302
        assert response.status_code == expected, response.content[:500]
        if action.method == "POST" and response.status_code == 302:
            # A failed action redirects too, with an error message: make sure it did not.
            from django.contrib.messages import get_messages

            errors = [m for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
            assert not errors, errors
        if action.changes:
            assert after != before, f"{action.name} by {who} changed nothing"
        else:
            assert after == before
    else:
        if who == "anonymous":
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
        elif who == "outsider":
            assert response.status_code == 404
        else:
            assert response.status_code == 403
        assert after == before, f"denied {action.name} by {who} changed the database"


@pytest.mark.parametrize("who", ["outsider", "viewer"])
def test_outsider_sees_nothing_on_home(client, team, who):
    client.force_login(team.users[who])
    body = client.get(reverse("home")).content.decode()
    assert ("The Long Night" in body) == (who == "viewer")


def test_ids_from_another_project_are_404(client, team):
    """A scene, character or member id from project B used under project A's URL."""
    from scripts_app import services

    other = services.project_create(user=team.users["outsider"], title="Other")
    other_scene = services.scene_create(
        project=other, user=team.users["outsider"], heading="INT. X - DAY"
    )
    other_char = services.character_create(project=other, name="Zed")
    other_member = Membership.objects.get(project=other)
    client.force_login(team.users["owner"])
    before = snapshot()
    p = team.project.pk
    for method, url in [
        ("get", reverse("scene_detail", args=[p, other_scene.pk])),
        ("post", reverse("scene_save", args=[p, other_scene.pk])),
        ("post", reverse("scene_delete", args=[p, other_scene.pk])),
        ("get", reverse("character_detail", args=[p, other_char.pk])),
        ("post", reverse("character_delete", args=[p, other_char.pk])),
        ("post", reverse("member_remove", args=[p, other_member.pk])),
        ("post", reverse("member_role", args=[p, other_member.pk])),
        ("get", reverse("revision_detail", args=[p, other_scene.pk, 1])),
        ("post", reverse("revision_restore", args=[p, other_scene.pk, 1])),
    ]:
        response = getattr(client, method)(url, {"text": "x", "role": "viewer"})
        assert response.status_code == 404, url
    assert snapshot() == before


def _model_snapshot():
    from generation.models import ModelEvent, ModelVersion, RetrainSuggestion

    return (
        list(ModelVersion.objects.order_by("pk").values_list("pk", "status", "status_reason")),
        list(ModelEvent.objects.values_list("pk")),
        list(RetrainSuggestion.objects.order_by("pk").values_list("pk", "status")),
    )


@pytest.mark.parametrize("who", WHO)
def test_model_lifecycle_is_for_installation_staff_only(client, team, settings, tmp_path, who):
    """Retrain, promote, roll back and answering suggestions change the model every project
    uses: no project role allows them (an owner included), and a refusal changes nothing."""
    from generation.models import RetrainSuggestion
    from generation.services import version_activate
    from tests.support.models import register_tiny_version

    settings.MODEL_DIR = tmp_path
    active = version_activate(version=register_tiny_version(tmp_path, status="candidate"))
    cand = register_tiny_version(tmp_path, name="tiny-test-v2", status="candidate")
    old = register_tiny_version(tmp_path, name="tiny-test-v0", status="retired")
    team.project.allow_training = True
    team.project.save()
    s = RetrainSuggestion.objects.create(project=team.project, user=team.users["owner"])
    if who != "anonymous":
        client.force_login(team.users[who])
    before = _model_snapshot()
    for url in (
        reverse("model_retrain"),
        reverse("model_promote", args=[cand.pk]),
        reverse("model_rollback", args=[old.pk]),
        reverse("retrain_suggestion_start", args=[s.pk]),
        reverse("retrain_suggestion_dismiss", args=[s.pk]),
    ):
        response = client.post(url)
        if who == "anonymous":
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
        else:
            assert response.status_code == 403, url
    assert _model_snapshot() == before
    active.refresh_from_db()
    assert active.status == "active"
