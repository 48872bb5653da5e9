"""Websocket routes of the scripts app (wrapped with auth and origin checks in asgi.py)."""

from django.urls import path

from .consumers import SceneDocConsumer, SceneRoomConsumer

websocket_urlpatterns = [
    # y-websocket connects to <server url>/<room>; the page uses room "doc".
    path(
        "ws/projects/<int:project_id>/scenes/<int:scene_id>/doc",
        SceneDocConsumer.as_asgi(),
    ),
    # The scene's room: draft requests, streams and their events (htmx ws extension).
    path(
        "ws/projects/<int:project_id>/scenes/<int:scene_id>/room",
        SceneRoomConsumer.as_asgi(),
    ),
]
