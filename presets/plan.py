"""What applying a preset to one multiviewer would send: the preset minus the cached state.

No I/O: the caller hands in the multiviewer's part of the preset, what the cache says of it
(`Current`), the groups to apply and the window count of each layout. Items are named as
ControlService names them ("layout", "font", "window 3 pcm_bars", "window 3 umd layer 2",
"window 3 source"), so its ApplyResult can be laid over the plan group by group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from control.changes import pcm_item, source_item, umd_item, window_items
from presets.document import GROUPS, UMD_KEYS, MultiviewerPart

#: Multiviewer-wide parameters and the group each belongs to, in sending order.
MULTIVIEWER_PARAM_GROUPS = {"layout": "layout", "font": "font", "outer_border": "borders",
                            "inner_border": "borders", "output_format": "output_format"}
WINDOW_NOT_IN_LAYOUT = "window_not_in_layout"
LAYOUT_UNKNOWN = "layout_unknown"


@dataclass
class Current:
    """The cached state of one multiviewer. `windows` by window number (1-based):
    {"pcm_bars": int | None, "umd": [layer dicts]}; `routes` by window number: the router input
    feeding it (None: unknown)."""

    params: Mapping[str, int | None]
    windows: Mapping[int, Mapping] = field(default_factory=dict)
    routes: Mapping[int, int | None] = field(default_factory=dict)


@dataclass
class WindowPlan:
    source: int | None = None  # router input to route
    pcm_bars: int | None = None
    umd: dict[int, dict[str, object]] = field(default_factory=dict)  # layer 1..3 → values


@dataclass
class MultiviewerPlan:
    nexx_index: int
    groups: list[str]  # the groups applied to this multiviewer (selected and saved)
    params: dict[str, int] = field(default_factory=dict)  # layout, font, … to send
    windows: dict[int, WindowPlan] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # equal to the cached state
    failed: list[dict] = field(default_factory=list)  # {"item", "error", "detail"}

    def items(self) -> list[str]:
        """The items that will be sent, as ControlService names them."""
        names = list(self.params)
        for number, window in sorted(self.windows.items()):
            names += window_items(number, pcm_bars=window.pcm_bars is not None,
                                  layers=sorted(window.umd), source=window.source is not None)
        return names

    def group_counts(self) -> dict[str, int]:
        """parameter_count() by preset group (groups with nothing to send are left out)."""
        counts: dict[str, int] = {}

        def add(group: str, n: int) -> None:
            if n:
                counts[group] = counts.get(group, 0) + n

        for key in self.params:
            add(MULTIVIEWER_PARAM_GROUPS[key], 1)
        for window in self.windows.values():
            add("pcm", window.pcm_bars is not None)
            add("umd", sum(len(values) for values in window.umd.values()))
            add("sources", window.source is not None)
        return counts

    def parameter_count(self) -> int:
        """NEXX parameters plus router switches (as MultiviewerChange.parameter_count)."""
        return len(self.params) + sum(
            (w.source is not None) + (w.pcm_bars is not None)
            + sum(len(values) for values in w.umd.values())
            for w in self.windows.values())

    @property
    def empty(self) -> bool:
        return self.parameter_count() == 0

    def to_change(self, sources: Mapping[int, object]):
        """The control MultiviewerChange; `sources` maps router input → Source."""
        from control.changes import MultiviewerChange, UmdLayerChange, WindowChange

        windows = [
            WindowChange(number,
                         source=sources[w.source] if w.source is not None else None,
                         pcm_bars=w.pcm_bars,
                         umd=[UmdLayerChange(layer, dict(values))
                              for layer, values in sorted(w.umd.items())])
            for number, w in sorted(self.windows.items())
        ]
        return MultiviewerChange(windows=windows, **self.params)


def plan_multiviewer(part: MultiviewerPart, current: Current, groups: Iterable[str],
                     window_counts: Mapping[int, int]) -> MultiviewerPlan:
    """What differs between `part` and `current`, limited to `groups`."""
    wanted = [g for g in part.groups if g in set(groups)]
    plan = MultiviewerPlan(part.nexx_index, wanted)
    for key, group in MULTIVIEWER_PARAM_GROUPS.items():
        value = getattr(part, key)
        if group not in wanted or value is None:
            continue
        if current.params.get(key) == value:
            plan.skipped.append(key)
        else:
            plan.params[key] = value

    window_groups = {"pcm", "umd", "sources"} & set(wanted)
    if not window_groups or not part.windows:
        return plan
    layout = part.layout if "layout" in wanted else current.params.get("layout")
    if layout is None:
        for window in part.windows:
            for name in _window_items(window.window, window, window_groups):
                plan.failed.append({
                    "item": name, "error": LAYOUT_UNKNOWN,
                    "detail": "The multiviewer's layout is not known yet, so its windows "
                              "cannot be checked; refresh the state first."})
        return plan
    count = window_counts.get(layout, 0)
    for window in part.windows:
        number = window.window
        if number > count:
            for name in _window_items(number, window, window_groups):
                plan.failed.append({
                    "item": name, "error": WINDOW_NOT_IN_LAYOUT,
                    "detail": f"Window {number} is not in layout {layout}, which has "
                              f"{count} windows."})
            continue
        cached = current.windows.get(number) or {}
        wp = WindowPlan()
        if "pcm" in window_groups and window.pcm_bars is not None:
            if cached.get("pcm_bars") == window.pcm_bars:
                plan.skipped.append(pcm_item(number))
            else:
                wp.pcm_bars = window.pcm_bars
        if "umd" in window_groups and window.umd is not None:
            cached_layers = cached.get("umd") if isinstance(cached.get("umd"), list) else []
            for layer in window.umd:
                have = cached_layers[layer.layer - 1] if len(cached_layers) >= layer.layer \
                    else {}
                have = have if isinstance(have, dict) else {}
                differ = {k: layer.values[k] for k in UMD_KEYS if have.get(k) != layer.values[k]}
                name = umd_item(number, layer.layer)
                if differ:
                    # Equal values of a changed layer are not sent either; the layer counts as
                    # one item, applied.
                    wp.umd[layer.layer] = differ
                else:
                    plan.skipped.append(name)
        if "sources" in window_groups and window.source is not None:
            if current.routes.get(number) == window.source.quartz_input:
                plan.skipped.append(source_item(number))
            else:
                wp.source = window.source.quartz_input
        if wp.pcm_bars is not None or wp.umd or wp.source is not None:
            plan.windows[number] = wp
    return plan


def _window_items(number: int, window, groups: set[str]) -> list[str]:
    layers = [layer.layer for layer in window.umd] if "umd" in groups and window.umd else []
    return window_items(number, pcm_bars="pcm" in groups and window.pcm_bars is not None,
                        layers=layers, source="sources" in groups and window.source is not None)


_WINDOW_ITEM = re.compile(r"window \d+ (pcm_bars|umd|source)")


def group_of(item: str) -> str:
    """The preset group an item name belongs to ("window 3 umd layer 2 text" → "umd")."""
    if item in MULTIVIEWER_PARAM_GROUPS:
        return MULTIVIEWER_PARAM_GROUPS[item]
    match = _WINDOW_ITEM.match(item)
    if match:
        return {"pcm_bars": "pcm", "umd": "umd", "source": "sources"}[match.group(1)]
    return "other"


# --- the report ------------------------------------------------------------------------------


def multiviewer_report(plan: MultiviewerPlan, *, applied: Iterable[str] = (),
                       skipped: Iterable[str] = (), failed: Iterable[dict] = ()) -> dict:
    """Per group: what was applied, skipped (already equal) and failed (with why). `applied`,
    `skipped`, `failed` come from the device step; the plan adds what it skipped or refused."""
    by_group: dict[str, dict[str, list]] = {
        g: {"applied": [], "skipped": [], "failed": []} for g in plan.groups}

    def bucket(item: str) -> dict[str, list]:
        group = group_of(item)
        return by_group.setdefault(group, {"applied": [], "skipped": [], "failed": []})

    for item in applied:
        bucket(item)["applied"].append(item)
    for item in [*plan.skipped, *skipped]:
        bucket(item)["skipped"].append(item)
    for failure in [*plan.failed, *failed]:
        bucket(failure["item"])["failed"].append(dict(failure))
    groups = []
    for group in [*GROUPS, "other"]:
        if group not in by_group:
            continue
        entry = by_group[group]
        groups.append({"group": group, "status": _group_status(entry), **entry})
    applied_any = any(g["applied"] for g in groups)
    failed_any = any(g["failed"] for g in groups)
    status = "done" if not failed_any else "partial" if applied_any else "failed"
    return {"status": status, "groups": groups}


def _group_status(entry: dict[str, list]) -> str:
    if entry["failed"]:
        return "partial" if entry["applied"] else "failed"
    return "applied" if entry["applied"] else "skipped"


def overall_status(statuses: list[str]) -> str:
    """done when every multiviewer is done, failed when none got anything applied, else
    partial."""
    if all(s == "done" for s in statuses):
        return "done"
    if all(s == "failed" for s in statuses):
        return "failed"
    return "partial"
