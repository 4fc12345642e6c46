"""What a refresh reads from the NEXX frame, packed into requests of 40 parameters. No I/O.

The reads depend on each other: the licensed count says which enable flags exist, an enable flag
says whether a multiviewer's parameters are read, and its layout says how many windows are. A
`NexxReadPlan` is a small state machine in the style of h11: the caller asks `next_batch()` for
the next request, sends it, hands the values back with `receive()`, and collects the multiviewers
whose every value has arrived from `completed()`.

Packing: every answer unlocks what depends on it at once, and the next request is filled up to 40
from everything unlocked so far, across multiviewer boundaries, earlier stages first (so the
dependencies resolve as early as possible). The windows every layout has (the catalog's smallest
window count) are unlocked by the enable flag already, not by the layout, so once a flag is known
there is always more than a request's worth to read. A request that would still be short of 40
because it carries enable flags is topped up with the parameters of those very multiviewers
(read for nothing only when a flag says disabled). What stays short is the first request (the
frame's counts, which say which flags exist) and the very last one, so a refresh needing P
parameters sends at most ceil(P/40) + 2 requests (in practice + 1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from devices.nexx.catalog import (
    LAYERS_PER_WINDOW,
    MAX_MULTIVIEWERS,
    MAX_PARAMETERS_PER_REQUEST,
    WINDOWS_PER_MULTIVIEWER,
    OperatorValue,
    param_id,
)

#: Per multiviewer: the keys of MultiviewerState, read once its enable flag says it is in use.
MULTIVIEWER_KEYS = ("layout", "font", "outer_border", "inner_border", "output_format")
#: Per UMD layer (operator keys; the varids live in the catalog).
UMD_KEYS = ("type", "text", "box_colour", "box_alpha", "x", "y", "text_colour", "text_alpha",
            "text_size", "padding")
#: Per window of the current layout: PCM bars and 3 × 10 UMD values.
PARAMETERS_PER_WINDOW = 1 + LAYERS_PER_WINDOW * len(UMD_KEYS)

# Stages, in the order requests are filled.
_FRAME, _ENABLE, _MULTIVIEWER, _WINDOW = range(4)


class PlanError(Exception):
    """The frame answered something the plan cannot go on from (e.g. a licensed count over 120)."""


@dataclass(frozen=True)
class WindowValues:
    index: int  # 0-based, as the device counts
    pcm_bars: int
    umd: list[dict[str, OperatorValue]]  # 3 layers keyed by UMD_KEYS


@dataclass(frozen=True)
class Discovery:
    """The frame's counts and every enable flag read (multiviewer index 0-based → enabled).
    `licensed` is None when only one multiviewer was asked about."""

    licensed: int | None
    enabled_count: int
    flags: dict[int, bool]


@dataclass(frozen=True)
class MultiviewerValues:
    """Everything read of one enabled multiviewer: a part of the snapshot, written as one."""

    index: int
    params: dict[str, OperatorValue]
    windows: list[WindowValues]


@dataclass(frozen=True)
class MultiviewerProblem:
    """An enabled multiviewer whose values cannot become state (nothing of it is written)."""

    index: int
    reason: str


Completed = Discovery | MultiviewerValues | MultiviewerProblem


@dataclass
class _Pending:
    """Values still awaited for one multiviewer. `confirmed`: its enable flag said enabled
    (until then its values are read on speculation, to fill a request)."""

    confirmed: bool
    params: dict[str, OperatorValue] = field(default_factory=dict)
    window_count: int | None = None
    windows: dict[int, dict[str, OperatorValue]] = field(default_factory=dict)
    outstanding: int = 0


class NexxReadPlan:
    """The reads of one refresh of the frame.

    `window_counts` maps layout (1..43) → number of windows (the layout catalog in force).
    `only` (0-based) limits the plan to one multiviewer: its flag is read with the enabled count,
    and the licensed count is not needed. `expected` (0-based index → windows) is what the last
    snapshot knew, used only to estimate the parameters still to come."""

    def __init__(self, window_counts: Mapping[int, int], *, only: int | None = None,
                 expected: Mapping[int, int] | None = None,
                 batch_size: int = MAX_PARAMETERS_PER_REQUEST) -> None:
        if only is not None and not 0 <= only < MAX_MULTIVIEWERS:
            raise ValueError(f"multiviewer index {only} is out of range 0..{MAX_MULTIVIEWERS - 1}")
        if not window_counts:
            raise ValueError("the layout catalog is empty")
        self.window_counts = dict(window_counts)
        # Windows every layout has: read as soon as a multiviewer is known to be enabled.
        self.common_windows = min(self.window_counts.values())
        self.only = only
        self.expected = dict(expected or {})
        self.batch_size = batch_size
        self._queues: tuple[deque[str], ...] = tuple(deque() for _ in range(4))
        # param id → what it is: ("frame", key) / ("enable", mv) / ("mv", mv, key) /
        # ("window", mv, window, layer or None, key)
        self._meaning: dict[str, tuple] = {}
        self._in_flight: list[str] = []
        self.licensed: int | None = None
        self.enabled_count: int | None = None
        self.flags: dict[int, bool] = {}
        self._flags_expected: int | None = None
        self._pending: dict[int, _Pending] = {}
        self._completed: deque[Completed] = deque()
        self.discovered = False
        self.parameters_read = 0
        self.requests = 0
        self.multiviewers_done = 0
        self.problems: list[MultiviewerProblem] = []
        self._enqueue(_FRAME, param_id("enabled_count"), ("frame", "enabled_count"))
        if only is None:
            self._enqueue(_FRAME, param_id("licensed"), ("frame", "licensed"))
        else:
            self._flags_expected = 1
            self._enqueue(_FRAME, param_id("enable", only), ("enable", only))

    # --- the conversation ----------------------------------------------------------------

    @property
    def done(self) -> bool:
        return not self._in_flight and not any(self._queues)

    def next_batch(self) -> list[str]:
        """The parameter ids of the next request (at most 40), earlier stages first. Empty when
        everything has been read. Call `receive()` with the answer before asking again."""
        if self._in_flight:
            raise RuntimeError("the previous request has not been answered yet")
        batch = self._fill([])
        if len(batch) < self.batch_size:
            # Short of 40 only because the flags in it are not known yet: read their
            # multiviewers' values now rather than in a request of their own.
            for pid in list(batch):
                meaning = self._meaning[pid]
                if meaning[0] == "enable" and meaning[1] not in self._pending:
                    self._open(meaning[1], confirmed=False)
            batch = self._fill(batch)
        self._in_flight = batch
        return list(batch)

    def receive(self, values: Mapping[str, OperatorValue]) -> None:
        """The operator values of the last batch (every id of it)."""
        missing = [pid for pid in self._in_flight if pid not in values]
        if missing:
            raise PlanError(f"the answer lacks {', '.join(missing[:5])}")
        batch, self._in_flight = self._in_flight, []
        self.requests += 1
        self.parameters_read += len(batch)
        # Flags first: a multiviewer's own values in the same batch need to know about it.
        for pid in sorted(batch, key=lambda p: self._meaning[p][0] != "enable"):
            meaning = self._meaning.pop(pid, None)
            if meaning is not None:
                self._receive_one(meaning, values[pid])
        if not self.discovered and self._flags_expected is not None \
                and len(self.flags) == self._flags_expected and self.enabled_count is not None:
            self.discovered = True
            self._completed.appendleft(
                Discovery(self.licensed, self.enabled_count, dict(self.flags)))

    def completed(self) -> list[Completed]:
        """What became complete since the last call: the discovery first, then multiviewers in
        the order their last value arrived."""
        items = list(self._completed)
        self._completed.clear()
        return items

    # --- progress --------------------------------------------------------------------------

    @property
    def parameters_planned(self) -> int:
        """Parameters read plus those still to come (estimated where a layout or flag is not
        known yet: from the last snapshot, else a full 16 windows)."""
        known = self.parameters_read + len(self._in_flight) + sum(len(q) for q in self._queues)
        estimate = 0
        if self._flags_expected is None:
            # Not even the flags are asked for yet: guess from the last snapshot.
            estimate += sum(1 + self._multiviewer_estimate(mv) for mv in self.expected)
        else:
            for mv in self._flag_indexes():
                if mv not in self.flags and mv not in self._pending and mv in self.expected:
                    estimate += self._multiviewer_estimate(mv)
        for mv, pending in self._pending.items():
            if pending.window_count is None:
                windows = self.expected.get(mv, WINDOWS_PER_MULTIVIEWER)
                estimate += max(0, windows - self.common_windows) * PARAMETERS_PER_WINDOW
        return known + estimate

    @property
    def multiviewers_planned(self) -> int:
        confirmed = sum(1 for p in self._pending.values() if p.confirmed)
        if self.discovered:
            return self.multiviewers_done + len(self.problems) + confirmed
        return max(len(self.expected), self.multiviewers_done + len(self.problems) + confirmed)

    def _multiviewer_estimate(self, mv: int) -> int:
        return len(MULTIVIEWER_KEYS) + self.expected[mv] * PARAMETERS_PER_WINDOW

    # --- internals -------------------------------------------------------------------------

    def _flag_indexes(self) -> Iterable[int]:
        if self.only is not None:
            return (self.only,)
        return range(self.licensed or 0)

    def _enqueue(self, stage: int, pid: str, meaning: tuple) -> None:
        self._meaning[pid] = meaning
        self._queues[stage].append(pid)

    def _fill(self, batch: list[str]) -> list[str]:
        for queue in self._queues:
            while queue and len(batch) < self.batch_size:
                batch.append(queue.popleft())
        return batch

    def _receive_one(self, meaning: tuple, value: OperatorValue) -> None:
        kind = meaning[0]
        if kind == "frame":
            self._receive_frame(meaning[1], value)
        elif kind == "enable":
            self._receive_flag(meaning[1], value)
        elif kind == "mv":
            self._receive_multiviewer(meaning[1], meaning[2], value)
        else:
            _, mv, window, layer, key = meaning
            self._receive_window(mv, window, layer, key, value)

    def _receive_frame(self, key: str, value: OperatorValue) -> None:
        number = int(value)
        if key == "enabled_count":
            self.enabled_count = number
            return
        if not 0 <= number <= MAX_MULTIVIEWERS:
            raise PlanError(f"the frame reports {number} licensed multiviewers "
                            f"(at most {MAX_MULTIVIEWERS} exist)")
        self.licensed = number
        self._flags_expected = number
        for mv in range(number):
            self._enqueue(_ENABLE, param_id("enable", mv), ("enable", mv))

    def _receive_flag(self, mv: int, value: OperatorValue) -> None:
        enabled = int(value) == 1
        self.flags[mv] = enabled
        pending = self._pending.get(mv)
        if not enabled:
            if pending is not None:
                self._drop(mv)  # read on speculation: a disabled head's values are not kept
            return
        if pending is None:
            self._open(mv, confirmed=True)
        else:
            pending.confirmed = True

    def _open(self, mv: int, *, confirmed: bool) -> None:
        """Queue a multiviewer's own parameters and the windows every layout has."""
        pending = self._pending[mv] = _Pending(confirmed=confirmed)
        for key in MULTIVIEWER_KEYS:
            self._enqueue(_MULTIVIEWER, param_id(key, mv), ("mv", mv, key))
            pending.outstanding += 1
        self._queue_windows(mv, range(self.common_windows))

    def _queue_windows(self, mv: int, windows: Iterable[int]) -> None:
        pending = self._pending[mv]
        for window in windows:
            pending.windows[window] = {}
            self._enqueue(_WINDOW, param_id("pcm_bars", mv, window),
                          ("window", mv, window, None, "pcm_bars"))
            pending.outstanding += 1
            for layer in range(LAYERS_PER_WINDOW):
                for umd_key in UMD_KEYS:
                    self._enqueue(_WINDOW, param_id(umd_key, mv, window, layer),
                                  ("window", mv, window, layer, umd_key))
                    pending.outstanding += 1

    def _receive_multiviewer(self, mv: int, key: str, value: OperatorValue) -> None:
        pending = self._pending.get(mv)
        if pending is None:
            return  # dropped meanwhile (disabled, or failed): late values are not kept
        pending.params[key] = value
        pending.outstanding -= 1
        if key == "layout":
            count = self.window_counts.get(int(value))
            if count is None:
                # Nothing of this multiviewer is written: its windows cannot be placed.
                self._fail(mv, f"reports layout {value}, which is not a layout 1 to "
                               f"{len(self.window_counts)}")
                return
            pending.window_count = count
            self._queue_windows(mv, range(self.common_windows, count))
        self._maybe_complete(mv)

    def _receive_window(self, mv: int, window: int, layer: int | None, key: str,
                     value: OperatorValue) -> None:
        pending = self._pending.get(mv)
        if pending is None:
            return  # dropped meanwhile (disabled, or failed): late values are not kept
        pending.windows[window][key if layer is None else f"{layer}:{key}"] = value
        pending.outstanding -= 1
        self._maybe_complete(mv)

    def _maybe_complete(self, mv: int) -> None:
        pending = self._pending.get(mv)
        if (pending is None or not pending.confirmed or pending.outstanding
                or pending.window_count is None):
            return
        del self._pending[mv]
        windows = [
            WindowValues(
                index=window,
                pcm_bars=int(values["pcm_bars"]),
                umd=[{key: values[f"{layer}:{key}"] for key in UMD_KEYS}
                     for layer in range(LAYERS_PER_WINDOW)],
            )
            for window, values in sorted(pending.windows.items())
        ]
        self.multiviewers_done += 1
        self._completed.append(MultiviewerValues(mv, dict(pending.params), windows))

    def _drop(self, mv: int) -> None:
        """Forget a multiviewer: what is queued for it is not sent, what is in flight is
        ignored when it arrives."""
        self._pending.pop(mv, None)
        for queue in self._queues:
            kept = []
            for pid in queue:
                meaning = self._meaning[pid]
                if meaning[0] in ("mv", "window") and meaning[1] == mv:
                    del self._meaning[pid]
                else:
                    kept.append(pid)
            queue.clear()
            queue.extend(kept)

    def _fail(self, mv: int, reason: str) -> None:
        if mv not in self._pending:
            return
        self._drop(mv)
        problem = MultiviewerProblem(mv, reason)
        self.problems.append(problem)
        self._completed.append(problem)


def lower_bound(parameters: int, batch_size: int = MAX_PARAMETERS_PER_REQUEST) -> int:
    """ceil(P / 40): the fewest requests that can carry P parameters."""
    return -(-parameters // batch_size)
