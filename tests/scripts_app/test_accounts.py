"""Accounts: the sign-up policy, invitations, password change and reset, the log-in
throttle, and member lookup that does not reveal who has an account."""

import hashlib
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scripts_app import invitations
from scripts_app.models import Invitation, Membership, Role
from tests.conftest import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
User = get_user_model()


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def _signup(client, username="newcomer", email="newcomer@example.com"):
    return client.post(
        reverse("signup"),
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def _token_from(text: str) -> str:
    return re.search(r"/invite/([\w-]+)/", text).group(1)


# --- sign-up policy --------------------------------------------------------------------------


def _settings_in_child(env: dict) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.COWRITE_SIGNUP)",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cowrite.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_signup_policy_default_follows_debug():
    env = {"SECRET_KEY": "x" * 60, "COWRITE_SIGNUP": ""}
    assert _settings_in_child({**env, "DEBUG": "0"}) == "invite"
    assert _settings_in_child({**env, "DEBUG": "1"}) == "open"
    assert _settings_in_child({**env, "DEBUG": "0", "COWRITE_SIGNUP": "closed"}) == "closed"


@pytest.mark.parametrize("policy", ["open", "invite", "closed"])
def test_signup_without_invitation_follows_the_policy(client, db, settings, policy):
    settings.COWRITE_SIGNUP = policy
    response = _signup(client)
    created = User.objects.filter(username="newcomer").exists()
    if policy == "open":
        assert response.status_code == 302 and created
    else:
        assert response.status_code == 403 and not created
        page = client.get(reverse("signup")).content.decode()
        assert "by invitation" in page if policy == "invite" else "closed" in page
        login_page = client.get(reverse("login")).content.decode()
        assert reverse("signup") not in login_page  # no sign-up link offered


@pytest.mark.parametrize("policy", ["invite", "open"])
def test_invitation_link_signup_then_accept(client, team, settings, policy):
    """A link's holder may sign up under "invite", and joins only by accepting."""
    settings.COWRITE_SIGNUP = policy
    owner = Client()
    owner.force_login(team.users["owner"])
    page = owner.post(
        reverse("invitation_list", args=[team.project.pk]), {"role": "commenter"}, follow=True
    )
    token = _token_from(page.content.decode())
    link = reverse("invitation", args=[token])
    assert client.get(link).status_code == 200  # remembered in the session
    response = _signup(client)
    assert response.status_code == 302 and response["Location"] == link
    user = User.objects.get(username="newcomer")
    assert not Membership.objects.filter(user=user).exists()  # not before accepting
    assert "Accept and join" in client.get(link).content.decode()
    response = client.post(link, {"action": "accept"})
    assert response.status_code == 302
    assert Membership.objects.get(user=user, project=team.project).role == Role.COMMENTER


def test_closed_policy_invitee_with_account_logs_in_and_accepts(client, team, settings):
    settings.COWRITE_SIGNUP = "closed"
    _, token = invitations.create_link(project=team.project, by=team.users["owner"], role="viewer")
    link = reverse("invitation", args=[token])
    page = client.get(link).content.decode()
    assert "Log in to accept" in page and reverse("signup") not in page
    assert _signup(client).status_code == 403
    response = client.post(
        reverse("login") + f"?next={link}",
        {"username": "outsider", "password": PASSWORD, "next": link},
        REMOTE_ADDR="10.0.0.9",
    )
    assert response["Location"] == link
    assert not Membership.objects.filter(user=team.users["outsider"]).exists()
    client.post(link, {"action": "accept"})
    assert Membership.objects.get(user=team.users["outsider"]).role == Role.VIEWER


# --- invitations ---------------------------------------------------------------------------


def test_tokens_are_random_and_stored_hashed(team):
    invitation, token = invitations.create_link(
        project=team.project, by=team.users["owner"], role="editor"
    )
    assert len(token) >= 43  # 256 bits
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not Invitation.objects.filter(token_hash=token).exists()
    assert invitations.find(token) == invitation
    assert invitations.find(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_email_invitation_is_sent_and_single_use(client, team, django_capture_on_commit_callbacks):
    owner = Client()
    owner.force_login(team.users["owner"])
    with django_capture_on_commit_callbacks(execute=True):  # sent after the commit
        owner.post(
            reverse("member_add", args=[team.project.pk]),
            {"who": "guest@example.org", "role": "editor"},
        )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["guest@example.org"]
    token = _token_from(mail.outbox[0].body)
    link = reverse("invitation", args=[token])
    client.force_login(team.users["outsider"])
    client.post(link, {"action": "accept"})
    assert Membership.objects.get(user=team.users["outsider"]).role == Role.EDITOR
    # Used up: a second person with the same link gets nothing.
    other = Client()
    other.force_login(make_user("second"))
    assert other.get(link).status_code == 404
    other.post(link, {"action": "accept"})
    assert not Membership.objects.filter(user__username="second").exists()


def test_link_invitation_serves_several_people_until_revoked(team):
    invitation, token = invitations.create_link(
        project=team.project, by=team.users["owner"], role="viewer"
    )
    link = reverse("invitation", args=[token])
    for name in ("first", "second"):
        c = Client()
        c.force_login(make_user(name))
        c.post(link, {"action": "accept"})
        assert Membership.objects.filter(user__username=name).exists()
    owner = Client()
    owner.force_login(team.users["owner"])
    owner.post(reverse("invitation_revoke", args=[team.project.pk, invitation.pk]))
    late = Client()
    late.force_login(make_user("late"))
    assert late.get(link).status_code == 404
    late.post(link, {"action": "accept"})
    assert not Membership.objects.filter(user__username="late").exists()


def test_expired_invitation_cannot_be_accepted(client, team):
    invitation, token = invitations.create_link(
        project=team.project, by=team.users["owner"], role="viewer"
    )
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    client.force_login(team.users["outsider"])
    link = reverse("invitation", args=[token])
    assert client.get(link).status_code == 404
    client.post(link, {"action": "accept"})
    assert not Membership.objects.filter(user=team.users["outsider"]).exists()


def test_username_invitation_waits_on_the_home_page(client, team):
    owner = Client()
    owner.force_login(team.users["owner"])
    owner.post(reverse("member_add", args=[team.project.pk]), {"who": "outsider", "role": "viewer"})
    invitation = Invitation.objects.get(sent_to="outsider")
    assert not Membership.objects.filter(user=team.users["outsider"]).exists()
    # Someone else cannot answer it.
    client.force_login(team.users["editor"])
    response = client.post(
        reverse("invitation_respond", args=[invitation.pk]), {"action": "accept"}
    )
    assert response.status_code == 404
    client.force_login(team.users["outsider"])
    assert "The Long Night" in client.get(reverse("home")).content.decode()
    client.post(reverse("invitation_respond", args=[invitation.pk]), {"action": "accept"})
    assert Membership.objects.get(user=team.users["outsider"]).role == Role.VIEWER


def test_username_invitation_is_only_for_that_account(client, team):
    """Its link (emailed to the account's address) does nothing for anyone else."""
    from django.core.exceptions import ValidationError

    invitation = invitations.invite(
        project=team.project,
        by=team.users["owner"],
        who="outsider",
        role="editor",
        link_for=lambda token: token,
    )
    intruder = make_user("intruder")
    with pytest.raises(ValidationError, match="another account"):
        invitations.accept(invitation=invitation, user=intruder)
    assert not Membership.objects.filter(user=intruder).exists()
    invitation.refresh_from_db()
    assert invitation.uses == 0


def test_member_lookup_does_not_reveal_whether_an_account_exists(
    team, django_capture_on_commit_callbacks
):
    """The same answer (status, message, kind of row, emails sent) for names and addresses
    with and without an account; nobody is added."""
    owner = Client()
    owner.force_login(team.users["owner"])
    url = reverse("member_add", args=[team.project.pk])
    answers = {}
    for who in ("outsider", "nobody-here", "outsider@example.com", "nobody@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = owner.post(url, {"who": who, "role": "editor"})
        answers[who] = (response.status_code, _messages(response)[-1].replace(who, "WHO"))
    assert len(set(map(repr, answers.values()))) == 1, answers
    status, message = answers["outsider"]
    assert status == 302 and message.startswith("Invitation sent to WHO")
    assert not Membership.objects.filter(user=team.users["outsider"]).exists()
    assert Invitation.objects.filter(project=team.project).count() == 4
    # Every address gets its email; no username does (known or not).
    assert [m.to for m in mail.outbox] == [["outsider@example.com"], ["nobody@example.com"]]
    # The owner's list of open invitations shows each the same way.
    page = owner.get(reverse("invitation_list", args=[team.project.pk])).content.decode()
    for who in answers:
        assert who in page


# --- passwords -----------------------------------------------------------------------------


def test_password_reset_by_email(client, team):
    response = client.post(reverse("password_reset"), {"email": "viewer@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)
    page = client.get(link, follow=True)
    assert "Choose a new password" in page.content.decode()
    new = "another-long-password-77"
    response = client.post(page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    team.users["viewer"].refresh_from_db()
    assert team.users["viewer"].check_password(new)
    # An unknown address looks the same and sends nothing.
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and len(mail.outbox) == 1


def test_password_change(client, team):
    client.force_login(team.users["editor"])
    page = client.get(reverse("password_change")).content.decode()
    assert "Change your password" in page and 'class="topbar"' in page  # the site's look
    new = "another-long-password-77"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    team.users["editor"].refresh_from_db()
    assert team.users["editor"].check_password(new)


# --- log-in throttle -----------------------------------------------------------------------


def _login(client, username, password, ip):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_throttle_per_account(client, team, settings):
    """Failures from many addresses lock the account; the page says when to retry."""
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "viewer", "wrong", f"10.1.0.{i}").status_code == 200
    assert _login(client, "viewer", "wrong", "10.1.0.99").status_code == 429
    response = _login(client, "viewer", PASSWORD, "10.1.9.9")  # the right password
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed log-ins" in body and "Try again in 15 minutes" in body
    assert "_auth_user_id" not in client.session
    # Another account from another address is not affected.
    assert _login(client, "editor", PASSWORD, "10.2.0.1").status_code == 302


def test_login_throttle_per_address(client, team, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _login(client, f"guess{i}", "wrong", "10.3.0.1")
    assert _login(client, "viewer", PASSWORD, "10.3.0.1").status_code == 429
    assert _login(client, "viewer", PASSWORD, "10.3.0.2").status_code == 302


def test_login_throttle_is_shared_through_the_database(client, team, settings):
    """Failures are rows in the database (every web process sees them), not process memory."""
    from axes.models import AccessAttempt

    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    _login(client, "viewer", "wrong", "10.4.0.1")
    assert AccessAttempt.objects.filter(username="viewer").exists()
