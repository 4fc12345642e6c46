"""The NEXX read plan, without a device: dependencies, layout-aware windows, packing by 40."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.nexx.catalog import param_id, parse_param_id
from devices.nexx.layouts import REFERENCE_WINDOW_COUNTS
from state.planning import (
    PARAMETERS_PER_WINDOW,
    Discovery,
    MultiviewerProblem,
    MultiviewerValues,
    NexxReadPlan,
    PlanError,
    lower_bound,
)

COUNTS = dict(REFERENCE_WINDOW_COUNTS)


class FakeFrame:
    """Operator values of a frame: `layouts` maps multiviewer index → layout (None: disabled)."""

    def __init__(self, layouts: dict[int, int | None], licensed: int | None = None) -> None:
        self.layouts = layouts
        self.licensed = len(layouts) if licensed is None else licensed
        self.requests: list[list[str]] = []

    def value(self, pid: str):
        ref = parse_param_id(pid)
        key = ref.parameter.key
        if key == "licensed":
            return self.licensed
        if key == "enabled_count":
            return sum(1 for layout in self.layouts.values() if layout is not None)
        if key == "enable":
            return int(self.layouts.get(ref.mv) is not None)
        if key == "layout":
            return self.layouts.get(ref.mv) or 1
        if key in ("type", "box_colour", "box_alpha", "text_colour", "text_alpha", "text_size",
                   "padding", "font", "output_format", "outer_border", "inner_border", "x", "y"):
            return (ref.mv or 0) % 3
        if key == "text":
            return f"MV{ref.mv} W{ref.window} L{ref.layer}"
        if key == "pcm_bars":
            return 8
        raise AssertionError(f"unexpected read of {pid}")

    def run(self, plan: NexxReadPlan) -> list:
        completed = []
        while True:
            batch = plan.next_batch()
            if not batch:
                return completed
            assert len(batch) == len(set(batch)), "a parameter asked twice in one request"
            self.requests.append(batch)
            plan.receive({pid: self.value(pid) for pid in batch})
            completed.extend(plan.completed())


def test_reads_the_windows_of_the_current_layout_only():
    frame = FakeFrame({0: 1, 1: 2, 2: 43})  # 4, 16 and 2 windows
    completed = frame.run(NexxReadPlan(COUNTS))
    values = {c.index: c for c in completed if isinstance(c, MultiviewerValues)}
    assert [len(values[mv].windows) for mv in (0, 1, 2)] == [4, 16, 2]
    asked = {pid for batch in frame.requests for pid in batch}
    assert param_id("pcm_bars", 0, 3) in asked
    assert param_id("pcm_bars", 0, 4) not in asked
    assert param_id("text", 0, 4, 0) not in asked
    assert param_id("pcm_bars", 2, 2) not in asked
    window = values[0].windows[3]
    assert window.index == 3 and window.pcm_bars == 8
    assert len(window.umd) == 3 and window.umd[2]["text"] == "MV0 W3 L2"
    assert set(window.umd[0]) == {"type", "text", "box_colour", "box_alpha", "x", "y",
                                  "text_colour", "text_alpha", "text_size", "padding"}
    assert values[1].params == {"layout": 2, "font": 1, "outer_border": 1, "inner_border": 1,
                                "output_format": 1}


def test_requests_carry_exactly_40_across_multiviewer_boundaries():
    frame = FakeFrame({mv: 1 for mv in range(6)})  # 6 × (5 + 4 × 31) = 774 parameters
    frame.run(NexxReadPlan(COUNTS))
    sizes = [len(batch) for batch in frame.requests]
    assert sizes[0] == 2  # licensed and enabled counts: nothing else can be asked yet
    assert all(size == 40 for size in sizes[1:-1])
    assert 0 < sizes[-1] <= 40
    crossing = [batch for batch in frame.requests
                if len({parse_param_id(p).mv for p in batch if parse_param_id(p).mv is not None})
                > 1]
    assert crossing, "no request mixed two multiviewers"
    total = sum(sizes)
    assert total == 2 + 6 + 6 * (5 + 4 * PARAMETERS_PER_WINDOW)
    assert len(sizes) <= lower_bound(total) + 2


def test_disabled_multiviewers_are_discovered_but_not_read():
    frame = FakeFrame({0: 2, 1: None, 2: 36})
    completed = frame.run(NexxReadPlan(COUNTS))
    discovery = completed[0]
    assert discovery == Discovery(licensed=3, enabled_count=2, flags={0: True, 1: False, 2: True})
    assert {c.index for c in completed if isinstance(c, MultiviewerValues)} == {0, 2}
    # Speculative reads that fill the flags' request may touch MV 2's own values, never more
    # than one request's worth, and nothing of it is kept.
    after_flags = [pid for batch in frame.requests[2:] for pid in batch]
    assert not [p for p in after_flags if parse_param_id(p).mv == 1]


def test_discovery_comes_before_every_multiviewer():
    completed = FakeFrame({mv: 2 for mv in range(3)}).run(NexxReadPlan(COUNTS))
    assert isinstance(completed[0], Discovery)
    assert all(isinstance(c, MultiviewerValues) for c in completed[1:])


def test_one_multiviewer_only():
    frame = FakeFrame({0: 2, 1: 1, 2: 36, 3: 1})
    completed = frame.run(NexxReadPlan(COUNTS, only=2))
    assert completed[0] == Discovery(licensed=None, enabled_count=4, flags={2: True})
    values = [c for c in completed if isinstance(c, MultiviewerValues)]
    assert [v.index for v in values] == [2] and len(values[0].windows) == 9
    asked = [pid for batch in frame.requests for pid in batch]
    assert param_id("licensed") not in asked
    assert {parse_param_id(p).mv for p in asked} == {None, 2}
    assert all(len(batch) == 40 for batch in frame.requests[:-1])


def test_a_layout_outside_the_catalog_is_a_problem_of_that_multiviewer_only():
    frame = FakeFrame({0: 2, 1: 50, 2: 1})
    completed = frame.run(NexxReadPlan(COUNTS))
    problems = [c for c in completed if isinstance(c, MultiviewerProblem)]
    assert problems == [MultiviewerProblem(1, "reports layout 50, which is not a layout 1 to 43")]
    assert {c.index for c in completed if isinstance(c, MultiviewerValues)} == {0, 2}


def test_a_licensed_count_beyond_120_stops_the_plan():
    plan = NexxReadPlan(COUNTS)
    plan.next_batch()
    with pytest.raises(PlanError, match="121 licensed"):
        plan.receive({param_id("licensed"): 121, param_id("enabled_count"): 0})


def test_an_answer_lacking_a_value_is_refused():
    plan = NexxReadPlan(COUNTS)
    plan.next_batch()
    with pytest.raises(PlanError, match="lacks 2701"):
        plan.receive({param_id("enabled_count"): 0})


def test_the_next_request_waits_for_the_answer():
    plan = NexxReadPlan(COUNTS)
    plan.next_batch()
    with pytest.raises(RuntimeError):
        plan.next_batch()


def test_estimates_from_the_last_snapshot_until_the_frame_tells():
    plan = NexxReadPlan(COUNTS, expected={0: 4, 1: 16})
    assert plan.parameters_planned == 2 + 2 * 1 + 2 * 5 + 20 * PARAMETERS_PER_WINDOW
    frame = FakeFrame({0: 1, 1: 2})
    frame.run(plan)
    assert plan.parameters_planned == plan.parameters_read == sum(map(len, frame.requests))
    assert plan.multiviewers_planned == plan.multiviewers_done == 2


@settings(max_examples=60, deadline=None)
@given(layouts=st.lists(st.one_of(st.none(), st.integers(1, 43)), min_size=0, max_size=30),
       extra_licensed=st.integers(0, 3))
def test_never_more_than_the_lower_bound_plus_two(layouts, extra_licensed):
    frame = FakeFrame(dict(enumerate(layouts)), licensed=len(layouts) + extra_licensed)
    completed = frame.run(NexxReadPlan(COUNTS))
    sizes = [len(batch) for batch in frame.requests]
    assert all(size <= 40 for size in sizes)
    assert len(sizes) <= lower_bound(sum(sizes)) + 2
    enabled = {mv for mv, layout in enumerate(layouts) if layout is not None}
    done = {c.index: c for c in completed if isinstance(c, MultiviewerValues)}
    assert set(done) == enabled
    for mv, values in done.items():
        assert len(values.windows) == COUNTS[layouts[mv]]
