from django.urls import path

from . import views_production as views

urlpatterns = [
    path("projects/<int:project_id>/production/", views.production_page, name="production_page"),
    path(
        "projects/<int:project_id>/production/lock/",
        views.production_lock,
        name="production_lock",
    ),
    path(
        "projects/<int:project_id>/production/issue/",
        views.production_issue,
        name="production_issue",
    ),
    path(
        "projects/<int:project_id>/production/unlock/",
        views.production_unlock,
        name="production_unlock",
    ),
    path("projects/<int:project_id>/production/pdf/", views.production_pdf, name="production_pdf"),
]
