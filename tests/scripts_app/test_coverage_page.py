"""The coverage page (``scripts_app/coverage.py``, ``views_coverage.py``): members only,
the sections a writer reads, problems linked to their lines, acts from the board, tags
from the character pages, cached per script state, as of a date and compared, the PDF;
and an imported Final Draft file read end to end."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from scripts_app import coverage as cov
from scripts_app import services
from scripts_app.models import Beat, Character, Revision

FDX = Path(__file__).parent / "formats" / "final_draft_12.fdx"


def _url(project, **query):
    url = reverse("script_coverage", args=[project.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_members_only(team, client):
    client.force_login(team.users["outsider"])
    assert client.get(_url(team.project)).status_code == 404
    assert client.get(reverse("script_coverage_pdf", args=[team.project.pk])).status_code == 404
    client.force_login(team.users["viewer"])
    assert client.get(_url(team.project)).status_code == 200


def test_the_page_reads_the_script_and_links_each_problem_to_its_line(team, client):
    owner = team.users["owner"]
    scene = services.scene_create(
        project=team.project,
        user=owner,
        heading="INT. KITCHEN",  # no time of day: breaks the heading rules
        text="Rain on the glass.\n\nJON\nWhere is everyone?\n\nJOHN\nGone.\n\nMARA\n(beat)\n",
    )
    client.force_login(team.users["viewer"])
    page = client.get(_url(team.project)).content.decode()
    for section in ("Structure and pacing", "Characters", "Emotional tone", "Problems"):
        assert section in page
    assert 'aria-label="Scene lengths along the script"' in page
    base = reverse("scene_detail", args=[team.project.pk, scene.pk])
    assert f'href="{base}?line=' in page  # a problem at a line of the text
    assert f'href="{base}"' in page  # the heading's problem: the scene itself
    assert "JON" in page and "JOHN" in page
    problems = cov.project_coverage(team.project).coverage.problems
    kinds = {p.kind for p in problems if p.scene_key == scene.pk}
    assert {"heading-rule", "similar-names", "cue-without-dialogue"} <= kinds
    cue = next(p for p in problems if p.kind == "cue-without-dialogue")
    assert scene.text.splitlines()[cue.line - 1] == "MARA"


def test_acts_from_the_board_and_tags_from_the_character_pages(team, client):
    scene1, scene2 = team.scenes
    Beat.objects.create(project=team.project, act=1, position=0, title="Open", scene=scene1)
    Beat.objects.create(project=team.project, act=2, position=0, title="Turn", scene=scene2)
    client.force_login(team.users["editor"])
    mara = team.characters[0]
    url = reverse("character_detail", args=[team.project.pk, mara.pk])
    r = client.post(url, {"name": "Mara", "tags": "nonsense"})
    assert r.status_code == 400 and "name: value" in r.content.decode()
    r = client.post(url, {"name": "Mara", "tags": "Gender:  woman\n\nage: 40s"})
    assert r.status_code == 302
    assert Character.objects.get(pk=mara.pk).attributes == {"gender": "woman", "age": "40s"}
    page = client.get(_url(team.project)).content.decode()
    assert "<strong>Act 1</strong>" in page and "<strong>Act 2</strong>" in page
    assert "Dialogue by gender" in page and "woman: 100 %" in page
    assert "gender: woman" in client.get(url).content.decode()  # the form shows them back


def test_cached_per_script_state(team, monkeypatch):
    calls = []
    real = cov.coverage
    monkeypatch.setattr(cov, "coverage", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    cov.project_coverage(team.project)
    cov.project_coverage(team.project)
    assert len(calls) == 1
    scene = team.scenes[0]
    services.scene_save_text(
        scene=scene,
        user=team.users["owner"],
        text="MARA\nChanged.\n",
        base_revision_id=scene.head_id,
    )
    assert cov.project_coverage(team.project).coverage.characters[0].words == 1
    assert len(calls) == 2


def test_as_of_a_date_and_compared(team, client):
    scene = team.scenes[0]
    long_ago = timezone.now() - timedelta(days=3)
    Revision.objects.filter(scene__project=team.project).update(created_at=long_ago)
    type(scene).objects.filter(project=team.project).update(created_at=long_ago)
    services.scene_save_text(
        scene=scene,
        user=team.users["owner"],
        text="MARA\nIt's holding.\n\nMARA\nIt's holding.\n\nJONAH\nI know it is holding now.\n",
        base_revision_id=scene.head_id,
    )
    then = (timezone.localdate() - timedelta(days=2)).isoformat()
    past = cov.project_coverage(team.project, at=cov_day(then))
    assert [c.name for c in past.coverage.characters] == ["MARA"]
    client.force_login(team.users["viewer"])
    page = client.get(_url(team.project, compare=then)).content.decode()
    assert "Since " in page and "Share of the dialogue" in page and "JONAH" in page
    assert "New since" in page
    page = client.get(_url(team.project, at=then)).content.decode()
    assert "as of" in page and "JONAH" not in page
    for bad in ("yesterday", "2999-01-01", "1999-12-31"):
        page = client.get(_url(team.project, compare=bad)).content.decode()
        assert "Give a date as YYYY-MM-DD" in page


def cov_day(day: str):
    from scripts_app.views_coverage import _day

    return _day(day)


def test_the_pdf(team, client):
    client.force_login(team.users["viewer"])
    r = client.get(reverse("script_coverage_pdf", args=[team.project.pk]))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    import io

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "COVERAGE" in text and "MARA" in text and "PROBLEMS" in text


@pytest.mark.django_db
def test_an_imported_final_draft_file_is_read(client):
    from scripts_app.models import Project
    from tests.conftest import make_user

    client.force_login(make_user("writer"))
    with FDX.open("rb") as f:
        r = client.post(reverse("script_import_new"), {"file": f, "title": "Imported"})
    assert r.status_code in (200, 302)
    project = Project.objects.get()  # the only one: made by the import
    pc = cov.project_coverage(project)
    assert pc.coverage.scenes and pc.coverage.characters
    page = client.get(_url(project)).content.decode()
    assert pc.coverage.characters[0].name in page
