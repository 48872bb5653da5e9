from django.urls import path

from .views import feedback as views

PASSAGE = "projects/<int:project_id>/scenes/<int:scene_id>/drafts/<int:passage_id>/"
# A story proposal's (no scene): the same views with ``scene_id`` None, names "story_…"
# (templates build either with ``{% passage_url %}``).
STORY_PASSAGE = "projects/<int:project_id>/story/drafts/<int:passage_id>/"
STORY = {"scene_id": None}

ACTIONS = [
    ("rate/", views.passage_rate, "passage_rate"),
    ("comment/", views.passage_comment, "passage_comment"),
    ("comments/<int:comment_id>/resolve/", views.comment_resolve, "comment_resolve"),
    ("best/", views.passage_pick, "passage_pick"),
    ("rank/", views.passage_rank, "passage_rank"),
    ("edit/", views.passage_edit_record, "passage_edit_record"),
]

urlpatterns = [
    *(path(PASSAGE + route, view, name=name) for route, view, name in ACTIONS),
    *(
        path(STORY_PASSAGE + route, view, STORY, name=f"story_{name}")
        for route, view, name in ACTIONS
    ),
    path("projects/<int:project_id>/feedback/tags/", views.feedback_tags, name="feedback_tags"),
    path(
        "projects/<int:project_id>/feedback/opt-out/",
        views.feedback_opt_out,
        name="feedback_opt_out",
    ),
]
