"""Pages of the generation app: the installation's model versions and training progress."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .charts import loss_chart_svg
from .models import ModelVersion, VersionStatus


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
