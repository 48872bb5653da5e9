from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password change and reset (Django's views; templates in templates/registration/).
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("scripts_app.urls_accounts")),
    path("", include("generation.urls")),
    path("", include("scripts_app.urls_formats")),
    path("", include("scripts_app.urls_production")),
    path("", include("scripts_app.urls_story")),
    path("", include("scripts_app.urls_board")),
    path("", include("scripts_app.urls")),
]
