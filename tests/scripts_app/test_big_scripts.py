"""Big scripts: the project page lists scenes a page at a time, page counts and reports
are cached per script state, and a big import runs as a background job with progress.

No timings here: the figures are in bench/bench_big_script.py (docs/BENCHMARKS.md).
"""

import os
import time

import pytest
from django.urls import reverse

from scripts_app import documents, exports, imports, script_stats, services
from scripts_app.models import Character, Membership, Project, Role, Scene
from scripts_app.views import SCENES_PER_PAGE
from tests.conftest import make_user
from tests.scripts_app.formats.generate import feature_script


def _big_project(owner, scenes: int) -> Project:
    project = services.project_create(user=owner, title=f"Big {scenes}")
    chars = Character.objects.bulk_create(
        Character(project=project, name=f"CHAR {i}") for i in range(5)
    )
    rows = Scene.objects.bulk_create(
        Scene(
            project=project,
            position=i,
            heading=f"INT. ROOM {i + 1} - DAY",
            text=f"Scene {i + 1} happens.\n",
            last_edited_by=owner,
        )
        for i in range(scenes)
    )
    Through = Scene.cast.through
    Through.objects.bulk_create(
        Through(scene_id=s.pk, character_id=chars[i % 5].pk) for i, s in enumerate(rows)
    )
    return project


def _order(project) -> list[str]:
    return list(
        Scene.objects.filter(project=project).order_by("position").values_list("heading", flat=True)
    )


# --- the project page's scene list -------------------------------------------------------


def test_project_page_lists_one_page_of_scenes_and_navigates(client, db):
    owner = make_user("pager")
    project = _big_project(owner, SCENES_PER_PAGE * 2 + 10)
    client.force_login(owner)
    url = reverse("project_detail", args=[project.pk])
    page = client.get(url).content.decode()
    assert f"{SCENES_PER_PAGE * 2 + 10} scenes" in page
    assert "INT. ROOM 1 - DAY" in page and f"INT. ROOM {SCENES_PER_PAGE} - DAY" in page
    assert f"INT. ROOM {SCENES_PER_PAGE + 1} - DAY" not in page
    assert page.count('class="nav-scene"') == SCENES_PER_PAGE
    assert f"Scenes 1–{SCENES_PER_PAGE} of {SCENES_PER_PAGE * 2 + 10}" in page
    # The navigator: page links (htmx partials) and a jump to a scene number.
    partial = reverse("project_scenes", args=[project.pk])
    assert f'hx-get="{partial}?page=3"' in page
    third = client.get(partial, {"page": 3}, headers={"HX-Request": "true"})
    body = third.content.decode()
    assert body.count('class="nav-scene"') == 10
    assert f"INT. ROOM {SCENES_PER_PAGE * 2 + 1} - DAY" in body
    assert 'id="scene-pager"' in body and 'hx-swap-oob="true"' in body
    assert third["HX-Push-Url"] == f"{url}?page=3"
    # A page past the end shows the last one; a plain request goes to the whole page.
    assert "INT. ROOM 410 - DAY" in client.get(url, {"page": 99}).content.decode()
    assert client.get(partial, {"page": 2}).url == f"{url}?page=2#scenes"
    jump = client.get(partial, {"scene": SCENES_PER_PAGE + 5}, headers={"HX-Request": "true"})
    assert f"INT. ROOM {SCENES_PER_PAGE + 5} - DAY" in jump.content.decode()
    # Search (heading or character), across all pages; its results are not draggable.
    found = client.get(partial, {"q": "room 40"}, headers={"HX-Request": "true"}).content
    found = found.decode()
    assert "INT. ROOM 40 - DAY" in found and "INT. ROOM 400 - DAY" in found
    assert "INT. ROOM 41 - DAY" not in found and 'draggable="true"' not in found
    cast = client.get(partial, {"q": "char 3"}, headers={"HX-Request": "true"}).content.decode()
    assert cast.count('class="nav-scene"') == 82  # scenes 4, 9, … 409 (every fifth)
    # Acts (top-level sections), once the script has been counted: a jump to their scene.
    assert "scene-acts" not in page
    Scene.objects.filter(project=project, position=249).update(text="Action.\n\n# Act Two\n")
    script_stats.compute(project)
    page = client.get(url).content.decode()
    assert f'hx-get="{partial}?scene=251"' in page and ">Act Two</a>" in page
    # Viewers get the list too; outsiders do not.
    client.force_login(make_user("stranger"))
    assert client.get(partial, {"page": 2}, headers={"HX-Request": "true"}).status_code == 404


def test_big_project_page_stays_small_and_constant_in_queries(client, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = make_user("bigpage")
    small = _big_project(owner, 3)
    big = _big_project(owner, 2000)
    client.force_login(owner)
    client.get(reverse("project_detail", args=[small.pk]))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("project_detail", args=[small.pk]))
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("project_detail", args=[big.pk]))
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(response.content) < 300_000, len(response.content)


def test_reorder_within_a_page_and_move_across_pages(client, db):
    owner = make_user("mover")
    project = _big_project(owner, SCENES_PER_PAGE + 3)
    client.force_login(owner)
    scenes = list(Scene.objects.filter(project=project).order_by("position"))
    # A drag on page 2 posts that page's scenes only: they are reordered in place.
    page2 = [s.pk for s in scenes[SCENES_PER_PAGE:]]
    reordered = [page2[2], page2[0], page2[1]]
    response = client.post(
        reverse("scene_reorder", args=[project.pk]),
        {"order": ",".join(map(str, reordered))},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204
    order = _order(project)
    assert order[:SCENES_PER_PAGE] == [f"INT. ROOM {i} - DAY" for i in range(1, 201)]
    assert order[SCENES_PER_PAGE:] == [f"INT. ROOM {n} - DAY" for n in (203, 201, 202)]
    # Not a whole page (or not one page of the list): refused, nothing changes.
    for ids in (reordered[:2], [scenes[0].pk, page2[0], page2[1]]):
        response = client.post(
            reverse("scene_reorder", args=[project.pk]),
            {"order": ",".join(map(str, ids))},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 409
    assert _order(project)[SCENES_PER_PAGE:] == [f"INT. ROOM {n} - DAY" for n in (203, 201, 202)]
    # Moving a scene across pages: back to the page it is now on.
    response = client.post(
        reverse("scene_move", args=[project.pk, scenes[0].pk]), {"to": SCENES_PER_PAGE + 2}
    )
    assert response.url.endswith("?page=2#scenes")
    assert _order(project)[SCENES_PER_PAGE + 1] == "INT. ROOM 1 - DAY"
    # Adding a scene still works (at the end).
    client.post(reverse("scene_create", args=[project.pk]), {"heading": "INT. NEW - DAY"})
    assert _order(project)[-1] == "INT. NEW - DAY"


# --- page counts and reports, cached per script state --------------------------------------


def test_page_count_is_cached_until_the_script_changes(client, team, monkeypatch):
    script_stats.forget(team.project.pk)
    calls = []
    real = script_stats.compute
    monkeypatch.setattr(script_stats, "compute", lambda p: calls.append(p.pk) or real(p))
    client.force_login(team.users["viewer"])
    url = reverse("script_length", args=[team.project.pk])
    first = client.get(url).content.decode()
    assert "1 page · ~" in first and calls == [team.project.pk]
    client.get(url)
    client.get(reverse("script_reports", args=[team.project.pk]))
    assert calls == [team.project.pk]  # reused by the header and the reports

    # Live typing (logged updates, not yet compacted) does not change the figures' key …
    scene = team.scenes[0]
    before = script_stats.signature(team.project)
    documents.replace_text(scene_id=scene.pk, new_text="A new line.\n" * 3, user_id=None)
    assert script_stats.signature(team.project) == before
    client.get(url)
    assert len(calls) == 1
    # … the compaction that folds it into the scene's text does: counted once again.
    documents.compact(scene.pk)
    assert script_stats.signature(team.project) != before
    client.get(url)
    client.get(url)
    assert len(calls) == 2

    # A save, a heading change, a reorder, a new scene, a deletion: each one recount.
    for change in (
        lambda: services.scene_save_text(
            scene=scene, user=team.users["editor"], text="Longer.\n" * 80, base_revision_id=None
        ),
        lambda: services.scene_update(scene=scene, heading="EXT. DECK - DAY"),
        lambda: services.scene_reorder(
            project=team.project, scene_ids=[team.scenes[1].pk, scene.pk]
        ),
        lambda: services.scene_create(
            project=team.project, user=team.users["editor"], heading="INT. X"
        ),
        lambda: services.scene_delete(scene=Scene.objects.get(heading="INT. X")),
    ):
        n = len(calls)
        change()
        client.get(url)
        assert len(calls) == n + 1
    body = client.get(reverse("script_reports", args=[team.project.pk])).content.decode()
    assert "EXT. DECK - DAY" in body and len(calls) == 7
    report = exports.project_report(team.project)
    assert f"{report.pages} page" in client.get(url).content.decode()


def test_big_script_shows_stale_figures_while_one_refresh_runs(client, db, monkeypatch):
    owner = make_user("stale")
    project = _big_project(owner, script_stats.INLINE_SCENES + 1)
    script_stats.forget(project.pk)
    started = []
    monkeypatch.setattr(
        script_stats,
        "refresh_in_background",
        lambda pk: started.append(pk) or True,
    )
    client.force_login(owner)
    url = reverse("script_length", args=[project.pk])
    # Nothing counted yet: the header says so, asks again later; one refresh started.
    body = client.get(url).content.decode()
    assert "counting pages…" in body and 'hx-trigger="load delay:2s"' in body
    assert started == [project.pk]
    # The reports page counts now (it is what the user asked for), and stores it.
    assert (
        "speaking character"
        in client.get(reverse("script_reports", args=[project.pk])).content.decode()
    )
    fresh = client.get(url).content.decode()
    assert "page" in fresh and "updating" not in fresh and started == [project.pk]
    # The script changes: the old figures are shown, marked, while a refresh runs.
    scene = Scene.objects.get(project=project, position=0)
    scene.text = "More.\n" * 200
    scene.save(update_fields=["text", "updated_at"])
    stale = client.get(url).content.decode()
    assert "(updating…)" in stale and started == [project.pk, project.pk]
    reports_page = client.get(reverse("script_reports", args=[project.pk])).content.decode()
    assert 'id="stats-stale"' in reports_page
    script_stats.compute(project)  # what the refresh does
    assert "updating" not in client.get(url).content.decode()


@pytest.mark.django_db(transaction=True)
def test_refresh_runs_once_on_a_thread(db):
    owner = make_user("thread")
    project = _big_project(owner, 20)
    script_stats.forget(project.pk)
    assert script_stats.refresh_in_background(project.pk)
    deadline = time.monotonic() + 30
    while script_stats.stats_cache().get(f"script-stats:{project.pk}") is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stats = script_stats.script_stats(project, wait=False)
    assert stats.fresh and len(stats.scene_ids) == 20


# --- background import ---------------------------------------------------------------------


def _wait_job(client, url, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url, headers={"HX-Request": "true"})
        if (
            response.status_code != 200
            or "HX-Redirect" in response
            or "msg-error" in response.content.decode()
        ):
            return response
        assert time.monotonic() < deadline, response.content.decode()
        time.sleep(0.1)


EMBEDDED = pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")), reason="the embedded job runner (a thread)"
)


@EMBEDDED
@pytest.mark.django_db(transaction=True)
def test_big_import_runs_in_the_background_with_progress(client, settings, monkeypatch):
    monkeypatch.setattr(imports, "BACKGROUND_BYTES", 50_000)
    monkeypatch.setattr(imports, "STEP_SCENES", 40)
    owner = make_user("bigimporter")
    client.force_login(owner)
    source = feature_script(scenes=140)
    assert len(source.encode()) > 50_000
    upload = _upload(source, "big.fountain")
    response = client.post(reverse("script_import_new"), {"file": upload})
    assert response.status_code == 302
    progress_url = response.url
    assert progress_url.startswith("/imports/")
    # Only its user sees the job.
    other = make_user("nosy")
    nosy = type(client)()
    nosy.force_login(other)
    assert nosy.get(progress_url).status_code == 404
    page = client.get(progress_url)
    assert page.status_code in (200, 302)
    done = _wait_job(client, progress_url)
    project = Project.objects.get(memberships__user=owner)
    assert done["HX-Redirect"] == project.get_absolute_url()
    assert project.scenes.count() == 140
    assert Membership.objects.get(project=project, user=owner).role == Role.OWNER
    # Same content as a synchronous import of the same file.
    sync = imports.script_import(user=owner, upload=source.encode(), filename="big.fountain")
    assert _order(project) == _order(sync)
    assert exports.project_source(project) == exports.project_source(sync)
    casts = lambda p: [  # noqa: E731
        sorted(s.cast.values_list("name", flat=True)) for s in p.scenes.order_by("position")
    ]
    assert casts(project) == casts(sync)
    # The summary is shown once, on the project page.
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Imported 140 scenes" in page


@EMBEDDED
@pytest.mark.django_db(transaction=True)
def test_background_import_reports_errors_and_imports_nothing(client, settings, monkeypatch):
    monkeypatch.setattr(imports, "BACKGROUND_BYTES", 50_000)
    settings.COWRITE_IMPORT_MAX_SCENES = 100
    owner = make_user("toolong")
    client.force_login(owner)
    response = client.post(
        reverse("script_import_new"), {"file": _upload(feature_script(scenes=140), "x.fountain")}
    )
    failed = _wait_job(client, response.url).content.decode()
    assert "This file has 140 scenes; an import takes at most 100." in failed
    assert "Nothing was imported." in failed
    assert not Project.objects.filter(memberships__user=owner).exists()


def test_small_import_stays_synchronous(client, team):
    client.force_login(team.users["editor"])
    response = client.post(
        reverse("script_import_into", args=[team.project.pk]),
        {"file": _upload("INT. SMALL - DAY\n\nHi.\n", "s.fountain")},
    )
    assert response.url == team.project.get_absolute_url()
    assert team.project.scenes.filter(heading="INT. SMALL - DAY").exists()


@EMBEDDED
@pytest.mark.django_db(transaction=True)
def test_small_file_with_very_many_scenes_imports_in_the_background(client, monkeypatch):
    monkeypatch.setattr(imports, "INLINE_MAX_SCENES", 30)
    owner = make_user("shortscenes")
    client.force_login(owner)
    source = "".join(f"INT. ROOM {i} - DAY\n\nA beat.\n\n" for i in range(31))
    assert len(source.encode()) < imports.BACKGROUND_BYTES
    response = client.post(reverse("script_import_new"), {"file": _upload(source, "s.fountain")})
    assert response.url.startswith("/imports/")
    _wait_job(client, response.url)
    project = Project.objects.get(memberships__user=owner)
    assert project.scenes.count() == 31


def test_progress_page_shows_scenes_done(client, db):
    owner = make_user("watcher")
    client.force_login(owner)
    job = {
        "id": "abc123",
        "user_id": owner.pk,
        "project_id": None,
        "filename": "big.fountain",
        "state": "storing",
        "done": 3200,
        "total": 6840,
        "error": "",
        "result_project_id": None,
        "summary": None,
    }
    imports.import_job_update(job)
    body = client.get(reverse("script_import_progress", args=["abc123"])).content.decode()
    assert "Importing… 3,200 of 6,840 scenes" in body
    assert 'hx-trigger="every 1s"' in body


@pytest.mark.redis
@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (runs in CI's Redis pass)"
)
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_a_background_import(client, monkeypatch):
    from celery.contrib.testing.worker import start_worker

    from cowrite.celery import app

    assert not app.conf.task_always_eager
    monkeypatch.setattr(imports, "BACKGROUND_BYTES", 50_000)
    owner = make_user("workerimport")
    client.force_login(owner)
    with start_worker(
        app, perform_ping_check=False, pool="solo", queues=["celery"], loglevel="WARNING"
    ):
        response = client.post(
            reverse("script_import_new"),
            {"file": _upload(feature_script(scenes=140), "w.fountain")},
        )
        done = _wait_job(client, response.url)
    project = Project.objects.get(memberships__user=owner)
    assert done["HX-Redirect"] == project.get_absolute_url()
    assert project.scenes.count() == 140


def _upload(text: str, name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="text/plain")
