from django.contrib import admin

from .models import Character, Invitation, Membership, Project, Revision, Scene


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["title", "genre", "allow_training", "created_at", "updated_at"]
    search_fields = ["title", "logline"]
    list_filter = ["allow_training"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["project", "user", "role", "added_at"]
    list_filter = ["role"]
    search_fields = ["project__title", "user__username"]
    autocomplete_fields = ["user", "project"]


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = ["name", "project"]
    search_fields = ["name", "project__title"]
    list_select_related = ["project"]


@admin.register(Scene)
class SceneAdmin(admin.ModelAdmin):
    list_display = ["heading", "project", "position", "updated_at"]
    search_fields = ["heading", "synopsis", "project__title"]
    list_select_related = ["project"]
    filter_horizontal = ["cast"]
    raw_id_fields = ["head"]


@admin.register(Revision)
class RevisionAdmin(admin.ModelAdmin):
    list_display = ["scene", "number", "origin", "label", "author", "created_at"]
    list_filter = ["origin"]
    search_fields = ["scene__heading", "label"]
    list_select_related = ["scene", "author"]
    raw_id_fields = ["scene", "base", "restored_from"]
    readonly_fields = ["created_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["project", "kind", "sent_to", "role", "uses", "expires_at", "revoked_at"]
    list_filter = ["kind", "role"]
    search_fields = ["project__title", "sent_to"]
    readonly_fields = ["token_hash", "uses", "accepted_at", "accepted_by"]
    raw_id_fields = ["project", "invitee", "created_by"]
