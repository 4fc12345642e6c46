"""What an apply would send: the preset minus the cached state (no database, no devices)."""

from __future__ import annotations

from presets.document import Context, read
from presets.plan import Current, group_of, multiviewer_report, overall_status, plan_multiviewer
from tests.presets.docs import UMD_LAYER, valid_document

COUNTS = {1: 4, 2: 16, 3: 13}
PART = read(valid_document(), Context()).multiviewers[0]  # layout 1, windows 1..4, all groups


def current_equal_to_part() -> Current:
    params = {"layout": 1, "font": 1, "outer_border": 2, "inner_border": 1, "output_format": 0}
    windows = {w.window: {"pcm_bars": w.pcm_bars,
                          "umd": [dict(layer.values) for layer in w.umd]} for w in PART.windows}
    routes = {w.window: w.source.quartz_input for w in PART.windows}
    return Current(params, windows, routes)


def test_a_preset_equal_to_the_state_sends_nothing():
    plan = plan_multiviewer(PART, current_equal_to_part(), PART.groups, COUNTS)
    assert plan.empty and plan.items() == [] and plan.failed == []
    assert "layout" in plan.skipped and "window 3 umd layer 2" in plan.skipped
    assert "window 4 source" in plan.skipped
    report = multiviewer_report(plan)
    assert report["status"] == "done"
    assert {g["group"]: g["status"] for g in report["groups"]} == {
        g: "skipped" for g in PART.groups}


def test_only_the_differences_are_planned_item_by_item():
    current = current_equal_to_part()
    current.params["font"] = 0
    current.windows[2]["pcm_bars"] = 0
    current.windows[3]["umd"][1] = {**current.windows[3]["umd"][1], "text": "old", "x": 0}
    current.routes[4] = 17
    plan = plan_multiviewer(PART, current, PART.groups, COUNTS)
    assert plan.items() == ["font", "window 2 pcm_bars", "window 3 umd layer 2",
                            "window 4 source"]
    assert plan.windows[3].umd == {2: {"text": "", "x": 10}}
    assert plan.parameter_count() == 1 + 1 + 2 + 1
    change = plan.to_change({4: "SOURCE 4"})
    assert change.font == 1 and change.layout is None
    assert [(w.window, w.source, w.pcm_bars) for w in change.windows] == [
        (2, None, 8), (3, None, None), (4, "SOURCE 4", None)]
    assert change.parameter_count() == plan.parameter_count()
    assert "window 3 umd layer 2" not in plan.skipped
    assert not [name for name in plan.skipped if name.startswith("window 3 umd layer 2 ")]


def test_groups_limit_what_is_planned():
    current = Current({"layout": 3}, {}, {})
    plan = plan_multiviewer(PART, current, ["pcm"], COUNTS)
    assert plan.groups == ["pcm"]
    # Windows are checked against the layout in force (3: 13 windows), not the preset's.
    assert plan.items() == [f"window {n} pcm_bars" for n in (1, 2, 3, 4)]


def test_windows_outside_the_layout_in_force_fail_with_a_reason():
    part = read(valid_document(), Context()).multiviewers[0]
    current = Current({"layout": 43}, {}, {})  # 2 windows
    plan = plan_multiviewer(part, current, ["sources"], {**COUNTS, 43: 2})
    assert plan.items() == ["window 1 source", "window 2 source"]
    assert [(f["item"], f["error"]) for f in plan.failed] == [
        ("window 3 source", "window_not_in_layout"), ("window 4 source", "window_not_in_layout")]
    report = multiviewer_report(plan, applied=plan.items())
    assert report["status"] == "partial"
    (sources,) = report["groups"]
    assert sources["status"] == "partial" and "not in layout 43" in sources["failed"][0]["detail"]


def test_an_unknown_layout_fails_the_windows_not_the_rest():
    current = Current({"layout": None, "font": 0}, {}, {})
    plan = plan_multiviewer(PART, current, ["font", "pcm"], COUNTS)
    assert plan.items() == ["font"]
    assert {f["error"] for f in plan.failed} == {"layout_unknown"}
    assert len(plan.failed) == 4


def test_a_missing_cached_window_is_sent_whole():
    current = current_equal_to_part()
    del current.windows[1]
    plan = plan_multiviewer(PART, current, ["umd"], COUNTS)
    assert plan.items() == ["window 1 umd layer 1", "window 1 umd layer 2",
                            "window 1 umd layer 3"]
    assert plan.parameter_count() == 30
    assert plan.windows[1].umd[2] == {k: ("" if k == "text" else v)
                                      for k, v in UMD_LAYER.items()}


def test_device_outcomes_are_sorted_into_groups():
    plan = plan_multiviewer(PART, Current({}, {}, {}), PART.groups, COUNTS)
    report = multiviewer_report(
        plan, applied=["layout", "font", "outer_border", "inner_border", "output_format",
                       "window 1 pcm_bars"],
        failed=[{"item": "window 1 umd layer 1", "error": "device_timeout", "detail": "slow"},
                {"item": "window 1 source", "error": "not_attempted", "detail": "stopped"}])
    statuses = {g["group"]: g["status"] for g in report["groups"]}
    assert statuses == {"layout": "applied", "font": "applied", "borders": "applied",
                        "output_format": "applied", "pcm": "applied", "umd": "failed",
                        "sources": "failed"}
    assert report["status"] == "partial"


def test_item_names_map_to_groups():
    assert group_of("outer_border") == "borders"
    assert group_of("window 12 umd layer 3 text") == "umd"
    assert group_of("window 2 source") == "sources"
    assert group_of("window 2 pcm_bars") == "pcm"
    assert group_of("something else") == "other"


def test_overall_status():
    assert overall_status(["done", "done"]) == "done"
    assert overall_status(["failed", "failed"]) == "failed"
    assert overall_status(["done", "failed"]) == "partial"
    assert overall_status(["partial"]) == "partial"
