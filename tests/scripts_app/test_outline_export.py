"""The outline export a producer reads: Markdown, HTML and PDF of the story layer."""

import io

import pypdf
from django.urls import reverse

from scripts_app import board
from scripts_app.formats import outline as doc
from scripts_app.models import Beat, Character, Plotline, StoryBible


def url(team, fmt=None):
    base = reverse("outline_export", args=[team.project.pk])
    return f"{base}?format={fmt}" if fmt else base


def fill(team):
    owner = team.users["owner"]
    StoryBible.objects.create(project=team.project, tone="Tense, dry.", themes="Duty <vs> love")
    mara = Character.objects.get(project=team.project, name="MARA")
    mara.role, mara.want, mara.arc_start, mara.arc_end = "protagonist", "Fix it", "Alone", "Trusts"
    mara.save()
    a = Plotline.objects.create(project=team.project, name="The leak", label="A")
    first = board.beat_create(
        project=team.project, user=owner, act=1, title="Alarm *rings*",
        summary="Mara wakes to the alarm.\nShe runs.", plotline_ids=[a.pk],
        character_ids=[mara.pk],
    )  # fmt: skip
    board.beat_create(project=team.project, user=owner, act=2, title="The hull")
    Beat.objects.filter(pk=first.pk).update(scene=team.scenes[0])


def test_every_format_holds_the_story(client, team):
    fill(team)
    client.force_login(team.users["viewer"])
    md = client.get(url(team, "md"))
    assert md["Content-Type"].startswith("text/markdown")
    assert 'filename="the-long-night-outline.md"' in md["Content-Disposition"]
    text = md.content.decode()
    assert "# The Long Night" in text and "**Logline:** A test." in text
    assert "## Act 1" in text and "## Act 2" in text
    assert "Alarm \\*rings\\*" in text  # markup escaped, not interpreted
    assert "Plotlines: The leak" in text and "Scene 1. INT. STATION - NIGHT" in text
    assert "**MARA** (Protagonist) — wants Fix it; arc: Alone → Trusts" in text
    page = client.get(url(team, "html")).content.decode()
    assert "Duty &lt;vs&gt; love" in page and "<script" not in page
    pdf = client.get(url(team, "pdf"))
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    body = "\n".join(p.extract_text() for p in reader.pages)
    assert "THE LONG NIGHT" in body and "ACT 2" in body and "Alarm *rings*" in body


def test_an_empty_board_still_exports(team):
    data = doc.to_markdown(doc.Outline(title="Nothing yet"))
    assert "No cards on the board yet" in data
    assert doc.to_pdf(doc.Outline(title="Nothing yet")).startswith(b"%PDF")


def test_a_long_outline_runs_over_pages(team):
    cards = [doc.OutlineCard(title=f"Card {i}", summary="Words " * 80) for i in range(60)]
    data = doc.to_pdf(doc.Outline(title="Long", acts=[(1, cards)]))
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 5
    assert "2." in reader.pages[1].extract_text()


def test_who_may_export(client, team):
    client.force_login(team.users["outsider"])
    assert client.get(url(team, "md")).status_code == 404
    client.force_login(team.users["viewer"])
    assert client.get(url(team, "docx")).status_code == 400
    assert client.get(url(team)).status_code == 200  # PDF by default
    assert client.post(url(team, "md")).status_code == 405
