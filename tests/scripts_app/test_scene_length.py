"""Where a scene sits in the printed script: "Page 3 of 5 · 1 3/8 pages long"."""

import pytest
from django.urls import reverse

from scripts_app import script_stats, services
from scripts_app.views_formats import eighths_text


@pytest.mark.parametrize(
    "n, text", [(1, "1/8"), (3, "3/8"), (8, "1"), (11, "1 3/8"), (16, "2"), (0, "0")]
)
def test_eighths_read_as_writers_say_them(n, text):
    assert eighths_text(n) == text


def _url(scene):
    return reverse("scene_length", args=[scene.project_id, scene.pk])


def test_each_scene_says_its_page_and_length(client, team):
    owner = team.users["owner"]
    long_text = "".join(f"Line {i} of a long action paragraph.\n\n" for i in range(60))
    scenes = [
        services.scene_create(project=team.project, user=owner, heading=h, text=t)
        for h, t in [
            ("INT. ONE - DAY", "JOHN\nHello.\n"),
            ("INT. TWO - DAY", long_text),
            ("INT. THREE - DAY", "MARY\nBye.\n"),
        ]
    ]
    script_stats.forget(team.project.pk)
    client.force_login(team.users["viewer"])
    first = client.get(_url(scenes[0])).content.decode()
    total = script_stats.script_stats(team.project, wait=True).report.pages
    assert total >= 2
    assert first.startswith(f"Page 1 of {total} · ")
    second = client.get(_url(scenes[1])).content.decode()
    assert "pages long" in second  # more than a page of action
    third = client.get(_url(scenes[2])).content.decode()
    assert third.startswith(f"Page {total} of {total} · ")
    # The scene page loads the fragment.
    page = client.get(scenes[0].get_absolute_url()).content.decode()
    assert f'hx-get="{_url(scenes[0])}"' in page


def test_outsiders_learn_nothing(client, team):
    scene = services.scene_create(
        project=team.project, user=team.users["owner"], heading="INT. ONE - DAY", text="Hi.\n"
    )
    client.force_login(team.users["outsider"])
    assert client.get(_url(scene)).status_code == 404
    client.logout()
    assert client.get(_url(scene)).status_code == 302
