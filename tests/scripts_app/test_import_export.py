"""Screenplay import, export and reports through the web: round trips, bad input that
changes nothing, the permission matrix, download headers and escaping."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scripts_app import exports, imports
from scripts_app.formats import fdx, fountain, importer
from scripts_app.models import Character, Project, Revision, RevisionOrigin, Role
from tests.conftest import make_user
from tests.scripts_app.formats.generate import feature, feature_text
from tests.scripts_app.test_permissions import ROLE_OF, WHO, snapshot

SMALL = (
    "Title: Appendix\nAuthor: Someone\n\n"
    "INT. KITCHEN - DAY\n\nMara cooks.\n\nMARA (V.O.)\nIt's late.\n\n"
    "@Edward\n(quietly)\nNot yet.\n\n"
    "EXT. ROOF - NIGHT #7#\n\nEDWARD (CONT'D)\nStill here.\n\n@Mara\nGo home.\n"
)


def _upload(name: str, data: bytes | str):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def _import_new(client, name, data, **extra):
    return client.post(reverse("script_import_new"), {"file": _upload(name, data)}, **extra)


def _full_snapshot():
    return (
        snapshot(),
        list(Project.objects.order_by("pk").values_list("pk", "notes", "updated_at")),
    )


# --- import round trips --------------------------------------------------------------------


def test_import_fountain_round_trip(client, db):
    user = make_user("writer")
    client.force_login(user)
    source = feature_text()
    response = _import_new(client, "the-long-night.fountain", source)
    assert response.status_code == 302, response.content[:500]
    project = Project.objects.get()
    assert response["Location"] == project.get_absolute_url()
    assert project.title == "THE LONG NIGHT"
    assert project.memberships.get().role == Role.OWNER

    split = importer.split_script(source)
    scenes = list(project.scenes.order_by("position"))
    assert len(scenes) == len(split.scenes) == 140
    assert [s.position for s in scenes] == list(range(140))
    assert [s.heading for s in scenes] == [s.text.split("\n")[0] for s in split.scenes]
    assert scenes[0].heading == "INT. POLICE STATION - LATER #1#"  # number kept
    assert scenes[16].heading.startswith(".FLASHBACK")  # forced heading kept as written
    assert scenes[0].text == split.scenes[0].text.split("\n", 2)[2]  # minus heading + gap
    names = set(project.characters.values_list("name", flat=True))
    assert names == set(split.characters)
    assert "MCKENZIE" in names and not any("(" in n or "@" in n for n in names)
    for scene, imported in zip(scenes, split.scenes, strict=True):
        assert sorted(scene.cast.values_list("name", flat=True)) == sorted(imported.cast)
    revisions = Revision.objects.filter(scene__project=project)
    assert revisions.count() == 140
    assert set(revisions.values_list("origin", "number")) == {(RevisionOrigin.IMPORT, 1)}
    assert all(s.head_id and s.head.text == s.text for s in scenes[:5])

    # Title page and preamble are kept (in the notes) and the export gives the source back.
    assert imports.FRONT_MATTER_MARKER in project.notes
    assert "# ACT ONE" in project.notes
    exported = client.get(reverse("script_export", args=[project.pk]), {"format": "fountain"})
    assert exported.status_code == 200
    assert exported.content.decode("utf-8") == source
    # Saving the notes through the settings form (stripped, CRLF) keeps the export exact.
    from scripts_app import services

    services.project_update(project=project, notes=project.notes.replace("\n", "\r\n"))
    assert exports.project_source(project) == source
    # Renaming the project changes only the exported Title.
    project.title = "Night Shift"
    project.save()
    renamed = exports.project_source(project)
    assert fountain.parse(renamed).title == "Night Shift"
    assert renamed.split("\n# ACT ONE", 1)[1] == source.split("\n# ACT ONE", 1)[1]


def test_import_fdx_round_trip(client, db):
    client.force_login(make_user("writer"))
    data = fdx.dumps(feature())
    response = _import_new(client, "night.fdx", data)
    assert response.status_code == 302, response.content[:500]
    project = Project.objects.get()
    expected = fountain.dumps(fdx.loads(data))
    split = importer.split_script(expected)
    assert project.scenes.count() == len(split.scenes) == 140
    assert list(project.scenes.order_by("position").values_list("heading", flat=True)) == [
        s.text.split("\n")[0] for s in split.scenes
    ]
    assert set(project.characters.values_list("name", flat=True)) == set(split.characters)
    assert exports.project_source(project) == expected


def test_import_into_existing_project_appends_and_reuses_characters(client, team):
    mara = team.characters[0]
    client.force_login(team.users["editor"])
    url = reverse("script_import_into", args=[team.project.pk])
    response = client.post(url, {"file": _upload("appendix.fountain", SMALL)})
    assert response.status_code == 302, response.content[:500]
    team.project.refresh_from_db()
    assert team.project.title == "The Long Night"  # the project's own title page stays
    assert "From appendix.fountain" in team.project.notes
    assert "Title: Appendix" in team.project.notes
    scenes = list(team.project.scenes.order_by("position"))
    assert [s.heading for s in scenes] == [
        "INT. STATION - NIGHT",
        "EXT. HULL - CONTINUOUS",
        "INT. KITCHEN - DAY",
        "EXT. ROOF - NIGHT #7#",
    ]
    assert (
        scenes[2].text == "Mara cooks.\n\nMARA (V.O.)\nIt's late.\n\n@Edward\n(quietly)\nNot yet.\n"
    )
    names = list(team.project.characters.values_list("name", flat=True))
    assert sorted(names) == ["EDWARD", "JONAH", "MARA"]
    assert Character.objects.get(project=team.project, name="MARA").pk == mara.pk
    assert set(scenes[2].cast.values_list("name", flat=True)) == {"MARA", "EDWARD"}
    assert set(scenes[3].cast.values_list("name", flat=True)) == {"MARA", "EDWARD"}
    assert scenes[3].revisions.get().origin == RevisionOrigin.IMPORT
    # The project's title page is built from the project's credits (the import filled its
    # empty writers from the file's title page); scenes follow in order.
    source = exports.project_source(team.project)
    assert source.startswith("Title: The Long Night\nCredit: Written by\nAuthor: Someone\n")
    parsed = fountain.parse(source)
    headings = [e.text for e in parsed.elements if e.type.value == "scene_heading"]
    assert headings == [
        "INT. STATION - NIGHT",
        "EXT. HULL - CONTINUOUS",
        "INT. KITCHEN - DAY",
        "EXT. ROOF - NIGHT",
    ]


def test_htmx_import_redirects_and_errors_stay_in_the_form(client, db):
    client.force_login(make_user("writer"))
    ok = _import_new(client, "s.fountain", SMALL, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200 and ok["HX-Redirect"] == Project.objects.get().get_absolute_url()
    bad = _import_new(client, "s.fountain", "No headings here.\n", HTTP_HX_REQUEST="true")
    body = bad.content.decode()
    assert bad.status_code == 200 and "no scene headings" in body and "<form" in body
    assert "<html" not in body  # the partial only


# --- bad input -----------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol3;</Text></Paragraph></Content></FinalDraft>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Scene Heading"><Text>INT. X - DAY</Text></Paragraph>
<Paragraph Type="Action"><Text>&xxe;</Text></Paragraph></Content></FinalDraft>"""
TRUNCATED = fdx.dumps(fountain.parse(SMALL))[:-60]

BAD_INPUTS = [
    ("malformed-fdx", "x.fdx", b"<FinalDraft><Content><Paragraph", "FDX"),
    ("truncated-fdx", "x.fdx", TRUNCATED, "FDX"),
    ("billion-laughs", "x.fdx", BILLION_LAUGHS, ""),
    ("external-entity", "x.fdx", EXTERNAL, ""),
    ("binary", "x.fountain", bytes(range(256)) * 40, "binary"),
    ("not-utf8", "x.fountain", b"INT. HOUSE - DAY\n\n\x81\x8d\x90\x9d here\n", "encoding"),
    ("no-headings", "x.fountain", b"Just prose.\n\nMore prose.\n", "no scene headings"),
    (
        "duplicate-numbers",
        "x.fountain",
        b"INT. A - DAY #12#\n\nOne.\n\nEXT. B - NIGHT #12#\n\nTwo.\n",
        "used twice",
    ),
    ("empty", "x.fountain", b"", "empty"),
    ("wrong-type", "x.docx", b"PK\x03\x04 zipped", ".docx"),
    ("too-long-heading", "x.fountain", ("INT. " + "A" * 300 + "\n\nHi.\n").encode(), "Scene 1"),
]


@pytest.mark.parametrize("into", ["new", "existing"])
@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c[0])
def test_bad_input_changes_nothing(client, team, case, into):
    _, name, data, words = case
    client.force_login(team.users["owner"])
    url = (
        reverse("script_import_new")
        if into == "new"
        else reverse("script_import_into", args=[team.project.pk])
    )
    before = _full_snapshot()
    response = client.post(url, {"file": _upload(name, data)})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported." in body and words in body
    assert 'class="msg msg-error"' in body
    assert _full_snapshot() == before


def test_upload_over_the_limit_is_refused(client, team, settings):
    settings.COWRITE_UPLOAD_MAX_BYTES = 1000
    client.force_login(team.users["editor"])
    before = _full_snapshot()
    big = SMALL + "\n".join(["More action."] * 200)
    for url in (
        reverse("script_import_new"),
        reverse("script_import_into", args=[team.project.pk]),
    ):
        response = client.post(url, {"file": _upload("big.fountain", big)})
        assert response.status_code == 400
        # Stopped by the view's upload handler, before the file was stored.
        assert "too large" in response.content.decode()
        assert "Upload a smaller file." in response.content.decode()
    assert _full_snapshot() == before


def test_import_checks_csrf(team):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(team.users["owner"])
    before = _full_snapshot()
    url = reverse("script_import_into", args=[team.project.pk])
    assert client.post(url, {"file": _upload("s.fountain", SMALL)}).status_code == 403
    assert _full_snapshot() == before
    client.get(url)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        url, {"csrfmiddlewaretoken": token, "file": _upload("s.fountain", SMALL)}
    )
    assert response.status_code == 302


def test_heading_without_a_gap_is_normalised(client, db):
    """The one documented difference: export always writes an empty line after a heading."""
    client.force_login(make_user("writer"))
    source = "INT. A - DAY\nAction at once.\n\nEXT. B - NIGHT\n\nMore.\n"
    _import_new(client, "gap.fountain", source)
    project = Project.objects.get()
    assert project.title == "gap" and project.notes == ""
    assert list(project.scenes.values_list("text", flat=True)) == ["Action at once.\n", "More.\n"]
    assert exports.project_source(project).endswith(
        "\n\nINT. A - DAY\n\nAction at once.\n\nEXT. B - NIGHT\n\nMore.\n"
    )


def test_missing_file_is_a_clear_message(client, team):
    client.force_login(team.users["owner"])
    response = client.post(reverse("script_import_new"), {})
    assert response.status_code == 400 and "Choose a .fountain" in response.content.decode()


# --- permissions ---------------------------------------------------------------------------


@dataclass
class Action:
    name: str
    method: str
    need: Role | None  # None: any logged-in user
    url: Callable
    data: Callable = lambda t: {}


def _p(name, query=""):
    return lambda t: reverse(name, args=[t.project.pk]) + query


ACTIONS = [
    Action("import_new_form", "GET", None, lambda t: reverse("script_import_new")),
    Action(
        "import_new",
        "POST",
        None,
        lambda t: reverse("script_import_new"),
        lambda t: {"file": _upload("s.fountain", SMALL)},
    ),
    Action("import_into_form", "GET", Role.EDITOR, _p("script_import_into")),
    Action(
        "import_into",
        "POST",
        Role.EDITOR,
        _p("script_import_into"),
        lambda t: {"file": _upload("s.fountain", SMALL)},
    ),
    Action("export_form", "GET", Role.VIEWER, _p("script_export")),
    Action("export_download", "GET", Role.VIEWER, _p("script_export", "?format=fdx")),
    Action(
        "scene_export",
        "GET",
        Role.VIEWER,
        lambda t: reverse("scene_export", args=[t.project.pk, t.scenes[0].pk]) + "?format=html",
    ),
    Action("reports", "GET", Role.VIEWER, _p("script_reports")),
    Action("length", "GET", Role.VIEWER, _p("script_length")),
]


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_permission_matrix(client, team, action, who):
    if who != "anonymous":
        client.force_login(team.users[who])
    url, data = action.url(team), action.data(team)
    before = _full_snapshot()
    response = client.get(url) if action.method == "GET" else client.post(url, data)
    after = _full_snapshot()
    if action.need is None:
        allowed = who != "anonymous"
    else:
        allowed = who in ROLE_OF and ROLE_OF[who].at_least(action.need)
    if allowed:
        expected = 200 if action.method == "GET" else 302
        assert response.status_code == expected, response.content[:500]
        assert (after != before) == (action.method == "POST")
    else:
        if who == "anonymous":
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("login"))
        elif who == "outsider":
            assert response.status_code == 404
        else:
            assert response.status_code == 403
        assert after == before, f"denied {action.name} by {who} changed the database"


def test_scene_of_another_project_is_404(client, team):
    from scripts_app import services

    other = services.project_create(user=team.users["outsider"], title="Other")
    scene = services.scene_create(project=other, user=team.users["outsider"], heading="INT. X")
    client.force_login(team.users["owner"])
    url = reverse("scene_export", args=[team.project.pk, scene.pk]) + "?format=fountain"
    assert client.get(url).status_code == 404


# --- exports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt, ctype, ext",
    [
        ("fountain", "text/plain; charset=utf-8", "fountain"),
        ("fdx", "application/xml; charset=utf-8", "fdx"),
        ("pdf", "application/pdf", "pdf"),
        ("html", "text/html; charset=utf-8", "html"),
    ],
)
def test_export_headers_and_content(client, team, fmt, ctype, ext):
    client.force_login(team.users["viewer"])
    response = client.get(reverse("script_export", args=[team.project.pk]), {"format": fmt})
    assert response.status_code == 200
    assert response["Content-Type"] == ctype
    assert response["Content-Disposition"] == f'attachment; filename="the-long-night.{ext}"'
    body = response.content
    if fmt == "pdf":
        assert body.startswith(b"%PDF")
    elif fmt == "fdx":
        script = fdx.loads(body)
        assert [e.text for e in script.elements if e.type.value == "scene_heading"] == [
            "INT. STATION - NIGHT",
            "EXT. HULL - CONTINUOUS",
        ]
    elif fmt == "fountain":
        assert b"INT. STATION - NIGHT\n\nAlarms pulse amber." in body
    else:
        assert b"Alarms pulse amber." in body
    scene = team.scenes[1]
    one = client.get(reverse("scene_export", args=[team.project.pk, scene.pk]), {"format": fmt})
    assert one.status_code == 200 and one["Content-Type"] == ctype
    assert f'filename="the-long-night-scene-2.{ext}"' in one["Content-Disposition"]
    if fmt == "fountain":
        assert one.content == b"EXT. HULL - CONTINUOUS\n\n"


def test_pdf_paper_and_scene_numbers(client, team):
    client.force_login(team.users["viewer"])
    url = reverse("script_export", args=[team.project.pk])
    letter = client.get(url, {"format": "pdf"}).content
    a4 = client.get(url, {"format": "pdf", "paper": "a4", "numbers": "on"}).content
    assert letter.startswith(b"%PDF") and a4.startswith(b"%PDF") and letter != a4
    pypdf = pytest.importorskip("pypdf")
    import io

    box = pypdf.PdfReader(io.BytesIO(a4)).pages[1].mediabox
    assert round(float(box.width)) == 595 and round(float(box.height)) == 842
    box = pypdf.PdfReader(io.BytesIO(letter)).pages[1].mediabox
    assert round(float(box.width)) == 612 and round(float(box.height)) == 792


def test_bad_export_format_is_a_message(client, team):
    client.force_login(team.users["viewer"])
    url = reverse("script_export", args=[team.project.pk])
    for query in ({"format": "docx"}, {"format": "pdf", "paper": "a3"}):
        response = client.get(url, query, follow=True)
        assert "Choose a format" in response.content.decode()
        assert response.redirect_chain[-1][0] == url


def test_html_export_escapes_text(client, team):
    scene = team.scenes[1]
    scene.text = 'A <script>alert("x")</script> & "quotes".\n\nMARA\n<img src=x onerror=alert(1)>\n'
    scene.save()
    team.project.title = "<b>Bold</b> title"
    team.project.save()
    client.force_login(team.users["viewer"])
    for response in (
        client.get(reverse("script_export", args=[team.project.pk]), {"format": "html"}),
        client.get(reverse("scene_export", args=[team.project.pk, scene.pk]), {"format": "html"}),
    ):
        body = response.content.decode()
        assert "<script>" not in body and "<img" not in body and "<b>Bold" not in body
        assert "&lt;script&gt;" in body and "&lt;img" in body


# --- reports -------------------------------------------------------------------------------


def test_reports_page_shows_lengths_and_characters(client, team):
    client.force_login(team.users["viewer"])
    body = client.get(reverse("script_reports", args=[team.project.pk])).content.decode()
    assert 'id="scene-report"' in body and 'id="character-report"' in body
    assert "INT. STATION - NIGHT" in body and "EXT. HULL - CONTINUOUS" in body
    report = exports.project_report(team.project)
    assert len(report.scenes) == 2
    for row in report.scenes:
        assert f"<td>{row.pages_label}</td>" in body
    assert "<td>MARA</td><td>1</td><td>1</td>" in body
    assert "1 page" in body


def test_project_page_links_and_length(client, team):
    client.force_login(team.users["viewer"])
    page = client.get(reverse("project_detail", args=[team.project.pk])).content.decode()
    assert reverse("script_reports", args=[team.project.pk]) in page
    assert reverse("script_export", args=[team.project.pk]) in page
    assert reverse("script_import_into", args=[team.project.pk]) not in page  # viewer
    length = client.get(reverse("script_length", args=[team.project.pk])).content.decode()
    assert "1 page · ~" in length
