from django.urls import path

from .views import feedback as views

PASSAGE = "projects/<int:project_id>/scenes/<int:scene_id>/drafts/<int:passage_id>/"

urlpatterns = [
    path(PASSAGE + "rate/", views.passage_rate, name="passage_rate"),
    path(PASSAGE + "comment/", views.passage_comment, name="passage_comment"),
    path(
        PASSAGE + "comments/<int:comment_id>/resolve/",
        views.comment_resolve,
        name="comment_resolve",
    ),
    path(PASSAGE + "best/", views.passage_pick, name="passage_pick"),
    path(PASSAGE + "rank/", views.passage_rank, name="passage_rank"),
    path(PASSAGE + "edit/", views.passage_edit_record, name="passage_edit_record"),
    path("projects/<int:project_id>/feedback/tags/", views.feedback_tags, name="feedback_tags"),
    path(
        "projects/<int:project_id>/feedback/opt-out/",
        views.feedback_opt_out,
        name="feedback_opt_out",
    ),
]
