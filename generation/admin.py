from django.contrib import admin

from .models import ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "preset", "status", "parent", "steps", "created_at", "finished_at"]
    list_filter = ["status", "preset"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "finished_at", "activated_at", "progress", "loss_curve"]
    raw_id_fields = ["parent"]
