"""Title page credits: edited in the project settings (owners), written by every export,
filled by an import, checked for size, escaped in HTML."""

import io
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scripts_app import credits, exports, imports, services
from scripts_app.formats import fdx, fountain
from scripts_app.forms import ProjectSettingsForm
from scripts_app.models import Project
from tests.conftest import make_user
from tests.support.htmlforms import form_posting_to

FD12 = Path(__file__).parent / "formats" / "final_draft_12.fdx"

CREDITS = {
    "credit": "Screenplay by",
    "authors": "Ann Lee & Bo Chen",
    "based_on": 'Based on the novel "The Keeper"\nby Dee Park',
    "draft_date": "Second draft, March 3, 2026",
    "contact": "Lee & Chen Pictures\n12 Harbour Road\nann@example.com",
    "copyright": "© 2026 Ann Lee",
    "title_page_notes": "Revised pages in blue",
}


def _settings(team):
    return reverse("project_settings", args=[team.project.pk])


def _post_settings(client, team, **changes):
    """Submit the settings form as shown, with ``changes``."""
    url = _settings(team)
    data = form_posting_to(client.get(url).content.decode(), url, url).data()
    data.update({k: [v] for k, v in changes.items()})
    return client.post(url, data)


def _title_page(project) -> list[tuple[str, str]]:
    return [(e.key, e.value) for e in fountain.parse(exports.project_source(project)).title_page]


def _import(client, name, data, project=None):
    url = (
        reverse("script_import_into", args=[project.pk])
        if project
        else reverse("script_import_new")
    )
    upload = SimpleUploadedFile(name, data if isinstance(data, bytes) else data.encode())
    return client.post(url, {"file": upload})


def test_settings_form_has_every_credit():
    assert set(credits.CREDIT_FIELDS) <= set(ProjectSettingsForm.base_fields)
    for name in credits.CREDIT_FIELDS:
        field = ProjectSettingsForm.base_fields[name]
        assert field.max_length == Project._meta.get_field(name).max_length, name


def test_owner_sets_the_credits_and_every_export_uses_them(client, team):
    client.force_login(team.users["owner"])
    page = client.get(_settings(team)).content.decode()
    assert "Title page" in page and "Credit line" in page and "Based on" in page
    # An empty "Writers" prints the owners' names: the page says so in the placeholder.
    assert 'placeholder="owner &amp; owner2"' in page
    response = _post_settings(client, team, **CREDITS)
    assert response.status_code == 302, response.content.decode()[:2000]
    team.project.refresh_from_db()
    assert {k: getattr(team.project, k) for k in CREDITS} == CREDITS

    assert _title_page(team.project) == [
        ("Title", "The Long Night"),
        ("Credit", "Screenplay by"),
        ("Authors", "Ann Lee & Bo Chen"),
        ("Source", 'Based on the novel "The Keeper"\nby Dee Park'),
        ("Draft date", "Second draft, March 3, 2026"),
        ("Contact", "Lee & Chen Pictures\n12 Harbour Road\nann@example.com"),
        ("Copyright", "© 2026 Ann Lee"),
        ("Notes", "Revised pages in blue"),
    ]
    url = reverse("script_export", args=[team.project.pk])
    back = fdx.loads(client.get(url, {"format": "fdx"}).content)
    assert [(e.key, e.value) for e in back.title_page] == [
        ("Title", "The Long Night"),
        ("Credit", "Screenplay by"),
        ("Author", "Ann Lee & Bo Chen"),
        ("Source", 'Based on the novel "The Keeper"\nby Dee Park'),
        ("Draft date", "Second draft, March 3, 2026"),
        ("Contact", "Lee & Chen Pictures\n12 Harbour Road\nann@example.com"),
        ("Copyright", "© 2026 Ann Lee"),
        ("Notes", "Revised pages in blue"),
    ]
    html = client.get(url, {"format": "html"}).content.decode()
    assert "Screenplay by" in html and "Ann Lee &amp; Bo Chen" in html
    assert "owner &amp; owner2" not in html
    pypdf = pytest.importorskip("pypdf")
    pdf = pypdf.PdfReader(io.BytesIO(client.get(url, {"format": "pdf"}).content))
    first = pdf.pages[0].extract_text()
    assert "Screenplay by" in first and "Ann Lee & Bo Chen" in first
    assert "12 Harbour Road" in first and "Second draft" in first


def test_without_credits_the_title_page_names_the_owners(client, team):
    owner = team.users["owner"]
    owner.first_name, owner.last_name = "Ann", "Lee"
    owner.save()
    page = dict(_title_page(team.project))
    assert page["Credit"] == "Written by"
    assert page["Authors"] == "Ann Lee & owner2"  # full name when set, else the username
    assert "Draft date" in page and "Contact" not in page


def test_only_owners_edit_the_credits(client, team):
    url = _settings(team)
    for who in ("editor", "commenter", "viewer"):
        client.force_login(team.users[who])
        assert client.get(url).status_code == 403
        assert client.post(url, {"title": "X", "authors": "Me"}).status_code == 403
    client.force_login(team.users["outsider"])
    assert client.post(url, {"title": "X", "authors": "Me"}).status_code == 404
    team.project.refresh_from_db()
    assert team.project.authors == "" and team.project.title == "The Long Night"


@pytest.mark.parametrize(
    "field, size",
    [("credit", 101), ("authors", 501), ("draft_date", 101), ("contact", 1001)],
)
def test_oversized_credits_are_form_errors_and_change_nothing(client, team, field, size):
    client.force_login(team.users["owner"])
    response = _post_settings(client, team, title="Renamed", **{field: "x" * size})
    assert response.status_code == 400
    page = response.content.decode()
    assert "errorlist" in page and "at most" in page
    team.project.refresh_from_db()
    assert team.project.title == "The Long Night" and getattr(team.project, field) in (
        "",
        "Written by",
    )


def test_huge_post_is_refused_without_a_server_error(client, team):
    client.force_login(team.users["owner"])
    response = _post_settings(client, team, contact="line\n" * 10_000)
    assert response.status_code in (400, 413)
    team.project.refresh_from_db()
    assert team.project.contact == ""


def test_line_ends_count_once_and_lines_are_tidied(client, team):
    client.force_login(team.users["owner"])
    contact = "\r\n".join(["x" * 99] * 10)  # 999 characters once line ends are LF
    assert len(contact) > 1000
    response = _post_settings(client, team, contact=contact, draft_date="First\ndraft")
    assert response.status_code == 302
    team.project.refresh_from_db()
    assert team.project.contact == "\n".join(["x" * 99] * 10)
    assert team.project.draft_date == "First draft"  # a one-line credit
    services_contact = "  Ann  \n\n\n  ann@example.com "
    credits.credits_update(project=team.project, contact=services_contact)
    assert team.project.contact == "Ann\nann@example.com"  # an empty line ends a title page


def test_credits_are_escaped_everywhere(client, team):
    client.force_login(team.users["owner"])
    evil = '<script>alert("x")</script>'
    _post_settings(client, team, authors=evil, contact=f"<img src=x onerror=alert(1)>\n{evil}")
    settings_page = client.get(_settings(team)).content.decode()
    assert "<script>alert" not in settings_page and "&lt;script&gt;" in settings_page
    html = client.get(
        reverse("script_export", args=[team.project.pk]), {"format": "html"}
    ).content.decode()
    assert "<script>alert" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_unchanged_submit_changes_nothing_and_a_partial_post_keeps_the_credits(client, team):
    credits.credits_update(project=team.project, **CREDITS)
    client.force_login(team.users["owner"])
    assert _post_settings(client, team).status_code == 302
    team.project.refresh_from_db()
    assert {k: getattr(team.project, k) for k in CREDITS} == CREDITS
    # A post that does not carry the credits (an older form) leaves them alone.
    response = client.post(_settings(team), {"title": "Renamed", "logline": "", "genre": ""})
    assert response.status_code == 302
    team.project.refresh_from_db()
    assert team.project.title == "Renamed" and team.project.authors == CREDITS["authors"]


def test_service_refuses_unknown_fields_and_keeps_the_object_on_error(team):
    with pytest.raises(ValueError):
        credits.credits_update(project=team.project, title="x")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        credits.credits_update(project=team.project, authors="y" * 501, contact="ok")
    assert team.project.authors == "" and team.project.contact == ""
    team.project.refresh_from_db()
    assert team.project.authors == "" and team.project.contact == ""


# --- imports -------------------------------------------------------------------------------

FOUNTAIN = (
    "Title:\n    _**NIGHT SHIFT**_\nCredit: Story by\nAuthor: Ann Lee\n"
    "Source: Based on a true story\nDraft date: 2026-01-02\nContact:\n    Ann Lee\n"
    "    ann@example.com\nCopyright: (c) 2026\nRevision: Blue\n\n"
    "INT. DINER - NIGHT\n\nCoffee.\n"
)


def test_import_fills_the_credits_and_exports_the_file_back(client, db):
    client.force_login(make_user("writer"))
    assert _import(client, "night.fountain", FOUNTAIN).status_code == 302
    project = Project.objects.get()
    assert project.title == "NIGHT SHIFT"
    assert (project.credit, project.authors, project.based_on) == (
        "Story by",
        "Ann Lee",
        "Based on a true story",
    )
    assert (project.draft_date, project.contact, project.copyright) == (
        "2026-01-02",
        "Ann Lee\nann@example.com",
        "(c) 2026",
    )
    assert exports.project_source(project) == FOUNTAIN

    # Changing one credit rewrites that entry only; emptying one leaves it out; a new one
    # takes its place in the usual order. Other fields ("Revision") stay as written.
    credits.credits_update(
        project=project, authors="Ann Lee & Bo Chen", contact="", title_page_notes="Blue pages"
    )
    source = exports.project_source(project)
    assert source.startswith(
        "Title:\n    _**NIGHT SHIFT**_\nCredit: Story by\nAuthor: Ann Lee & Bo Chen\n"
        "Source: Based on a true story\nDraft date: 2026-01-02\nCopyright: (c) 2026\n"
        "Notes: Blue pages\nRevision: Blue\n\nINT. DINER - NIGHT\n"
    )


def test_import_without_credit_line_keeps_it_out(client, db):
    client.force_login(make_user("writer"))
    source = "Title: Quiet\nAuthor: Bo Chen\n\nINT. A - DAY\n\nGo.\n"
    _import(client, "q.fountain", source)
    project = Project.objects.get()
    assert project.credit == "" and project.authors == "Bo Chen"
    assert exports.project_source(project) == source


def test_import_of_final_draft_12_file_fills_the_credits(client, db):
    client.force_login(make_user("writer"))
    assert _import(client, "keeper.fdx", FD12.read_bytes()).status_code == 302
    project = Project.objects.get()
    assert project.title == "THE LIGHTHOUSE KEEPER"
    assert project.credit == "Written by" and project.authors == "Ann Lee & Bo Chen"
    assert project.based_on == 'Based on the novel "The Keeper"\nby Dee Park'
    assert project.draft_date == "Revised draft - March 3, 2026"
    assert project.contact.startswith("Ann Lee\nLee & Chen Pictures\n")
    assert "." not in project.contact.split("\n")  # not the page-number label
    assert project.copyright == "© 2026 Ann Lee and Bo Chen"
    assert "Contact: ." not in exports.project_source(project)


def test_import_into_existing_project_fills_only_empty_credits(client, team):
    credits.credits_update(project=team.project, authors="The Team", contact="")
    client.force_login(team.users["editor"])
    assert _import(client, "night.fountain", FOUNTAIN, team.project).status_code == 302
    team.project.refresh_from_db()
    assert team.project.title == "The Long Night"  # the project's own title stays
    assert team.project.credit == "Written by"  # already set
    assert team.project.authors == "The Team"
    assert team.project.based_on == "Based on a true story"
    assert team.project.contact == "Ann Lee\nann@example.com"
    assert team.project.copyright == "(c) 2026"
    page = dict(_title_page(team.project))
    assert page["Author"] == "The Team" and page["Source"] == "Based on a true story"


def test_opening_without_title_page_gets_one_once_credits_are_set(client, db):
    client.force_login(make_user("writer"))
    source = "# ACT ONE\n\nINT. A - DAY\n\nGo.\n"
    _import(client, "act.fountain", source)
    project = Project.objects.get()
    assert exports.project_source(project) == source  # nothing added
    credits.credits_update(project=project, authors="Ann Lee")
    assert exports.project_source(project) == (
        "Title: act\nCredit: Written by\nAuthor: Ann Lee\n\n" + source
    )


def test_migration_fills_credits_of_projects_imported_before(db):
    from importlib import import_module

    migration = import_module("scripts_app.migrations.0009_project_credits")
    owner = make_user("old")
    notes = "My notes\n\n" + imports.FRONT_MATTER_MARKER + "\n" + FOUNTAIN.split("INT.")[0]
    project = services.project_create(user=owner, title="NIGHT SHIFT", notes=notes)
    assert project.credit == "Written by" and project.authors == ""  # as the fields were added
    migration.fill_credits(apps, None)
    project.refresh_from_db()
    assert (project.credit, project.authors, project.contact) == (
        "Story by",
        "Ann Lee",
        "Ann Lee\nann@example.com",
    )
    assert exports.front_matter(project) == FOUNTAIN.split("INT.")[0]
