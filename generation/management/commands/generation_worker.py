"""Run a generation worker: drafts from the shared queue, on this machine's device.

    python manage.py generation_worker                 # CUDA if present, else CPU
    COWRITE_GENERATION_DEVICE=cuda:1 python manage.py generation_worker --name gpu1

Start one per GPU, on any machine that reaches the database and Redis (REDIS_URL): they
share one queue, and each draft runs once. SIGTERM/SIGINT stop it; drafts it was
writing end as failed (the app says so on the page).
"""

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.worker import GenerationWorker


class Command(BaseCommand):
    help = "Run a generation worker (one per GPU)."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="a name for this worker (default host:pid)")

    def handle(self, *args, name=None, **options):
        if not settings.REDIS_URL:
            raise CommandError(
                "Without REDIS_URL the web process runs generation itself (manage.py serve); "
                "a separate worker needs the Redis channel layer to reach it."
            )
        asyncio.run(self._run(name))

    async def _run(self, name):
        worker = GenerationWorker(name=name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        self.stdout.write(f"Generation worker {worker.name} starting.")
        await worker.run()
