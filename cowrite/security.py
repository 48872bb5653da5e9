"""Request-level protections: the anonymous body cap, the client address behind a proxy,
and the log-in lockout page (django-axes)."""

import ipaddress
from datetime import timedelta

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone


class AnonymousBodyCapMiddleware:
    """Refuse a request body over ``COWRITE_ANON_BODY_MAX_BYTES`` from a visitor who is not
    logged in, with 413, before anything reads it (the log-in and sign-up forms are small;
    a stranger's 4 MB POST should not be parsed at all). Logged-in users keep the normal
    caps (``DATA_UPLOAD_MAX_MEMORY_SIZE``, ``COWRITE_UPLOAD_MAX_BYTES``).

    Decided from the ``Content-Length`` header; a body without one (chunked) from a visitor
    is refused too, since its size is unknown. Runs after the session and authentication
    middleware (it needs ``request.user``), which do not read the body.
    """

    sync_capable = True
    async_capable = True  # no thread hop for the async views (API streams, live saves)

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    @staticmethod
    def _refusal(request) -> HttpResponse | None:
        refusal = _too_large_for_visitor(
            request.method,
            request.META.get("CONTENT_LENGTH") or "",
            "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower(),
        )
        if refusal is None:
            return None
        return HttpResponse(refusal, status=413, content_type="text/plain; charset=utf-8")

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        if _may_be_visitor(request) and not request.user.is_authenticated:
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    async def __acall__(self, request):
        if _may_be_visitor(request) and not (await request.auser()).is_authenticated:
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return await self.get_response(request)


def _may_be_visitor(request) -> bool:
    """A body-carrying request without an API token (``Authorization``: the API checks its
    token and keeps the normal caps)."""
    return request.method not in ("GET", "HEAD", "OPTIONS") and not request.META.get(
        "HTTP_AUTHORIZATION"
    )


def _too_large_for_visitor(method: str, length: str, chunked: bool) -> str | None:
    """The refusal text if a visitor's body is over the cap (or of unknown size), else None."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return None
    cap = settings.COWRITE_ANON_BODY_MAX_BYTES
    try:
        size = int(length) if length else (None if chunked else 0)
    except ValueError:
        size = None
    if size is None or size > cap:
        return f"Request too large: at most {cap:,} bytes before you log in."
    return None


class AnonymousBodyCapASGI:
    """The same cap in front of Django's ASGI handler, which otherwise reads (spools) the
    whole body before any middleware runs: a request that carries no session cookie at
    all is refused from its headers, and its body is never received. Requests with a
    session cookie go on to ``AnonymousBodyCapMiddleware``, which knows whether the
    session is logged in. (Daphne still buffers what the client sends; a proxy's body cap,
    e.g. nginx ``client_max_body_size``, stops it earlier.)"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("method", "GET") not in ("GET", "HEAD"):
            headers = {}
            for name, value in scope.get("headers", []):
                headers.setdefault(name.decode("latin1").lower(), value.decode("latin1"))
            cookie = headers.get("cookie", "")
            has_session = f"{settings.SESSION_COOKIE_NAME}=" in cookie
            if not has_session and not headers.get("authorization"):
                refusal = _too_large_for_visitor(
                    scope.get("method", "POST"),
                    headers.get("content-length", ""),
                    "chunked" in headers.get("transfer-encoding", "").lower(),
                )
                if refusal:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 413,
                            "headers": [
                                (b"content-type", b"text/plain; charset=utf-8"),
                                (b"connection", b"close"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": refusal.encode()})
                    return
        await self.app(scope, receive, send)


def client_ip(request) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or with ``COWRITE_PROXY_COUNT`` = n trusted
    proxies in front, the n-th address from the right of ``X-Forwarded-For`` (entries left
    of it are written by the client and cannot be trusted)."""
    count = settings.COWRITE_PROXY_COUNT
    if count > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= count:
            return _valid_ip(hops[-count])
    return _valid_ip(request.META.get("REMOTE_ADDR", ""))


def _valid_ip(value: str) -> str | None:
    """The address if it is one, else None (axes stores it in an IP column: PostgreSQL
    refuses anything else, e.g. for ``force_login``'s request, which has no address)."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def lockout_response(request, original_response=None, credentials=None):
    """The page shown while log-ins are paused (django-axes): says when to try again."""
    cooloff = settings.AXES_COOLOFF_TIME
    if not isinstance(cooloff, timedelta):
        cooloff = timedelta(hours=float(cooloff or 1))
    minutes = max(1, round(cooloff.total_seconds() / 60))
    retry_in = f"{minutes} minute{'s' if minutes != 1 else ''}"
    username = ""
    if credentials:
        username = credentials.get(settings.AXES_USERNAME_FORM_FIELD, "") or ""
    return render(
        request,
        "registration/lockout.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "username": username,
            "retry_in": retry_in,
            "retry_at": timezone.now() + cooloff,
        },
        status=429,
    )
