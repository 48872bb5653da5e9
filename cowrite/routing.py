"""Websocket URL routes of all apps (wrapped with auth and origin checks in asgi.py)."""

from scripts_app.routing import websocket_urlpatterns as scripts_ws

websocket_urlpatterns = [*scripts_ws]
