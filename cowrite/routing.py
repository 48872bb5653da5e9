"""Websocket URL routes of all apps (wrapped with auth and origin checks in asgi.py)."""

from django.urls import re_path

from cowrite.websockets import UnknownSocketConsumer
from generation.routing import websocket_urlpatterns as generation_ws
from scripts_app.routing import websocket_urlpatterns as scripts_ws

websocket_urlpatterns = [
    *scripts_ws,
    *generation_ws,
    # Last: any other path is closed with 4404 (Channels' router would fail the handshake
    # with a 500).
    re_path(r"", UnknownSocketConsumer.as_asgi()),
]
