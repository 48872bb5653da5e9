"""Adapting a book (``scripts_app/adaptation.py``): a short story becomes scenes with
their book passage and cue map, characters, a read-only source; through the import page
as a background job; the passage beside the scene; the prompt of "write the scene";
bad files change nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from scripts_app import adaptation
from scripts_app.models import Character, Project, Scene, SceneSource, SourceText
from tests.conftest import make_user
from tests.scripts_app.test_big_scripts import EMBEDDED, _upload, _wait_job

STORY = """The Keeper's Daughter

by Ann Example

CHAPTER I

Mara climbed the lighthouse stairs in the evening, counting each step.

"The lamp is out," said Mara.

"Then light it," Jonah replied. "The ships are coming."

"I can't," she said. "The oil is gone."

* * *

The next morning, in the garden, Jonah dug beside the wall.

"We could sell the boat," said Jonah.

"Never," said Mara.

CHAPTER II

That night the storm came. Mara stood on the rocks and watched the sea.

"Come inside!" cried Jonah.
"""


@pytest.fixture
def writer(db):
    return make_user("writer")


def test_a_short_story_becomes_scenes_with_their_passage(writer):
    project = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="keeper.txt")
    scenes = list(Scene.objects.filter(project=project).order_by("position"))
    assert len(scenes) >= 3
    source = SourceText.objects.get(project=project)
    assert source.words > 50 and source.title == "The Keeper's Daughter"
    assert source.author == "Ann Example" and project.title == "The Keeper's Daughter"
    titles = [c["title"] for c in source.chapters]
    assert titles[-2:] == ["CHAPTER I", "CHAPTER II"]
    links = {s.scene_id: s for s in SceneSource.objects.filter(source=source)}
    assert set(links) == {s.pk for s in scenes}
    names = set(Character.objects.filter(project=project).values_list("name", flat=True))
    assert {"MARA", "JONAH"} <= names
    first = scenes[0]
    assert "MARA" in first.text and "The lamp is out" in first.text
    assert first.synopsis
    # Each cue's line is the dialogue line, and its span is the quotation in the book.
    link = links[first.pk]
    paragraphs = link.paragraphs()
    lines = first.text.splitlines()
    for cue in link.cues:
        said = paragraphs[cue["paragraph"]][cue["start"] : cue["end"]]
        said = said.strip().rstrip(",")  # the comma before a speech tag becomes a full stop
        assert said and said[:10] in lines[cue["line"] - 1]


def test_the_scene_page_shows_the_book_beside_the_scene(writer, client):
    project = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="keeper.txt")
    scene = Scene.objects.filter(project=project).order_by("position").first()
    client.force_login(writer)
    page = client.get(reverse("scene_detail", args=[project.pk, scene.pk])).content.decode()
    assert "From the book" in page and "js/source.js" in page
    assert 'data-cue-line="' in page and "The lamp is out" in page
    outsider = make_user("outsider")
    client.force_login(outsider)
    assert client.get(reverse("scene_detail", args=[project.pk, scene.pk])).status_code == 404


def test_write_the_scene_adapts_its_passage(writer, settings, tmp_path):
    from generation.prompts import build_prompt

    project = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="keeper.txt")
    scene = Scene.objects.filter(project=project).order_by("position").first()
    built = build_prompt(
        scene=scene,
        task="new",
        instruction="",
        scene_text=scene.text,
        selection=None,
        tokenizer=None,
        block_size=4096,
        max_new_tokens=200,
    )
    assert "From the book: Mara climbed the lighthouse stairs" in built.prompt.synopsis


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"", "empty.txt", ""),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "cover.txt", ""),
        (b"PK\x03\x04 not really a zip", "book.epub", ""),
    ],
)
def test_bad_files_change_nothing(writer, data, filename, message):
    with pytest.raises(ValidationError):
        adaptation.adaptation_import(user=writer, data=data, filename=filename)
    assert not Project.objects.exists() and not SourceText.objects.exists()


def test_a_book_over_the_limit_is_refused_before_reading(writer, settings):
    settings.COWRITE_BOOK_MAX_BYTES = 1000
    with pytest.raises(ValidationError, match="at most"):
        adaptation.adaptation_import(user=writer, data=b"a" * 5000, filename="big.txt")
    assert not Project.objects.exists()


@EMBEDDED
@pytest.mark.django_db(transaction=True)
def test_through_the_import_page_as_a_job_with_progress(client):
    owner = make_user("adapter")
    client.force_login(owner)
    upload = _upload(STORY, "keeper.txt")
    response = client.post(reverse("script_import_new"), {"file": upload, "kind": "book"})
    assert response.url.startswith("/imports/")  # a book always goes through the job
    _wait_job(client, response.url)
    project = Project.objects.get(memberships__user=owner)
    assert SourceText.objects.filter(project=project).exists()
    assert project.scenes.count() >= 3 and project.title == "The Keeper's Daughter"
    # The project page says where the names are checked and links to the book.
    page = client.get(project.get_absolute_url()).content.decode()
    assert "check who is who" in page
    source = SourceText.objects.get(project=project)
    assert reverse("book_detail", args=[project.pk, source.pk]) in page and ">The book</a>" in page
    # A bad book: the job says why and nothing is imported.
    response = client.post(
        reverse("script_import_new"),
        {"file": _upload("\x00\x01\x02" * 100, "bad.txt"), "kind": "book"},
    )
    failed = _wait_job(client, response.url).content.decode()
    assert "Nothing was imported." in failed
    assert Project.objects.filter(memberships__user=owner).count() == 1


def test_the_book_page_lists_chapters_scenes_and_names(writer, client):
    project = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="keeper.txt")
    source = SourceText.objects.get(project=project)
    url = reverse("book_detail", args=[project.pk, source.pk])
    client.force_login(make_user("stranger"))
    assert client.get(url).status_code == 404
    client.force_login(writer)
    page = client.get(url).content.decode()
    assert "The Keeper&#x27;s Daughter" in page and "CHAPTER II" in page
    assert "MARA" in page and "Names in the book" in page
    page = client.get(url + "?chapter=1").content.decode()
    assert "Mara climbed the lighthouse stairs" in page and "Scene 1:" in page
    assert client.get(url + "?chapter=99").status_code == 200  # the chapter list instead
    scene = Scene.objects.filter(project=project).order_by("position").first()
    page = client.get(reverse("scene_detail", args=[project.pk, scene.pk])).content.decode()
    assert f"{url}?chapter=1" in page  # the passage links to its whole chapter


def test_narration_that_looks_like_a_heading_stays_in_its_scene(writer):
    story = (
        "CHAPTER I\n\nThe inn stood by the river.\n\n"
        "INT. was carved over the door, and nobody knew why.\n\n"
        "# not a section\n\n"
        '"Who carved it?" asked Mara.\n'
    )
    project = adaptation.adaptation_import(user=writer, data=story.encode(), filename="inn.txt")
    scenes = list(Scene.objects.filter(project=project))
    assert len(scenes) == 1
    assert "!INT. was carved" in scenes[0].text and "!# not a section" in scenes[0].text


def test_the_breakdown_grows_chapter_by_chapter_on_the_job(writer, monkeypatch):
    """Each chapter's scenes reach the job (and its page) as they are made; the import
    still stores the whole book or nothing."""
    from scripts_app import imports

    seen = []
    monkeypatch.setattr(
        imports, "import_job_update", lambda job, **changes: seen.append(dict(changes))
    )
    job = {"id": "x", "scenes": [], "scene_count": 0}
    calls = []

    def progress(done, total, scenes=()):
        calls.append((done, total, [s["heading"] for s in scenes]))
        imports._book_progress(job, done, total, scenes)
        job.update(seen[-1])

    adaptation.adaptation_import(
        user=writer, data=STORY.encode(), filename="keeper.txt", progress=progress
    )
    assert [c[0] for c in calls] == [1, 2, 3] and all(c[1] == 3 for c in calls)
    assert calls[0][2] == []  # the title page makes no scene
    assert calls[1][2] and calls[2][2]  # chapter I's scenes, then chapter II's
    assert job["scene_count"] == len(calls[1][2]) + len(calls[2][2]) == len(job["scenes"])
    assert all(s["heading"] and "chapter" in s for s in job["scenes"])


@pytest.mark.django_db
def test_the_progress_page_lists_the_breakdown(client):
    from scripts_app import imports

    owner = make_user("watcher")
    client.force_login(owner)
    job = {
        "id": "abc123",
        "user_id": owner.pk,
        "project_id": None,
        "filename": "novel.txt",
        "kind": "book",
        "state": "adapting",
        "done": 2,
        "total": 10,
        "error": "",
        "scenes": [{"heading": "EXT. RIVER - MORNING", "synopsis": "Mara rows.", "chapter": 1}],
        "scene_count": 1,
    }
    imports._job_cache().set(imports._job_key("abc123"), job, 60)
    page = client.get(reverse("script_import_progress", args=["abc123"])).content.decode()
    assert "chapter 2 of 10, 1 scene so far" in page
    assert "EXT. RIVER - MORNING" in page and "Mara rows." in page
    client.force_login(make_user("other"))
    assert client.get(reverse("script_import_progress", args=["abc123"])).status_code == 404


def test_a_preface_and_footnotes_make_no_scene_and_no_names(writer, client):
    """A Project Gutenberg book with its apparatus: the preface and footnotes stay in the
    source and on the book page, marked as not part of the story; no scene, no name."""
    from tests.scripts_app.formats.test_prose import GUTENBERG_FRONT

    text = GUTENBERG_FRONT.replace(
        "This edition corrects", '"Quite so," said Saintsbury to Whitman. This edition corrects'
    )
    project = adaptation.adaptation_import(user=writer, data=text.encode(), filename="pg.txt")
    source = SourceText.objects.get(project=project)
    assert [c["matter"] for c in source.chapters] == [True, True, False, False, True]
    assert "Saintsbury" in source.text
    scenes = list(Scene.objects.filter(project=project).order_by("position"))
    assert "Mara climbed the stairs." in scenes[0].text
    assert not any("Saintsbury" in s.text or "A lamp of the old kind" in s.text for s in scenes)
    assert {link.chapter for link in SceneSource.objects.filter(source=source)} == {2, 3}
    names = set(source.cast)
    assert "MARA" in names and not names & {"SAINTSBURY", "WHITMAN", "GEORGE SAINTSBURY"}
    assert not Character.objects.filter(project=project, name__icontains="SAINTSBURY").exists()
    page = client_page(client, writer, reverse("book_detail", args=[project.pk, source.pk]))
    assert page.count("not part of the story") == 3
    # Confirming the names reads the same chapters again: still no preface names.
    adaptation.reread_scenes(source=source, user=writer)
    assert not Character.objects.filter(project=project, name__icontains="SAINTSBURY").exists()


def client_page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()
