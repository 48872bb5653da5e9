"""Websocket plumbing around the app's consumers: the origin check and unknown paths.

- ``SameOriginValidator`` is the websocket's CSRF protection, with Django's CSRF origin
  rules (``CsrfViewMiddleware``): the Origin must be the site itself (scheme, host *and*
  port of this request, the host in ``ALLOWED_HOSTS``) or one of
  ``CSRF_TRUSTED_ORIGINS`` (exact, or ``scheme://*.domain`` for subdomains). Channels'
  ``AllowedHostsOriginValidator`` compared the host only, so ``http://localhost:9999``
  passed for a site on ``http://localhost:8000``. A refused handshake gets a 403.
- ``UnknownSocketConsumer`` answers a path no route knows: it accepts and closes with
  4404 ("no such socket") rather than failing the handshake with a 500.
"""

from urllib.parse import urlsplit

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _allowed_hosts() -> list[str]:
    hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not hosts:
        return [".localhost", "127.0.0.1", "[::1]"]  # as Django's HttpRequest.get_host
    return hosts


def _is_secure(scope) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy:
        header, value = proxy
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode()
        sent = _header(scope, name)
        return sent is not None and sent.split(",")[0].strip() == value
    return False


def origin_allowed(scope) -> bool:
    """Say whether the handshake's Origin may open a socket here (Django's CSRF rules)."""
    origin = _header(scope, b"origin")
    if not origin:
        return False
    host = _header(scope, b"host")
    if host:
        domain, _port = split_domain_port(host)
        if domain and validate_host(domain, _allowed_hosts()):
            good = "{}://{}".format("https" if _is_secure(scope) else "http", host)
            if origin == good:
                return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in {o for o in trusted if "*" not in o}:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, urlsplit(o).netloc.removeprefix("*"))
        for o in trusted
        if "*" in o and urlsplit(o).scheme == parsed.scheme
    )


class SameOriginValidator:
    """ASGI middleware: refuse a websocket handshake whose Origin is not this site's."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


class UnknownSocketConsumer(AsyncWebsocketConsumer):
    """The last websocket route: no such socket (4404), not a failed handshake."""

    async def connect(self):
        await self.accept()
        await self.close(code=4404, reason="no such socket")
