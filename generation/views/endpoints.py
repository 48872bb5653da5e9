"""The other models beside the house model (``endpoints.py``): staff add, check and
switch them off on the Models page; a project owner picks which one writes the project's
drafts on the project page's model card.

Everyone signed in sees the list (names, kind, health, speed) — not where a folder lives
or which variable holds a key, which only staff see. Refusals: 403 for a non-staff
action, 404 for an unknown record, 422 with the message for bad input (htmx) or a
message and a redirect.
"""

import os
import re
import tempfile
import zipfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from scripts_app.access import access_project
from scripts_app.models import Role
from scripts_app.responses import errors as _errors
from scripts_app.responses import fail as _fail

from .. import endpoints, lora_runs, tasks
from ..models import EndpointKind, ModelEndpoint

STAFF_ONLY = "Only installation staff can add or change the models."


def _staff(request) -> None:
    if not (request.user.is_authenticated and request.user.is_staff):
        raise PermissionDenied(STAFF_ONLY)


def endpoints_context(user) -> dict:
    rows = list(ModelEndpoint.objects.select_related("parent").order_by("name"))
    for e in rows:
        e.key_set = bool(e.api_key_env) and bool(os.environ.get(e.api_key_env))
    return {
        "endpoints": rows,
        "endpoint_kinds": EndpointKind.choices,
        "can_manage_endpoints": bool(user.is_staff),
    }


def _back(request):
    if request.htmx:
        response = render(
            request, "generation/partials/endpoints.html", endpoints_context(request.user)
        )
        return response
    return redirect("/models/#endpoints")


@login_required
@require_POST
def endpoint_add(request):
    _staff(request)
    fields = {k: request.POST.get(k, "") for k in endpoints.RECORD_FIELDS}
    fields["chat"] = fields["chat"] or "auto"
    fields["max_streams"] = fields["max_streams"] or 4
    fields["timeout_s"] = fields["timeout_s"] or 60
    try:
        endpoint = endpoints.endpoint_create(user=request.user, **fields)
    except ValidationError as exc:
        return _fail(request, _errors(exc), reverse("model_list") + "#endpoints")
    tasks.check_endpoint.delay(endpoint.pk)
    if not request.htmx:
        messages.success(request, f"Added {endpoint.name}; checking that it answers.")
    return _back(request)


@login_required
@require_POST
def endpoint_check(request, pk):
    _staff(request)
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    tasks.check_endpoint.delay(endpoint.pk)
    if not request.htmx:
        messages.success(request, f"Checking {endpoint.name}.")
    return _back(request)


@login_required
@require_POST
def endpoint_enable(request, pk):
    _staff(request)
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    endpoints.endpoint_set_enabled(endpoint=endpoint, enabled=request.POST.get("enabled") == "1")
    return _back(request)


@login_required
@require_POST
def project_model(request, project_id):
    """An owner picks the model that writes the project's drafts."""
    membership = access_project(request.user, project_id, Role.OWNER)
    project = membership.project
    try:
        chosen = endpoints.project_choose_endpoint(
            project=project, endpoint_id=request.POST.get("endpoint")
        )
    except ValidationError as exc:
        return _fail(request, _errors(exc), project.get_absolute_url())
    message = f"Drafts are now written by {chosen.name if chosen else 'the house model'}."
    if request.htmx:
        return render(request, "partials/notice.html", {"message": message})
    messages.success(request, message)
    return redirect(project)


@login_required
@require_POST
def endpoint_stop(request, pk):
    """Staff: give up on a LoRA round that is registered as training (its process died)."""
    _staff(request)
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    try:
        lora_runs.lora_stop(endpoint=endpoint, user=request.user)
    except ValidationError as exc:
        return _fail(request, _errors(exc), reverse("model_list") + "#endpoints")
    return _back(request)


@login_required
@require_GET
def endpoint_adapter(request, pk):
    """Staff: a LoRA result's adapter folder as a zip, for vLLM (``--enable-lora``) or
    ``peft`` elsewhere, with a README saying how to serve it."""
    _staff(request)
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    files = lora_runs.adapter_files(endpoint)
    if not files:
        raise Http404("This model has no finished adapter to export.")
    slug = re.sub(r"[^a-z0-9]+", "-", endpoint.name.lower()).strip("-") or f"adapter-{pk}"
    base = lora_runs.root_of(endpoint)
    readme = (
        f"{endpoint.name}: a LoRA adapter trained by Cowrite on {base.name}\n"
        f"(base folder: {base.folder}).\n\n"
        "Serve it with vLLM beside its base model:\n\n"
        f"  vllm serve BASE_MODEL_DIR --enable-lora --lora-modules {slug}=./{slug}\n\n"
        "then ask for the model by that name; or load it with peft:\n\n"
        f"  PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(BASE), '{slug}')\n"
    )
    spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 - FileResponse closes it
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as z:
        for path in files:
            z.write(path, f"{slug}/{path.name}")
        z.writestr(f"{slug}/README.txt", readme)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=f"{slug}.zip")


@login_required
@require_POST
def endpoint_retrain(request, pk):
    """Staff: a LoRA round on a folder record from the team's feedback (a new record)."""
    _staff(request)
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    try:
        child = lora_runs.lora_start(endpoint=endpoint, user=request.user)
    except ValidationError as exc:
        return _fail(request, _errors(exc), reverse("model_list") + "#endpoints")
    if not request.htmx:
        messages.success(
            request, f"{child.name} is learning from the team's feedback; it appears below."
        )
    return _back(request)
