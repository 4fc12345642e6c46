"""ControlService.apply against the emulators: the order of the command flow, batching, the state
recorded per accepted request, partial failures, only_differences (what presets use)."""

from __future__ import annotations

import math

import pytest

from control import leases
from control.changes import MultiviewerChange, UmdLayerChange, WindowChange
from control.services import ControlService
from devices.errors import DeviceRefused, DeviceTimeout, OutputLocked
from devices.models import EditLease
from devices.nexx import codec
from devices.nexx.catalog import bars_to_device, param_id
from mvcontrol.errors import Conflict, Forbidden, InvalidInput, RateLimited, TooLarge
from state.models import MultiviewerState, RoutingState, WindowState
from state.planning import UMD_KEYS
from tests.fixtures.control import state_of


def full_umd(window: int, text: str = "T") -> list[UmdLayerChange]:
    """All 30 UMD parameters of a window (3 layers x 10), each different from the emulator's."""
    return [UmdLayerChange(layer, {"type": 1, "text": f"{text}{window}.{layer}",
                                   "box_colour": 2, "box_alpha": 3, "x": 10 * window,
                                   "y": 20 + layer, "text_colour": 4, "text_alpha": 2,
                                   "text_size": 3, "padding": 1})
            for layer in (1, 2, 3)]


def test_a_change_reaches_both_devices_and_the_state(rig):
    mv = rig.mv(0)
    cam = rig.source(5)
    change = MultiviewerChange(layout=2, font=1, windows=[
        WindowChange(9, source=cam, pcm_bars=8,
                     umd=[UmdLayerChange(2, {"text": "CAM 5", "box_colour": 4})])])
    result = ControlService.apply(user=rig.operator, multiviewer=mv, change=change)

    assert result.ok and not result.partial and result.error is None
    assert result.applied == ["layout", "font", "window 9 pcm_bars", "window 9 umd layer 2",
                              "window 9 source"]
    # Layout alone, then font + window parameters together, then one switch.
    assert result.requests == 3
    assert rig.nexx.get(param_id("layout", 0)) == "1"
    assert rig.nexx.get(param_id("font", 0)) == "1"
    assert rig.nexx.get(param_id("pcm_bars", 0, 8)) == str(bars_to_device(8))
    assert rig.nexx.get(param_id("text", 0, 8, 1)) == "CAM 5"
    assert rig.quartz.route(mv.output_for_window(9)) == 5

    state = MultiviewerState.objects.get(multiviewer=mv)
    assert (state.layout, state.font) == (2, 1)
    window = WindowState.objects.get(multiviewer=mv, window_index=8)
    assert window.pcm_bars == 8
    assert window.umd[1]["text"] == "CAM 5" and window.umd[1]["box_colour"] == 4
    assert RoutingState.objects.get(output=mv.output_for_window(9)).input == 5
    assert EditLease.objects.get(multiviewer=mv).user == rig.operator


def test_mass_update_goes_in_requests_of_at_most_40_without_splitting_a_layer(rig):
    mv = rig.mv(1)  # layout 2: 16 windows
    change = MultiviewerChange(windows=[
        WindowChange(w, pcm_bars=16, umd=full_umd(w)) for w in range(1, 17)])
    assert change.parameter_count() == 16 * 31
    with pytest.raises(TooLarge) as excinfo:
        ControlService.apply(user=rig.admin, multiviewer=mv, change=change)
    assert excinfo.value.extra == {"count": 496, "limit": 200}
    assert rig.nexx.stats()["by_call"].get("EV/SET", 0) == 0

    rig.nexx.reset_stats()
    result = ControlService.apply(user=rig.admin, multiviewer=mv, change=change,
                                  enforce_size=False)
    assert result.ok
    stats = rig.nexx.stats()
    assert stats["max_parameters_per_request"] <= 40
    # Items of 1 (PCM) and 10 (a layer): 31 per window → 3 windows (+ PCM of the 4th) per
    # request at best; never more requests than items packed greedily allow.
    assert result.requests == stats["by_call"]["EV/SET"]
    assert math.ceil(496 / 40) <= result.requests <= 16
    for w in range(16):
        assert rig.nexx.get(param_id("text", 1, w, 2)) == f"T{w + 1}.3"
        row = WindowState.objects.get(multiviewer=mv, window_index=w)
        assert row.pcm_bars == 16 and row.umd[2]["text"] == f"T{w + 1}.3"


def fail_nth_set(emulator, n: int) -> None:
    """Make the frame refuse its n-th EV/SET from now on (a device error reply), once."""
    original = emulator.respond
    seen = {"sets": 0}

    def respond(target, headers):
        if "/EV/SET/" in target:
            seen["sets"] += 1
            if seen["sets"] == n:
                return 200, codec.encode_error("Error: parameter write failed")
        return original(target, headers)

    emulator.respond = respond


def test_a_failure_in_the_second_request_keeps_exactly_what_the_first_applied(rig):
    mv = rig.mv(1)
    before = state_of(mv)
    change = MultiviewerChange(windows=[
        WindowChange(w, umd=full_umd(w, "P")) for w in range(1, 5)])  # 4 x 30 = 120
    fail_nth_set(rig.nexx, 2)
    result = ControlService.apply(user=rig.admin, multiviewer=mv, change=change)

    assert result.partial and not result.ok
    assert isinstance(result.error, DeviceRefused)
    # Request 1 held windows 1 (3 layers) and 2 (layer 1): 40 parameters.
    assert result.applied == ["window 1 umd layer 1", "window 1 umd layer 2",
                              "window 1 umd layer 3", "window 2 umd layer 1"]
    failed = {f["item"]: f["error"] for f in result.failed}
    assert failed["window 2 umd layer 2"] == "device_refused"
    assert failed["window 4 umd layer 3"] == "not_attempted"
    assert len(result.failed) == 12 - 4
    assert result.requests == 2
    assert rig.nexx.stats()["by_call"]["EV/SET"] == 2  # stopped after the failure

    after = state_of(mv)
    assert after["params"] == before["params"] and after["routes"] == before["routes"]
    w1 = WindowState.objects.get(multiviewer=mv, window_index=0)
    assert [layer["text"] for layer in w1.umd] == ["P1.1", "P1.2", "P1.3"]
    w2 = WindowState.objects.get(multiviewer=mv, window_index=1)
    assert w2.umd[0]["text"] == "P2.1"
    assert w2.umd[1:] == before["windows"][1][1][1:]  # not accepted, not recorded
    assert w2.updated_at > before["windows"][1][2]
    for index in (2, 3):
        assert after["windows"][index] == before["windows"][index]
    # The state equals the device for what it holds.
    assert rig.nexx.get(param_id("text", 1, 1, 0)) == "P2.1"
    assert rig.nexx.get(param_id("text", 1, 1, 1)) == w2.umd[1]["text"]
    assert "applied: window 1 umd layer 1" in result.summary()


def test_a_device_failure_before_anything_was_applied_raises_and_changes_nothing(rig):
    mv = rig.mv(0)
    before = state_of(mv)
    rig.nexx.set_fault("http_500", times=1)
    with pytest.raises(DeviceRefused) as excinfo:
        ControlService.apply(user=rig.operator, multiviewer=mv,
                             change=MultiviewerChange(layout=5, windows=[
                                 WindowChange(1, source=rig.source(2))]))
    assert excinfo.value.device.startswith("NEXX frame")
    assert state_of(mv) == before
    assert rig.quartz.route(mv.output_for_window(1)) == before["routes"][
        mv.output_for_window(1)][0]


def test_a_router_failure_after_the_frame_accepted_is_partial(rig):
    mv = rig.mv(0)
    rig.quartz.mute = True  # the router never answers: the switch times out
    result = ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(
        windows=[WindowChange(2, source=rig.source(3), pcm_bars=12)]))
    assert result.partial and isinstance(result.error, DeviceTimeout)
    assert result.applied == ["window 2 pcm_bars"]
    assert result.failed == [{"item": "window 2 source", "error": "device_timeout",
                              "detail": result.error.detail}]
    assert WindowState.objects.get(multiviewer=mv, window_index=1).pcm_bars == 12
    route = RoutingState.objects.get(output=mv.output_for_window(2))
    assert route.input != 3


def test_what_the_frame_accepted_is_recorded_when_the_change_breaks_off(rig, monkeypatch):
    # The PCM bars' record waits for the switch's, to go with it: an unexpected error in
    # between must not lose it.
    from devices.quartz.service import QuartzService

    def broken(self, output, source):
        raise RuntimeError("a bug in the router's service")

    monkeypatch.setattr(QuartzService, "switch", broken)
    mv = rig.mv(0)
    with pytest.raises(RuntimeError):
        ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(
            windows=[WindowChange(2, source=rig.source(3), pcm_bars=12)]))
    assert rig.nexx.get(param_id("pcm_bars", 0, 1)) == str(bars_to_device(12))
    assert WindowState.objects.get(multiviewer=mv, window_index=1).pcm_bars == 12


def test_a_locked_output_stops_only_its_own_switch(rig):
    mv = rig.mv(1)
    locked = mv.output_for_window(2)
    rig.quartz.set_lock(locked, 255)
    result = ControlService.apply(user=rig.admin, multiviewer=mv, change=MultiviewerChange(
        windows=[WindowChange(w, source=rig.source(10 + w)) for w in (1, 2, 3)]))
    assert result.partial and isinstance(result.error, OutputLocked)
    assert result.applied == ["window 1 source", "window 3 source"]
    assert [f["error"] for f in result.failed] == ["output_locked"]
    assert rig.quartz.route(mv.output_for_window(3)) == 13
    assert RoutingState.objects.get(output=locked).input != 12


def test_only_differences_sends_nothing_for_an_unchanged_multiviewer(rig):
    mv = rig.mv(0)
    row = WindowState.objects.get(multiviewer=mv, window_index=0)
    state = MultiviewerState.objects.get(multiviewer=mv)
    route = RoutingState.objects.get(output=mv.output_for_window(1))
    same = MultiviewerChange(layout=state.layout, font=state.font, windows=[WindowChange(
        1, source=rig.source(route.input), pcm_bars=row.pcm_bars,
        umd=[UmdLayerChange(1, {k: row.umd[0][k] for k in UMD_KEYS})])])
    rig.nexx.reset_stats()
    result = ControlService.apply(user=rig.operator, multiviewer=mv, change=same,
                                  only_differences=True, enforce_rate=False)
    assert result.ok and result.applied == [] and result.requests == 0
    assert "layout" in result.skipped and "window 1 source" in result.skipped
    assert "window 1 umd layer 1 text" in result.skipped
    assert rig.nexx.stats()["by_call"].get("EV/SET", 0) == 0
    assert not EditLease.objects.filter(multiviewer=mv).exists()

    changed = MultiviewerChange(font=state.font, windows=[WindowChange(1, umd=[UmdLayerChange(
        1, {"text": "NEW", "type": row.umd[0]["type"]})])])
    result = ControlService.apply(user=rig.operator, multiviewer=mv, change=changed,
                                  only_differences=True)
    assert result.applied == ["window 1 umd layer 1"] and result.requests == 1
    assert result.skipped == ["font", "window 1 umd layer 1 type"]


def test_everything_is_validated_before_anything_is_sent(rig):
    mv = rig.mv(0)  # layout 1: 4 windows
    bad = MultiviewerChange(font=9, outer_border=5, windows=[
        WindowChange(5, pcm_bars=3),
        WindowChange(1, pcm_bars=3, umd=[UmdLayerChange(1, {"text": "x" * 65, "colour": 1}),
                                         UmdLayerChange(4, {"text": "ok"})])])
    with pytest.raises(InvalidInput) as excinfo:
        ControlService.apply(user=rig.admin, multiviewer=mv, change=bad)
    assert set(excinfo.value.fields) == {
        "font", "outer_border", "windows.5.window", "windows.1.pcm_bars",
        "windows.1.umd.1.text", "windows.1.umd.1.colour", "windows.1.umd.4.layer"}
    assert "layout 1, which has windows 1 to 4" in excinfo.value.fields["windows.5.window"][0]
    assert rig.nexx.stats()["by_call"].get("EV/SET", 0) == 0

    # A window that exists only in the new layout the same change selects is fine.
    result = ControlService.apply(user=rig.admin, multiviewer=mv, change=MultiviewerChange(
        layout=2, windows=[WindowChange(16, pcm_bars=4)]))
    assert result.ok and rig.nexx.get(param_id("pcm_bars", 0, 15)) == str(bars_to_device(4))


def test_grants_are_checked_for_the_multiviewer_and_every_source(rig):
    with pytest.raises(Forbidden) as excinfo:
        ControlService.apply(user=rig.operator, multiviewer=rig.mv(1),
                             change=MultiviewerChange(font=1))
    assert excinfo.value.code == "not_granted"
    with pytest.raises(Forbidden) as excinfo:
        ControlService.apply(user=rig.operator, multiviewer=rig.mv(0), change=MultiviewerChange(
            windows=[WindowChange(1, source=rig.source(20))]))
    assert excinfo.value.code == "not_granted"
    assert "source 20" in excinfo.value.detail
    assert set(excinfo.value.fields) == {"windows.1.source"}


def test_an_unknown_layout_refuses_window_changes(rig):
    mv = rig.mv(0)
    MultiviewerState.objects.filter(multiviewer=mv).update(layout=None)
    with pytest.raises(Conflict) as excinfo:
        ControlService.apply(user=rig.admin, multiviewer=mv, change=MultiviewerChange(
            windows=[WindowChange(1, pcm_bars=2)]))
    assert excinfo.value.code == "layout_unknown"


def test_the_rate_limit_counts_writes_per_user(rig, settings):
    settings.WRITE_RATE = "2/m"
    mv = rig.mv(0)
    for font in (0, 1):
        ControlService.apply(user=rig.operator, multiviewer=mv,
                             change=MultiviewerChange(font=font))
    with pytest.raises(RateLimited) as excinfo:
        ControlService.apply(user=rig.operator, multiviewer=mv,
                             change=MultiviewerChange(font=2))
    assert excinfo.value.headers["Retry-After"].isdigit()
    assert rig.nexx.get(param_id("font", 0)) == "1"
    # Another user has their own count; presets may skip the limit.
    leases.break_lease(multiviewer=mv)
    ControlService.apply(user=rig.other, multiviewer=mv, change=MultiviewerChange(font=2))
    leases.break_lease(multiviewer=mv)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(font=0),
                         enforce_rate=False)


def test_the_edit_lease_keeps_a_second_editor_out_until_broken(rig):
    mv = rig.mv(0)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(font=1))
    with pytest.raises(Conflict) as excinfo:
        ControlService.apply(user=rig.other, multiviewer=mv, change=MultiviewerChange(font=2))
    assert excinfo.value.code == "edit_lease_held"
    assert excinfo.value.extra["lease"]["login"] == "operator"
    assert rig.nexx.get(param_id("font", 0)) == "1"

    with pytest.raises(Forbidden):
        ControlService.break_lease(admin=rig.operator, multiviewer=mv)
    assert ControlService.break_lease(admin=rig.admin, multiviewer=mv) is True
    ControlService.apply(user=rig.other, multiviewer=mv, change=MultiviewerChange(font=2))
    assert rig.nexx.get(param_id("font", 0)) == "2"


def test_switch_by_output_and_by_window(rig):
    mv = rig.mv(0)
    route = ControlService.switch(user=rig.operator, output=mv.output_for_window(16),
                                  source=rig.source(4))
    # Window 16 is not in layout 1, but its output is the operator's: raw switches may go.
    assert (route.output, route.input) == (16, 4) and rig.quartz.route(16) == 4
    route = ControlService.switch_window(user=rig.operator, multiviewer=mv, window=2,
                                         source=rig.source(6))
    assert (route.output, route.input) == (2, 6) and rig.quartz.route(2) == 6
    with pytest.raises(Forbidden):
        ControlService.switch(user=rig.operator, output=17, source=rig.source(4))
    with pytest.raises(InvalidInput):
        ControlService.switch(user=rig.admin, output=129, source=rig.source(4))
    rig.quartz.set_lock(3, 255)
    with pytest.raises(OutputLocked):
        ControlService.switch(user=rig.operator, output=3, source=rig.source(4))
