"""Serve Cowrite with Daphne; in the embedded default also run background jobs in-process."""

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.services import bootstrap_start, bootstrap_status


def daphne_size_args() -> list[str]:
    """Daphne's options for the documented websocket limit (README: Limits)."""
    size = str(settings.COWRITE_DOC_MESSAGE_MAX_BYTES)
    return ["--websocket-max-message-size", size, "--websocket-max-frame-size", size]


class Command(BaseCommand):
    help = "Serve the app (HTTP and websockets) with Daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        from daphne.cli import CommandLineInterface

        if not settings.REDIS_URL:
            from cowrite.embedded import start_background_jobs, start_generation_worker

            start_background_jobs()
            start_generation_worker()
            self.stdout.write("Embedded mode: background jobs and generation run in this process.")
        status = bootstrap_status()
        if status == "needed":
            version = bootstrap_start()
            self.stdout.write(
                f"No model yet: training {version.name} in the background "
                f"(about {settings.COWRITE_BOOTSTRAP_SECONDS // 60} minutes); see /models/."
            )
        elif status == "no-corpus":
            self.stdout.write("No bootstrap corpus: run `make run` to fetch it.")
        self.stdout.write(f"Cowrite is at http://{host}:{port}/")
        CommandLineInterface().run(
            [
                "-b",
                host,
                "-p",
                str(port),
                # Daphne caps websocket messages *and frames* at 1 MiB each; a Yjs sync
                # of a long scene can be larger (browsers send a message as one frame).
                *daphne_size_args(),
                "cowrite.asgi:application",
            ]
        )
