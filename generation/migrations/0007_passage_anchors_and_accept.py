"""Drafts remember where they were asked (Yjs relative positions of the selection or the
cursor) and how they were accepted (once, with what went in, so it can be undone).

Passages accepted before this keep their revision and count as accepted (``accepted_at``
from that revision); they have no recorded span, so their cards offer no undo."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def mark_accepted(apps, schema_editor):
    Passage = apps.get_model("generation", "Passage")
    batch = []
    for passage in (
        Passage.objects.filter(accepted_revision__isnull=False)
        .select_related("accepted_revision")
        .iterator(chunk_size=500)
    ):
        passage.accepted_at = passage.accepted_revision.created_at
        passage.accepted_by_id = passage.accepted_revision.author_id
        batch.append(passage)
        if len(batch) >= 500:
            Passage.objects.bulk_update(batch, ["accepted_at", "accepted_by"])
            batch = []
    if batch:
        Passage.objects.bulk_update(batch, ["accepted_at", "accepted_by"])


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0006_prompt_text_prefix"),
        ("scripts_app", "0008_revision_passage_moved"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="passage",
            name="accept_line",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="accept_place",
            field=models.CharField(
                blank=True,
                choices=[
                    ("insert", "inserted"),
                    ("replace", "replaced the selection"),
                    ("append", "added at the end"),
                ],
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_removed",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_span_end",
            field=models.BinaryField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_span_start",
            field=models.BinaryField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="accepted_text",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="anchor_end",
            field=models.BinaryField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="anchor_start",
            field=models.BinaryField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="passage",
            name="undone_revision",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="scripts_app.revision",
            ),
        ),
        migrations.AlterField(
            model_name="passage",
            name="task",
            field=models.CharField(
                choices=[
                    ("new", "Write the scene"),
                    ("continue", "Continue"),
                    ("rewrite", "Rewrite the selection"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(mark_accepted, migrations.RunPython.noop),
    ]
