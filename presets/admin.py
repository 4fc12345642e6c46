import json

from django.contrib import admin
from django.utils.html import format_html

from presets.models import Preset


@admin.register(Preset)
class PresetAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    list_filter = ["owner"]
    search_fields = ["name"]
    ordering = ["-created_at"]
    fields = ["name", "owner", "created_at", "payload_view"]
    readonly_fields = ["owner", "created_at", "payload_view"]

    def has_add_permission(self, request) -> bool:
        # Presets are saved from the control page, where their content comes from the state.
        return False

    @admin.display(description="Payload")
    def payload_view(self, obj: Preset) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))
