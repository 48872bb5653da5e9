"""Who is who in a book (``adaptation.confirm_names``, ``cast_merge``, the names page): an
editor corrects the names found, the untouched scenes' dialogue is read again with them,
characters said to be one person become one everywhere (cues renamed in the live text,
links moved), and a bad form changes nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from scripts_app import adaptation, cast_merge, services
from scripts_app.adaptation import NameChoice
from scripts_app.models import (
    Beat,
    Character,
    CharacterRelation,
    Membership,
    Role,
    Scene,
    SceneSource,
    SourceText,
)
from tests.conftest import make_user

STORY = """The Ferry

CHAPTER I

Eleanor Vance walked down to the river in the morning. Tom Hardy was already at the ferry.

"You are late," said Tom.

"The road was flooded," said Eleanor. "Is the boat ready?"

Nell laughed and climbed aboard.

"Then let us go," said Nell.

Miss Vance looked back at Ashford once.

"Goodbye," said Miss Vance.

CHAPTER II

That night, at the inn, Tom sat alone. Nell came in from the rain.

"She will come back," said Tom.

"I did," said Nell.
"""


@pytest.fixture
def writer(db):
    return make_user("writer")


@pytest.fixture
def book(writer):
    project = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="ferry.txt")
    return project, SourceText.objects.get(project=project)


def _names(project):
    return set(Character.objects.filter(project=project).values_list("name", flat=True))


def _texts(project):
    return [s.text for s in Scene.objects.filter(project=project).order_by("position")]


def test_the_import_guesses_three_people_for_one(book):
    project, source = book
    assert {"ELEANOR", "NELL", "MISS VANCE", "TOM"} <= _names(project)
    assert "NELL" in source.cast


def test_confirming_reads_untouched_scenes_again_and_merges(book, writer):
    project, source = book
    tom = Character.objects.get(project=project, name="TOM")
    nell = Character.objects.get(project=project, name="NELL")
    nell.want = "To leave Ashford"
    nell.save()
    CharacterRelation.objects.create(project=project, source=nell, target=tom, kind="friend of")
    beat = Beat.objects.create(project=project, act=1, position=0, title="Leaving")
    beat.characters.add(nell)
    result = adaptation.confirm_names(
        source=source,
        user=writer,
        choices=[
            NameChoice("ELEANOR", ["Nell", "Miss Vance", "Eleanor Vance"], "keep"),
            NameChoice("NELL", [], "merge", "ELEANOR"),
            NameChoice("MISS VANCE", [], "merge", "ELEANOR"),
        ],
    )
    assert result.reread >= 2 and result.untouched == 0
    texts = "\n".join(_texts(project))
    assert "\nNELL\n" not in texts and "\nMISS VANCE\n" not in texts
    assert texts.count("ELEANOR\n") >= 3
    assert "NELL" not in _names(project) and "MISS VANCE" not in _names(project)
    eleanor = Character.objects.get(project=project, name="ELEANOR")
    assert eleanor.want == "To leave Ashford"  # an empty field filled from the merged one
    assert CharacterRelation.objects.get(source=eleanor).target == tom
    assert list(beat.characters.all()) == [eleanor]
    for scene in Scene.objects.filter(project=project):
        if "ELEANOR\n" in scene.text:
            assert eleanor in scene.cast.all()
        assert scene.head.text == scene.text
    # The cue map still points each dialogue line at its words in the book.
    for link in SceneSource.objects.filter(source=source).select_related("scene"):
        lines = link.scene.text.splitlines()
        paragraphs = link.paragraphs()
        for cue in link.cues:
            said = paragraphs[cue["paragraph"]][cue["start"] : cue["end"]].strip().rstrip(",")
            assert said[:8] in lines[cue["line"] - 1]
    source.refresh_from_db()
    assert "NELL" not in source.cast
    assert {"Nell", "Miss Vance"} <= set(source.cast["ELEANOR"]["aliases"])
    assert source.cast["ELEANOR"]["confirmed"] is True


def test_an_edited_scene_keeps_its_text_but_its_cues_are_renamed(book, writer):
    project, source = book
    first = Scene.objects.filter(project=project).order_by("position").first()
    edited = first.text + "\nA gull cries.\n"
    services.scene_save_text(scene=first, user=writer, text=edited, base_revision_id=first.head_id)
    result = adaptation.confirm_names(
        source=source, user=writer, choices=[NameChoice("NELL", [], "merge", "ELEANOR")]
    )
    assert result.untouched == 1
    first.refresh_from_db()
    assert "A gull cries." in first.text  # the writer's edit is kept
    assert "\nNELL\n" not in first.text and "ELEANOR\nThen let us go" in first.text
    assert result.merged == [("NELL", "ELEANOR", 1)]
    assert first.head.label == "Merged NELL into ELEANOR"
    assert "ELEANOR" in {c.name for c in first.cast.all()}


def test_not_a_person_is_never_a_speaker_and_add_makes_a_character(book, writer):
    project, source = book
    adaptation.confirm_names(
        source=source,
        user=writer,
        choices=[NameChoice("TOM", [], "none"), NameChoice("ASHFORD", [], "add")],
    )
    assert "ASHFORD" in _names(project)
    assert all("\nTOM\n" not in t and not t.startswith("TOM\n") for t in _texts(project))
    source.refresh_from_db()
    assert source.cast["TOM"]["person"] is False


def test_a_bad_form_changes_nothing(book, writer):
    project, source = book
    before_texts, before_names = _texts(project), _names(project)
    before_cast = dict(source.cast)
    with pytest.raises(ValidationError, match="given to both"):
        adaptation.confirm_names(
            source=source,
            user=writer,
            choices=[
                NameChoice("ELEANOR", ["Nell"], "keep"),
                NameChoice("TOM", ["nell"], "keep"),
                NameChoice("NELL", [], "merge", "ELEANOR"),
            ],
        )
    with pytest.raises(ValidationError, match="itself merged"):
        adaptation.confirm_names(
            source=source,
            user=writer,
            choices=[
                NameChoice("NELL", [], "merge", "MISS VANCE"),
                NameChoice("MISS VANCE", [], "merge", "ELEANOR"),
            ],
        )
    with pytest.raises(ValidationError, match="at most"):
        adaptation.parse_aliases(", ".join(f"Name{i}" for i in range(40)))
    with pytest.raises(ValidationError, match="at most"):
        adaptation.parse_aliases("x" * 61)
    source.refresh_from_db()
    assert _texts(project) == before_texts and _names(project) == before_names
    assert source.cast == before_cast


def test_first_mention_is_cut_at_words():
    from scripts_app.views_adaptation import first_mention

    text = "It rained all week. " * 5 + "Then Miss Vance came to the ferry. " + "Dry. " * 30
    shown = first_mention(text, ["Vance", "Miss Vance"], width=30)
    assert "Miss Vance came to the ferry" in shown
    assert shown.startswith("…") and shown.endswith("…") and len(shown) < 90
    assert first_mention(text, ["Nobody"]) == "" and first_mention(text, []) == ""
    # Aliases are text, never patterns.
    assert first_mention("Tom (the elder) sat.", ["Tom (the elder"]) == "Tom (the elder) sat."
    assert first_mention("Tom sat.", ["T.m", "[a-z]+"]) == ""
    # Only within the story: not the byline "By Jane Austen" before it.
    book = "PRIDE\n\nBy Jane Austen\n\nCHAPTER I.\n\nJane smiled at Lizzy."
    story = (book.index("Jane smiled"), len(book))
    assert first_mention(book, ["Jane"], width=30, span=story) == "Jane smiled at Lizzy."


def test_the_names_page_quotes_the_story_not_the_title_page(client, db):
    owner = make_user("austen")
    text = "PRIDE\n\nBy Jane Austen\n\nCHAPTER I\n\n“Come,” said Jane to Lizzy.\n"
    project = adaptation.adaptation_import(user=owner, data=text.encode(), filename="p.txt")
    source = SourceText.objects.get(project=project)
    client.force_login(owner)
    page = client.get(reverse("book_names", args=[project.pk, source.pk])).content.decode()
    assert "said Jane to Lizzy" in page and "By Jane Austen" not in page


def test_cue_spans_keep_extensions_and_forcing():
    text = "NELL\nHi.\n\nNELL (V.O.)\nYes.\n\n@Nell\nNo.\n\nNELL went out.\n\nNELLIE\nSo.\n"
    spans = cast_merge.cue_name_spans(text, {"NELL"})
    assert [text[a:b] for a, b in spans] == ["NELL", "NELL", "Nell"]
    assert text[spans[1][1] : spans[1][1] + 7] == " (V.O.)"


def test_merge_renames_cues_in_a_scene_being_typed_in(book, writer):
    """A scene with live edits not yet folded into its text: the rename reads the live
    document, and the typing stays."""
    from pycrdt import Doc, Text

    from scripts_app import documents

    project, source = book
    scene = next(s for s in Scene.objects.filter(project=project) if "\nNELL\n" in s.text)
    loaded = documents.load(scene.pk)
    ytext = loaded.doc.get(documents.TEXT_NAME, type=Text)
    before = loaded.doc.get_state()
    with loaded.doc.transaction():
        ytext.insert(0, "Rain. ")
    documents.append_update(
        scene_id=scene.pk, data=loaded.doc.get_update(before), user_id=writer.pk
    )
    assert isinstance(loaded.doc, Doc)
    nell = Character.objects.get(project=project, name="NELL")
    eleanor = Character.objects.get(project=project, name="ELEANOR")
    done = cast_merge.character_merge(merged=nell, kept=eleanor, user=writer)
    assert done.cues >= 1
    scene.refresh_from_db()
    assert scene.text.startswith("Rain. ") and "\nNELL\n" not in scene.text


def test_merge_refusals(book, writer):
    project, _ = book
    tom = Character.objects.get(project=project, name="TOM")
    with pytest.raises(ValidationError, match="itself"):
        cast_merge.character_merge(merged=tom, kept=tom, user=writer)
    other = adaptation.adaptation_import(user=writer, data=STORY.encode(), filename="b.txt")
    theirs = Character.objects.get(project=other, name="TOM")
    with pytest.raises(ValidationError, match="same project"):
        cast_merge.character_merge(merged=tom, kept=theirs, user=writer)


def test_names_page_permissions_and_form(book, writer, client):
    project, source = book
    url = reverse("book_names", args=[project.pk, source.pk])
    outsider, viewer = make_user("outsider"), make_user("viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(viewer)
    page = client.get(url)
    assert page.status_code == 200 and b"Save the names" not in page.content
    assert "Nell laughed and climbed aboard" in page.content.decode()  # where it is first named
    assert client.post(url, {"name_0": "NELL"}).status_code == 403
    client.force_login(writer)
    assert "Save the names" in client.get(url).content.decode()
    rows = list(source.cast)
    i = rows.index("NELL")
    bad = client.post(url, {f"name_{i}": "NELL", f"action_{i}": "merge", f"into_{i}": "NOBODY"})
    assert bad.status_code == 400 and "not a character or a name" in bad.content.decode()
    assert "NELL" in _names(project)
    ok = client.post(
        url, {f"name_{i}": "NELL", f"action_{i}": "merge", f"into_{i}": "eleanor"}, follow=True
    )
    assert ok.status_code == 200 and "NELL merged into ELEANOR" in ok.content.decode()
    assert "NELL" not in _names(project)


def test_character_page_merge(book, writer, client):
    project, _ = book
    nell = Character.objects.get(project=project, name="NELL")
    eleanor = Character.objects.get(project=project, name="ELEANOR")
    url = reverse("character_merge", args=[project.pk, nell.pk])
    viewer = make_user("viewer2")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    client.force_login(viewer)
    assert client.post(url, {"into": eleanor.pk}).status_code == 403
    page = client.get(reverse("character_detail", args=[project.pk, nell.pk])).content.decode()
    assert "The same person as" not in page
    client.force_login(writer)
    page = client.get(reverse("character_detail", args=[project.pk, nell.pk])).content.decode()
    assert "The same person as" in page
    for bad in ({"into": "x"}, {}, {"into": "999999"}):
        response = client.post(url, bad, follow=True)
        assert "Pick the character" in response.content.decode()
    assert Character.objects.filter(pk=nell.pk).exists()
    response = client.post(url, {"into": eleanor.pk}, follow=True)
    assert "NELL merged into ELEANOR" in response.content.decode()
    assert not Character.objects.filter(pk=nell.pk).exists()
    assert all("\nNELL\n" not in t for t in _texts(project))


VILLAGE = """CHAPTER I

Nobody loved Netherby more than Ruth, and Netherby knew it.

Ruth and Netherby were old friends, said the miller.

* * *

That night Ruth waited at Netherby, by the fire in the kitchen.

"He is late," said Ruth.

* * *

That night Ruth sat at Netherby again, by the fire in the kitchen.

"Still late," said Ruth.
"""


def test_a_name_that_is_no_person_can_become_the_place_of_an_untouched_heading(writer):
    project = adaptation.adaptation_import(user=writer, data=VILLAGE.encode(), filename="v.txt")
    source = SourceText.objects.get(project=project)
    assert "NETHERBY" in source.cast  # read as a person: never a place
    scenes = list(Scene.objects.filter(project=project).order_by("position"))
    assert [s.heading for s in scenes[1:]] == ["INT. KITCHEN - NIGHT"] * 2
    assert all(link.heading for link in SceneSource.objects.filter(source=source))
    mine = scenes[2]
    services.scene_update(scene=mine, heading="INT. RUTH'S KITCHEN - NIGHT")
    adaptation.confirm_names(
        source=source, user=writer, choices=[NameChoice("NETHERBY", [], "none")]
    )
    scenes = list(Scene.objects.filter(project=project).order_by("position"))
    assert scenes[1].heading == "INT. NETHERBY - NIGHT"  # proposed again
    assert scenes[2].heading == "INT. RUTH'S KITCHEN - NIGHT"  # the team's own is kept


def test_names_can_be_confirmed_again_and_machine_edits_stay_untouched(book, writer):
    project, source = book
    first = adaptation.confirm_names(
        source=source, user=writer, choices=[NameChoice("NELL", [], "merge", "ELEANOR")]
    )
    assert first.untouched == 0
    again = adaptation.confirm_names(
        source=SourceText.objects.get(pk=source.pk),
        user=writer,
        choices=[NameChoice("ELEANOR", ["miss vance", "Nell"], "keep")],  # typed lower case
    )
    assert again.untouched == 0 and again.reread >= 1  # the machine's own edits don't count
    texts = "\n".join(_texts(project))
    assert "\nMISS VANCE\n" not in texts and "ELEANOR\nGoodbye." in texts


def test_a_merged_rows_aliases_survive_the_kept_rows_own(book, writer):
    project, source = book
    adaptation.confirm_names(
        source=source,
        user=writer,
        choices=[
            NameChoice("MISS VANCE", ["Vance"], "merge", "ELEANOR"),  # listed first
            NameChoice("ELEANOR", ["Eleanor Vance"], "keep"),
        ],
    )
    source.refresh_from_db()
    assert {"Vance", "Miss Vance", "Eleanor Vance"} <= set(source.cast["ELEANOR"]["aliases"])


def test_an_alias_that_is_another_listed_name_is_refused(book, writer):
    _, source = book
    with pytest.raises(ValidationError, match="is the name of NELL"):
        adaptation.confirm_names(
            source=source,
            user=writer,
            choices=[NameChoice("ELEANOR", ["Nell"], "keep"), NameChoice("NELL", [], "keep")],
        )
    with pytest.raises(ValidationError, match="listed twice"):
        adaptation.confirm_names(
            source=source,
            user=writer,
            choices=[NameChoice("NELL", [], "keep"), NameChoice("NELL", [], "none")],
        )


def test_a_merge_renames_every_cue_of_a_scene_in_one_live_update(book, writer):
    from scripts_app.models import SceneUpdate

    project, _ = book
    scene = Scene.objects.filter(project=project).order_by("position").first()
    many = scene.text + "".join(f"\nTOM\nLine {i}.\n" for i in range(30))
    services.scene_save_text(scene=scene, user=writer, text=many, base_revision_id=scene.head_id)
    before = SceneUpdate.objects.filter(scene=scene).count()
    tom = Character.objects.get(project=project, name="TOM")
    hardy = Character.objects.create(project=project, name="TOM HARDY")
    done = cast_merge.character_merge(merged=tom, kept=hardy, user=writer)
    assert done.cues >= 31
    assert SceneUpdate.objects.filter(scene=scene).count() == before + 1
    scene.refresh_from_db()
    assert "\nTOM\n" not in scene.text and scene.text.count("TOM HARDY\n") >= 31


def test_edits_at_refuses_overlaps_and_writes_nothing(book, writer):
    from scripts_app import documents
    from scripts_app.models import SceneUpdate

    project, _ = book
    scene = Scene.objects.filter(project=project).first()
    with pytest.raises(ValueError, match="overlap"):
        documents.edits_at(
            scene_id=scene.pk,
            plan=lambda r: [documents.Edit(0, 5, "x"), documents.Edit(3, 8, "y")],
            user_id=writer.pk,
        )
    assert not SceneUpdate.objects.filter(scene=scene).exists()
    assert documents.edits_at(scene_id=scene.pk, plan=lambda r: [], user_id=writer.pk) is None


def test_odd_digits_in_ids_are_a_message_not_an_error(book, writer, client):
    project, source = book
    nell = Character.objects.get(project=project, name="NELL")
    client.force_login(writer)
    url = reverse("character_merge", args=[project.pk, nell.pk])
    response = client.post(url, {"into": "²"}, follow=True)
    assert response.status_code == 200 and "Pick the character" in response.content.decode()
    page = client.get(reverse("book_detail", args=[project.pk, source.pk]) + "?chapter=²")
    assert page.status_code == 200
