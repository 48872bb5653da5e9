from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from .endpoints import RECORD_FIELDS, clean_endpoint
from .models import ModelEndpoint, ModelEvent, ModelVersion, ProjectModelChoice, RetrainSuggestion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "preset",
        "status",
        "parent",
        "started_via",
        "created_by",
        "steps",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "preset", "started_via"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "finished_at", "activated_at", "progress", "loss_curve"]
    raw_id_fields = ["parent", "created_by"]


@admin.register(ModelEvent)
class ModelEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "version", "kind", "user", "scheduled"]
    list_filter = ["kind"]
    raw_id_fields = ["version", "user"]


@admin.register(RetrainSuggestion)
class RetrainSuggestionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "project", "user", "status", "handled_by", "version"]
    list_filter = ["status"]
    raw_id_fields = ["project", "user", "handled_by", "version"]


class ModelEndpointForm(forms.ModelForm):
    """The Models page's rules (``endpoints.clean_endpoint``), as form errors."""

    class Meta:
        model = ModelEndpoint
        fields = (*RECORD_FIELDS, "enabled")

    def clean(self):
        data = super().clean()
        values = {k: data.get(k) for k in RECORD_FIELDS}
        try:
            data.update(
                clean_endpoint(**{k: v if v is not None else "" for k, v in values.items()})
            )
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return data


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    """Models beside the house model; the same rules as the Models page (``endpoints.py``):
    an API key is never stored, only the name of the environment variable holding it."""

    form = ModelEndpointForm
    list_display = ("name", "kind", "enabled", "healthy", "tokens_per_s", "ttft_s", "checked_at")
    list_filter = ("kind", "enabled", "healthy")
    readonly_fields = ("checked_at", "healthy", "health_error", "ttft_s", "tokens_per_s")

    def save_model(self, request, obj, form, change):
        for name, value in form.cleaned_data.items():
            setattr(obj, name, value)
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ProjectModelChoice)
class ProjectModelChoiceAdmin(admin.ModelAdmin):
    list_display = ("project", "endpoint", "updated_at")
