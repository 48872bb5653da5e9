"""Production revisions in the app: lock, issue the next colour, unlock, print, and who may."""

import html
import io

import pypdf
import pytest
from django.urls import reverse

from scripts_app import production, services
from scripts_app.models import ProductionIssue


def url(name, team):
    return reverse(name, args=[team.project.pk])


def long_scene(team, heading, n=40):
    text = "".join(
        f"Paragraph {k} of {heading} runs on for a line or two here.\n\n" for k in range(n)
    )
    return services.scene_create(
        project=team.project, user=team.users["owner"], heading=heading, text=text
    )


def save(scene, user, text):
    scene.refresh_from_db()
    services.scene_save_text(scene=scene, user=user, text=text, base_revision_id=scene.head_id)


def body(response) -> str:
    return html.unescape(response.content.decode())


def pdf_text(content: bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages]


def test_lock_issue_and_print(client, team):
    a = long_scene(team, "INT. A - DAY")
    long_scene(team, "INT. B - DAY")
    client.force_login(team.users["owner"])
    page = client.get(url("production_page", team)).content.decode()
    assert "Lock pages and scene numbers" in page

    response = client.post(url("production_lock", team), follow=True)
    assert "Locked for production" in body(response)
    white = ProductionIssue.objects.get(project=team.project)
    assert white.index == 0 and white.colour == "White" and white.pages >= 2

    # Nothing changed: issuing is refused with a clear message, nothing stored.
    response = client.post(url("production_issue", team), follow=True)
    assert "Nothing has changed since the White revision" in body(response)
    assert ProductionIssue.objects.filter(project=team.project).count() == 1

    a.refresh_from_db()
    save(
        a, team.users["editor"], a.text.replace("Paragraph 3 of", "Paragraph three, rewritten, of")
    )
    state = production.state(team.project)
    assert state.next_colour == "Blue" and state.changed == 1

    printed = client.get(url("production_pdf", team))
    assert printed["Content-Type"] == "application/pdf"
    assert "production.pdf" in printed["Content-Disposition"]
    pages = pdf_text(printed.content)
    assert any("Blue Rev." in t and "*" in t for t in pages)
    assert "The Long Night" in pages[0]  # the title page

    response = client.post(url("production_issue", team), follow=True)
    assert "Blue revision issued (1 revised elements)" in body(response)
    assert [i.colour for i in ProductionIssue.objects.filter(project=team.project)] == [
        "White",
        "Blue",
    ]
    assert production.state(team.project).next_colour == "Pink"


def test_scene_numbers_lock_and_deleted_scenes_are_omitted(team):
    owner = team.users["owner"]
    production.production_lock(project=team.project, user=owner)
    services.scene_delete(scene=team.scenes[1])
    new = services.scene_create(project=team.project, user=owner, heading="INT. NEW - DAY")
    services.scene_move(scene=new, to_position=0)
    prod = production.current(team.project)
    heads = [
        (el.scene_number, el.text) for el in prod.script.elements if el.type == "scene_heading"
    ]
    assert heads == [("A1", "INT. NEW - DAY"), ("1", "INT. STATION - NIGHT"), ("2", "OMITTED")]
    assert production.state(team.project).omitted == ["2"]


def test_the_editor_gets_the_scene_as_issued(client, team):
    scene = team.scenes[0]
    assert production.scene_marks(scene) is None
    production.production_lock(project=team.project, user=team.users["owner"])
    marks = production.scene_marks(scene)
    assert marks["open"]["name"] == "Blue"
    assert [line for line, _ in marks["lines"]] == ["Alarms pulse amber.", "MARA", "It's holding."]
    assert marks["number"] == "1"
    client.force_login(team.users["viewer"])
    page = client.get(scene.get_absolute_url()).content.decode()
    assert 'id="production-marks"' in page


def test_only_owners_change_production(client, team):
    for name in ("owner2", "editor", "commenter", "viewer"):
        client.force_login(team.users[name])
        assert client.get(url("production_page", team)).status_code == 200
        if name == "owner2":
            continue
        for action in ("production_lock", "production_issue", "production_unlock"):
            assert client.post(url(action, team)).status_code == 403, (name, action)
    assert not ProductionIssue.objects.exists()
    client.force_login(team.users["outsider"])
    for action in ("production_page", "production_pdf"):
        assert client.get(url(action, team)).status_code == 404
    for action in ("production_lock", "production_issue", "production_unlock"):
        assert client.post(url(action, team)).status_code == 404
    client.force_login(team.users["owner"])
    assert client.get(url("production_lock", team)).status_code == 405


def test_bad_requests_change_nothing(client, team):
    client.force_login(team.users["owner"])
    response = client.post(url("production_issue", team), follow=True)
    assert "Lock the script for production first" in body(response)
    assert client.post(url("production_lock", team)).status_code == 302
    response = client.post(url("production_lock", team), follow=True)
    assert "already locked" in body(response)
    response = client.post(url("production_unlock", team), {"confirm": "yes"}, follow=True)
    assert 'Type "unlock" to confirm' in body(response)
    assert ProductionIssue.objects.count() == 1
    response = client.get(url("production_pdf", team) + "?paper=tabloid", follow=True)
    assert "Choose US Letter or A4" in body(response)
    response = client.post(url("production_unlock", team), {"confirm": " Unlock "}, follow=True)
    assert "Production unlocked" in body(response)
    assert not ProductionIssue.objects.exists()


def test_an_empty_script_cannot_be_locked(client, team):
    for scene in team.scenes:
        services.scene_delete(scene=scene)
    client.force_login(team.users["owner"])
    response = client.post(url("production_lock", team), follow=True)
    assert "no scenes" in body(response)


@pytest.mark.django_db(transaction=True)
def test_two_owners_issuing_at_once_make_one_issue(team):
    import threading

    from django.db import connection

    production.production_lock(project=team.project, user=team.users["owner"])
    save(team.scenes[0], team.users["owner"], "Something new.\n")
    results, barrier = [], threading.Barrier(2)

    def issue(user):
        barrier.wait()
        try:
            production.production_issue(project=team.project, user=user)
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - the loser's error is the point
            results.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(team.users[n],)) for n in ("owner", "owner2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[-1] == "ok"
    assert ProductionIssue.objects.filter(project=team.project).count() == 2
