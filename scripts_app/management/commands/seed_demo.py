"""Create a demo user and a demo project when the database is empty (embedded mode only).

One line on the console (README: Console); ``manage.py serve`` prints how to log in once
the server listens, so the log-in does not scroll away (here too with COWRITE_VERBOSE=1).
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from scripts_app import services, story
from scripts_app.models import Beat

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

# The story layer of the demo: the bible, the characters' story fields, two plotlines and
# an outline of beats over three acts (the first three linked to the demo's scenes).
DEMO_BIBLE = {
    "tone": "Quiet dread that turns to wonder; grounded, tactile, never glossy.",
    "themes": "What we owe the people we are stranded with. Fear of the unknown versus "
    "the need to be found.",
    "setting": "Kestrel: a mining relay in a decaying orbit, crew of six, forty days from "
    "the last supply run. Below, a storm planet nobody has landed on.",
    "treatment": "Mara keeps a failing station alive while its commander counts the days. "
    "When hydroponics starts growing something nobody planted, she must decide whether "
    "the station is dying, or being lived in.",
}
DEMO_CHARACTERS = [
    # name, description, role, want, need, flaw, arc start, arc end, voice
    (
        "MARA",
        None,
        "protagonist",
        "Keep the reactor running until the relief ship comes.",
        "To trust someone else with the station.",
        "Controls everything; tells no one how scared she is.",
        "Alone with the machines.",
        "Shares the watch, and the secret.",
        "Short, technical sentences; jokes only under pressure.",
    ),
    (
        "JONAH",
        None,
        "deuteragonist",
        "Bring the crew home alive, on paper and in fact.",
        "To admit the company has abandoned them.",
        "Loyal to orders past the point of sense.",
        "The company man.",
        "The crew's man.",
        "Measured, formal; goes quiet when angry.",
    ),
    (
        "ELI",
        "Station medic; the youngest aboard.",
        "ally",
        "Prove the growth is alive.",
        "To be taken seriously.",
        "Reckless curiosity.",
        "The kid.",
        "The one who speaks for the visitor.",
        "Fast, eager, full of questions.",
    ),
    (
        "VOSS",
        "The company's voice on the long-range channel.",
        "antagonist",
        "Recover the station's ore before anyone talks.",
        "",
        "Sees people as line items.",
        "A friendly voice.",
        "Revealed: he ordered the supply runs stopped.",
        "Warm, reassuring, always slightly delayed.",
    ),
]
DEMO_RELATIONS = [
    ("MARA", "second-in-command to", "JONAH", "Fifteen years on the same rotations."),
    ("ELI", "apprentice of", "MARA", ""),
    ("VOSS", "employer of", "JONAH", "Jonah still believes him."),
]
DEMO_PLOTLINES = [
    ("The station", "A", "#2f6fdd", "Keeping Kestrel alive, and learning who cut it loose."),
    ("The visitor", "B", "#2a9d5c", "The growth in hydroponics, and what it wants."),
]
DEMO_BEATS = {
    1: [
        ("Forty days", "The station turns over the storm; Mara counts the days.", "AB"),
        ("The reactor", "Mara and Jonah argue over what to jettison.", "A"),
        ("Something growing", "Hydroponics holds a plant nobody planted.", "B"),
        ("Voss calls", "The company promises a ship, again.", "A"),
        ("Eli's samples", "Eli finds the growth warm to the touch.", "B"),
        ("Lights out", "A brownout; the growth glows in the dark.", "AB"),
        ("Mara decides", "She hides the growth from the company.", "AB"),
    ],
    2: [
        ("A better orbit", "The growth's roots steady the reactor's output.", "AB"),
        ("Jonah's report", "Jonah writes to Voss; Mara reads it first.", "A"),
        ("Night shift", "Mara and Eli watch the growth answer light.", "B"),
        ("The missing run", "The supply ship was never sent.", "A"),
        ("Quarantine", "Jonah seals hydroponics on Voss's order.", "AB"),
        ("Eli inside", "Eli breaks the seal to save the samples.", "B"),
        ("Midpoint", "The growth speaks through the station's lights.", "AB"),
        ("Voss's offer", "Bring the ore and the sample; leave the crew.", "A"),
        ("Jonah turns", "He deletes his report.", "A"),
    ],
    3: [
        ("The plan", "Fly the station down into the storm.", "AB"),
        ("Voss arrives", "A company tug docks without asking.", "A"),
        ("The standoff", "Mara bargains with the reactor as a hostage.", "A"),
        ("The visitor helps", "The growth takes the reactor load.", "B"),
        ("Separation", "The tug leaves with Voss, empty-handed.", "A"),
        ("Landing", "Kestrel comes down in the eye of the storm.", "AB"),
        ("Found", "The crew steps out into a world that was waiting.", "AB"),
    ],
}


def seed_story(project, user, cast: dict) -> None:
    """Fill the demo project's story layer (once: a project with beats is left alone)."""
    if Beat.objects.filter(project=project).exists():
        return
    bible = story.bible_for(project)
    for name, value in DEMO_BIBLE.items():
        setattr(bible, name, value)
    bible.versions = {name: 1 for name in DEMO_BIBLE}
    bible.save()
    fields = ("role", "want", "need", "flaw", "arc_start", "arc_end", "voice")
    for name, description, *values in DEMO_CHARACTERS:
        character = cast.get(name) or services.character_create(
            project=project, name=name, description=description or ""
        )
        for field, value in zip(fields, values, strict=True):
            setattr(character, field, value)
        character.save()
        cast[name] = character
    for source, kind, target, note in DEMO_RELATIONS:
        story.relation_create(
            project=project, source=cast[source], target=cast[target], kind=kind, note=note
        )
    lines = {
        label: story.plotline_create(project=project, name=n, label=label, colour=c, description=d)
        for n, label, c, d in DEMO_PLOTLINES
    }
    scenes = list(project.scenes.order_by("position"))
    linked = 0
    for act, beats in DEMO_BEATS.items():
        for position, (title, summary, on) in enumerate(beats):
            scene = scenes[linked] if act == 1 and linked < len(scenes) else None
            beat = Beat.objects.create(
                project=project,
                act=act,
                position=position,
                title=title,
                summary=summary,
                scene=scene,
                created_by=user,
            )
            linked += scene is not None
            beat.plotlines.set([lines[label] for label in on])
            beat.characters.set([c for n, c in cast.items() if n in summary.upper()])


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
        seed_story(project, user, cast)
        done = f"Demo data… done: project “{project.title}”, user {DEMO_USERNAME}."
        if settings.COWRITE_VERBOSE:
            done += f" Log in as '{DEMO_USERNAME}' with password '{DEMO_PASSWORD}'."
        self.stdout.write(self.style.SUCCESS(done))
