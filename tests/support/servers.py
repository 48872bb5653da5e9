"""A real Daphne server in a subprocess, serving the app against the test database."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_for(user) -> str:
    """Log ``user`` in and return the session cookie value a browser would send."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _child_env(extra: dict | None) -> dict:
    """The environment of a server or worker process: the test database and model folder."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_current_connection(),
        "DJANGO_SETTINGS_MODULE": "cowrite.settings",
        "MODEL_DIR": str(settings.MODEL_DIR),
        # The test's sign-up policy (tests/conftest.py), not the DEBUG-dependent default.
        "COWRITE_SIGNUP": settings.COWRITE_SIGNUP,
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


def database_url_for_current_connection() -> str:
    """Return a DATABASE_URL that points at the database this process is using now."""
    cfg = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(cfg['NAME']).resolve()}"
    user = cfg.get("USER") or ""
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return (
        f"postgres://{auth}{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"
    )


class DaphneServer:
    """Start ``daphne cowrite.asgi:application`` on a free port; stop and restart it."""

    def __init__(
        self,
        env: dict | None = None,
        port: int | None = None,
        app: str = "cowrite.asgi:application",
        serve: bool = False,
    ):
        """``serve=True`` runs ``manage.py serve`` instead of bare Daphne: in the embedded
        mode that also runs the background jobs and the generation worker in-process."""
        self.port = port or free_port()
        self.app = app
        self.serve = serve
        self.env = _child_env(env)
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"cowrite-daphne-{self.port}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "DaphneServer":
        from generation.management.commands.serve import daphne_size_args

        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        if self.serve:
            args = [
                sys.executable,
                "manage.py",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ]
        else:
            args = [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                # The limits ``manage.py serve`` runs with (README: Limits).
                *daphne_size_args(),
                self.app,
            ]
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start in time")

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def http_post(
    base_url: str, session: str, path: str, data: dict, headers: dict | None = None
) -> int:
    """POST a form to a running server as the session's user (with a CSRF token)."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    host = urllib.parse.urlparse(base_url).hostname
    jar.set_cookie(
        http.cookiejar.Cookie(
            0,
            "sessionid",
            session,
            None,
            False,
            host,
            False,
            False,
            "/",
            True,
            False,
            None,
            False,
            None,
            None,
            {},
        )
    )
    opener.open(base_url + "/").read()  # sets the csrftoken cookie
    token = next(c.value for c in jar if c.name == "csrftoken")
    request = urllib.request.Request(
        base_url + path,
        data=urllib.parse.urlencode(data).encode(),
        headers={"X-CSRFToken": token, "Referer": base_url + "/", **(headers or {})},
    )
    with opener.open(request) as response:
        return response.status


class WorkerProcess:
    """``manage.py generation_worker`` in a subprocess (needs REDIS_URL), killable."""

    def __init__(self, env: dict | None = None, nice: int = 0):
        self.env = _child_env(env)
        self.nice = nice
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"cowrite-worker-{os.getpid()}.log"

    def start(self) -> "WorkerProcess":
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "generation_worker", "--name", "test-worker"],
            cwd=ROOT,
            preexec_fn=(lambda: os.nice(self.nice)) if self.nice else None,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        (self.process.kill if kill else self.process.terminate)()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.log.close()


@contextlib.contextmanager
def generation_stack(env: dict | None = None):
    """The app with generation: one embedded ``manage.py serve`` process, or, with
    REDIS_URL set, Daphne plus a separate ``generation_worker`` process. Yields
    ``(server, worker_or_None)``."""
    redis = bool(os.environ.get("REDIS_URL"))
    server = DaphneServer(serve=not redis, env=env).start()
    worker = WorkerProcess(env=env).start() if redis else None
    try:
        yield server, worker
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
