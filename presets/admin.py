from django.contrib import admin
from django.utils.html import format_html

from presets import document
from presets.models import ApplyJob, Preset


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    """Presets are the operators' own: an admin can look at them (the document as its export
    file reads) and delete them, not edit them — the name lives in the document too."""

    list_display = ["name", "owner", "groups_view", "created_at"]
    list_filter = ["owner"]
    search_fields = ["name", "owner__login"]
    ordering = ["-created_at"]
    fields = ["name", "owner", "created_at", "groups_view", "payload_view"]
    readonly_fields = ["name", "owner", "created_at", "groups_view", "payload_view"]

    def has_add_permission(self, request) -> bool:
        # Presets are saved from the control page, where their content comes from the state.
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Groups")
    def groups_view(self, obj: Preset) -> str:
        try:
            return ", ".join(document.read(obj.payload).groups)
        except document.DocumentError:
            return "(unreadable document)"

    @admin.display(description="Payload")
    def payload_view(self, obj: Preset) -> str:
        try:
            text = document.dumps(document.read(obj.payload)).decode("utf-8")
        except document.DocumentError as exc:
            import json

            text = (f"This document cannot be read: {exc.detail}\n\n"
                    + json.dumps(obj.payload, indent=2, ensure_ascii=False))
        return format_html("<pre>{}</pre>", text)


@admin.register(ApplyJob)
class ApplyJobAdmin(admin.ModelAdmin):
    """Large preset applies run by the background workers: what was asked, how it went.
    Read-only — the result is what the devices answered."""

    list_display = ["preset_name", "user", "status", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["preset_name", "user__login"]
    ordering = ["-created_at"]
    fields = ["preset_name", "user", "status", "created_at", "started_at", "finished_at",
              "selection", "progress", "result"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
