"""Django admin for the NEXX catalog data an installation corrects: enum labels (they change
with the firmware) and the layout geometry. Imported by devices/admin.py."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html, format_html_join

from devices.models import Layout, LayoutWindow, NexxEnumLabel
from devices.nexx.catalog import BY_VARID
from devices.nexx.layouts import MAX_WINDOWS, default_layouts, window_problems


@admin.register(NexxEnumLabel)
class NexxEnumLabelAdmin(admin.ModelAdmin):
    list_display = ["varid", "parameter", "value", "label", "shipped_label"]
    list_display_links = ["varid"]
    list_editable = ["label"]
    list_filter = ["varid"]
    search_fields = ["label"]
    ordering = ["varid", "value"]
    actions = ["restore_shipped_labels"]

    def get_readonly_fields(self, request, obj=None):
        return ["varid", "value"] if obj is not None else []

    @admin.display(description="Parameter")
    def parameter(self, obj: NexxEnumLabel) -> str:
        p = BY_VARID.get(obj.varid)
        return f"{p.name} ({p.scope})" if p else "?"

    @admin.display(description="Shipped label")
    def shipped_label(self, obj: NexxEnumLabel) -> str:
        return obj.default_label

    @admin.action(description="Restore the shipped labels of the selected values")
    def restore_shipped_labels(self, request, queryset) -> None:
        restored = 0
        for row in queryset:
            if row.default_label and row.label != row.default_label:
                row.label = row.default_label
                row.save(update_fields=["label"])
                restored += 1
        self.message_user(request, f"{restored} label(s) restored.", messages.SUCCESS)


class LayoutWindowFormSet(forms.BaseInlineFormSet):
    """The windows of a layout together: 1..16 of them, ids exactly 1..n."""

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        windows = [
            {"id": f.cleaned_data["window"], **{k: f.cleaned_data[k] for k in "xywh"}}
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        problems = window_problems(windows, "This layout")
        if problems:
            raise forms.ValidationError(problems)


class LayoutWindowInline(admin.TabularInline):
    model = LayoutWindow
    formset = LayoutWindowFormSet
    extra = 0
    min_num = 1
    max_num = MAX_WINDOWS
    fields = ["window", "x", "y", "w", "h"]
    ordering = ["window"]


@admin.register(Layout)
class LayoutAdmin(admin.ModelAdmin):
    list_display = ["number", "name", "window_count", "preview"]
    search_fields = ["name"]
    ordering = ["number"]
    inlines = [LayoutWindowInline]
    readonly_fields = ["preview"]
    actions = ["restore_shipped_geometry"]

    def get_readonly_fields(self, request, obj=None):
        return ["number", "preview"] if obj is not None else ["preview"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # A missing row means "shipped geometry", which is what the restore action gives
        # explicitly; deleting would look like removing a layout the frame still has.
        return False

    @admin.display(description="Windows")
    def window_count(self, obj: Layout) -> int:
        return obj.windows.count()

    @admin.display(description="Preview")
    def preview(self, obj: Layout | None) -> str:
        if obj is None or obj.pk is None:
            return "-"
        rects = format_html_join(
            "", '<rect x="{}" y="{}" width="{}" height="{}" fill="#2b4a6f" stroke="#fff" '
            'stroke-width="1"/><text x="{}" y="{}" font-size="10" fill="#fff">{}</text>',
            ((round(w.x * 160, 1), round(w.y * 90, 1), round(w.w * 160, 1),
              round(w.h * 90, 1), round(w.x * 160 + 3, 1), round(w.y * 90 + 11, 1), w.window)
             for w in obj.windows.order_by("window")),
        )
        return format_html('<svg width="160" height="90" viewBox="0 0 160 90" '
                           'style="background:#111">{}</svg>', rects)

    @admin.action(description="Restore the shipped geometry of the selected layouts")
    def restore_shipped_geometry(self, request, queryset) -> None:
        shipped = default_layouts()
        with transaction.atomic():
            for layout in queryset:
                geometry = shipped[layout.number]
                layout.windows.all().delete()
                LayoutWindow.objects.bulk_create(
                    LayoutWindow(layout=layout, window=w.id, x=w.x, y=w.y, w=w.w, h=w.h)
                    for w in geometry.windows
                )
                layout.name = geometry.name
                layout.save(update_fields=["name", "updated_at"])
        self.message_user(request, f"{queryset.count()} layout(s) restored.", messages.SUCCESS)
