"""Serve Cowrite with Daphne; in the embedded default also run background jobs in-process."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the app (HTTP and websockets) with Daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        from daphne.cli import CommandLineInterface

        if not settings.REDIS_URL:
            from cowrite.embedded import start_background_jobs

            start_background_jobs()
            self.stdout.write("Embedded mode: background jobs run in this process.")
        self.stdout.write(f"Cowrite is at http://{host}:{port}/")
        CommandLineInterface().run(
            [
                "-b",
                host,
                "-p",
                str(port),
                # Daphne caps websocket messages at 1 MiB; a Yjs sync of a long scene can
                # be larger.
                "--websocket-max-message-size",
                str(settings.COWRITE_DOC_MESSAGE_MAX_BYTES),
                "cowrite.asgi:application",
            ]
        )
