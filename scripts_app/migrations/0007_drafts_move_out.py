"""Drafts, passages and their feedback now belong to ``generation`` (state only).

``Revision.passage`` points at the moved model until 0008 drops it (generation 0005
copies it onto ``Passage.accepted_revision`` first). No row is touched.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scripts_app", "0006_rename_passage_settings"),
        ("generation", "0004_drafts_move_here"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="revision",
                    name="passage",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="revisions",
                        to="generation.passage",
                    ),
                ),
                migrations.DeleteModel(name="Rating"),
                migrations.DeleteModel(name="Preference"),
                migrations.DeleteModel(name="PassageComment"),
                migrations.DeleteModel(name="Passage"),
                migrations.DeleteModel(name="FeedbackTag"),
            ],
        ),
    ]
