"""Websocket routes of the writers' room (wrapped with auth and origin checks in asgi.py)."""

from django.urls import path

from .consumers.doc import SceneDocConsumer
from .consumers.story import StoryRoomConsumer

websocket_urlpatterns = [
    path(
        "ws/projects/<int:project_id>/scenes/<int:scene_id>/doc",
        SceneDocConsumer.as_asgi(),
    ),
    path("ws/projects/<int:project_id>/story", StoryRoomConsumer.as_asgi()),
]
