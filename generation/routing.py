"""Websocket routes of the model's side: the scene room (drafts), wrapped in asgi.py."""

from django.urls import path

from .consumers import SceneRoomConsumer

websocket_urlpatterns = [
    path(
        "ws/projects/<int:project_id>/scenes/<int:scene_id>/room",
        SceneRoomConsumer.as_asgi(),
    ),
]
