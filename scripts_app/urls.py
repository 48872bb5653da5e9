from django.urls import path

from . import views, views_formats, views_notes, views_script

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new/", views.project_create, name="project_create"),
    path(
        "imports/<str:job_id>/",
        views_formats.script_import_progress,
        name="script_import_progress",
    ),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/scenes/", views.project_scenes, name="project_scenes"),
    path("projects/<int:project_id>/script/", views_script.script_page, name="script_view"),
    path(
        "projects/<int:project_id>/script/outline/",
        views_script.script_outline,
        name="script_outline",
    ),
    path("projects/<int:project_id>/script/pages/", views_script.script_pages, name="script_pages"),
    path(
        "projects/<int:project_id>/script/scenes/<int:scene_id>/split/",
        views_script.scene_split,
        name="script_scene_split",
    ),
    path(
        "projects/<int:project_id>/script/scenes/<int:scene_id>/merge/",
        views_script.scene_merge,
        name="script_scene_merge",
    ),
    path(
        "projects/<int:project_id>/script/scenes/<int:scene_id>/heading/",
        views_script.scene_heading,
        name="script_scene_heading",
    ),
    path(
        "projects/<int:project_id>/script/scenes/<int:scene_id>/panel/",
        views_script.scene_panel,
        name="script_scene_panel",
    ),
    path("projects/<int:project_id>/settings/", views.project_settings, name="project_settings"),
    path("projects/<int:project_id>/delete/", views.project_delete, name="project_delete"),
    path("projects/<int:project_id>/leave/", views.project_leave, name="project_leave"),
    path("projects/<int:project_id>/members/add/", views.member_add, name="member_add"),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "projects/<int:project_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path(
        "projects/<int:project_id>/characters/new/", views.character_create, name="character_create"
    ),
    path(
        "projects/<int:project_id>/characters/<int:character_id>/",
        views.character_detail,
        name="character_detail",
    ),
    path(
        "projects/<int:project_id>/characters/<int:character_id>/delete/",
        views.character_delete,
        name="character_delete",
    ),
    path(
        "projects/<int:project_id>/characters/<int:character_id>/merge/",
        views.character_merge,
        name="character_merge",
    ),
    path("projects/<int:project_id>/scenes/new/", views.scene_create, name="scene_create"),
    path("projects/<int:project_id>/scenes/reorder/", views.scene_reorder, name="scene_reorder"),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/", views.scene_detail, name="scene_detail"
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/details/",
        views.scene_update,
        name="scene_update",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/save/", views.scene_save, name="scene_save"
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/version/",
        views.scene_version,
        name="scene_version",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/delete/",
        views.scene_delete,
        name="scene_delete",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/move/", views.scene_move, name="scene_move"
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/preview/",
        views.scene_preview,
        name="scene_preview",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/revisions/",
        views.revision_list,
        name="revision_list",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/revisions/diff/",
        views.revision_diff,
        name="revision_diff",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/revisions/<int:number>/",
        views.revision_detail,
        name="revision_detail",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/revisions/<int:number>/restore/",
        views.revision_restore,
        name="revision_restore",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/",
        views_notes.scene_notes,
        name="scene_notes",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/new/",
        views_notes.note_create,
        name="note_create",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/<int:note_id>/reply/",
        views_notes.note_reply,
        name="note_reply",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/<int:note_id>/resolve/",
        views_notes.note_resolve,
        name="note_resolve",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/<int:note_id>/reopen/",
        views_notes.note_reopen,
        name="note_reopen",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/<int:note_id>/edit/",
        views_notes.note_edit,
        name="note_edit",
    ),
    path(
        "projects/<int:project_id>/scenes/<int:scene_id>/notes/<int:note_id>/delete/",
        views_notes.note_delete,
        name="note_delete",
    ),
]
