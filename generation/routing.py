"""Websocket routes of the model's side: the scene room (drafts) and the story drafts
room (story proposals), wrapped in asgi.py."""

from django.urls import path

from .consumers import SceneRoomConsumer, StoryDraftsConsumer

websocket_urlpatterns = [
    path(
        "ws/projects/<int:project_id>/scenes/<int:scene_id>/room",
        SceneRoomConsumer.as_asgi(),
    ),
    path("ws/projects/<int:project_id>/story/drafts", StoryDraftsConsumer.as_asgi()),
]
