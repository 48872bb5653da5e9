"""Serve Cowrite with Daphne; in the embedded default also run background jobs in-process.

The console (README: Console) is quiet unless ``COWRITE_VERBOSE`` is set: Daphne's access
log keeps only failed requests (4xx/5xx) and refused websockets, the first model's training
reports a line every ``TRAINING_REPORT_SECONDS``, and the address (with the demo log-in,
while it still works) is printed last, once the server listens.
"""

import math
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.models import ModelVersion, VersionStatus
from generation.services import STALE_TRAINING_SECONDS, bootstrap_start, bootstrap_status

TRAINING_REPORT_SECONDS = 45.0  # a progress line for the first model this often
TRAINING_POLL_SECONDS = 5.0


def daphne_size_args() -> list[str]:
    """Daphne's options for the documented websocket limit (README: Limits)."""
    size = str(settings.COWRITE_DOC_MESSAGE_MAX_BYTES)
    return ["--websocket-max-message-size", size, "--websocket-max-frame-size", size]


# --- what the console says ------------------------------------------------------------------


def minutes_left(seconds) -> str:
    """ "about 7 min left", "less than a minute left", or "" when unknown."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 60:
        return "less than a minute left"
    return f"about {max(1, round(seconds / 60))} min left"


def training_line(progress: dict, now: float | None = None) -> str:
    """ "Training the first model: 42% · about 7 min left" from a version's ``progress``."""
    progress = progress or {}
    now = time.time() if now is None else now
    fraction = progress.get("progress") or 0.0
    percent = max(0, min(99, math.floor(100 * float(fraction))))
    eta = progress.get("eta_s")
    if isinstance(eta, (int, float)) and isinstance(progress.get("updated_at"), (int, float)):
        eta = eta - max(0.0, now - progress["updated_at"])  # as of now, not the last report
    if float(fraction) >= 1:  # its time is up: the last validation, then it is ready
        left = "checking how well it writes, then ready"
    else:
        left = minutes_left(eta) or ("starting" if not progress.get("step") else "")
    return f"Training the first model: {percent}%" + (f" · {left}" if left else "")


def demo_login() -> str:
    """ " — log in as demo, password cowrite-demo" while the demo account has that password."""
    from django.contrib.auth import get_user_model

    from scripts_app.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME

    user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
    if user is None or not user.check_password(DEMO_PASSWORD):
        return ""
    return f" — log in as {DEMO_USERNAME}, password {DEMO_PASSWORD}"


class TrainingWatch:
    """Follows the first model's training run (a child process that writes its progress to
    its row) and says on the console how far it is, then that it is ready or what failed."""

    def __init__(self, version_id: int, every: float = TRAINING_REPORT_SECONDS):
        self.version_id, self.every = version_id, every
        self.last_line = time.monotonic()  # the "training in the background" line was first

    def poll(self, now: float | None = None, clock: float | None = None) -> tuple[str, bool]:
        """Return ``(line or "", finished)``; ``now`` is wall time, ``clock`` monotonic."""
        now = time.time() if now is None else now
        clock = time.monotonic() if clock is None else clock
        v = (
            ModelVersion.objects.filter(pk=self.version_id)
            .values("name", "status", "progress", "status_reason")
            .first()
        )
        if v is None:
            return "", True
        log = settings.DATA_DIR / f"training-{v['name']}.log"
        if v["status"] in (VersionStatus.ACTIVE, VersionStatus.CANDIDATE):
            return f"The first model ({v['name']}) is ready: drafts work now.", True
        if v["status"] == VersionStatus.FAILED:
            reason = v["status_reason"] or "no reason recorded"
            return f"Training the first model failed: {reason} (log: {log}).", True
        if v["status"] != VersionStatus.TRAINING:
            return "", True
        progress = v["progress"] or {}
        if now - (progress.get("updated_at") or 0) > STALE_TRAINING_SECONDS:
            return (
                f"Training the first model stopped reporting progress (log: {log}); "
                "start the server again to resume it.",
                True,
            )
        if clock - self.last_line < self.every or "progress" not in progress:
            return "", False  # (a validation's report has no "progress": wait for the next)
        self.last_line = clock
        return training_line(progress, now), False

    def follow(self, write, stop: threading.Event, interval: float = TRAINING_POLL_SECONDS):
        """Poll until the run ends or ``stop`` is set (on a daemon thread)."""
        from django.db import close_old_connections

        try:
            while not stop.wait(interval):
                try:
                    line, finished = self.poll()
                except Exception as exc:  # the database is busy or gone: say so, keep going
                    line, finished = f"Could not read the training progress: {exc}", False
                finally:
                    close_old_connections()
                if line:
                    write(line)
                if finished:
                    return
        finally:
            close_old_connections()


class ErrorsOnlyAccessLog:
    """Daphne's access log, less the successful requests: HTTP responses of 400 and more
    and refused websockets are written (NCSA lines, as Daphne writes them), the rest not."""

    def __init__(self, full):
        self.full = full  # daphne.access.AccessLogGenerator

    def __call__(self, protocol, action, details):
        if protocol == "http" and action == "complete":
            if int(details.get("status") or 0) >= 400:
                self.full(protocol, action, details)
        elif protocol == "websocket" and action == "rejected":
            self.full(protocol, action, details)


class Command(BaseCommand):
    help = "Serve the app (HTTP and websockets) with Daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def say(self, line: str, style=None) -> None:
        self.stdout.write(style(line) if style else line)
        self.stdout.flush()

    def handle(self, *args, host, port, **options):
        from daphne.cli import CommandLineInterface

        verbose = settings.COWRITE_VERBOSE or options["verbosity"] > 1
        if not settings.REDIS_URL:
            from cowrite.embedded import start_background_jobs, start_generation_worker

            start_background_jobs()
            start_generation_worker()
            if verbose:
                self.say("Embedded mode: background jobs and generation run in this process.")
        status = bootstrap_status()
        watch = None
        if status == "needed":
            version = bootstrap_start()
            minutes = max(1, round(settings.COWRITE_BOOTSTRAP_SECONDS / 60))
            self.say(
                f"No model yet: training the first one ({version.name}) in the background, "
                f"about {minutes} minute{'s' if minutes != 1 else ''}; drafts work once it is "
                "ready (progress here and on the Model page)."
            )
            watch = TrainingWatch(version.pk)
        elif status == "training":
            version = ModelVersion.objects.filter(status=VersionStatus.TRAINING).first()
            if version is not None:
                self.say(f"The first model ({version.name}) is still training in the background.")
                watch = TrainingWatch(version.pk, every=0)  # say how far it is at once
        elif status == "no-corpus":
            self.stderr.write("No bootstrap corpus: run `make run` to fetch it.")
        address = f"http://{host}:{port}/"
        login = demo_login()
        stop = threading.Event()

        def ready(server):
            from twisted.internet import reactor

            def listening():
                if not server.listening_addresses:
                    return
                self.say(f"Cowrite is at {address}{login}. Ctrl+C stops it.", self.style.SUCCESS)
                if watch is not None:
                    threading.Thread(
                        target=watch.follow,
                        args=(self.say, stop),
                        name="cowrite-training-report",
                        daemon=True,
                    ).start()

            reactor.callWhenRunning(listening)

        cli = CommandLineInterface()
        cli.server_class = _server_class(quiet=not verbose, ready=ready)
        busy = CommandError(
            f"Could not listen on {host}:{port}: is something else running there? "
            "Choose another port, e.g. `make run PORT=8001`."
        )
        try:
            cli.run(
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
        except SystemExit:
            if cli.server is not None and cli.server.abort_start:  # Daphne said why, above
                raise busy from None
            raise
        finally:
            stop.set()
        if cli.server is not None and not cli.server.listening_addresses:
            raise busy


def _server_class(*, quiet: bool, ready):
    """Daphne's server, with the access log filtered when quiet and ``ready(server)`` called
    once it has bound its port (before the reactor runs)."""
    from daphne.server import Server

    class CowriteServer(Server):
        def __init__(self, *args, action_logger=None, **kwargs):
            if quiet and action_logger is not None:
                action_logger = ErrorsOnlyAccessLog(action_logger)
            kwargs["ready_callable"] = lambda: ready(self)
            super().__init__(*args, action_logger=action_logger, **kwargs)

    return CowriteServer
