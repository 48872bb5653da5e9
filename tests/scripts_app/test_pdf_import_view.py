"""PDF import through the web: a screenplay PDF becomes a project with its scenes and
characters; a PDF that cannot be read is refused with its reason and changes nothing."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen.canvas import Canvas

from scripts_app.formats.pdf import render_pdf
from scripts_app.models import Project
from tests.conftest import make_user

SOURCE = (
    "Title: The Heist\nCredit: Written by\nAuthor: Ann Writer\n\n"
    "INT. BANK - DAY #1#\n\nThe vault door stands open.\n\n"
    "EDWARD (V.O.)\n(quietly)\nWe go at noon.\n\nMAYA\nFine.\n\n"
    "EXT. STREET - NIGHT #2#\n\nSirens.\n\nEDWARD\nRun!\n\nCUT TO:\n"
)


def _post(client, name, data, url=None):
    upload = SimpleUploadedFile(name, data, content_type="application/pdf")
    return client.post(url or reverse("script_import_new"), {"file": upload})


def test_pdf_upload_makes_a_project_with_its_scenes(client, db):
    client.force_login(make_user("writer"))
    form = client.get(reverse("script_import_new"))
    assert b".pdf" in form.content  # the file picker offers PDFs
    response = _post(client, "the-heist.pdf", render_pdf(SOURCE, scene_numbers=True))
    assert response.status_code == 302, response.content[:500]
    project = Project.objects.get()
    assert response["Location"] == project.get_absolute_url()
    assert project.title == "The Heist"
    scenes = list(project.scenes.order_by("position"))
    assert [s.heading for s in scenes] == ["INT. BANK - DAY #1#", "EXT. STREET - NIGHT #2#"]
    assert "EDWARD (V.O.)\n(quietly)\nWe go at noon." in scenes[0].text
    assert "CUT TO:" in scenes[1].text
    assert set(project.characters.values_list("name", flat=True)) == {"EDWARD", "MAYA"}
    assert sorted(scenes[0].cast.values_list("name", flat=True)) == ["EDWARD", "MAYA"]


def test_scanned_pdf_is_refused_and_nothing_is_made(client, db):
    client.force_login(make_user("writer"))
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=LETTER)
    canvas.rect(72, 72, 400, 600, fill=1)  # a picture, no text layer
    canvas.showPage()
    canvas.save()
    response = _post(client, "scan.pdf", buf.getvalue())
    assert response.status_code == 400
    assert "This PDF has no text to read — it may be a scan" in response.content.decode()
    assert not Project.objects.exists()


def test_broken_pdf_is_refused_without_an_error_page(client, db):
    client.force_login(make_user("writer"))
    response = _post(client, "broken.pdf", b"%PDF-1.7\n" + b"\xff" * 4000)
    assert response.status_code == 400
    assert "PDF" in response.content.decode()
    assert not Project.objects.exists()
