"""The layout catalog: shipped geometry, validation, import/export, database over defaults."""

import copy
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from devices.layouts import (
    import_layouts,
    layout_catalog,
    layout_geometry,
    layouts_document,
    window_count,
)
from devices.models import Layout, LayoutWindow
from devices.nexx.layouts import (
    REFERENCE_WINDOW_COUNTS,
    LayoutImportError,
    UnknownLayout,
    default_layouts,
    parse_layout_document,
    window_problems,
)

REFERENCE_TABLE = {1: 4, 2: 16, 3: 13, 5: 8, 36: 9, 41: 12, 43: 2,
                   **dict.fromkeys([4, 6, 7, 8, 9, 10, 11], 7),
                   **dict.fromkeys(range(12, 28), 10), **dict.fromkeys(range(28, 36), 13),
                   **dict.fromkeys([37, 38, 39, 40, 42], 6)}


def shipped_document() -> dict:
    return {"partial": False, "layouts": [g.as_dict() for g in default_layouts().values()]}


def test_window_counts_are_the_references():
    assert REFERENCE_WINDOW_COUNTS == REFERENCE_TABLE
    assert {n: g.window_count for n, g in default_layouts().items()} == REFERENCE_TABLE


@pytest.mark.parametrize("number", range(1, 44))
def test_shipped_geometry_is_valid(number):
    geometry = default_layouts()[number]
    windows = [w.as_dict() for w in geometry.windows]
    assert window_problems(windows, f"layout {number}") == []
    assert geometry.name


def test_shipped_layouts_are_all_different_and_grids_are_exact():
    shapes = {tuple((w.x, w.y, w.w, w.h) for w in g.windows) for g in default_layouts().values()}
    assert len(shapes) == 43
    quad = [(w.x, w.y, w.w, w.h) for w in default_layouts()[1].windows]
    assert quad == [(0, 0, 0.5, 0.5), (0.5, 0, 0.5, 0.5), (0, 0.5, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)]
    pip = default_layouts()[43].windows
    assert (pip[0].w, pip[0].h) == (1.0, 1.0)


def test_every_problem_of_a_file_is_listed():
    doc = shipped_document()
    doc["layouts"] = doc["layouts"][:40]          # 41..43 missing
    doc["layouts"][0]["windows"][1]["id"] = 1     # duplicate id
    doc["layouts"][1]["windows"][0]["x"] = 0.9    # leaves the picture
    doc["layouts"][2]["windows"] = []              # no window
    doc["layouts"][3]["windows"][0]["w"] = "wide"  # not a number
    doc["layouts"][4]["layout"] = 99               # not a layout
    doc["layouts"][5]["windows"][0]["h"] = 0       # no height
    doc["layouts"][6]["windows"].append(dict(doc["layouts"][6]["windows"][0], id=20))
    with pytest.raises(LayoutImportError) as info:
        parse_layout_document(doc)
    text = "\n".join(info.value.problems)
    assert "layout 1: window id(s) used twice: 1" in text
    assert "layout 2, window 1: leaves the picture" in text
    assert "layout 3: has 0 windows" in text
    assert "layout 4, window 1: w must be a number" in text
    assert "layouts[4]: 'layout' must be 1 to 43, got 99" in text
    assert "layout 6, window 1: w and h must be positive" in text
    assert "layout 7: window ids must be 1 to 8" in text
    assert "layout(s) missing: 5, 41–43" in text


def test_seventeen_windows_are_too_many():
    windows = [{"id": i, "x": 0, "y": 0, "w": 0.1, "h": 0.1} for i in range(1, 18)]
    assert any("has 17 windows" in p for p in window_problems(windows, "layout 2"))


def test_partial_needs_the_flag():
    doc = {"layouts": [default_layouts()[5].as_dict()]}
    with pytest.raises(LayoutImportError, match="missing: 1–4, 6–43"):
        parse_layout_document(doc)
    assert [g.layout for g in parse_layout_document(doc, partial=True)] == [5]
    assert [g.layout for g in parse_layout_document({**doc, "partial": True})] == [5]


@pytest.mark.django_db
def test_the_migration_seeds_the_shipped_catalog():
    assert Layout.objects.count() == 43
    assert LayoutWindow.objects.count() == sum(REFERENCE_TABLE.values())
    assert layout_catalog() == default_layouts()


@pytest.mark.django_db
def test_database_rows_win_and_missing_ones_fall_back_to_the_defaults():
    LayoutWindow.objects.all().delete()
    Layout.objects.all().delete()
    assert window_count(2) == 16
    assert layout_geometry(1)[0] == {"id": 1, "x": 0.0, "y": 0.0, "w": 0.5, "h": 0.5}
    import_layouts({"partial": True, "layouts": [
        {"layout": 2, "name": "Custom", "windows": [{"id": 1, "x": 0, "y": 0, "w": 1, "h": 1},
                                                    {"id": 2, "x": 0.5, "y": 0.5, "w": 0.5,
                                                     "h": 0.5}]}]})
    assert window_count(2) == 2
    assert layout_geometry(2)[1] == {"id": 2, "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5}
    assert layout_catalog()[2].name == "Custom"
    assert window_count(1) == 4
    for bad in (0, 44, "3", None):
        with pytest.raises(UnknownLayout):
            window_count(bad)


@pytest.mark.django_db
def test_export_then_import_round_trip(tmp_path, capsys):
    call_command("export_layouts")
    exported = json.loads(capsys.readouterr().out)
    assert exported == layouts_document()
    assert len(exported["layouts"]) == 43
    changed = copy.deepcopy(exported)
    changed["layouts"][40]["windows"][0]["w"] = 0.2
    path = tmp_path / "layouts.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    call_command("import_layouts", str(path))
    assert layout_geometry(41)[0]["w"] == 0.2
    out = tmp_path / "again.json"
    call_command("export_layouts", "--output", str(out))
    assert json.loads(out.read_text(encoding="utf-8")) == changed


@pytest.mark.django_db
def test_a_bad_file_imports_nothing_and_lists_every_problem(tmp_path):
    doc = shipped_document()
    doc["layouts"][0]["windows"][0]["x"] = -0.1
    doc["layouts"][9]["windows"][0]["y"] = 2
    doc["layouts"][20]["name"] = "Renamed but refused"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(CommandError) as info:
        call_command("import_layouts", str(path))
    message = str(info.value)
    assert "Nothing imported" in message and "3 problem(s)" in message
    assert "layout 1, window 1" in message and "layout 10, window 1" in message
    assert layout_catalog()[21].name != "Renamed but refused"


@pytest.mark.django_db
def test_partial_import_from_the_command(tmp_path):
    path = tmp_path / "one.json"
    one = default_layouts()[36].as_dict()
    one["windows"] = one["windows"][:4]
    del one["window_count"]  # it would have to say 4
    path.write_text(json.dumps({"layouts": [one]}), encoding="utf-8")
    with pytest.raises(CommandError, match="missing"):
        call_command("import_layouts", str(path))
    call_command("import_layouts", str(path), "--partial")
    assert window_count(36) == 4
    assert window_count(37) == 6


@pytest.mark.django_db
def test_unreadable_files(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_layouts", str(tmp_path / "missing.json"))
    path = tmp_path / "garbage.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("import_layouts", str(path))


@pytest.mark.django_db
def test_the_database_refuses_a_window_outside_the_picture():
    layout = Layout.objects.get(number=1)
    with pytest.raises(IntegrityError):
        LayoutWindow.objects.create(layout=layout, window=9, x=0.8, y=0, w=0.5, h=0.5)
