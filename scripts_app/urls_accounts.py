from django.urls import path

from . import views_accounts as views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("invite/<str:token>/", views.invitation, name="invitation"),
    path(
        "invitations/<int:invitation_id>/respond/",
        views.invitation_respond,
        name="invitation_respond",
    ),
    path(
        "projects/<int:project_id>/invitations/",
        views.invitation_list,
        name="invitation_list",
    ),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
]
