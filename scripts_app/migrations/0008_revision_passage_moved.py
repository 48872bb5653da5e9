"""An accepted draft is recorded on the passage now (generation 0005): drop the old link."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("scripts_app", "0007_drafts_move_out"),
        ("generation", "0005_drafts_tables"),
    ]

    operations = [
        migrations.RemoveField(model_name="revision", name="passage"),
    ]
