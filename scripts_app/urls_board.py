"""Routes of the beat board (``views_board.py``)."""

from django.urls import path

from . import views_board

urlpatterns = [
    path("projects/<int:project_id>/board/", views_board.board_page, name="board"),
    path("projects/<int:project_id>/board/beats/", views_board.beat_create, name="beat_create"),
    path(
        "projects/<int:project_id>/board/beats/<int:beat_id>/",
        views_board.beat_detail,
        name="beat_detail",
    ),
    path(
        "projects/<int:project_id>/board/beats/<int:beat_id>/delete/",
        views_board.beat_delete,
        name="beat_delete",
    ),
    path(
        "projects/<int:project_id>/board/beats/<int:beat_id>/move/",
        views_board.beat_move,
        name="beat_move",
    ),
    path(
        "projects/<int:project_id>/board/beats/<int:beat_id>/scene/",
        views_board.beat_make_scene,
        name="beat_make_scene",
    ),
    path("projects/<int:project_id>/board/guides/", views_board.page_guides, name="board_guides"),
    path(
        "projects/<int:project_id>/board/outline/",
        views_board.outline_export,
        name="outline_export",
    ),
]
