"""The drafts move (scripts_app 0007/0008, generation 0004/0005) keeps every row.

Passages, ratings with tags, comments and preferences written under the old layout
(models in scripts_app, ``Revision.passage``) are all there afterwards under
``generation``, and each accepted passage points at the revision it became.
"""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("scripts_app", "0006_rename_passage_settings"), ("generation", "0003_retraining_access")]
AFTER = [("scripts_app", "0008_revision_passage_moved"), ("generation", "0006_prompt_text_prefix")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def back_to_latest():
    """Whatever the test does, later tests find the schema at the latest migrations."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_drafts_move_keeps_every_row_and_the_accepted_link(back_to_latest):
    old = _migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        Project = old.get_model("scripts_app", "Project")
        Scene = old.get_model("scripts_app", "Scene")
        Revision = old.get_model("scripts_app", "Revision")
        Passage = old.get_model("scripts_app", "Passage")
        Tag = old.get_model("scripts_app", "FeedbackTag")
        Rating = old.get_model("scripts_app", "Rating")
        Comment = old.get_model("scripts_app", "PassageComment")
        Preference = old.get_model("scripts_app", "Preference")
        user = User.objects.create(username="mara")
        project = Project.objects.create(title="Drift", created_by=user)
        scene = Scene.objects.create(project=project, heading="INT. DECK - NIGHT", position=1)
        group = uuid.uuid4()
        kept, lost = (
            Passage.objects.create(
                scene=scene,
                group=group,
                alternative=i,
                alternatives=2,
                task="continue",
                status="done",
                text=f"Draft {i}.",
                sampling={"preset": "balanced"},
                prompt={"heading": "INT. DECK - NIGHT", "cast": ["MARA"], "text": "MARA\nGo.\n"},
            )
            for i in range(2)
        )
        first = Revision.objects.create(
            scene=scene, number=1, text="x", origin="passage", passage=kept
        )
        latest = Revision.objects.create(
            scene=scene, number=2, text="y", origin="passage", passage=kept
        )
        Revision.objects.create(scene=scene, number=3, text="z", origin="save")
        tag = Tag.objects.create(project=project, name="great dialogue")
        rating = Rating.objects.create(passage=kept, user=user, score=5)
        rating.tags.add(tag)
        Comment.objects.create(passage=kept, user=user, body="Yes.", anchor_start=0, anchor_end=5)
        Preference.objects.create(chosen=kept, rejected=lost, user=user, source="pick")
        ids = {"kept": kept.pk, "lost": lost.pk, "latest": latest.pk, "first": first.pk}
    finally:
        new = _migrate(AFTER)

    Passage = new.get_model("generation", "Passage")
    kept = Passage.objects.get(pk=ids["kept"])
    assert kept.text == "Draft 0." and kept.sampling == {"preset": "balanced"}
    # The stored prompt took the one prompt shape (its text is ``text_prefix``).
    assert kept.prompt == {
        "heading": "INT. DECK - NIGHT",
        "cast": ["MARA"],
        "text_prefix": "MARA\nGo.\n",
    }
    assert kept.accepted_revision_id == ids["latest"]  # the latest revision made from it
    assert Passage.objects.get(pk=ids["lost"]).accepted_revision_id is None
    rating = new.get_model("generation", "Rating").objects.get()
    assert rating.score == 5 and [t.name for t in rating.tags.all()] == ["great dialogue"]
    assert new.get_model("generation", "PassageComment").objects.get().body == "Yes."
    pref = new.get_model("generation", "Preference").objects.get()
    assert (pref.chosen_id, pref.rejected_id) == (ids["kept"], ids["lost"])
    tables = set(connection.introspection.table_names())
    assert {"generation_passage", "generation_rating_tags"} <= tables
    assert not {
        t for t in tables if t.startswith("scripts_app_passage") or t == "scripts_app_rating"
    }
    revision_columns = {
        c.name
        for c in connection.introspection.get_table_description(
            connection.cursor(), "scripts_app_revision"
        )
    }
    assert "passage_id" not in revision_columns
