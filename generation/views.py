"""Pages of the generation app: the installation's model versions and training progress."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from .api import token_create
from .charts import loss_chart_svg
from .models import ApiToken, ModelVersion, VersionStatus


@login_required
@require_GET
def model_list(request):
    versions = list(ModelVersion.objects.select_related("parent").order_by("-created_at"))
    for v in versions:
        v.chart = loss_chart_svg(v.loss_curve)
    training = [v for v in versions if v.status == VersionStatus.TRAINING]
    context = {"versions": versions, "training": training}
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
