"""ASGI entry point: HTTP through Django, websockets through Channels.

Django is set up before any consumer is imported (consumers import models).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cowrite.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from cowrite.routing import websocket_urlpatterns  # noqa: E402
from cowrite.security import AnonymousBodyCapASGI  # noqa: E402
from cowrite.websockets import SameOriginValidator  # noqa: E402

# Import the URLconf (and every view module behind it) now rather than on the first
# request: that import would otherwise run on the event loop (the first ``{% url %}`` in a
# card rendered for a websocket) and stall every open socket for as long as it takes.
get_resolver().url_patterns  # noqa: B018

application = ProtocolTypeRouter(
    {
        # A visitor's oversized body is refused before Django reads it (cowrite/security.py).
        "http": AnonymousBodyCapASGI(django_asgi_app),
        # The origin check is the websocket's CSRF protection: scheme, host and port, as
        # Django's CSRF origin check (cowrite/websockets.py).
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
