"""The layout catalog: layouts 1..43, their windows (ids 1..n) and where each window sits.

Rectangles are normalised to the output picture (x, y, w, h in 0..1, origin top left). The
window counts are the reference's; the geometry shipped here is our own design, because the
device's differs between firmware versions: an installation imports its own
(`manage.py import_layouts FILE.json`) or corrects it in Django admin. This module is pure (no
database): devices/layouts.py gives the layouts in force, the database rows (devices.models.Layout
/ LayoutWindow) over these defaults.

Default designs, on a 4×4 grid of 16:9 cells unless said otherwise:
    1  2×2 grid                         2  4×4 grid
    3, 28–35  one large window (2×2 cells) at each of its 9 positions, 12 small
    4, 6–10   three large windows, 4 small (every arrangement but one)
    11        picture in picture: full-screen window and 6 insets along the bottom
    5         one large window (3×3 cells) and 7 small
    12–27     two large windows at each of their 16 arrangements, 8 small
    36        3×3 grid               37–40  3×3 grid with one large window (2×2 cells)
    41        4×3 grid (12)          42     3×2 grid (6)
    43        picture in picture: full-screen window and one inset
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from mvcontrol.errors import InvalidInput

LAYOUT_COUNT = 43
MAX_WINDOWS = 16
EPSILON = 1e-6  # rectangles stored as decimals: 0.333333 + 0.666667 must still fit in 1

# Window counts of layouts 1..43 as recorded by the installation (reference).
REFERENCE_WINDOW_COUNTS: dict[int, int] = {
    1: 4, 2: 16, 3: 13, 5: 8, 36: 9, 41: 12, 43: 2,
    **{n: 7 for n in (4, 6, 7, 8, 9, 10, 11)},
    **{n: 10 for n in range(12, 28)},
    **{n: 13 for n in range(28, 36)},
    **{n: 6 for n in (37, 38, 39, 40, 42)},
}


class UnknownLayout(InvalidInput, ValueError):
    def __init__(self, layout: object) -> None:
        super().__init__(f"Layout {layout!r} does not exist: layouts are 1 to {LAYOUT_COUNT}.",
                         fields={"layout": [f"must be 1 to {LAYOUT_COUNT}"]})


class LayoutImportError(ValueError):
    """A layout file with problems; `problems` lists every one. Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the layout file:\n  "
                         + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Window:
    id: int
    x: float
    y: float
    w: float
    h: float

    def as_dict(self) -> dict:
        return {"id": self.id, "x": self.x, "y": self.y, "w": self.w, "h": self.h}


@dataclass(frozen=True)
class LayoutGeometry:
    layout: int
    name: str
    windows: tuple[Window, ...]

    @property
    def window_count(self) -> int:
        return len(self.windows)

    def as_dict(self) -> dict:
        return {"layout": self.layout, "name": self.name, "window_count": self.window_count,
                "windows": [w.as_dict() for w in self.windows]}


def check_layout_number(layout: object) -> int:
    if isinstance(layout, bool) or not isinstance(layout, int) or not 1 <= layout <= LAYOUT_COUNT:
        raise UnknownLayout(layout)
    return layout


# --- default geometry -------------------------------------------------------------------------

_Rect = tuple[float, float, float, float]


def _numbered(layout: int, name: str, rects: Iterable[_Rect]) -> LayoutGeometry:
    """Windows numbered in reading order (top to bottom, then left to right); a full-screen
    picture-in-picture background comes first because it starts at the top left."""
    ordered = sorted(rects, key=lambda r: (round(r[1], 6), round(r[0], 6), -r[2]))
    windows = tuple(Window(i, *(round(v, 6) for v in r)) for i, r in enumerate(ordered, 1))
    return LayoutGeometry(layout, name, windows)


def _grid_with_blocks(cols: int, rows: int, blocks: Iterable[tuple[int, int]],
                      size: int = 2) -> list[_Rect]:
    """A cols×rows grid where each block (row, col) merges size×size cells into one window."""
    covered: set[tuple[int, int]] = set()
    rects: list[_Rect] = []
    for r, c in blocks:
        cells = {(r + i, c + j) for i in range(size) for j in range(size)}
        if cells & covered or r + size > rows or c + size > cols:
            raise ValueError("blocks overlap or leave the grid")
        covered |= cells
        rects.append((c / cols, r / rows, size / cols, size / rows))
    for r, c in itertools.product(range(rows), range(cols)):
        if (r, c) not in covered:
            rects.append((c / cols, r / rows, 1 / cols, 1 / rows))
    return rects


_POSITION = {0: "top", 1: "middle", 2: "bottom"}
_COLUMN = {0: "left", 1: "centre", 2: "right"}


def _where(r: int, c: int) -> str:
    return f"{_POSITION[r]} {_COLUMN[c]}"


@cache
def default_layouts() -> dict[int, LayoutGeometry]:
    """The shipped geometry of layouts 1..43 (window counts as in the reference)."""
    layouts: dict[int, LayoutGeometry] = {}

    def add(number: int, name: str, rects: Iterable[_Rect]) -> None:
        layouts[number] = _numbered(number, name, rects)

    add(1, "2×2 grid", _grid_with_blocks(2, 2, []))
    add(2, "4×4 grid", _grid_with_blocks(4, 4, []))
    positions = [(r, c) for r in range(3) for c in range(3)]
    one_large = iter(positions)
    r, c = next(one_large)
    add(3, f"1 large ({_where(r, c)}) + 12", _grid_with_blocks(4, 4, [(r, c)]))
    for number, (r, c) in zip(range(28, 36), one_large, strict=True):
        add(number, f"1 large ({_where(r, c)}) + 12", _grid_with_blocks(4, 4, [(r, c)]))
    add(5, "1 large (3×3 cells) + 7", _grid_with_blocks(4, 4, [(0, 0)], size=3))
    three_large = [
        ("small quarter bottom right", [(0, 0), (0, 2), (2, 0)]),
        ("small quarter bottom left", [(0, 0), (0, 2), (2, 2)]),
        ("small quarter top right", [(0, 0), (2, 0), (2, 2)]),
        ("small quarter top left", [(0, 2), (2, 0), (2, 2)]),
        ("large bottom centre", [(0, 0), (0, 2), (2, 1)]),
        ("large top centre", [(0, 1), (2, 0), (2, 2)]),
    ]
    for number, (label, blocks) in zip((4, 6, 7, 8, 9, 10), three_large, strict=True):
        add(number, f"3 large + 4 ({label})", _grid_with_blocks(4, 4, blocks))
    insets = [(i / 6 + 0.01, 5 / 6 - 0.02, 1 / 6 - 0.02, 1 / 6 - 0.02) for i in range(6)]
    add(11, "Picture in picture: full + 6 insets", [(0.0, 0.0, 1.0, 1.0), *insets])
    pairs = [(a, b) for a, b in itertools.combinations(positions, 2)
             if abs(a[0] - b[0]) >= 2 or abs(a[1] - b[1]) >= 2]
    for number, (a, b) in zip(range(12, 28), pairs, strict=True):
        add(number, f"2 large ({_where(*a)}, {_where(*b)}) + 8", _grid_with_blocks(4, 4, [a, b]))
    add(36, "3×3 grid", _grid_with_blocks(3, 3, []))
    corners = {(0, 0): "top left", (0, 1): "top right", (1, 0): "bottom left",
               (1, 1): "bottom right"}
    for number, ((r, c), label) in zip((37, 38, 39, 40), corners.items(), strict=True):
        add(number, f"1 large ({label}) + 5", _grid_with_blocks(3, 3, [(r, c)]))
    add(41, "4×3 grid", _grid_with_blocks(4, 3, []))
    add(42, "3×2 grid", _grid_with_blocks(3, 2, []))
    add(43, "Picture in picture: full + 1 inset", [(0.0, 0.0, 1.0, 1.0),
                                                     (0.70, 0.70, 0.25, 0.25)])
    return dict(sorted(layouts.items()))


def default_window_count(layout: int) -> int:
    return REFERENCE_WINDOW_COUNTS[check_layout_number(layout)]


# --- validation of a layout document (import file, admin) ------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def window_problems(windows: object, where: str) -> list[str]:
    """Every problem of one layout's window list: 1..16 windows, ids exactly 1..n and unique,
    rectangles with positive size inside 0..1."""
    if not isinstance(windows, list):
        return [f"{where}: 'windows' must be a list"]
    problems: list[str] = []
    if not 1 <= len(windows) <= MAX_WINDOWS:
        problems.append(f"{where}: has {len(windows)} windows; a layout has 1 to {MAX_WINDOWS}")
    ids: list[int] = []
    for i, window in enumerate(windows):
        label = f"{where}, window #{i + 1}"
        if not isinstance(window, dict):
            problems.append(f"{label}: must be an object with id, x, y, w, h")
            continue
        unknown = set(window) - {"id", "x", "y", "w", "h"}
        if unknown:
            problems.append(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")
        wid = window.get("id")
        if isinstance(wid, bool) or not isinstance(wid, int):
            problems.append(f"{label}: id must be a whole number, got {wid!r}")
        else:
            ids.append(wid)
            label = f"{where}, window {wid}"
        values = {k: _number(window.get(k)) for k in ("x", "y", "w", "h")}
        for k, v in values.items():
            if v is None:
                problems.append(f"{label}: {k} must be a number, got {window.get(k)!r}")
        if any(v is None for v in values.values()):
            continue
        x, y, w, h = (float(values[k] or 0) for k in ("x", "y", "w", "h"))
        if x < 0 or y < 0 or x > 1 or y > 1:
            problems.append(f"{label}: x and y must be within 0..1, got x={x:g}, y={y:g}")
        if w <= 0 or h <= 0:
            problems.append(f"{label}: w and h must be positive, got w={w:g}, h={h:g}")
        if x + w > 1 + EPSILON or y + h > 1 + EPSILON:
            problems.append(f"{label}: leaves the picture (x + w = {x + w:g}, "
                            f"y + h = {y + h:g}; both must be at most 1)")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"{where}: window id(s) used twice: "
                        + ", ".join(str(i) for i in duplicates))
    if len(ids) == len(windows) and not duplicates and sorted(ids) != list(range(1, len(ids) + 1)):
        problems.append(f"{where}: window ids must be 1 to {len(ids)}, got "
                        + ", ".join(str(i) for i in sorted(ids)))
    return problems


def parse_layout_document(doc: object, *, partial: bool = False) -> list[LayoutGeometry]:
    """The layouts of an import document, or LayoutImportError listing every problem.

    {"partial": false, "layouts": [{"layout": 1, "name": "2×2 grid",
                                    "windows": [{"id": 1, "x": 0, "y": 0, "w": 0.5, "h": 0.5}]}]}
    All 43 layouts must be present unless `partial` (argument or the document's flag)."""
    if not isinstance(doc, dict):
        raise LayoutImportError(["the file must hold a JSON object with a 'layouts' list"])
    problems: list[str] = []
    unknown = set(doc) - {"layouts", "partial"}
    if unknown:
        problems.append(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
    flag = doc.get("partial", False)
    if not isinstance(flag, bool):
        problems.append(f"'partial' must be true or false, got {flag!r}")
        flag = False
    partial = partial or flag
    entries = doc.get("layouts")
    if not isinstance(entries, list):
        raise LayoutImportError([*problems, "'layouts' must be a list"])
    result: list[LayoutGeometry] = []
    seen: list[int] = []
    for i, entry in enumerate(entries):
        where = f"layouts[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be an object with layout and windows")
            continue
        number = entry.get("layout")
        if isinstance(number, bool) or not isinstance(number, int) or not (
                1 <= number <= LAYOUT_COUNT):
            problems.append(f"{where}: 'layout' must be 1 to {LAYOUT_COUNT}, got {number!r}")
        else:
            where = f"layout {number}"
            seen.append(number)
        extra = set(entry) - {"layout", "name", "windows", "window_count"}
        if extra:
            problems.append(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        name = entry.get("name", "")
        if not isinstance(name, str) or len(name) > 100:
            problems.append(f"{where}: 'name' must be text of at most 100 characters")
            name = ""
        windows = entry.get("windows")
        found = window_problems(windows, where)
        problems += found
        count = entry.get("window_count")
        if count is not None and isinstance(windows, list) and count != len(windows):
            problems.append(f"{where}: window_count is {count!r} but {len(windows)} windows "
                            "are listed")
        if not found and isinstance(number, int) and not isinstance(number, bool):
            result.append(LayoutGeometry(number, name, tuple(
                Window(w["id"], float(w["x"]), float(w["y"]), float(w["w"]), float(w["h"]))
                for w in sorted(windows, key=lambda w: w["id"]))))
    duplicates = sorted({n for n in seen if seen.count(n) > 1})
    if duplicates:
        problems.append("layout(s) listed twice: " + ", ".join(str(n) for n in duplicates))
    missing = sorted(set(range(1, LAYOUT_COUNT + 1)) - set(seen))
    if missing and not partial:
        problems.append("layout(s) missing: " + ranges_text(missing)
                        + " (all 43 are required; set \"partial\": true to import some)")
    if not entries:
        problems.append("the file lists no layout")
    if problems:
        raise LayoutImportError(problems)
    return result


def ranges_text(numbers: list[int]) -> str:
    parts = []
    for _, group in itertools.groupby(enumerate(numbers), lambda p: p[1] - p[0]):
        run = [n for _, n in group]
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}")
    return ", ".join(parts)
