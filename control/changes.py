"""What an operator (or a preset) asks to change on one multiviewer: plain data, no I/O.

Numbers are the operator's: window 1..16, UMD layer 1..3, layout 1..43, PCM bars as the number
of bars; enum values as the catalog's operator values (GET /api/catalog). Nothing here is
validated: ControlService.apply does that against the catalog, the layout and the grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from state.planning import MULTIVIEWER_KEYS, UMD_KEYS

if TYPE_CHECKING:
    from devices.models import Source

#: Multiviewer parameters other than the layout, in the order they are sent.
MULTIVIEWER_PARAMS = tuple(key for key in MULTIVIEWER_KEYS if key != "layout")

__all__ = ["MULTIVIEWER_PARAMS", "UMD_KEYS", "MultiviewerChange", "UmdLayerChange",
           "WindowChange", "pcm_item", "source_item", "umd_item", "window_items"]


# The names ControlService gives the items of a change in ApplyResult (applied, skipped,
# failed): presets and undo read them back, so they are spelled here only.
def pcm_item(window: int) -> str:
    return f"window {window} pcm_bars"


def umd_item(window: int, layer: int) -> str:
    return f"window {window} umd layer {layer}"


def source_item(window: int) -> str:
    return f"window {window} source"


def window_items(window: int, *, pcm_bars: bool, layers: Iterable[int],
                 source: bool) -> list[str]:
    """A window's item names, in the order they are listed."""
    names = [pcm_item(window)] if pcm_bars else []
    names += [umd_item(window, layer) for layer in layers]
    return names + ([source_item(window)] if source else [])


@dataclass
class UmdLayerChange:
    """Any subset of one UMD layer's 10 parameters (keys of state.planning.UMD_KEYS)."""

    layer: int  # 1..3
    values: dict[str, object] = field(default_factory=dict)


@dataclass
class WindowChange:
    window: int  # 1..16; must exist in the layout the change leaves in place
    source: Source | None = None  # routed to the window's router output through Quartz
    pcm_bars: int | None = None  # 0, 2, 4, 6, 8, 12, 16
    umd: list[UmdLayerChange] = field(default_factory=list)

    def parameter_count(self) -> int:
        return ((self.source is not None) + (self.pcm_bars is not None)
                + sum(len(layer.values) for layer in self.umd))


@dataclass
class MultiviewerChange:
    layout: int | None = None  # 1..43
    font: int | None = None
    outer_border: int | None = None
    inner_border: int | None = None
    output_format: int | None = None
    windows: list[WindowChange] = field(default_factory=list)

    def params(self) -> dict[str, object]:
        """The multiviewer parameters this change sets (layout excluded), in sending order."""
        return {key: getattr(self, key) for key in MULTIVIEWER_PARAMS
                if getattr(self, key) is not None}

    def parameter_count(self) -> int:
        """NEXX parameters plus router switches this change would send (before any value equal
        to the cached state is dropped)."""
        return ((self.layout is not None) + len(self.params())
                + sum(window.parameter_count() for window in self.windows))

    @property
    def empty(self) -> bool:
        return self.parameter_count() == 0
