"""The layouts in force: the database rows over the shipped defaults.

devices/nexx/layouts.py ships the geometry of layouts 1..43 and checks layout documents without
touching the database; an installation corrects that geometry in Django admin or imports its own
(`manage.py import_layouts FILE.json`) into devices.models.Layout / LayoutWindow. Wherever a
layout has stored windows they win; elsewhere the shipped geometry stands.

    layout_catalog()[36].window_count      # 9, or what the installation stored
    window_count(2)                        # 16
    layout_geometry(1)                     # [{"id": 1, "x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5}, …]
    layouts_document()                     # GET /api/layouts, export_layouts
    import_layouts(doc, partial=True)      # import_layouts; LayoutImportError lists every problem
"""

from __future__ import annotations

from django.db import transaction

from devices.models import Layout, LayoutWindow
from devices.nexx.layouts import (
    LayoutGeometry,
    Window,
    check_layout_number,
    default_layouts,
    parse_layout_document,
)


def layout_catalog() -> dict[int, LayoutGeometry]:
    """Layouts 1..43 as configured: the database rows where present, the defaults elsewhere."""
    layouts = dict(default_layouts())
    stored: dict[int, list[Window]] = {}
    names: dict[int, str] = {}
    rows = LayoutWindow.objects.select_related("layout").order_by("layout_id", "window")
    for row in rows:
        stored.setdefault(row.layout_id, []).append(
            Window(row.window, row.x, row.y, row.w, row.h))
        names[row.layout_id] = row.layout.name
    for number, windows in stored.items():
        layouts[number] = LayoutGeometry(number, names[number] or layouts[number].name,
                                         tuple(windows))
    return layouts


def _stored_windows(layout: int) -> list[Window]:
    return [Window(r.window, r.x, r.y, r.w, r.h)
            for r in LayoutWindow.objects.filter(layout_id=layout).order_by("window")]


def window_count(layout: int) -> int:
    """Number of windows of layout 1..43 (UnknownLayout otherwise)."""
    check_layout_number(layout)
    stored = LayoutWindow.objects.filter(layout_id=layout).count()
    return stored or default_layouts()[layout].window_count


def layout_geometry(layout: int) -> list[dict]:
    """The windows of layout 1..43: [{"id": 1, "x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5}, …]."""
    check_layout_number(layout)
    windows = _stored_windows(layout) or list(default_layouts()[layout].windows)
    return [w.as_dict() for w in windows]


def layouts_document() -> dict:
    """GET /api/layouts, and what export_layouts writes (import_layouts reads it back)."""
    return {"partial": False,
            "layouts": [g.as_dict() for g in layout_catalog().values()]}


def import_layouts(doc: object, *, partial: bool = False) -> list[int]:
    """Validate a layout document and store it in one transaction (all or nothing). Returns the
    layout numbers written; LayoutImportError (nothing written) lists every problem."""
    layouts = parse_layout_document(doc, partial=partial)
    defaults = default_layouts()
    with transaction.atomic():
        for geometry in layouts:
            row, _ = Layout.objects.update_or_create(
                number=geometry.layout,
                defaults={"name": geometry.name or defaults[geometry.layout].name},
            )
            row.windows.all().delete()
            LayoutWindow.objects.bulk_create(
                LayoutWindow(layout=row, window=w.id, x=w.x, y=w.y, w=w.w, h=w.h)
                for w in geometry.windows
            )
    return [g.layout for g in layouts]
