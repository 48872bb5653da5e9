"""Invitations: how people join a project (service functions, like ``services.py``).

An owner invites by email address, by username, or makes a shareable link with a role.
Nobody is added to a project until they open the invitation and accept it.

- Tokens are 256-bit random strings (``secrets.token_urlsafe(32)``); only their SHA-256 is
  stored and looked up by equality, so the database never holds a usable link and no
  token is compared character by character in Python.
- Email and username invitations are single use; link invitations can be used by several
  people until they expire or are revoked. Every invitation expires
  (``COWRITE_INVITATION_DAYS``).
- Inviting never says whether an account exists: an address or a username with no account
  gets the same answer ("Invitation sent") and the same pending row as one with an
  account. A username that matches no account makes an invitation nobody can open. An
  address always gets its email; a username invitation is never emailed (it waits on the
  invitee's home page), so the response time does not depend on the account either.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Invitation, InvitationKind, Membership, Project, Role

SESSION_KEY = "cowrite_invitation"  # the token of the invitation a visitor is signing up for


def hash_token(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def _expiry():
    return timezone.now() + timedelta(days=settings.COWRITE_INVITATION_DAYS)


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError("Choose a role: owner, editor, commenter or viewer.")


def _create(**fields) -> tuple[Invitation, str]:
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        token_hash=hash_token(token), expires_at=_expiry(), **fields
    )
    return invitation, token


def _send(invitation: Invitation, to: str, link: str) -> None:
    context = {"invitation": invitation, "project": invitation.project, "link": link}
    send_mail(
        render_to_string("invitations/email_subject.txt", context).strip(),
        render_to_string("invitations/email.txt", context),
        None,
        [to],
    )


def invite(
    *, project: Project, by, who: str, role: str, link_for: Callable[[str], str]
) -> Invitation:
    """Invite someone by email address or username; send them the link by email.

    ``link_for(token)`` turns a token into the absolute URL of the invitation page. The
    answer and the stored row look the same whether or not an account matches ``who``.
    """
    _check_role(role)
    who = (who or "").strip()
    if not who:
        raise ValidationError("Give a username or an email address.")
    if "@" in who:
        try:
            validate_email(who)
        except ValidationError:
            raise ValidationError(f"“{who}” is not a valid email address.") from None
        invitation, token = _create(
            project=project, kind=InvitationKind.EMAIL, role=role, sent_to=who, created_by=by
        )
        transaction.on_commit(lambda: _send(invitation, who, link_for(token)), robust=True)
        return invitation
    users = get_user_model().objects.filter(username__iexact=who)
    matches = list(users[:2])
    if len(matches) > 1:  # usernames differing only in case: take the exact one
        matches = [u for u in matches if u.username == who]
    user = matches[0] if len(matches) == 1 else None
    if user is not None and Membership.objects.filter(project=project, user=user).exists():
        # Members are listed on the project page already: this reveals nothing new.
        raise ValidationError(f"{user.username} is already a member.")
    invitation, token = _create(
        project=project,
        kind=InvitationKind.USER,
        role=role,
        sent_to=who,
        invitee=user,
        created_by=by,
    )
    return invitation


def create_link(*, project: Project, by, role: str) -> tuple[Invitation, str]:
    """Make a shareable invitation link; return it with its token (shown once)."""
    _check_role(role)
    return _create(project=project, kind=InvitationKind.LINK, role=role, created_by=by)


def revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _open_q() -> Q:
    """Invitations that can still be accepted."""
    return Q(revoked_at__isnull=True, expires_at__gt=timezone.now()) & (
        Q(kind=InvitationKind.LINK) | Q(uses=0)
    )


def find(token: str) -> Invitation | None:
    """Return the open invitation with this token, or None (unknown, used, expired, revoked)."""
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("project", "created_by")
        .filter(_open_q(), token_hash=hash_token(token))
        .first()
    )


def pending_for_project(project: Project):
    return (
        Invitation.objects.filter(_open_q(), project=project)
        .select_related("created_by")
        .order_by("-created_at")
    )


def pending_for_user(user):
    return Invitation.objects.filter(_open_q(), invitee=user).select_related(
        "project", "created_by"
    )


def accept(*, invitation: Invitation, user) -> Membership:
    """Make ``user`` a member with the invitation's role; use the invitation up."""
    with transaction.atomic():
        locked = (
            Invitation.objects.select_for_update()
            .filter(_open_q(), pk=invitation.pk)
            .select_related("project")
            .first()
        )
        if locked is None:
            raise ValidationError("This invitation has expired, was revoked or was already used.")
        if locked.invitee_id is not None and locked.invitee_id != user.pk:
            raise ValidationError("This invitation is for another account.")
        if locked.kind == InvitationKind.USER and locked.invitee_id is None:
            raise ValidationError("This invitation has expired, was revoked or was already used.")
        if Membership.objects.filter(project=locked.project, user=user).exists():
            raise ValidationError(f"You are already a member of {locked.project.title}.")
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    project=locked.project, user=user, role=locked.role
                )
        except IntegrityError:
            raise ValidationError(f"You are already a member of {locked.project.title}.") from None
        Invitation.objects.filter(pk=locked.pk).update(
            uses=F("uses") + 1, accepted_at=timezone.now(), accepted_by=user
        )
    return membership


def decline(*, invitation: Invitation, user) -> None:
    if invitation.invitee_id != user.pk:
        raise ValidationError("This invitation is for another account.")
    revoke(invitation=invitation)
