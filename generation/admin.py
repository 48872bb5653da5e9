from django.contrib import admin

from .models import ModelEvent, ModelVersion, RetrainSuggestion


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
