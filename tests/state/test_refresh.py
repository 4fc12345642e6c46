"""Refresh runs against the emulators over real sockets: what is read, what is stored, failures."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.utils import timezone

from devices.models import Multiviewer, NexxSettings, Source
from devices.nexx.catalog import bars_from_device, param_id, parse_param_id
from devices.nexx.layouts import default_window_count
from state.models import MultiviewerState, RefreshRun, RoutingState, WindowState
from state.planning import lower_bound
from state.refresh import execute_run
from state.runs import Scope
from state.services import StateService

pytestmark = pytest.mark.django_db(transaction=True)

# The emulator gives multiviewers 0..3 layouts 1, 2, 36 and 3: 4, 16, 9 and 13 windows.
EMULATOR_WINDOWS = [4, 16, 9, 13]


def refresh_now(scope: Scope | None = None, **options):
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND, scope=scope)
    assert not ticket.joined
    outcome = execute_run(ticket.run.pk, **options)
    assert outcome is not None
    return outcome


def asked_ids(emulator) -> list[str]:
    """Parameter ids of every EV/GET the frame has seen, in order."""
    ids = []
    for target in emulator.recent_requests:
        if "/EV/GET/" in target:
            ids += unquote(target.rsplit("/", 1)[1]).split(",")
    return ids


def test_a_full_refresh_fills_the_snapshot(devices):
    devices.quartz.set_route(3, 7)
    devices.quartz.set_name("source", 5, "CAM 5")
    devices.quartz.set_name("output", 3, "MV1 W3")
    outcome = refresh_now()

    assert outcome.status == "success", outcome.error_summary
    assert outcome.error_summary == ""
    mvs = list(Multiviewer.objects.order_by("nexx_index"))
    assert [(m.nexx_index, m.label, m.enabled) for m in mvs] == [
        (0, "MV 1", True), (1, "MV 2", True), (2, "MV 3", True), (3, "MV 4", True)]
    for mv in mvs:
        state = MultiviewerState.objects.get(multiviewer=mv)
        assert state.layout == int(devices.nexx.get(param_id("layout", mv.nexx_index))) + 1
        assert state.font == int(devices.nexx.get(param_id("font", mv.nexx_index)))
        assert state.outer_border == 2 and state.inner_border == 1
        windows = list(WindowState.objects.filter(multiviewer=mv).order_by("window_index"))
        assert len(windows) == EMULATOR_WINDOWS[mv.nexx_index]
        for window in windows:
            raw_bars = devices.nexx.get(param_id("pcm_bars", mv.nexx_index, window.window_index))
            assert window.pcm_bars == bars_from_device(raw_bars)
            assert len(window.umd) == 3
            assert window.umd[0]["text"] == devices.nexx.get(
                param_id("text", mv.nexx_index, window.window_index, 0))
            assert window.umd[0]["type"] == 1 and window.umd[1]["x"] >= 0

    assert Source.objects.count() == 32
    assert Source.objects.get(quartz_input=5).label == "CAM 5"
    assert Source.objects.get(quartz_input=6).label == "SRC 6"
    assert RoutingState.objects.count() == 4 * 16
    route = RoutingState.objects.get(output=3)
    assert (route.input, route.output_label) == (7, "MV1 W3")
    assert RoutingState.objects.get(output=40).input == devices.quartz.route(40)

    counts = outcome.counts
    assert counts["multiviewers"] == 4 and counts["windows"] == sum(EMULATOR_WINDOWS)
    assert counts["sources"] == 32 and counts["routes"] == 64
    assert counts["licensed"] == 4 and counts["enabled_count"] == 4
    assert counts["multiviewers_created"] == 4
    run = RefreshRun.objects.get()
    assert run.status == "success" and run.finished_at >= run.started_at
    assert run.trigger == "command"
    assert run.progress["phase"] == "done"
    assert run.progress["parts_done"] == run.progress["parts_planned"] == 1 + 4 + 1 + 1


def test_reads_only_the_windows_of_each_current_layout(devices):
    devices.nexx.set(param_id("layout", 1), 0)  # MV 2: layout 1, 4 windows (was 16)
    outcome = refresh_now(Scope(quartz=False))
    assert outcome.status == "success"
    asked = asked_ids(devices.nexx)
    windows_asked = {(parse_param_id(p).mv, parse_param_id(p).window) for p in asked
                     if parse_param_id(p).window is not None}
    assert {w for mv, w in windows_asked if mv == 1} == {0, 1, 2, 3}
    assert {w for mv, w in windows_asked if mv == 2} == set(range(9))
    assert WindowState.objects.filter(multiviewer__nexx_index=1).count() == 4
    assert len(asked) == len(set(asked)), "a parameter was read twice"


def test_nexx_requests_are_packed_by_40_across_multiviewers(make_devices, transactional_db):
    devices = make_devices(multiviewers=24, outputs=384)
    devices.nexx.reset_stats()
    outcome = refresh_now()
    assert outcome.status == "success", outcome.error_summary
    stats = devices.nexx.stats()
    sizes = {int(size): n for size, n in stats["parameters_per_request"].items()}
    parameters = stats["parameters"]
    requests = stats["by_call"]["EV/GET"]
    assert stats["max_parameters_per_request"] == 40
    short = sum(n for size, n in sizes.items() if size != 40)
    assert short <= 3  # the frame counts, perhaps the flags' request, the last one
    assert requests <= lower_bound(parameters) + 2
    assert outcome.counts["nexx_requests"] == requests
    assert outcome.counts["nexx_parameters"] == parameters
    # 21 of the 24 are enabled (every eighth is off in the emulator).
    assert outcome.counts["multiviewers"] == 21
    assert Multiviewer.objects.filter(enabled=False).count() == 0  # disabled ones not created
    expected_windows = sum(
        default_window_count(int(devices.nexx.get(param_id("layout", mv))) + 1)
        for mv in range(24) if devices.nexx.get(param_id("enable", mv)) == "1")
    assert WindowState.objects.count() == expected_windows


def test_labels_set_by_an_admin_stay_and_enable_flags_are_followed(devices):
    Multiviewer.objects.create(nexx_index=1, label="Studio B", enabled=True)
    Multiviewer.objects.create(nexx_index=2, label="", enabled=False)
    Multiviewer.objects.create(nexx_index=9, label="Gone", enabled=True)  # not on this frame
    devices.nexx.set(param_id("enable", 0), 0)
    outcome = refresh_now(Scope(quartz=False))
    assert outcome.status == "success"
    rows = {m.nexx_index: (m.label, m.enabled) for m in Multiviewer.objects.all()}
    assert rows == {1: ("Studio B", True), 2: ("", True), 3: ("MV 4", True),
                    9: ("Gone", False)}
    assert outcome.counts["multiviewers_created"] == 1
    assert not MultiviewerState.objects.filter(multiviewer__nexx_index=0).exists()


def test_one_multiviewer_reads_it_and_the_routes_of_its_windows(devices):
    outcome = refresh_now(Scope(multiviewer=3))
    assert outcome.status == "success", outcome.error_summary
    assert list(Multiviewer.objects.values_list("nexx_index", flat=True)) == [2]
    assert WindowState.objects.count() == 9
    assert sorted(RoutingState.objects.values_list("output", flat=True)) == list(range(33, 49))
    assert not Source.objects.exists()  # source names are a full refresh's business
    assert {parse_param_id(p).mv for p in asked_ids(devices.nexx)} == {None, 2}


def seed_old_snapshot() -> dict:
    """Rows as an earlier refresh left them, a day old."""
    old = timezone.now() - timedelta(days=1)
    for index in range(4):
        mv = Multiviewer.objects.create(nexx_index=index, label=f"Old {index}")
        MultiviewerState.objects.create(multiviewer=mv, layout=43, font=0, updated_at=old)
        WindowState.objects.create(multiviewer=mv, window_index=0, pcm_bars=0,
                                   umd=[{"text": "old"}, {}, {}], updated_at=old)
    for output in range(1, 65):
        RoutingState.objects.create(output=output, input=1, output_label="old", updated_at=old)
    Source.objects.create(quartz_input=1, label="old")
    return {"at": old}


def test_the_frame_failing_mid_refresh_keeps_what_was_not_read(devices):
    seed = seed_old_snapshot()
    frame = devices.nexx
    original = frame.respond
    answered = {"gets": 0}

    def respond(target, headers):
        if "/EV/GET/" in target:
            answered["gets"] += 1
            if answered["gets"] == 12:
                frame.set_fault("http_500")  # from now on: every request, retries too
        return original(target, headers)

    frame.respond = respond
    outcome = refresh_now()

    assert outcome.status == "partial"
    nexx_error = next(line for line in outcome.error_summary.splitlines()
                      if line.startswith("NEXX"))
    assert "HTTP 500" in nexx_error and frame.base_url in nexx_error
    assert "of 4 multiviewers were stored, the others keep their previous state" in nexx_error
    stored = set(MultiviewerState.objects.filter(updated_at__gt=seed["at"])
                 .values_list("multiviewer__nexx_index", flat=True))
    assert 0 < len(stored) < 4
    assert outcome.counts["multiviewers"] == len(stored)
    for index in set(range(4)) - stored:
        state = MultiviewerState.objects.get(multiviewer__nexx_index=index)
        assert (state.layout, state.updated_at) == (43, seed["at"])
        windows = WindowState.objects.filter(multiviewer__nexx_index=index)
        assert [(w.window_index, w.umd[0], w.updated_at) for w in windows] == [
            (0, {"text": "old"}, seed["at"])]
    for index in stored:  # a stored multiviewer is whole: every window of its layout
        windows = WindowState.objects.filter(multiviewer__nexx_index=index,
                                             updated_at__gt=seed["at"])
        assert windows.count() == EMULATOR_WINDOWS[index]
    # The router was fine: its parts are stored.
    assert not RoutingState.objects.filter(output_label="old").exists()
    assert Source.objects.get(quartz_input=1).label == "SRC 1"
    run = RefreshRun.objects.get()
    assert run.status == "partial" and nexx_error in run.error_summary


def test_the_router_down_keeps_the_routes_and_sources(devices):
    seed = seed_old_snapshot()
    devices.quartz.refuse = True
    outcome = refresh_now()
    assert outcome.status == "partial"
    assert outcome.error_summary.startswith("Quartz: ")
    assert "unreachable" in outcome.error_summary and devices.quartz.address in \
        outcome.error_summary
    assert set(RoutingState.objects.values_list("input", "output_label", "updated_at")) == {
        (1, "old", seed["at"])}
    assert Source.objects.get().label == "old"
    assert MultiviewerState.objects.filter(updated_at__gt=seed["at"]).count() == 4


def test_the_router_failing_half_way_keeps_what_it_had_not_read(devices):
    seed = seed_old_snapshot()
    router = devices.quartz
    original = router._handle
    seen = {"lists": 0}

    def handle(conn, item, now):
        from devices.quartz.codec import ListRoutes

        if isinstance(item, ListRoutes):
            seen["lists"] += 1
            if seen["lists"] > 2:
                router.mute = True
        return original(conn, item, now)

    router._handle = handle
    outcome = refresh_now(Scope(nexx=False))
    assert outcome.status == "partial"
    assert "did not answer" in outcome.error_summary
    assert "source names were stored" in outcome.error_summary
    assert "routes of 0 of 64 outputs were stored" in outcome.error_summary
    assert set(RoutingState.objects.values_list("updated_at", flat=True)) == {seed["at"]}
    assert Source.objects.get(quartz_input=1).label == "SRC 1"


def test_nothing_reachable_is_a_failed_run(devices):
    NexxSettings.objects.update(base_url="")
    devices.quartz.refuse = True
    outcome = refresh_now()
    assert outcome.status == "failed"
    lines = outcome.error_summary.splitlines()
    assert lines[0].startswith("NEXX: The NEXX frame is not configured")
    assert lines[1].startswith("Quartz: ")
    assert outcome.counts["parts"] == 0


def test_an_impossible_layout_is_reported_and_the_rest_is_stored(devices):
    devices.nexx.set(param_id("layout", 2), 50)  # device 50: not a layout
    outcome = refresh_now(Scope(quartz=False))
    assert outcome.status == "partial"
    assert outcome.error_summary == ("MV 3 reports layout 51, which is not a layout 1 to 43; "
                                     "its state was not updated.")
    assert MultiviewerState.objects.count() == 3


def test_progress_is_saved_while_reading(devices):
    seen: list[dict] = []
    refresh_now(on_progress=seen.append)
    assert seen[0]["phase"] == "reading" and seen[-1]["phase"] == "done"
    final = seen[-1]
    assert final["parameters_read"] == final["parameters_planned"] > 0
    assert final["nexx"]["requests"] > 0 and final["quartz"]["commands"] > 0
    assert final["eta_seconds"] == 0


def test_an_unexpected_error_closes_the_run_instead_of_leaving_it_running(devices):
    calls = {"n": 0}

    def broken_progress(progress):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug in a progress display")

    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    with pytest.raises(RuntimeError):
        execute_run(ticket.run.pk, on_progress=broken_progress)
    run = RefreshRun.objects.get()
    assert run.status in ("failed", "partial") and run.finished_at is not None
    assert "unexpected error (RuntimeError)" in run.error_summary
    assert "the parts stored so far are kept" in run.error_summary
    # The next trigger starts afresh: nothing is left holding the single flight.
    again = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    assert not again.joined
