"""Accounts: sign-up (under the ``COWRITE_SIGNUP`` policy) and invitations.

Log in, log out, password change and password reset are Django's own views
(``cowrite/urls.py``) with the site's templates in ``templates/registration/``; failed
logins are throttled by django-axes (``AXES_*`` in settings).

Sign-up policy (``settings.COWRITE_SIGNUP``):

- ``open``: anyone may create an account.
- ``invite``: only someone holding an open invitation (they opened its link first).
- ``closed``: nobody; accounts are made by staff (admin, ``createsuperuser``). Invitations
  still work for people who have an account.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import invitations
from .access import access_project
from .models import Invitation, InvitationKind, Role

OPEN, INVITE, CLOSED = "open", "invite", "closed"
NEW_LINK_KEY = "cowrite_new_invitation_link"


def signup_policy() -> str:
    return settings.COWRITE_SIGNUP


def accounts_context(request) -> dict:
    """Template context processor: whether to offer the sign-up link."""
    return {"signup_open": signup_policy() == OPEN}


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        max_length=254, help_text="For resetting your password; never shown to others."
    )

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


def _session_invitation(request) -> Invitation | None:
    """The open invitation whose link this visitor opened (kept in the session), if any."""
    token = request.session.get(invitations.SESSION_KEY)
    invitation = invitations.find(token) if token else None
    if invitation is not None and invitation.kind == InvitationKind.USER:
        invitation = None  # addressed to an existing account: no new account from it
    if token and invitation is None:
        request.session.pop(invitations.SESSION_KEY, None)
    return invitation


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    policy = signup_policy()
    invitation = _session_invitation(request)
    if policy == CLOSED or (policy == INVITE and invitation is None):
        return render(request, "registration/signup_closed.html", {"policy": policy}, status=403)
    initial = {}
    if invitation is not None and invitation.kind == InvitationKind.EMAIL:
        initial["email"] = invitation.sent_to
    form = SignupForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if invitation is not None:
            # Back to the invitation: joining the project is the invitee's own choice.
            return redirect("invitation", token=request.session[invitations.SESSION_KEY])
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form, "invitation": invitation})


def invitation(request, token):
    """An invitation link: show what it offers; a logged-in visitor may accept it."""
    found = invitations.find(token)
    if found is None:
        return render(request, "invitations/invalid.html", status=404)
    if found.kind == InvitationKind.USER and (
        found.invitee_id is None
        or (request.user.is_authenticated and request.user.pk != found.invitee_id)
    ):
        return render(request, "invitations/invalid.html", status=404)
    if not request.user.is_authenticated:
        # Remember it across log-in or sign-up; accepting stays a separate step.
        request.session[invitations.SESSION_KEY] = token
        if request.method == "POST":
            return redirect(f"{reverse('login')}?next={request.path}")
    elif request.method == "POST":
        request.session.pop(invitations.SESSION_KEY, None)
        decline = request.POST.get("action") == "decline" and found.kind == InvitationKind.USER
        return _respond(request, found, decline=decline)
    can_signup = signup_policy() in (OPEN, INVITE) and found.kind != InvitationKind.USER
    return render(
        request,
        "invitations/detail.html",
        {"invitation": found, "can_signup": can_signup, "path": request.path},
    )


@login_required
@require_POST
def invitation_respond(request, invitation_id):
    """Accept or decline an invitation addressed to this account (listed on the home page)."""
    found = invitations.pending_for_user(request.user).filter(pk=invitation_id).first()
    if found is None:
        raise Http404("No such invitation.")
    return _respond(request, found, decline=request.POST.get("action") == "decline")


def _respond(request, found, *, decline: bool):
    """Accept (or decline) ``found`` for the logged-in user; say so and go on."""
    try:
        if decline:
            invitations.decline(invitation=found, user=request.user)
            messages.success(request, "Invitation declined.")
            return redirect("home")
        membership = invitations.accept(invitation=found, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("home")
    messages.success(
        request,
        f"You joined {membership.project.title} as {membership.get_role_display().lower()}.",
    )
    return redirect(membership.project)


class LinkForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


@login_required
def invitation_list(request, project_id):
    """The project's open invitations (owners): revoke them, or make a shareable link."""
    membership = access_project(request.user, project_id, Role.OWNER)
    project = membership.project
    if request.method == "POST":
        form = LinkForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose a role for the link.")
            return redirect("invitation_list", project_id=project_id)
        role = form.cleaned_data["role"]
        _, token = invitations.create_link(project=project, by=request.user, role=role)
        # Shown once, on the page this redirects to (only the token's hash is stored).
        request.session[NEW_LINK_KEY] = {
            "project": project.pk,
            "link": request.build_absolute_uri(reverse("invitation", args=[token])),
            "role": Role(role).label.lower(),
        }
        return redirect("invitation_list", project_id=project_id)
    new_link = request.session.get(NEW_LINK_KEY)
    if new_link and new_link.get("project") == project.pk and not request.htmx:
        del request.session[NEW_LINK_KEY]
    else:
        new_link = None
    template = "invitations/list_partial.html" if request.htmx else "invitations/list.html"
    return render(
        request,
        template,
        {
            "project": project,
            "pending": invitations.pending_for_project(project),
            "form": LinkForm(),
            "new_link": new_link,
        },
    )


@login_required
@require_POST
def invitation_revoke(request, project_id, invitation_id):
    membership = access_project(request.user, project_id, Role.OWNER)
    found = Invitation.objects.filter(pk=invitation_id, project=membership.project).first()
    if found is None:
        raise Http404("No such invitation.")
    invitations.revoke(invitation=found)
    messages.success(request, "Invitation revoked.")
    return redirect("invitation_list", project_id=project_id)
