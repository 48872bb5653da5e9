from django.urls import path

from . import api, views

urlpatterns = [
    path("models/", views.model_list, name="model_list"),
    path("account/tokens/", views.api_tokens, name="api_tokens"),
    # The OpenAI-compatible API (token auth, no session, no CSRF).
    path("v1/models", api.models_list, name="api_models"),
    path("v1/completions", api.completions, name="api_completions"),
]
