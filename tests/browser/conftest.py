"""Playwright driving Debian's chromium (Playwright's own browser download is not used),
against a real Daphne server (HTTP and websockets) on the test database."""

import os
import shutil
from pathlib import Path

import pytest

from tests.support.servers import DaphneServer, generation_stack

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
BUNDLE = Path(__file__).resolve().parents[2] / "static" / "dist" / "editor.js"


@pytest.fixture
def fast_password_hasher():
    """Keep the real hasher here: the server process checks these passwords too."""


# Package scope: Playwright's sync API keeps an event loop running in this thread while
# it is open, and tests elsewhere call asyncio.run().
@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # A loaded CI machine: Playwright's 5 s default for `expect` is short next to a
    # worker's first model load or a Daphne process under both test passes.
    expect.set_options(timeout=15_000)

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Browser tests need Debian's chromium at {CHROMIUM}: run `make test` "
            "(it installs it) or `apt-get install chromium`."
        )
    if not BUNDLE.exists():
        pytest.fail(
            "The editor bundle is not built: run `make test` (or `npm ci && npm run build`)."
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def _new_page():
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.js_errors = errors
        # Anything the Content-Security-Policy blocked (inline script or handler, eval,
        # a foreign origin) is reported on the console; every browser test checks it.
        blocked = []
        page.on(
            "console",
            lambda msg: blocked.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.csp_violations = blocked
        pages.append(page)
        return page

    pages = []
    yield _new_page
    violations = [v for page in pages for v in page.csp_violations]
    for context in contexts:
        context.close()
    assert not violations, f"blocked by the Content-Security-Policy: {violations}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def app_server(transactional_db):
    """The app under Daphne (websockets included), on the test database."""
    with DaphneServer() as server:
        yield server


@pytest.fixture
def app_stack(transactional_db, settings, tmp_path):
    """The app with generation and a tiny model: one embedded process, or Daphne plus a
    generation worker process when REDIS_URL is set."""
    from tests.support.models import register_tiny_version

    settings.MODEL_DIR = tmp_path / "models"
    register_tiny_version(settings.MODEL_DIR)
    with generation_stack() as (server, _):
        yield server


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")
