"""The moved tables take this app's names; an accepted passage points at its revision.

``Revision.passage`` (the writers' room pointing at the model's work) becomes
``Passage.accepted_revision`` (the model's work pointing at the room): the latest
revision made from each passage is copied over, then scripts_app 0008 drops the old
column. Content types follow the models, so permissions and admin history stay.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED = ["feedbacktag", "passage", "passagecomment", "preference", "rating"]


def copy_accepted(apps, schema_editor):
    Revision = apps.get_model("scripts_app", "Revision")
    Passage = apps.get_model("generation", "Passage")
    latest = {}
    for pk, passage_id in (
        Revision.objects.filter(passage__isnull=False)
        .order_by("number", "pk")
        .values_list("pk", "passage_id")
        .iterator()
    ):
        latest[passage_id] = pk
    for passage_id, revision_id in latest.items():
        Passage.objects.filter(pk=passage_id).update(accepted_revision_id=revision_id)


def copy_accepted_back(apps, schema_editor):
    Revision = apps.get_model("scripts_app", "Revision")
    Passage = apps.get_model("generation", "Passage")
    for pk, revision_id in Passage.objects.filter(accepted_revision__isnull=False).values_list(
        "pk", "accepted_revision_id"
    ):
        Revision.objects.filter(pk=revision_id).update(passage_id=pk)


def move_content_types(apps, schema_editor, old="scripts_app", new="generation"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def move_content_types_back(apps, schema_editor):
    move_content_types(apps, schema_editor, old="generation", new="scripts_app")


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_drafts_move_here"),
        ("scripts_app", "0007_drafts_move_out"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="feedbacktag", table=None),
        migrations.AlterModelTable(name="passage", table=None),
        migrations.AlterModelTable(name="passagecomment", table=None),
        migrations.AlterModelTable(name="preference", table=None),
        migrations.AlterModelTable(name="rating", table=None),
        migrations.RenameIndex(
            model_name="passage",
            new_name="passage_scene_recent_idx",
            old_name="scripts_app_scene_i_c5bebd_idx",
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_revision",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="scripts_app.revision",
            ),
        ),
        migrations.RunPython(copy_accepted, copy_accepted_back),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
