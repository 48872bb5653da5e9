"""A stored prompt takes the one prompt shape (``core.prompting.Prompt.as_dict()``): the
text the model continued from is ``text_prefix`` (it was ``text`` on passages only)."""

from django.db import migrations


def rename_key(apps, schema_editor, old="text", new="text_prefix"):
    Passage = apps.get_model("generation", "Passage")
    batch = []
    for passage in Passage.objects.only("pk", "prompt").iterator(chunk_size=500):
        prompt = passage.prompt
        if isinstance(prompt, dict) and old in prompt and new not in prompt:
            prompt[new] = prompt.pop(old)
            batch.append(passage)
        if len(batch) >= 500:
            Passage.objects.bulk_update(batch, ["prompt"])
            batch = []
    if batch:
        Passage.objects.bulk_update(batch, ["prompt"])


def rename_key_back(apps, schema_editor):
    rename_key(apps, schema_editor, old="text_prefix", new="text")


class Migration(migrations.Migration):
    dependencies = [("generation", "0005_drafts_tables")]

    operations = [migrations.RunPython(rename_key, rename_key_back)]
