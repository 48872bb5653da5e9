"""Passages of every kind: a scene draft (as before) or a story proposal — a logline,
characters, an act's beats, a card's brief — which belongs to the project and has no
scene. Every passage now names its project (filled from its scene for the existing
ones), so limits, feedback and training data go by the project whatever the kind."""

import django.db.models.deletion
from django.db import migrations, models


def fill_project(apps, schema_editor):
    Passage = apps.get_model("generation", "Passage")
    Scene = apps.get_model("scripts_app", "Scene")
    for scene_id, project_id in Scene.objects.filter(
        pk__in=Passage.objects.values("scene_id")
    ).values_list("pk", "project_id"):
        Passage.objects.filter(scene_id=scene_id).update(project_id=project_id)


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0007_passage_anchors_and_accept"),
        ("scripts_app", "0014_beat_scene_lost"),
    ]

    operations = [
        migrations.AddField(
            model_name="passage",
            name="project",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="passages",
                to="scripts_app.project",
            ),
        ),
        migrations.RunPython(fill_project, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="passage",
            name="project",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="passages",
                to="scripts_app.project",
            ),
        ),
        migrations.AddField(
            model_name="passage",
            name="kind",
            field=models.CharField(
                choices=[
                    ("scene", "Scene text"),
                    ("logline", "Logline"),
                    ("characters", "Characters"),
                    ("beats", "Beats"),
                    ("brief", "Scene brief"),
                ],
                db_index=True,
                default="scene",
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="passage",
            name="scene",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="passages",
                to="scripts_app.scene",
            ),
        ),
        migrations.AddField(
            model_name="passage",
            name="beat",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="passages",
                to="scripts_app.beat",
            ),
        ),
        migrations.AddField(
            model_name="passage",
            name="act",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_items",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddConstraint(
            model_name="passage",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind", "scene"), ("scene__isnull", False))
                | models.Q(models.Q(("kind", "scene"), _negated=True), ("scene__isnull", True)),
                name="passage_scene_matches_kind",
            ),
        ),
        migrations.AddIndex(
            model_name="passage",
            index=models.Index(
                fields=["project", "kind", "-queued_at"], name="passage_project_kind_idx"
            ),
        ),
    ]
