"""Production settings, the Content-Security-Policy, the anonymous body cap, the import cap."""

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cowrite.security import AnonymousBodyCapASGI
from scripts_app.models import Project, Scene

ROOT = Path(__file__).resolve().parents[1]

# The production environment documented in docs/SECURITY.md (a TLS-terminating proxy in
# front, which sets X-Forwarded-Proto and strips it from clients).
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3Vq8-test-only-" + "x7Rz" * 12,
    "ALLOWED_HOSTS": "cowrite.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://cowrite.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto=https",
    "SECURE_SSL_REDIRECT": "1",
    "SESSION_COOKIE_SECURE": "1",
    "CSRF_COOKIE_SECURE": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "COWRITE_SIGNUP": "invite",
    "EMAIL_HOST": "smtp.example.com",
    "DEFAULT_FROM_EMAIL": "Cowrite <cowrite@example.com>",
}


def _deploy_check(env: dict) -> subprocess.CompletedProcess:
    # The test run's own variables (DJANGO_ALLOW_ASYNC_UNSAFE for Playwright) are not
    # part of a deployment.
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "cowrite.settings", **env},
        capture_output=True,
        text=True,
    )


def test_deploy_check_is_clean_with_the_production_environment():
    result = _deploy_check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr
    # And the check is live: without the HTTPS settings it complains.
    bare = {k: PRODUCTION_ENV[k] for k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")}
    result = _deploy_check(bare)
    assert result.returncode != 0
    for code in ("W004", "W008", "W012", "W016"):
        assert code in result.stderr + result.stdout


def test_pages_carry_a_content_security_policy(client, team):
    client.force_login(team.users["owner"])
    response = client.get(reverse("project_detail", args=[team.project.pk]))
    policy = dict(
        part.strip().split(" ", 1)
        for part in response["Content-Security-Policy"].split(";")
        if part.strip()
    )
    assert "'self'" in policy["script-src"]
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"


def test_templates_have_no_inline_scripts_or_event_handlers():
    """The policy forbids them: a template with one would break in the browser."""
    offenders = []
    for folder in (ROOT / "templates", ROOT / "generation" / "templates"):
        for path in folder.rglob("*.html"):
            text = path.read_text()
            for m in re.finditer(r"<script\b[^>]*>", text):
                if "src=" not in m.group(0) and "nonce=" not in m.group(0):
                    offenders.append(f"{path.name}: {m.group(0)}")
            for m in re.finditer(r"\son[a-z]+\s*=", text):
                offenders.append(f"{path.name}: {m.group(0).strip()}")
            if "javascript:" in text:
                offenders.append(f"{path.name}: javascript: URL")
    assert not offenders, offenders


# --- request bodies ------------------------------------------------------------------------


def test_anonymous_body_over_the_cap_is_refused(client, team, settings):
    big = "A" * (settings.COWRITE_ANON_BODY_MAX_BYTES + 1)
    response = client.post(reverse("login"), {"username": "viewer", "password": big})
    assert response.status_code == 413
    assert "before you log in" in response.content.decode()
    # A small anonymous post is served.
    assert client.post(reverse("login"), {"username": "x", "password": "y"}).status_code == 200
    # A logged-in member keeps the normal caps (DATA_UPLOAD_MAX_MEMORY_SIZE).
    client.force_login(team.users["editor"])
    scene = team.scenes[0]
    response = client.post(
        reverse("scene_save", args=[team.project.pk, scene.pk]),
        {
            "text": "Big.\n" + "a" * settings.COWRITE_ANON_BODY_MAX_BYTES,
            "base_revision": scene.head_id,
        },
    )
    assert response.status_code == 302


def test_anonymous_body_cap_on_the_async_path(rf, settings):
    """Under ASGI the middleware runs async (no thread hop) and refuses the same way."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    from cowrite.security import AnonymousBodyCapMiddleware

    async def view(request):
        return HttpResponse("ok")

    async def anonymous():
        return AnonymousUser()

    middleware = AnonymousBodyCapMiddleware(view)
    big = "A" * (settings.COWRITE_ANON_BODY_MAX_BYTES + 1)
    request = rf.post("/accounts/login/", {"password": big})
    request.auser = anonymous
    assert asyncio.run(middleware(request)).status_code == 413
    request = rf.post("/accounts/login/", {"password": "short"})
    request.auser = anonymous
    assert asyncio.run(middleware(request)).status_code == 200


def test_api_token_requests_keep_the_normal_caps(rf, settings):
    """An API client authenticates with its token in the view (which keeps the normal
    caps), not with a session: the visitor cap does not apply to it."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpResponse

    from cowrite.security import AnonymousBodyCapMiddleware

    middleware = AnonymousBodyCapMiddleware(lambda request: HttpResponse("ok"))
    big = '{"prompt": "' + "A" * (settings.COWRITE_ANON_BODY_MAX_BYTES + 1) + '"}'
    request = rf.post(
        "/v1/completions", big, content_type="application/json", HTTP_AUTHORIZATION="Bearer x"
    )
    request.user = AnonymousUser()
    assert middleware(request).status_code == 200
    request = rf.post("/v1/completions", big, content_type="application/json")
    request.user = AnonymousUser()
    assert middleware(request).status_code == 413


def _asgi_call(headers: list[tuple[bytes, bytes]]):
    sent, reached = [], []

    async def app(scope, receive, send):
        reached.append(scope)

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/accounts/login/", "headers": headers}
    asyncio.run(AnonymousBodyCapASGI(app)(scope, receive, send))
    return sent, reached


def test_asgi_refuses_a_large_anonymous_body_without_reading_it(settings):
    too_big = str(settings.COWRITE_ANON_BODY_MAX_BYTES + 1).encode()
    sent, reached = _asgi_call([(b"content-length", too_big)])
    assert sent[0]["status"] == 413 and not reached
    sent, reached = _asgi_call([(b"transfer-encoding", b"chunked")])
    assert sent[0]["status"] == 413 and not reached
    # With a session cookie the request goes on (the middleware decides, knowing the user).
    sent, reached = _asgi_call(
        [(b"content-length", too_big), (b"cookie", f"{settings.SESSION_COOKIE_NAME}=abc".encode())]
    )
    assert reached and not sent
    sent, reached = _asgi_call([(b"content-length", b"100")])
    assert reached and not sent


def test_client_address_behind_trusted_proxies(rf, settings):
    """The throttle counts per address: behind n proxies, the n-th hop from the right of
    X-Forwarded-For (what the client writes on the left is not trusted)."""
    from cowrite.security import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
    settings.COWRITE_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"
    settings.COWRITE_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"
    # No address, or a hop that is not one: None (the throttle's IP column takes no junk;
    # PostgreSQL refused "unknown" for force_login's request).
    request = rf.get("/", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="1.1.1.1, not-an-ip")
    assert client_ip(request) is None
    settings.COWRITE_PROXY_COUNT = 0
    assert client_ip(request) is None


# --- imports -------------------------------------------------------------------------------


def test_import_over_the_scene_cap_is_refused_and_imports_nothing(client, team, settings):
    assert settings.COWRITE_IMPORT_MAX_SCENES == 10000  # the default
    settings.COWRITE_IMPORT_MAX_SCENES = 3
    source = "".join(f"INT. ROOM {i} - DAY\n\nSomething happens.\n\n" for i in range(4))
    client.force_login(team.users["editor"])
    projects, scenes = Project.objects.count(), Scene.objects.count()
    upload = SimpleUploadedFile("long.fountain", source.encode())
    response = client.post(reverse("script_import_new"), {"file": upload})
    assert response.status_code == 400
    assert "This file has 4 scenes; an import takes at most 3." in response.content.decode()
    upload = SimpleUploadedFile("long.fountain", source.encode())
    response = client.post(reverse("script_import_into", args=[team.project.pk]), {"file": upload})
    assert response.status_code == 400
    assert (Project.objects.count(), Scene.objects.count()) == (projects, scenes)
    # At the cap it goes through.
    settings.COWRITE_IMPORT_MAX_SCENES = 4
    upload = SimpleUploadedFile("long.fountain", source.encode())
    assert client.post(reverse("script_import_new"), {"file": upload}).status_code == 302


@pytest.fixture(autouse=True)
def _db(db):
    """Every test here may touch the database."""
