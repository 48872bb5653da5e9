from django.urls import include, path

from . import api
from .views import chapter, drafts, reading, story
from .views import comparisons as comparison_views
from .views import endpoints as endpoint_views
from .views import models as views

urlpatterns = [
    # Drafts on a scene page (the panel itself comes through scripts_app.panels).
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/drafts/",
        drafts.drafts_list,
        name="drafts_list",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/drafts/<int:passage_id>/",
        drafts.passage_card,
        name="passage_card",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/drafts/<int:passage_id>/accept/",
        drafts.passage_accept,
        name="passage_accept",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/drafts/<int:passage_id>/undo/",
        drafts.passage_undo,
        name="passage_undo",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/drafts/compare/<uuid:group>/",
        drafts.drafts_compare,
        name="drafts_compare",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/drafts/<int:passage_id>/retry/",
        drafts.passage_retry,
        name="passage_retry",
    ),
    # A chapter's drafts on the book page (the panel comes through scripts_app.panels).
    path(
        "projects/<int:project_id>/books/<int:source_id>/chapters/<int:chapter>/drafts/",
        chapter.chapter_drafts,
        name="chapter_drafts",
    ),
    path(
        "projects/<int:project_id>/books/<int:source_id>/chapters/<int:chapter>/drafts/"
        "<int:batch_id>/stop/",
        chapter.chapter_drafts_cancel,
        name="chapter_drafts_cancel",
    ),
    # The model's story proposals (the story page and the board; panel: scripts_app.panels).
    path(
        "projects/<int:project_id>/story/drafts/", story.story_drafts_list, name="story_drafts_list"
    ),
    path(
        "projects/<int:project_id>/story/drafts/<int:passage_id>/",
        drafts.passage_card,
        {"scene_id": None},
        name="story_passage_card",
    ),
    path(
        "projects/<int:project_id>/story/drafts/<int:passage_id>/accept/",
        story.story_passage_accept,
        name="story_passage_accept",
    ),
    path(
        "projects/<int:project_id>/story/drafts/<int:passage_id>/retry/",
        story.story_passage_retry,
        name="story_passage_retry",
    ),
    path(
        "projects/<int:project_id>/story/drafts/compare/<uuid:group>/",
        drafts.drafts_compare,
        {"scene_id": None},
        name="story_drafts_compare",
    ),
    # Ratings, comments, picks and tags on drafts.
    path("", include("generation.urls_feedback")),
    # The model: versions, retraining, tokens.
    path("models/", views.model_list, name="model_list"),
    path("models/retrain/", views.model_retrain, name="model_retrain"),
    path("models/<int:pk>/promote/", views.model_promote, name="model_promote"),
    path("models/<int:pk>/rollback/", views.model_rollback, name="model_rollback"),
    path("models/suggest/<int:project_id>/", views.retrain_suggest, name="retrain_suggest"),
    path(
        "models/suggestions/<int:pk>/start/",
        views.suggestion_start,
        name="retrain_suggestion_start",
    ),
    path(
        "models/suggestions/<int:pk>/dismiss/",
        views.suggestion_dismiss,
        name="retrain_suggestion_dismiss",
    ),
    path("models/export/<str:kind>.jsonl", views.feedback_export, name="feedback_export"),
    # Models beside the house model (records): staff add, check, switch off; owners pick.
    path("models/endpoints/add/", endpoint_views.endpoint_add, name="endpoint_add"),
    path("models/endpoints/<int:pk>/check/", endpoint_views.endpoint_check, name="endpoint_check"),
    path(
        "models/endpoints/<int:pk>/enable/",
        endpoint_views.endpoint_enable,
        name="endpoint_enable",
    ),
    path("models/endpoints/<int:pk>/stop/", endpoint_views.endpoint_stop, name="endpoint_stop"),
    path(
        "models/endpoints/<int:pk>/adapter.zip",
        endpoint_views.endpoint_adapter,
        name="endpoint_adapter",
    ),
    path(
        "models/endpoints/<int:pk>/retrain/",
        endpoint_views.endpoint_retrain,
        name="endpoint_retrain",
    ),
    # Blind comparisons: staff start and close; members who opt in judge.
    path("models/comparisons/", comparison_views.comparisons_panel, name="comparisons_panel"),
    path("models/comparisons/start/", comparison_views.comparison_start, name="comparison_start"),
    path(
        "models/comparisons/<int:pk>/close/",
        comparison_views.comparison_close,
        name="comparison_close",
    ),
    path("models/judge/", comparison_views.judge, name="judge"),
    # The model's reading of a script, on the coverage page.
    path(
        "projects/<int:project_id>/coverage/reading/", reading.reading_panel, name="reading_panel"
    ),
    path("projects/<int:project_id>/model/", endpoint_views.project_model, name="project_model"),
    path("account/tokens/", views.api_tokens, name="api_tokens"),
    # The OpenAI-compatible API (token auth, no session, no CSRF).
    path("v1/models", api.models_list, name="api_models"),
    path("v1/completions", api.completions, name="api_completions"),
]
