"""Pages stay fast as scripts grow: the project page's query count does not depend on size."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scripts_app.models import Character, Membership, Project, Role, Scene
from tests.conftest import make_user


def _project(owner, scenes: int, characters: int) -> Project:
    project = Project.objects.create(title=f"Big {scenes}", created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    editor = make_user(f"ed{scenes}")
    Membership.objects.create(project=project, user=editor, role=Role.EDITOR)
    chars = Character.objects.bulk_create(
        Character(project=project, name=f"CHAR {i}") for i in range(characters)
    )
    rows = Scene.objects.bulk_create(
        Scene(
            project=project,
            position=i,
            heading=f"INT. ROOM {i} - DAY",
            synopsis="Something happens.",
            last_edited_by=editor,
        )
        for i in range(scenes)
    )
    Through = Scene.cast.through
    Through.objects.bulk_create(
        Through(scene_id=s.pk, character_id=chars[(i + k) % characters].pk)
        for i, s in enumerate(rows)
        for k in range(3)
    )
    return project


def _count(client, project) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("project_detail", args=[project.pk]))
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_project_page_query_count_is_constant(client, db):
    owner = make_user("bigowner")
    small = _project(owner, scenes=3, characters=5)
    big = _project(owner, scenes=200, characters=50)
    client.force_login(owner)
    _count(client, small)  # warm-up: session and content types
    small_n, _ = _count(client, small)
    big_n, body = _count(client, big)
    assert "INT. ROOM 199 - DAY" in body and "CHAR 49" in body
    assert big_n == small_n
    # session, user, membership, scenes, cast prefetch, characters, members, model, and
    # the models a project may draft with (the model card's picker), the books it was
    # adapted from
    assert big_n <= 10, big_n
