from django.urls import path

from . import api, views

urlpatterns = [
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
    path("account/tokens/", views.api_tokens, name="api_tokens"),
    # The OpenAI-compatible API (token auth, no session, no CSRF).
    path("v1/models", api.models_list, name="api_models"),
    path("v1/completions", api.completions, name="api_completions"),
]
