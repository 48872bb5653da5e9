"""Which page asked for a change: the ``X-Cowrite-Origin`` header of an htmx request.

A story page names each of its own changing requests (``static/js/story.js``: the page's
random id, a dot, a counter). The middleware keeps that name for the request's duration
in a context variable, and ``events.StoryChanged`` takes it as its ``origin``, so the
signal that comes back to the page that made the change says so: that page skips
re-fetching the fragment its own answer has just replaced (the answer carries the
"Plotline … added." notice a re-fetch would drop), and every other page refreshes as
before. A name that is not of that shape is ignored, never an error: the header only
spares a request, it grants nothing. The name is kept with the asking user's id, and the
story room hands it back only to that user's sockets (``for_user``), so no teammate
learns another's page names or can make another's page skip a refresh.
"""

import re
from contextvars import ContextVar

HEADER = "HTTP_X_COWRITE_ORIGIN"
_SHAPE = re.compile(r"[A-Za-z0-9]{1,24}\.[0-9]{1,9}")

_origin: ContextVar[str | None] = ContextVar("cowrite_request_origin", default=None)


def current_origin() -> str | None:
    """ "<user id>/<page name>" for the request being served (None outside a request, in
    workers and tasks, or when the page gave none)."""
    return _origin.get()


def parse(value: str | None) -> str | None:
    return value if value and _SHAPE.fullmatch(value) else None


def for_user(origin: str | None, user_id: int) -> str:
    """The page name in ``origin`` if that user asked, else "" (what a socket is told)."""
    owner, _, name = (origin or "").partition("/")
    return name if owner == str(user_id) and parse(name) else ""


class RequestOriginMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = parse(request.META.get(HEADER))
        user = getattr(request, "user", None)
        if name and user is not None and user.is_authenticated:
            token = _origin.set(f"{user.pk}/{name}")
        else:
            token = _origin.set(None)
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)
