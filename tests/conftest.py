"""Shared fixtures: a project with one member of each role, and an outsider."""

import os

import pytest
from django.contrib.auth import get_user_model

from scripts_app import services
from scripts_app.models import Membership, Role
from tests.support.servers import DaphneServer

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by the
# test itself are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "a-long-test-password-42"


@pytest.fixture(autouse=True)
def signup_policy(settings):
    """Tests decide the sign-up policy explicitly (the default depends on DEBUG)."""
    settings.COWRITE_SIGNUP = "open"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Hash test passwords with a cheap hasher: PBKDF2 costs ~0.2 s a user on these CPUs."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(username: str, email: str | None = None):
    return get_user_model().objects.create_user(
        username, email or f"{username}@example.com", PASSWORD
    )


@pytest.fixture
def team(db):
    """A project with two owners, an editor, a commenter, a viewer; plus an outsider."""
    users = {
        name: make_user(name)
        for name in ("owner", "owner2", "editor", "commenter", "viewer", "outsider")
    }
    project = services.project_create(
        user=users["owner"], title="The Long Night", logline="A test."
    )
    for name, role in [
        ("owner2", Role.OWNER),
        ("editor", Role.EDITOR),
        ("commenter", Role.COMMENTER),
        ("viewer", Role.VIEWER),
    ]:
        Membership.objects.create(project=project, user=users[name], role=role)
    mara = services.character_create(project=project, name="Mara", description="Engineer")
    jonah = services.character_create(project=project, name="Jonah")
    scene1 = services.scene_create(
        project=project,
        user=users["owner"],
        heading="INT. STATION - NIGHT",
        synopsis="Alarms.",
        text="Alarms pulse.\n\nMARA\nIt's holding.\n",
        cast_ids=[mara.pk],
    )
    services.scene_save_text(
        scene=scene1,
        user=users["editor"],
        text="Alarms pulse amber.\n\nMARA\nIt's holding.\n",
        base_revision_id=scene1.head_id,
    )
    scene1.refresh_from_db()
    scene2 = services.scene_create(
        project=project, user=users["owner"], heading="EXT. HULL - CONTINUOUS", cast_ids=[jonah.pk]
    )

    class Team:
        pass

    t = Team()
    t.users, t.project, t.scenes, t.characters = users, project, [scene1, scene2], [mara, jonah]
    t.membership = {
        m.user.username: m
        for m in Membership.objects.filter(project=project).select_related("user")
    }
    return t


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def server(team):
    """A real Daphne server (subprocess) on the test database, with the team in it."""
    with DaphneServer() as srv:
        yield srv
