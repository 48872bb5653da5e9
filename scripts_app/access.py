"""Every permission decision of the app, in one place.

Views, consumers and partials fetch user-owned objects only through these functions.
A user outside a project gets ``Http404`` (they learn nothing of it); a member whose role
is too low gets ``PermissionDenied`` (403).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Character, Membership, Project, Revision, Role, Scene


def membership_for(user, project_id: int) -> Membership | None:
    """Return the user's membership of the project, or None."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.select_related("project")
        .filter(project_id=project_id, user=user)
        .first()
    )


def scene_role(user_id: int, project_id: int, scene_id: int) -> Role | None:
    """Return the user's role in the project if the scene belongs to it (one query; the
    live sockets re-check with it, by ids, without loading the objects)."""
    role = (
        Membership.objects.filter(
            project_id=project_id, user_id=user_id, project__scenes__id=scene_id
        )
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def _check(membership: Membership | None, need: Role | str) -> Membership:
    if membership is None:
        raise Http404("No such project.")
    if not membership.role_enum.at_least(need):
        raise PermissionDenied(f"This needs the {Role(need).label.lower()} role or higher.")
    return membership


def access_project(user, project_id: int, need: Role | str = Role.VIEWER) -> Membership:
    """Return the user's membership (with ``.project``) if their role is at least ``need``."""
    return _check(membership_for(user, project_id), need)


def access_scene(
    user, project_id: int, scene_id: int, need: Role | str = Role.VIEWER
) -> tuple[Membership, Scene]:
    """Return (membership, scene) if the scene belongs to a project the user may ``need``."""
    membership = access_project(user, project_id, need)
    try:
        scene = Scene.objects.defer("doc_state").get(pk=scene_id, project_id=project_id)
    except (Scene.DoesNotExist, ValueError, TypeError):
        raise Http404("No such scene.") from None
    return membership, scene


def access_character(
    user, project_id: int, character_id: int, need: Role | str = Role.VIEWER
) -> tuple[Membership, Character]:
    membership = access_project(user, project_id, need)
    try:
        character = Character.objects.get(pk=character_id, project_id=project_id)
    except (Character.DoesNotExist, ValueError, TypeError):
        raise Http404("No such character.") from None
    return membership, character


def access_revision(
    user, project_id: int, scene_id: int, number: int, need: Role | str = Role.VIEWER
) -> tuple[Membership, Scene, Revision]:
    membership, scene = access_scene(user, project_id, scene_id, need)
    try:
        revision = Revision.objects.select_related("author").get(scene=scene, number=number)
    except (Revision.DoesNotExist, ValueError, TypeError):
        raise Http404("No such revision.") from None
    return membership, scene, revision


def access_membership(
    user, project_id: int, membership_id: int, need: Role | str = Role.OWNER
) -> tuple[Membership, Membership]:
    """Return (acting membership, target membership) within one project."""
    acting = access_project(user, project_id, need)
    try:
        target = Membership.objects.select_related("user").get(
            pk=membership_id, project_id=project_id
        )
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404("No such member.") from None
    return acting, target


def can(membership: Membership | None, need: Role | str) -> bool:
    """Say whether a membership's role is at least ``need`` (for showing controls only)."""
    return membership is not None and membership.role_enum.at_least(need)


def projects_for(user):
    """Return the projects the user is a member of."""
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user)
