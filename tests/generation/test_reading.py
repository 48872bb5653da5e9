"""The model's reading of a script on the coverage page (``generation/surprise.py``): per
scene bits per byte under the active house version, a panel that shows it as a strip,
who may ask for one, and what a second ask while one runs does."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from generation import surprise
from generation.models import ReadingStatus, ScriptReading
from scripts_app import services
from tests.support.models import register_tiny_version


@pytest.fixture
def house(db, settings, tmp_path):
    settings.MODEL_DIR = tmp_path / "models"
    return register_tiny_version(settings.MODEL_DIR)


def test_no_model_no_reading(team):
    with pytest.raises(ValidationError, match="no house model"):
        surprise.reading_start(team.project, launch=False)


def test_a_reading_measures_each_scene_and_the_panel_shows_it(team, house, client):
    services.scene_create(
        project=team.project, user=team.users["owner"], heading="INT. EMPTY - DAY", text=""
    )
    reading = surprise.reading_start(team.project, launch=False)
    assert reading.status == ReadingStatus.RUNNING
    with pytest.raises(ValidationError, match="already reading"):
        surprise.reading_start(team.project, launch=False)
    done = surprise.reading_run(team.project.pk)
    assert done.status == ReadingStatus.DONE and done.version == house
    with_text = [s for s in team.project.scenes.all() if s.text.strip()]
    assert set(done.values) == {str(s.pk) for s in with_text}  # an empty scene is not read
    assert all(v > 0 for v in done.values.values())
    with pytest.raises(ValidationError, match="already read this version"):
        surprise.reading_start(team.project, launch=False)

    client.force_login(team.users["viewer"])
    page = client.get(reverse("script_coverage", args=[team.project.pk])).content.decode()
    assert "The model's view" in page and "Read by tiny-test-v1" in page
    assert "bits per character" in page  # each bar's title
    assert "Read it again" not in page  # a viewer does not ask
    # The script changes: the reading is marked as older.
    scene = team.scenes[0]
    services.scene_save_text(
        scene=scene, user=team.users["owner"], text="New text.\n", base_revision_id=scene.head_id
    )
    page = client.get(reverse("script_coverage", args=[team.project.pk])).content.decode()
    assert "the script changed since" in page


def test_who_may_ask_for_a_reading(team, house, client, monkeypatch):
    launched = []
    monkeypatch.setattr("generation.services.background_launch", lambda **kw: launched.append(kw))
    url = reverse("reading_panel", args=[team.project.pk])
    client.force_login(team.users["outsider"])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    client.force_login(team.users["viewer"])
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 403
    client.force_login(team.users["editor"])
    r = client.post(url, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "reading the script" in r.content.decode()
    assert launched and launched[0]["kwargs"] == {"project_id": team.project.pk}
    r = client.post(url, HTTP_HX_REQUEST="true")
    assert r.status_code == 422 and "already reading" in r.content.decode()
    assert "data-swap-errors" in r.content.decode()  # htmx swaps the reason in (app.js)
    assert ScriptReading.objects.get().status == ReadingStatus.RUNNING


def test_a_failed_reading_says_why(team, house, settings, tmp_path):
    surprise.reading_start(team.project, launch=False)
    house.folder = "missing-folder"
    house.save()
    failed = surprise.reading_run(team.project.pk)
    assert failed.status == ReadingStatus.FAILED and failed.reason
