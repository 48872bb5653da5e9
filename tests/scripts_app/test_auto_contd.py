"""Automatic (CONT'D): a project setting that printed pages follow; the text never changes."""

import io
from pathlib import Path

import pypdf
from django.urls import reverse

from scripts_app import exports, services
from scripts_app.formats import fountain
from scripts_app.formats.model import ElementType
from scripts_app.formats.pagination import auto_contd
from tests.support.htmlforms import form_posting_to

# The same scene the editor's rule is tested on (tests/js/contd.test.mjs): one rule, two
# implementations (pagination.auto_contd, static/src/editor/contd.js).
SCENE = (Path(__file__).parents[1] / "fixtures" / "auto_contd_scene.fountain").read_text("utf-8")


def _cues(script):
    return [e.text for e in script.elements if e.type == ElementType.CHARACTER]


def test_only_a_speaker_who_returns_after_action_gets_it():
    cues = _cues(auto_contd(fountain.parse(SCENE)))
    assert cues == [
        "JOHN",
        "JOHN (CONT'D)",  # action between, nobody else spoke
        "MARY",
        "JOHN",  # Mary spoke in between
        "JOHN (V.O.) (CONT'D)",  # extensions aside it is the same speaker
        "JOHN (CONT'D)",  # no action between: as typed (already has one, never doubled)
        "JOHN",  # dual dialogue is left as written
    ]


def test_a_new_scene_or_a_transition_starts_afresh():
    text = "INT. A - DAY\n\nJOHN\nOne.\n\nHe sits.\n\nCUT TO:\n\nJOHN\nTwo.\n\n"
    text += "INT. B - DAY\n\nJohn waits.\n\nJOHN\nThree.\n"
    assert _cues(auto_contd(fountain.parse(text))) == ["JOHN", "JOHN", "JOHN"]


def test_the_owner_turns_it_on_and_pdf_and_html_follow_but_not_the_text(client, team):
    services.scene_create(project=team.project, user=team.users["owner"], heading="INT. KITCHEN - NIGHT", text=SCENE.split("\n", 2)[2])  # fmt: skip
    before = _pdf_text(exports.export_project(team.project, "pdf").content)
    assert "JOHN\nHere." in before  # off by default: as typed
    client.force_login(team.users["owner"])
    url = reverse("project_settings", args=[team.project.pk])
    page = client.get(url).content.decode()
    assert "Add (CONT&#x27;D) automatically" in page or "Add (CONT'D) automatically" in page
    data = form_posting_to(page, url, url).data()
    data["auto_contd"] = ["on"]
    assert client.post(url, data).status_code == 302
    team.project.refresh_from_db()
    assert team.project.auto_contd
    pdf_text = _pdf_text(exports.export_project(team.project, "pdf").content)
    assert "JOHN (CONT'D)\nHere." in pdf_text
    html = exports.export_project(team.project, "html").content.decode()
    assert '(CONT&#x27;D)</span></p><p class="fx-dialogue">Here.' in html
    source = exports.export_project(team.project, "fountain").content.decode()
    assert "JOHN (CONT'D)\nHere." not in source  # the Fountain is the text as written
    # A viewer cannot change it.
    client.force_login(team.users["editor"])
    assert client.post(url, data).status_code in (403, 404)


def _pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
