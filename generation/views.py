"""Pages of the generation app: the installation's model versions and training progress.

Model lifecycle actions (POST + CSRF, see ``lifecycle.py`` for the rules): Retrain now
(staff or an owner of any project), Promote a candidate and Roll back to an earlier
version (staff only). Feedback export (TRL JSONL): staff get every project that allows
training; a project owner gets only the projects they own (that allow training); anyone
else is refused.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from . import datasets, lifecycle
from .api import token_create
from .charts import loss_chart_svg, rating_bars_svg
from .models import ApiToken, ModelVersion, VersionStatus


def _owned_project_ids(user) -> list[int]:
    from scripts_app.models import Membership, Role

    return list(
        Membership.objects.filter(user=user, role=Role.OWNER).values_list("project_id", flat=True)
    )


def can_retrain(user) -> bool:
    return user.is_staff or bool(_owned_project_ids(user))


def _rating_counts(version_ids) -> dict[int, dict[int, int]]:
    """``{version id: {score: count}}`` of the ratings of the passages each version wrote."""
    from scripts_app.models import Rating

    out: dict[int, dict[int, int]] = {}
    rows = (
        Rating.objects.filter(passage__model_version_id__in=version_ids)
        .values("passage__model_version_id", "score")
        .annotate(n=Count("pk"))
    )
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


@login_required
@require_GET
def model_list(request):
    versions = list(ModelVersion.objects.select_related("parent").order_by("-created_at"))
    ratings = _rating_counts([v.pk for v in versions])
    for v in versions:
        v.chart = loss_chart_svg(v.loss_curve)
        v.rating_chart = rating_bars_svg(ratings.get(v.pk, {}))
        v.comparison = _comparison(v.metrics or {})
        v.gate = (v.metrics or {}).get("gate")
    training = [v for v in versions if v.status == VersionStatus.TRAINING]
    context = {
        "versions": versions,
        "training": training,
        "can_retrain": can_retrain(request.user),
        "can_manage": request.user.is_staff,
        "can_export": can_retrain(request.user),
    }
    if request.htmx:
        return render(request, "generation/partials/versions.html", context)
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


@login_required
@require_POST
def model_retrain(request):
    if not can_retrain(request.user):
        return HttpResponseForbidden("Only staff or a project owner can start a retraining.")
    try:
        version = lifecycle.retrain_start(request.user)
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Retraining started: {version.name}.")
    return redirect("model_list")


@login_required
@require_POST
def model_promote(request, pk):
    if not request.user.is_staff:
        return HttpResponseForbidden("Only staff can promote a model version.")
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
    if not request.user.is_staff:
        return HttpResponseForbidden("Only staff can roll the model back.")
    version = get_object_or_404(ModelVersion, pk=pk)
    try:
        lifecycle.version_rollback(version, user=request.user)
    except lifecycle.LifecycleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back: {version.name} is active again.")
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
