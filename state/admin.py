"""Read-only views of the cached device state and the refresh runs, newest first.

The refresh runs page shows the last refresh prominently (status, when, who, counts, errors, and
its progress while it runs) and has a "Refresh now" button. The NEXX listener's status (one row,
written by `manage.py nexx_listen`) opens straight on that row.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from mvcontrol.errors import DomainError
from state.models import (
    MultiviewerState,
    NexxListenerStatus,
    RefreshRun,
    RoutingState,
    WindowState,
)
from state.services import StateService


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MultiviewerState)
class MultiviewerStateAdmin(ReadOnlyAdmin):
    list_display = ["multiviewer", "layout", "font", "outer_border", "inner_border",
                    "output_format", "updated_at"]
    ordering = ["-updated_at"]


@admin.register(WindowState)
class WindowStateAdmin(ReadOnlyAdmin):
    list_display = ["multiviewer", "window_number", "pcm_bars", "updated_at"]
    list_filter = ["multiviewer"]
    ordering = ["-updated_at", "multiviewer", "window_index"]

    @admin.display(description="Window", ordering="window_index")
    def window_number(self, obj: WindowState) -> int:
        return obj.window_index + 1


@admin.register(RoutingState)
class RoutingStateAdmin(ReadOnlyAdmin):
    list_display = ["output", "output_label", "input", "updated_at"]
    search_fields = ["output_label"]
    ordering = ["-updated_at", "output"]


STATUS_COLOURS = {"success": "#2e7d32", "partial": "#ef6c00", "failed": "#c62828",
                  "running": "#1565c0"}


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "finished_at", "status_badge", "trigger", "user",
                    "scope_text", "counts_text"]
    list_filter = ["status", "trigger"]
    ordering = ["-started_at"]
    readonly_fields = ["status", "trigger", "user", "scope", "started_at", "finished_at",
                       "counts", "error_summary", "progress"]
    fields = readonly_fields
    change_list_template = "admin/state/refreshrun/change_list.html"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: RefreshRun) -> str:
        return format_html('<strong style="color: {}">{}</strong>',
                           STATUS_COLOURS.get(obj.status, "inherit"), obj.get_status_display())

    @admin.display(description="Scope")
    def scope_text(self, obj: RefreshRun) -> str:
        from state.runs import Scope

        return Scope.from_json(obj.scope).describe()

    @admin.display(description="Read")
    def counts_text(self, obj: RefreshRun) -> str:
        return counts_summary(obj.counts or {})

    def get_urls(self):
        urls = super().get_urls()
        refresh = path("refresh-now/", self.admin_site.admin_view(self.refresh_now),
                       name="state_refreshrun_refresh_now")
        return [refresh, *urls]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        status = StateService.refresh_status()
        context = {
            "refresh_status": status,
            "refresh_colours": STATUS_COLOURS,
            "refresh_now_url": reverse("admin:state_refreshrun_refresh_now"),
            "last_counts": counts_summary((status["last"] or {}).get("counts") or {}),
        }
        return super().changelist_view(request, {**(extra_context or {}), **context})

    def refresh_now(self, request: HttpRequest):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            ticket = StateService.request_refresh(user=request.user)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.WARNING)
        else:
            if ticket.joined:
                self.message_user(request, f"A refresh was already running (run "
                                           f"#{ticket.run.pk}); follow it below.", messages.INFO)
            else:
                self.message_user(request, f"Refresh run #{ticket.run.pk} started; its progress "
                                           f"shows below.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:state_refreshrun_changelist"))


LISTENER_STALE = timedelta(seconds=30)  # the listener writes its status every 2 s


@admin.register(NexxListenerStatus)
class NexxListenerStatusAdmin(ReadOnlyAdmin):
    """What manage.py nexx_listen is doing: registered?, parameters live of planned, the last
    datagram and the last check."""

    list_display = ["running_state", "registered", "live_text", "last_datagram_at",
                    "last_heal_at"]
    readonly_fields = ["running_state", "problem", "frame", "receiver", "registered",
                       "live_text", "refused", "datagrams", "junk_datagrams", "changes_applied",
                       "last_datagram_at", "last_heal_at", "last_heal", "started_at",
                       "heartbeat_at"]
    fieldsets = [
        (None, {"fields": ["running_state", "problem", "frame", "receiver", "registered"]}),
        ("Subscriptions", {"fields": ["live_text", "refused"]}),
        ("Notifications", {"fields": ["last_datagram_at", "datagrams", "junk_datagrams",
                                      "changes_applied"]}),
        ("Healing", {"fields": ["last_heal_at", "last_heal"]}),
        ("Process", {"fields": ["started_at", "heartbeat_at"]}),
    ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)
        row = NexxListenerStatus.load()
        return HttpResponseRedirect(reverse("admin:state_nexxlistenerstatus_change",
                                            args=[row.pk]))

    @admin.display(description="State")
    def running_state(self, obj: NexxListenerStatus) -> str:
        alive = obj.heartbeat_at is not None and timezone.now() - obj.heartbeat_at <= \
            LISTENER_STALE
        if alive or obj.state in ("stopped", "not started"):
            return obj.state
        return f"not running (was: {obj.state})"

    @admin.display(description="Parameters live")
    def live_text(self, obj: NexxListenerStatus) -> str:
        text = f"{obj.parameters_live} of {obj.parameters_planned}"
        if obj.eta_seconds:
            text += f" (subscribing, about {max(1, round(obj.eta_seconds / 60))} min left)"
        return text


def counts_summary(counts: dict) -> str:
    parts = []
    if "multiviewers" in counts:
        parts.append(f"{counts['multiviewers']} multiviewers, {counts.get('windows', 0)} windows")
    if "sources" in counts:
        parts.append(f"{counts['sources']} sources")
    if "routes" in counts:
        unknown = counts.get("routes_unknown")
        parts.append(f"{counts['routes']} routes read"
                     + (f", {unknown} unknown" if unknown else ""))
    if "nexx_requests" in counts:
        parts.append(f"{counts['nexx_requests']} NEXX requests")
    return "; ".join(parts) or "—"
