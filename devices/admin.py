"""Django admin for the device integration settings and the inventory (sources, multiviewers).

Secrets (NEXX API key, JWT password) are write-only: the form never renders them back; it shows
whether one is set, keeps it when the field is left empty, and clears it only when asked.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from devices.models import EditLease, Multiviewer, NexxSettings, QuartzSettings, Source
from mvcontrol.events import publish

SECRET_FIELDS = ("api_key", "jwt_password")
LISTEN_NUMBERS = ("listen_port", "listen_check_seconds")


def secret_status(value: str) -> str:
    return "set" if value else "not set"


class SingletonAdmin(admin.ModelAdmin):
    """One row only: the list view goes straight to it, and it cannot be added twice or
    deleted."""

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not self.model.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)
        obj = self.model.load()
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        )


@admin.register(QuartzSettings)
class QuartzSettingsAdmin(SingletonAdmin):
    fieldsets = [
        ("Router", {"fields": ["host", "port", "connection_style"]}),
        ("Size", {"fields": ["source_count", "output_count"]}),
        ("Timing and protection", {"fields": ["connect_timeout", "read_timeout",
                                              "commands_per_second", "max_outstanding"]}),
    ]


class NexxSettingsForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the current key.",
    )
    jwt_password = forms.CharField(
        required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave empty to keep the current password.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored API key")
    clear_jwt_password = forms.BooleanField(required=False, label="Remove the stored password")

    class Meta:
        model = NexxSettings
        fields = ["base_url", "auth_mode", "api_key", "jwt_username", "jwt_password",
                  "verify_tls", "requests_per_second", "timeout", "listen_enabled",
                  "listen_advertise", "listen_port", "listen_check_seconds"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form (or script) that leaves the listener's numbers out keeps the stored ones.
        for name in LISTEN_NUMBERS:
            self.fields[name].required = False
        # Keep the stored secrets out of the rendered form entirely.
        self._stored = {f: getattr(self.instance, f, "") for f in SECRET_FIELDS}
        for field in SECRET_FIELDS:
            self.initial[field] = ""

    def clean(self):
        cleaned = super().clean()
        for name in LISTEN_NUMBERS:
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = getattr(self.instance, name)
        for field in SECRET_FIELDS:
            if cleaned.get(f"clear_{field}"):
                cleaned[field] = ""
            elif not cleaned.get(field):
                cleaned[field] = self._stored[field]
        return cleaned

    def _post_clean(self):
        # Model.clean() (which checks a key is present for the auth mode) must see the kept secret.
        for field in SECRET_FIELDS:
            if field in self.cleaned_data:
                setattr(self.instance, field, self.cleaned_data[field])
        super()._post_clean()


@admin.register(NexxSettings)
class NexxSettingsAdmin(SingletonAdmin):
    form = NexxSettingsForm
    readonly_fields = ["api_key_status", "jwt_password_status"]
    fieldsets = [
        ("Frame", {"fields": ["base_url", "verify_tls", "timeout", "requests_per_second"]}),
        ("Authentication", {"fields": ["auth_mode", "api_key_status", "api_key", "clear_api_key",
                                       "jwt_username", "jwt_password_status", "jwt_password",
                                       "clear_jwt_password"]}),
        ("Change notifications (manage.py nexx_listen)", {
            "fields": ["listen_enabled", "listen_advertise", "listen_port",
                       "listen_check_seconds"],
            "description": "The frame pushes every change of the multiviewers to nexx_listen "
                           "over UDP; its status is under Device state → NEXX listener status.",
        }),
    ]

    @admin.display(description="API key")
    def api_key_status(self, obj: NexxSettings) -> str:
        return secret_status(obj.api_key)

    @admin.display(description="JWT password")
    def jwt_password_status(self, obj: NexxSettings) -> str:
        return secret_status(obj.jwt_password)


class CategoryFilter(admin.SimpleListFilter):
    """The categories in use, and the sources without one (which Django's own filter of a text
    field cannot pick out: an empty value has no link of its own)."""

    title = "category"
    parameter_name = "category"
    # A category is "=" + its name, so that no name an admin types can mean "no category".
    NONE = "none"

    def lookups(self, request, model_admin):
        names = (Source.objects.exclude(category="").order_by("category")
                 .values_list("category", flat=True).distinct())
        return [(self.NONE, "No category"), *((f"={name}", name) for name in names)]

    def queryset(self, request, queryset):
        value = self.value()
        if value == self.NONE:
            return queryset.filter(category="")
        if value and value.startswith("="):
            return queryset.filter(category=value[1:])
        return queryset


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["quartz_input", "label", "category"]
    # Categories are set here only: a refresh renames sources from the router, never regroups.
    list_editable = ["category"]
    list_filter = [CategoryFilter]
    search_fields = ["label", "category", "quartz_input"]
    ordering = ["quartz_input"]


@admin.register(Multiviewer)
class MultiviewerAdmin(admin.ModelAdmin):
    list_display = ["number", "label", "nexx_index", "on_the_frame", "quartz_output_base",
                    "edited_by"]
    list_filter = ["enabled"]
    search_fields = ["label"]
    ordering = ["nexx_index"]
    actions = ["break_edit_lease"]

    @admin.display(description="Multiviewer", ordering="nexx_index")
    def number(self, obj: Multiviewer) -> str:
        return f"MV {obj.number}"

    @admin.display(description="On the frame", ordering="enabled")
    def on_the_frame(self, obj: Multiviewer) -> str:
        # Followed by every refresh (the frame's enable flag); operators holding a grant see
        # the multiviewer listed the same way, and cannot open it until it is switched on.
        if obj.enabled:
            return "on"
        return format_html('<span class="off-on-the-frame" style="color: {};">{}</span>',
                           "var(--body-quiet-color, #999)", "off on the frame")

    @admin.display(description="Edited by")
    def edited_by(self, obj: Multiviewer) -> str:
        lease = getattr(obj, "edit_lease", None)
        if lease is None or lease.expires_at <= timezone.now():
            return "—"
        return f"{lease.user.login} until {timezone.localtime(lease.expires_at):%H:%M:%S}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("edit_lease__user")

    @admin.action(description="Break edit lease")
    def break_edit_lease(self, request, queryset) -> None:
        """Free the selected multiviewers for other editors (someone left a page open)."""
        live = EditLease.objects.filter(multiviewer__in=queryset, expires_at__gt=timezone.now())
        broken = [lease.multiviewer for lease in live.select_related("multiviewer")]
        EditLease.objects.filter(multiviewer__in=queryset).delete()
        for mv in broken:
            publish("lease", multiviewer=mv.pk, action="broken", lease=None)
        if broken:
            self.message_user(request, "Edit lease broken on "
                              + ", ".join(str(mv) for mv in broken) + ".",
                              messages.SUCCESS)
        else:
            self.message_user(request, "None of the selected multiviewers was being edited.",
                              messages.INFO)


# The catalog admin (enum labels, layout geometry) lives in its own module; registering it here
# keeps Django's admin autodiscovery (which imports devices.admin only) finding it.
import devices.admin_catalog  # noqa: E402, F401
