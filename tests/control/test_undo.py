"""Undo, one step per multiviewer, against the emulators: what ControlService.apply records (the
cached values the devices' accepted change replaced), and ControlService.undo sending them back
through the same command flow, restoring the devices and the state, and consuming the step."""

from __future__ import annotations

import pytest

from control import leases
from control.changes import MultiviewerChange, UmdLayerChange, WindowChange
from control.models import UndoStep
from control.services import ControlService
from devices.errors import DeviceRefused, DeviceTimeout
from devices.models import Source
from devices.nexx.catalog import bars_to_device, layout_to_device, param_id
from live.messages import enrich
from mvcontrol.errors import Conflict, Forbidden, InvalidInput, RateLimited
from state.models import MultiviewerState, RoutingState, WindowState
from state.services import StateService
from tests.fixtures.control import state_of


def route(rig, mv, window: int, quartz_input: int) -> None:
    """Route `quartz_input` to the window on the router, and cache it as a refresh would."""
    output = mv.output_for_window(window)
    rig.quartz.set_route(output, quartz_input)
    StateService.record_route(output, quartz_input)


def step(mv) -> UndoStep | None:
    return UndoStep.objects.filter(multiviewer=mv).first()


def windows_of(mv) -> dict:
    return {w.window_index: (w.pcm_bars, w.umd)
            for w in WindowState.objects.filter(multiviewer=mv)}


def test_a_layout_change_is_undone_and_the_windows_keep_their_settings(rig):
    mv = rig.mv(0)  # layout 1
    windows_before = windows_of(mv)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=5))
    assert rig.nexx.get(param_id("layout", 0)) == str(layout_to_device(5))
    recorded = step(mv)
    assert recorded.description == "Layout back to 1" and recorded.login == "operator"
    assert recorded.change == {"layout": 1}

    result = ControlService.undo(user=rig.operator, multiviewer=mv)
    assert result.ok and result.applied == ["layout"] and result.requests == 1
    assert rig.nexx.get(param_id("layout", 0)) == str(layout_to_device(1))
    assert MultiviewerState.objects.get(multiviewer=mv).layout == 1
    assert windows_of(mv) == windows_before  # the frame kept them; nothing else was sent
    assert step(mv) is None  # consumed: no redo
    with pytest.raises(Conflict) as refused:
        ControlService.undo(user=rig.operator, multiviewer=mv)
    assert refused.value.code == "nothing_to_undo"


def test_a_take_is_undone_by_routing_the_previous_source_back(rig):
    mv = rig.mv(0)
    route(rig, mv, 2, 7)
    ControlService.switch_window(user=rig.operator, multiviewer=mv, window=2,
                                 source=rig.source(5))
    assert rig.quartz.route(mv.output_for_window(2)) == 5
    assert step(mv).description == f"Window 2 back to {rig.source(7)}"  # "7: SRC 7"

    ControlService.undo(user=rig.operator, multiviewer=mv)
    assert rig.quartz.route(mv.output_for_window(2)) == 7
    assert RoutingState.objects.get(output=mv.output_for_window(2)).input == 7
    assert step(mv) is None


def test_undo_restores_pcm_bars_and_umd_values_exactly(rig):
    mv = rig.mv(1)  # layout 2: 16 windows
    before = state_of(mv)
    old_w3 = WindowState.objects.get(multiviewer=mv, window_index=2)
    old_font = MultiviewerState.objects.get(multiviewer=mv).font

    def other_than(old, *choices):
        return next(c for c in choices if c != old)

    change = MultiviewerChange(font=other_than(old_font, 2, 1), windows=[
        WindowChange(3, pcm_bars=other_than(old_w3.pcm_bars, 16, 2), umd=[
            UmdLayerChange(1, {"text": "NEW 3",
                               "box_colour": other_than(old_w3.umd[0]["box_colour"], 5, 6)}),
            UmdLayerChange(3, {"text_size": other_than(old_w3.umd[2]["text_size"], 3, 2)})])])
    ControlService.apply(user=rig.admin, multiviewer=mv, change=change)
    recorded = step(mv)
    assert recorded.description == ("Font; Window 3: PCM bars, UMD layer 1 text and box colour, "
                                    "UMD layer 3 text size")
    assert recorded.login == "admin"

    rig.nexx.reset_stats()
    result = ControlService.undo(user=rig.admin, multiviewer=mv)
    assert result.ok and result.requests == 1  # 1 + 1 + 2 + 1 parameters: one request
    assert rig.nexx.stats()["parameters"] == 5
    after = state_of(mv)
    assert after["params"][:5] == before["params"][:5] and after["routes"] == before["routes"]
    row = WindowState.objects.get(multiviewer=mv, window_index=2)
    assert (row.pcm_bars, row.umd) == (old_w3.pcm_bars, old_w3.umd)
    assert rig.nexx.get(param_id("pcm_bars", 1, 2)) == str(bars_to_device(old_w3.pcm_bars))
    assert rig.nexx.get(param_id("text", 1, 2, 0)) == old_w3.umd[0]["text"]
    assert rig.nexx.get(param_id("box_colour", 1, 2, 0)) == str(old_w3.umd[0]["box_colour"])
    assert rig.nexx.get(param_id("text_size", 1, 2, 2)) == str(old_w3.umd[2]["text_size"])
    assert rig.nexx.get(param_id("font", 1)) == str(old_font)


def test_each_change_replaces_the_step(rig):
    mv = rig.mv(0)
    route(rig, mv, 1, 3)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=2))
    ControlService.switch_window(user=rig.operator, multiviewer=mv, window=1,
                                 source=rig.source(4))
    assert step(mv).change == {"windows": [{"window": 1, "source": 3}]}
    ControlService.undo(user=rig.operator, multiviewer=mv)
    assert rig.quartz.route(mv.output_for_window(1)) == 3
    assert MultiviewerState.objects.get(multiviewer=mv).layout == 2  # one step only
    assert step(mv) is None


def test_a_layout_undo_leaves_out_windows_the_old_layout_does_not_show(rig):
    mv = rig.mv(0)  # layout 1: 4 windows
    old = WindowState.objects.filter(multiviewer=mv, window_index=8).first()
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(
        layout=2, windows=[WindowChange(9, pcm_bars=12 if not old or old.pcm_bars != 12
                                        else 4)]))
    # Window 9 is not in layout 1: the command flow could not send it back.
    assert step(mv).change == {"layout": 1}


def test_a_partial_apply_records_the_inverse_of_what_was_applied(rig):
    mv = rig.mv(0)
    route(rig, mv, 2, 6)
    old_bars = WindowState.objects.get(multiviewer=mv, window_index=1).pcm_bars
    new_bars = 12 if old_bars != 12 else 8
    rig.quartz.mute = True  # the switch times out after the frame took the PCM bars
    result = ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(
        windows=[WindowChange(2, source=rig.source(3), pcm_bars=new_bars)]))
    assert result.partial and result.applied == ["window 2 pcm_bars"]
    assert step(mv).change == {"windows": [{"window": 2, "pcm_bars": old_bars}]}
    assert step(mv).description == "Window 2: PCM bars"

    rig.quartz.mute = False
    ControlService.undo(user=rig.operator, multiviewer=mv)
    assert rig.nexx.get(param_id("pcm_bars", 0, 1)) == str(bars_to_device(old_bars))
    assert WindowState.objects.get(multiviewer=mv, window_index=1).pcm_bars == old_bars
    assert rig.quartz.route(mv.output_for_window(2)) == 6  # never changed, never sent


def test_a_partial_undo_keeps_what_it_could_not_apply(rig):
    mv = rig.mv(0)
    route(rig, mv, 3, 2)
    old_bars = WindowState.objects.get(multiviewer=mv, window_index=2).pcm_bars
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(
        windows=[WindowChange(3, source=rig.source(8), pcm_bars=16 if old_bars != 16 else 0)]))
    rig.quartz.mute = True
    result = ControlService.undo(user=rig.operator, multiviewer=mv)
    assert result.partial and isinstance(result.error, DeviceTimeout)
    assert result.applied == ["window 3 pcm_bars"]
    assert WindowState.objects.get(multiviewer=mv, window_index=2).pcm_bars == old_bars
    left = step(mv)
    assert left.change == {"windows": [{"window": 3, "source": 2}]}
    assert left.description == f"Window 3 back to {rig.source(2)}"
    assert left.login == "operator"  # still the change's author

    rig.quartz.mute = False
    result = ControlService.undo(user=rig.operator, multiviewer=mv)
    assert result.applied == ["window 3 source"]
    assert rig.quartz.route(mv.output_for_window(3)) == 2 and step(mv) is None


def test_an_undo_the_device_refused_outright_keeps_the_step(rig):
    mv = rig.mv(0)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=3))
    rig.nexx.set_fault("http_500", times=1)
    with pytest.raises(DeviceRefused):
        ControlService.undo(user=rig.operator, multiviewer=mv)
    assert step(mv).change == {"layout": 1}
    ControlService.undo(user=rig.operator, multiviewer=mv)
    assert MultiviewerState.objects.get(multiviewer=mv).layout == 1


def test_a_take_back_to_a_source_the_undoer_may_not_route_is_refused(rig):
    mv = rig.mv(0)
    route(rig, mv, 2, 20)  # not one of the operator's sources
    ControlService.switch_window(user=rig.other, multiviewer=mv, window=2,
                                 source=rig.source(5))
    leases.break_lease(multiviewer=mv)
    before = state_of(mv)
    with pytest.raises(Forbidden) as refused:
        ControlService.undo(user=rig.operator, multiviewer=mv)
    assert refused.value.code == "not_granted"
    assert set(refused.value.fields) == {"windows.2.source"}
    assert rig.quartz.route(mv.output_for_window(2)) == 5 and state_of(mv) == before
    assert step(mv) is not None  # still there for someone who may
    leases.break_lease(multiviewer=mv)
    ControlService.undo(user=rig.other, multiviewer=mv)
    assert rig.quartz.route(mv.output_for_window(2)) == 20


def test_a_take_back_to_an_input_that_is_no_source_is_refused(rig):
    mv = rig.mv(0)
    route(rig, mv, 4, 9)
    ControlService.switch_window(user=rig.operator, multiviewer=mv, window=4,
                                 source=rig.source(1))
    assert step(mv).description == "Window 4 back to 9: SRC 9"
    Source.objects.filter(quartz_input=9).delete()
    with pytest.raises(InvalidInput) as refused:
        ControlService.undo(user=rig.admin, multiviewer=mv)
    assert refused.value.fields == {"windows.4.source": [
        "Router input 9 is not a registered source, so window 4 cannot be routed back to it."]}
    assert rig.quartz.route(mv.output_for_window(4)) == 1 and step(mv) is not None


def test_values_already_there_keep_the_step_and_unknown_ones_drop_it(rig):
    mv = rig.mv(0)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=2))
    state = MultiviewerState.objects.get(multiviewer=mv)
    # Setting the font it already has changes nothing: the layout can still be undone.
    ControlService.apply(user=rig.operator, multiviewer=mv,
                         change=MultiviewerChange(font=state.font))
    assert step(mv).change == {"layout": 1}
    # A value the cache did not know: the change cannot be undone, nor the older one after it.
    WindowState.objects.filter(multiviewer=mv, window_index=0).update(
        umd=[{}, {}, {}], pcm_bars=None)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(
        windows=[WindowChange(1, pcm_bars=6)]))
    assert step(mv) is None


def test_an_undo_with_nothing_left_to_send_just_consumes_the_step(rig):
    mv = rig.mv(0)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=4))
    # Someone put the layout back on the frame, and a refresh recorded it.
    rig.nexx.set(param_id("layout", 0), layout_to_device(1))
    StateService.record_multiviewer_params(mv, layout=1)
    rig.nexx.reset_stats()
    result = ControlService.undo(user=rig.operator, multiviewer=mv)
    assert result.applied == [] and result.skipped == ["layout"]
    assert rig.nexx.stats()["by_call"].get("EV/SET", 0) == 0
    assert step(mv) is None


def test_undo_goes_through_the_rate_limit_and_the_lease(rig, settings):
    settings.WRITE_RATE = "1/m"
    mv = rig.mv(0)
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=2))
    with pytest.raises(Conflict) as held:
        ControlService.undo(user=rig.other, multiviewer=mv)
    assert held.value.code == "edit_lease_held"
    with pytest.raises(RateLimited):
        ControlService.undo(user=rig.operator, multiviewer=mv)
    assert step(mv).change == {"layout": 1}
    assert MultiviewerState.objects.get(multiviewer=mv).layout == 2


def test_a_preset_apply_can_be_undone_too(rig):
    from presets.services import PresetService

    mv = rig.mv(1)
    saved = PresetService.save_preset(user=rig.admin, name="Now", multiviewer_ids=[mv.pk],
                                      groups=["layout", "pcm"])
    ControlService.apply(user=rig.admin, multiviewer=mv, change=MultiviewerChange(
        layout=3, windows=[WindowChange(w, pcm_bars=16) for w in (1, 2)]))
    leases.break_lease(multiviewer=mv)
    before = state_of(mv)
    outcome = PresetService.apply_preset(user=rig.admin, preset_id=saved.preset.pk)
    assert outcome.result["status"] == "done"
    assert step(mv).description.startswith("Layout back to 3")
    ControlService.undo(user=rig.admin, multiviewer=mv)
    after = state_of(mv)
    assert after["params"][0] == before["params"][0] == 3
    assert [after["windows"][i][0] for i in (0, 1)] == [16, 16]


def test_the_multiviewer_event_carries_the_undo_step(rig):
    mv = rig.mv(0)
    event = enrich({"kind": "multiviewer", "multiviewer": mv.pk})
    assert event.data["document"]["undo"] is None
    ControlService.apply(user=rig.operator, multiviewer=mv, change=MultiviewerChange(layout=2))
    document = enrich({"kind": "multiviewer", "multiviewer": mv.pk}).data["document"]
    assert document["undo"]["description"] == "Layout back to 1"
    assert document["undo"]["login"] == "operator" and document["undo"]["at"]
