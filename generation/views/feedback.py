"""Views for feedback on passages: rate and tag, comment, pick or rank, record an edit;
the project's tag set; a member's own training opt-out.

Thin: fetch through ``access.py`` (outsiders 404, viewers 403), call ``feedback.py``.
An htmx request gets the card's feedback section re-rendered for the requester (everyone
else on the scene gets the card through the room); an error comes back as a message
fragment aimed at the card's message slot (``HX-Retarget``, status 422). Plain requests redirect.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from scripts_app.access import access_project, access_scene, can
from scripts_app.models import Role

from .. import feedback
from ..models import Passage, PassageComment, PassageStatus


def _passage(request, project_id, scene_id, passage_id, need=Role.COMMENTER):
    """The passage of a scene, or with ``scene_id`` None of the project's story proposals
    (the ``story_…`` URLs); outsiders 404, low roles 403."""
    if scene_id is None:
        membership = access_project(request.user, project_id, need)
        room = Passage.objects.filter(
            project_id=membership.project_id, scene__isnull=True, blind=False
        )
    else:
        membership, scene = access_scene(request.user, project_id, scene_id, need)
        room = Passage.objects.filter(scene=scene, blind=False)
    passage = (
        room.filter(pk=passage_id).select_related("scene", "model_version", "requested_by").first()
    )
    if passage is None:
        raise Http404("No such draft.")
    return membership, passage


def _card(request, passage, message: str = ""):
    """The passage's feedback section, as the requester sees it (or a redirect)."""
    if not request.htmx:
        if message:
            messages.success(request, message)
        return redirect(passage.page_url)
    feedback.feedback_summary([passage], viewer=request.user)
    return render(
        request, "generation/drafts/passage_feedback.html", {"passage": passage, "notice": message}
    )


def _fail(request, passage_id, message: str, status: int = 422, back=None):
    # 422, not 400: django-htmx's debug script (DEBUG=True) replaces the whole page with
    # any 400/403/404/500 response to an htmx request.
    if request.htmx:
        response = render(request, "partials/error.html", {"message": message}, status=status)
        if passage_id is not None:
            response["HX-Retarget"] = f"#passage-{int(passage_id)}-feedback-msg"
            response["HX-Reswap"] = "innerHTML"
        return response
    if back is None:
        return render(request, "partials/error.html", {"message": message}, status=403)
    messages.error(request, message)
    return redirect(back)


def _act(request, project_id, scene_id, passage_id, action, need=Role.COMMENTER):
    """Run ``action(membership, passage)`` with the checks and replies every action shares."""
    try:
        membership, passage = _passage(request, project_id, scene_id, passage_id, need)
    except PermissionDenied as exc:
        return _fail(request, passage_id, str(exc) or "You cannot do that here.", 403)
    try:
        message = action(membership, passage)
    except PermissionDenied as exc:
        return _fail(request, passage_id, str(exc), 403)
    except ValidationError as exc:
        return _fail(request, passage_id, " ".join(exc.messages), back=passage.page_url)
    return _card(request, passage, message or "")


@login_required
@require_POST
def passage_rate(request, project_id, scene_id, passage_id):
    def action(membership, passage):
        tag_ids = request.POST.getlist("tag") if "tags_sent" in request.POST else None
        rating = feedback.rating_submit(
            passage=passage, user=request.user, score=request.POST.get("score"), tag_ids=tag_ids
        )
        return f"Rated {rating.score}."

    return _act(request, project_id, scene_id, passage_id, action)


@login_required
@require_POST
def passage_comment(request, project_id, scene_id, passage_id):
    def action(membership, passage):
        feedback.comment_add(
            passage=passage,
            user=request.user,
            body=request.POST.get("body", ""),
            parent_id=request.POST.get("parent"),
            anchor_start=request.POST.get("anchor_start"),
            anchor_end=request.POST.get("anchor_end"),
            anchor_text=request.POST.get("anchor_text"),
        )
        return "Comment added."

    return _act(request, project_id, scene_id, passage_id, action)


@login_required
@require_POST
def comment_resolve(request, project_id, scene_id, passage_id, comment_id):
    def action(membership, passage):
        try:
            comment = PassageComment.objects.select_related("passage__scene").get(
                pk=comment_id, passage=passage
            )
        except PassageComment.DoesNotExist:
            raise ValidationError("That comment is not on this draft.") from None
        resolved = request.POST.get("resolved", "1") != "0"
        feedback.comment_resolve(
            comment=comment, user=request.user, membership=membership, resolved=resolved
        )
        return "Thread resolved." if resolved else "Thread reopened."

    return _act(request, project_id, scene_id, passage_id, action)


@login_required
@require_POST
def passage_pick(request, project_id, scene_id, passage_id):
    def action(membership, passage):
        feedback.pick_best(passage=passage, user=request.user)
        return "Picked as the best alternative."

    return _act(request, project_id, scene_id, passage_id, action)


@login_required
@require_http_methods(["GET", "POST"])
def passage_rank(request, project_id, scene_id, passage_id):
    if request.method == "GET":
        membership, passage = _passage(request, project_id, scene_id, passage_id, Role.VIEWER)
        alternatives = list(
            Passage.objects.filter(
                group=passage.group,
                project_id=passage.project_id,
                scene_id=passage.scene_id,
                status=PassageStatus.DONE,
            )
            .exclude(text="")
            .order_by("alternative")
        )
        return render(
            request,
            "generation/feedback/rank_form.html",
            {
                "passage": passage,
                "alternatives": alternatives,
                "places": range(1, len(alternatives) + 1),
                "can_act": can(membership, Role.COMMENTER),
            },
        )

    def action(membership, passage):
        # "place_<id>" = 1 for the best; ties and gaps are refused by the service.
        places = {}
        for key, value in request.POST.items():
            if key.startswith("place_") and value:
                try:
                    places[key.removeprefix("place_")] = int(value)
                except ValueError:
                    raise ValidationError("A place is a number (1 = best).") from None
        if len(set(places.values())) != len(places):
            raise ValidationError("Give each alternative a different place.")
        order = sorted(places, key=places.get)
        feedback.rank_alternatives(passage=passage, user=request.user, order=order)
        return "Ranking saved."

    return _act(request, project_id, scene_id, passage_id, action)


@login_required
@require_POST
def passage_edit_record(request, project_id, scene_id, passage_id):
    def action(membership, passage):
        pref = feedback.edit_record(
            passage=passage, user=request.user, text=request.POST.get("text", "")
        )
        return "Your edit is recorded." if pref else "The text is unchanged; nothing recorded."

    return _act(request, project_id, scene_id, passage_id, action)


# --- project level ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def feedback_tags(request, project_id):
    membership = access_project(
        request.user, project_id, Role.EDITOR if request.method == "POST" else Role.VIEWER
    )
    project = membership.project
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                feedback.tag_remove(project=project, tag_id=request.POST["remove"])
                messages.success(request, "Tag removed.")
            else:
                tag = feedback.tag_add(project=project, name=request.POST.get("name", ""))
                messages.success(request, f"Tag “{tag.name}” added.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            status = 400
        else:
            return redirect("feedback_tags", project_id=project.pk)
    return render(
        request,
        "generation/feedback/tags.html",
        {
            "project": project,
            "membership": membership,
            "tags": feedback.tags_for(project),
            "can_edit": can(membership, Role.EDITOR),
        },
        status=status,
    )


@login_required
@require_POST
def feedback_opt_out(request, project_id):
    """Set the requester's own opt-out; there is no way to name another member."""
    membership = access_project(request.user, project_id)
    opt_out = request.POST.get("opt_out") in ("1", "on", "true")
    feedback.opt_out_set(membership=membership, opt_out=opt_out)
    message = (
        "Your feedback in this project is kept out of training."
        if opt_out
        else "Your feedback in this project may be used for training."
    )
    if request.htmx:
        return render(
            request,
            "generation/feedback/opt_out.html",
            {"project": membership.project, "membership": membership, "notice": message},
        )
    messages.success(request, message)
    return redirect(membership.project)
