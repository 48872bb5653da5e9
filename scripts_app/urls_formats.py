from django.urls import path

from . import views_adaptation, views_coverage
from . import views_formats as views

urlpatterns = [
    path("projects/import/", views.script_import_new, name="script_import_new"),
    path("projects/<int:project_id>/import/", views.script_import_into, name="script_import_into"),
    path("projects/<int:project_id>/export/", views.script_export, name="script_export"),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/export/",
        views.scene_export,
        name="scene_export",
    ),
    path("projects/<int:project_id>/reports/", views.script_reports, name="script_reports"),
    path(
        "projects/<int:project_id>/coverage/",
        views_coverage.script_coverage,
        name="script_coverage",
    ),
    path(
        "projects/<int:project_id>/coverage.pdf",
        views_coverage.script_coverage_pdf,
        name="script_coverage_pdf",
    ),
    path(
        "projects/<int:project_id>/books/<int:source_id>/",
        views_adaptation.book_detail,
        name="book_detail",
    ),
    path(
        "projects/<int:project_id>/books/<int:source_id>/names/",
        views_adaptation.book_names,
        name="book_names",
    ),
    path("projects/<int:project_id>/length/", views.script_length, name="script_length"),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/length/",
        views.scene_length,
        name="scene_length",
    ),
]
