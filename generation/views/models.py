"""Pages of the generation app: the installation's model versions and training progress.

Who may do what (rules in ``lifecycle.py``): **Retrain now**, **Promote** a candidate and
**Roll back** are installation-staff actions (``is_staff``); a project owner can only
**suggest** a retraining for a project that allows training (staff start a round from it
or dismiss it). Every figure on the model page that comes from projects' data (the
ratings of each version's drafts) covers only the viewer's own projects; staff see the
installation-wide figures, labelled so. Feedback export (TRL JSONL): staff get every
project that allows training; a project owner gets only the projects they own; anyone
else is refused.
"""

import math
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from scripts_app.access import access_project
from scripts_app.models import Membership, Project, Role

from .. import datasets, lifecycle
from ..api import token_create
from ..charts import loss_chart_svg, rating_bars_svg
from ..models import (
    ApiToken,
    ModelEvent,
    ModelVersion,
    Rating,
    RetrainSuggestion,
    StartedVia,
    SuggestionStatus,
    VersionStatus,
)
from .comparisons import comparisons_context
from .endpoints import endpoints_context

STAFF_ONLY = "Only installation staff can {}: one model serves every project."


def _owned_project_ids(user) -> list[int]:

    return list(
        Membership.objects.filter(user=user, role=Role.OWNER).values_list("project_id", flat=True)
    )


def _member_project_ids(user) -> list[int]:

    return list(Membership.objects.filter(user=user).values_list("project_id", flat=True))


def can_retrain(user) -> bool:
    """Retraining, promotion and rollback change the shared model: staff only."""
    return bool(user.is_authenticated and user.is_staff)


def _rating_counts(version_ids, project_ids=None) -> dict[int, dict[int, int]]:
    """``{version id: {score: count}}`` of the ratings of the passages each version wrote,
    in ``project_ids`` only (None: every project, for staff)."""

    out: dict[int, dict[int, int]] = {}
    rows = Rating.objects.filter(passage__model_version_id__in=version_ids)
    if project_ids is not None:
        rows = rows.filter(passage__project_id__in=project_ids)
    rows = rows.values("passage__model_version_id", "score").annotate(n=Count("pk"))
    for r in rows:
        out.setdefault(r["passage__model_version_id"], {})[r["score"]] = r["n"]
    return out


_COMPARED = [
    ("heldout_bpb", "held-out scenes, bits/byte", "{:.3f}"),
    ("general_bpb", "general text, bits/byte", "{:.3f}"),
    ("pref_accuracy", "preference accuracy", "{:.2f}"),
    ("reward_margin", "reward margin", "{:.3f}"),
]


def _comparison(metrics: dict) -> list[dict]:
    rows = []
    for key, label, fmt in _COMPARED:
        new, old = metrics.get(key), metrics.get(f"parent_{key}")
        if new is None and old is None:
            continue
        rows.append(
            {
                "label": label,
                "new": fmt.format(new) if isinstance(new, (int, float)) else "—",
                "parent": fmt.format(old) if isinstance(old, (int, float)) else "—",
            }
        )
    return rows


def _run_state(v: ModelVersion) -> str:
    """queued / running / finished … / failed, for the queue of runs."""
    if v.status == VersionStatus.TRAINING:
        p = v.progress or {}
        started = p.get("step") or (set(p) - {"step", "progress", "updated_at"})
        return "running" if started else "queued"
    if v.status == VersionStatus.FAILED:
        return "failed"
    return {
        VersionStatus.ACTIVE: "finished · in use",
        VersionStatus.CANDIDATE: "finished · waiting for staff",
        VersionStatus.RETIRED: "finished · retired",
    }.get(v.status, v.status)


# --- the page in writers' words (the engineering figures are one click away) -------------

# Retraining phases (``retraining._Curve``) as a writer would say them.
_PHASE_WORDS = {
    "evaluating parent": "reading how well the model in use writes",
    "sft": "learning from the drafts your teams accepted or rated well, and from their scenes",
    "dpo": "learning from your teams' choices between drafts",
    "evaluating": "checking that it writes at least as well as the model in use",
}


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def time_left(seconds) -> str:
    """ "about 6 minutes left", "less than a minute left", or "" when not known."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 60:
        return "less than a minute left"
    return f"about {_plural(max(1, round(seconds / 60)), 'minute')} left"


def learned_words(v: ModelVersion) -> str:
    """What a version learned from, for writers ("Learned from 40 comparisons…")."""
    if v.is_retraining:
        data = v.corpus_summary or (v.metrics or {}).get("data") or {}
        parts = []
        if data.get("pairs"):
            parts.append(_plural(data["pairs"], "choice") + " between drafts (ratings and picks)")
        if data.get("sft"):
            parts.append(_plural(data["sft"], "draft") + " your teams accepted or rated well")
        if data.get("scenes"):
            parts.append(_plural(data["scenes"], "scene") + " your teams wrote")
        if not parts:
            if v.status == VersionStatus.TRAINING:
                return "It learns from the feedback and scenes of projects that allow it."
            return "It learned from the feedback of projects that allow it."
        head = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        return f"It learned from {head}."
    if v.started_via == StartedVia.FIRST_START:
        return (
            "It learned to write from Shakespeare's plays (public domain); "
            "it has not seen your teams' work."
        )
    return "It was trained from the command line on a prepared collection of scripts."


def rated_words(counts: dict[int, int], scope: str) -> str:
    """ "Drafts rated 3.8 on average (12 ratings in your projects)." """
    total = sum(counts.values())
    if not total:
        return f"No ratings of its drafts yet in {scope}."
    mean = sum(s * n for s, n in counts.items()) / total
    return f"Drafts rated {mean:.1f} on average ({_plural(total, 'rating')} in {scope})."


def run_words(v: ModelVersion, now: float | None = None) -> dict:
    """A running (or queued) run as a writer would say it: what, how far, how long."""
    p = v.progress or {}
    now = time.time() if now is None else now
    if v.is_retraining:
        what = f"Retraining the model from {v.parent.name}" if v.parent else "Retraining"
    elif v.started_via == StartedVia.FIRST_START:
        what = "Training the first model"
    else:
        what = f"Training {v.name}"
    if v.state == "queued":
        return {"what": what, "line": f"{what} — waiting for a training worker."}
    eta = p.get("eta_s")
    if isinstance(eta, (int, float)) and isinstance(p.get("updated_at"), (int, float)):
        eta -= max(0.0, now - p["updated_at"])
    percent = max(0, min(99, math.floor(100 * float(p.get("progress") or 0))))
    left = time_left(eta)
    phase = _PHASE_WORDS.get(p.get("phase") or "", "")
    line = f"{what} — {percent}% done" + (f", {left}" if left else "") + "."
    if phase:
        line += f" Now {phase}."
    return {"what": what, "line": line, "percent": percent, "left": left}


def _owned_projects(user, active):
    """The user's own projects, each with what the suggest form needs."""

    projects = list(Project.objects.filter(pk__in=_owned_project_ids(user)).order_by("title"))
    if not projects:
        return []
    latest: dict[int, RetrainSuggestion] = {}
    for s in (
        RetrainSuggestion.objects.filter(project__in=projects)
        .select_related("handled_by", "version")
        .order_by("-created_at", "-pk")
    ):
        latest.setdefault(s.project_id, s)
    now = timezone.now()
    for p in projects:
        p.feedback_n = datasets.feedback_count_since(None, project_ids=[p.pk])
        p.suggestion = latest.get(p.pk)
        p.wait = 0.0
        if p.suggestion is not None and p.suggestion.status != SuggestionStatus.OPEN:
            age = (now - p.suggestion.created_at).total_seconds()
            p.wait = max(0.0, lifecycle.suggestion_cooldown_seconds() - age)
        p.wait_min = max(1, round(p.wait / 60)) if p.wait else 0
        p.can_suggest = (
            p.allow_training
            and not p.wait
            and (p.suggestion is None or p.suggestion.status != SuggestionStatus.OPEN)
        )
    return projects


def _context(request) -> dict:
    user = request.user
    staff = can_retrain(user)
    versions = list(
        ModelVersion.objects.select_related("parent", "created_by").order_by("-created_at")
    )
    # Figures from projects' data: the viewer's own projects only, unless staff.
    ratings = _rating_counts([v.pk for v in versions], None if staff else _member_project_ids(user))
    active = next((v for v in versions if v.status == VersionStatus.ACTIVE), None)
    scope = "all projects" if staff else "your projects"
    now = time.time()
    for v in versions:
        v.chart = loss_chart_svg(v.loss_curve)
        v.rating_chart = rating_bars_svg(ratings.get(v.pk, {}))
        v.comparison = _comparison(v.metrics or {})
        v.gate = (v.metrics or {}).get("gate")
        v.state = _run_state(v)
        # ``steps`` is written when a run ends; until then the run's progress has the step.
        v.steps_done = v.steps or (v.progress or {}).get("step") or 0
        v.learned = learned_words(v)
        v.rated = rated_words(ratings.get(v.pk, {}), scope)
        if v.status == VersionStatus.TRAINING:
            v.words = run_words(v, now)
    context = {
        "versions": versions,
        "active": active,
        "training": [v for v in versions if v.status == VersionStatus.TRAINING],
        "runs": versions[:20],
        "events": list(ModelEvent.objects.select_related("version", "user")[:20]),
        "can_retrain": staff,
        "can_manage": staff,
        "can_export": staff or bool(_owned_project_ids(user)),
        "ratings_scope": "all projects, installation-wide" if staff else "your projects",
        "owned_projects": _owned_projects(user, active),
        **endpoints_context(user),
        **comparisons_context(user),
    }
    if staff:
        wait, last = lifecycle.next_round_wait()
        context.update(
            {
                "suggestions": list(
                    RetrainSuggestion.objects.filter(status=SuggestionStatus.OPEN)
                    .select_related("project", "user")
                    .order_by("created_at")
                ),
                "round_wait_min": max(1, round(wait / 60)) if wait else 0,
                "last_round": last,
                "min_interval_min": round(lifecycle.min_interval_seconds() / 60),
            }
        )
        for s in context["suggestions"]:
            s.feedback_n = datasets.feedback_count_since(None, project_ids=[s.project_id])
    return context


@login_required
@require_GET
def model_list(request):
    context = _context(request)
    if request.htmx:
        return render(request, "generation/partials/runs.html", context)
    return render(request, "generation/model_list.html", context)


@login_required
def api_tokens(request):
    """List the user's API tokens; make one (its secret is shown once) or revoke one."""
    created_secret = None
    if request.method == "POST":
        if "revoke" in request.POST:
            pk = request.POST["revoke"].strip()
            # Only the user's own tokens: another id (or garbage) matches nothing.
            ApiToken.objects.filter(
                user=request.user, pk=int(pk) if pk.isdigit() else 0, revoked_at__isnull=True
            ).update(revoked_at=timezone.now())
        else:
            _, created_secret = token_create(
                user=request.user, name=request.POST.get("name", "").strip()
            )
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "generation/api_tokens.html",
        {
            "tokens": tokens,
            "created_secret": created_secret,
            "api_base": request.build_absolute_uri("/v1"),
        },
    )


def _start_round(request, suggestion=None):
    try:
        version = lifecycle.retrain_start(request.user, suggestion=suggestion)
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Retraining started: {version.name}.")
    return redirect("model_list")


@login_required
@require_POST
def model_retrain(request):
    if not can_retrain(request.user):
        return HttpResponseForbidden(STAFF_ONLY.format("start a retraining"))
    return _start_round(request)


@login_required
@require_POST
def model_promote(request, pk):
    if not can_retrain(request.user):
        return HttpResponseForbidden(STAFF_ONLY.format("promote a model version"))
    version = get_object_or_404(ModelVersion, pk=pk)
    try:
        lifecycle.version_promote(version, user=request.user)
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{version.name} is now the active model.")
    return redirect("model_list")


@login_required
@require_POST
def model_rollback(request, pk):
    if not can_retrain(request.user):
        return HttpResponseForbidden(STAFF_ONLY.format("roll the model back"))
    version = get_object_or_404(ModelVersion, pk=pk)
    try:
        lifecycle.version_rollback(version, user=request.user)
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back: {version.name} is active again.")
    return redirect("model_list")


@login_required
@require_POST
def retrain_suggest(request, project_id):
    """A project owner suggests a retraining (outsiders 404, lower roles 403)."""

    membership = access_project(request.user, project_id, Role.OWNER)
    try:
        lifecycle.suggestion_create(
            project=membership.project, user=request.user, note=request.POST.get("note", "")
        )
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "Thanks: staff will see your suggestion and can start a retraining from it."
        )
    return redirect("model_list")


@login_required
@require_POST
def suggestion_start(request, pk):
    if not can_retrain(request.user):
        return HttpResponseForbidden(STAFF_ONLY.format("start a retraining"))
    return _start_round(request, get_object_or_404(RetrainSuggestion, pk=pk))


@login_required
@require_POST
def suggestion_dismiss(request, pk):
    if not can_retrain(request.user):
        return HttpResponseForbidden(STAFF_ONLY.format("answer suggestions"))
    try:
        lifecycle.suggestion_dismiss(get_object_or_404(RetrainSuggestion, pk=pk), user=request.user)
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Suggestion dismissed.")
    return redirect("model_list")


EXPORT_KINDS = {"preference", "unpaired", "sft"}


@login_required
@require_GET
def feedback_export(request, kind):
    """Download one TRL JSONL file (``?split=heldout`` for the held-out split)."""
    if kind not in EXPORT_KINDS:
        return HttpResponse("Unknown export.", status=404)
    if request.user.is_staff:
        project_ids = None
    else:
        project_ids = _owned_project_ids(request.user)
        if not project_ids:
            return HttpResponseForbidden("Only staff or a project owner can export feedback.")
    name = kind + (".heldout" if request.GET.get("split") == "heldout" else "")
    records = datasets.trl_records(datasets.build_dataset(project_ids=project_ids))[name]
    response = HttpResponse(datasets.jsonl(records), content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="{name}.jsonl"'
    return response
