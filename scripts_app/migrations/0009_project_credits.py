"""Title page credits on the project (scripts_app/credits.py).

Projects made by an import before this migration keep their title page in the notes
(below the front-matter marker); their credits are filled from it here, as an import now
does, so their exports do not change. The Fountain title page is read with the formats
library (pure Python); the rest of the mapping is copied here so later changes to the app
do not change what this migration did.
"""

from django.db import migrations, models

MARKER = "--- Title page and opening text, exported before scene 1 (keep this line) ---"
# field: (keys read as it, multi-line, max length)
CREDITS = {
    "credit": (("credit",), False, 100),
    "authors": (("author", "authors"), True, 500),
    "based_on": (("source",), True, 500),
    "draft_date": (("draft date", "date"), False, 100),
    "contact": (("contact",), True, 1000),
    "copyright": (("copyright",), False, 200),
    "title_page_notes": (("notes", "note"), True, 1000),
}


def _clean(value, multiline, limit):
    lines = [" ".join(line.split()) for line in value.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    return ("\n" if multiline else " ").join(lines)[:limit].rstrip()


def fill_credits(apps, schema_editor):
    from scripts_app.formats import fountain

    Project = apps.get_model("scripts_app", "Project")
    for project in Project.objects.filter(notes__contains=MARKER).iterator(chunk_size=200):
        notes = project.notes.replace("\r\n", "\n").replace("\r", "\n")
        front = notes.partition(MARKER)[2].removeprefix("\n")
        title_page = fountain.parse(front).title_page if front.strip() else []
        if not title_page:
            continue
        found = {}
        for entry in title_page:
            key = entry.key.strip().lower()
            for field, (keys, _, _) in CREDITS.items():
                if key in keys and not found.get(field):
                    found[field] = entry.value.strip()
        for field, (_, multiline, limit) in CREDITS.items():
            setattr(project, field, _clean(found.get(field, ""), multiline, limit))
        project.save(update_fields=list(CREDITS))


class Migration(migrations.Migration):
    dependencies = [
        ("scripts_app", "0008_revision_passage_moved"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="authors",
            field=models.TextField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="project",
            name="based_on",
            field=models.TextField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="project",
            name="contact",
            field=models.TextField(blank=True, max_length=1000),
        ),
        migrations.AddField(
            model_name="project",
            name="copyright",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="project",
            name="credit",
            field=models.CharField(blank=True, default="Written by", max_length=100),
        ),
        migrations.AddField(
            model_name="project",
            name="draft_date",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="project",
            name="title_page_notes",
            field=models.TextField(blank=True, max_length=1000),
        ),
        migrations.RunPython(fill_credits, migrations.RunPython.noop),
    ]
