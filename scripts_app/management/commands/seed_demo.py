"""Create a demo user and a demo project when the database is empty (embedded mode only).

One line on the console (README: Console); ``manage.py serve`` prints how to log in once
the server listens, so the log-in does not scroll away (here too with COWRITE_VERBOSE=1).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from scripts_app import services

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "cowrite-demo"

DEMO_SCENES = [
    (
        "EXT. ORBITAL STATION KESTREL - NIGHT",
        "The station hangs over a storm-lit planet.",
        ["MARA"],
        "The station turns slowly against a planet wrapped in lightning.\n\n"
        "MARA (V.O.)\nForty days since the last supply run. Nobody says it out loud.\n",
    ),
    (
        "INT. KESTREL - COMMAND DECK - NIGHT",
        "Mara and Jonah argue over the failing reactor.",
        ["MARA", "JONAH"],
        "Alarms pulse amber. MARA (40s, tired, precise) studies a cracked display.\n\n"
        "JONAH\n(without looking up)\nIt's holding.\n\n"
        "MARA\nIt's holding the way a cliff holds.\n\n"
        "Jonah finally turns.\n\n"
        "JONAH\nThen tell me what you want to jettison.\n",
    ),
    (
        "INT. KESTREL - HYDROPONICS - LATER",
        "Mara finds something growing that shouldn't be.",
        ["MARA"],
        "",
    ),
]


class Command(BaseCommand):
    help = "Create a demo user and project if the database has no users (embedded mode only)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Seed even with DATABASE_URL set.")

    @transaction.atomic
    def handle(self, *args, force=False, **options):
        User = get_user_model()
        if settings.DATABASE_URL and not force:
            self.stdout.write("Demo data… skipped: DATABASE_URL is set.")
            return
        if User.objects.exists():
            self.stdout.write("Demo data… skipped: accounts exist.")
            return
        user = User.objects.create_user(DEMO_USERNAME, "demo@example.com", DEMO_PASSWORD)
        project = services.project_create(
            user=user,
            title="Kestrel",
            logline="On a failing orbital station, an engineer discovers the crew has company.",
            genre="Science fiction",
        )
        cast = {
            name: services.character_create(project=project, name=name, description=desc)
            for name, desc in [
                ("MARA", "Station engineer, forties; precise, exhausted, stubborn."),
                ("JONAH", "Station commander; calm until he isn't."),
            ]
        }
        for heading, synopsis, names, text in DEMO_SCENES:
            services.scene_create(
                project=project,
                user=user,
                heading=heading,
                synopsis=synopsis,
                text=text,
                cast_ids=[cast[n].pk for n in names],
            )
        done = f"Demo data… done: project “{project.title}”, user {DEMO_USERNAME}."
        if settings.COWRITE_VERBOSE:
            done += f" Log in as '{DEMO_USERNAME}' with password '{DEMO_PASSWORD}'."
        self.stdout.write(self.style.SUCCESS(done))
