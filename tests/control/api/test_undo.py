"""POST /api/multiviewers/{id}/undo and the `undo` of the multiviewer document, through the API
against the emulators: every answer checked against /api/schema."""

from __future__ import annotations

from control import leases
from devices.models import Source
from devices.nexx.catalog import bars_to_device, layout_to_device, param_id
from state.models import RoutingState, WindowState
from state.services import StateService
from tests.control.api.schema_check import check
from tests.fixtures.control import state_of


def undo_url(mv) -> str:
    return f"/api/multiviewers/{mv.pk}/undo"


def route(rig, mv, window: int, quartz_input: int) -> None:
    output = mv.output_for_window(window)
    rig.quartz.set_route(output, quartz_input)
    StateService.record_route(output, quartz_input)


def test_a_layout_change_offers_its_undo_to_everyone_who_sees_the_multiviewer(rig):
    mv = rig.mv(0)
    operator, other = rig.client(rig.operator), rig.client(rig.other)
    assert check(operator.get(f"/api/multiviewers/{mv.pk}"), 200)["undo"] is None
    body = check(operator.post(f"/api/multiviewers/{mv.pk}/layout", {"layout": 2},
                               format="json"), 200)
    assert body["layout"] == 2 and body["window_count"] == 16
    assert body["undo"]["description"] == "Layout back to 1"
    assert body["undo"]["login"] == "operator" and body["undo"]["at"]
    assert check(other.get(f"/api/multiviewers/{mv.pk}"), 200)["undo"] == body["undo"]

    body = check(operator.post(undo_url(mv)), 200)
    assert body["layout"] == 1 and body["window_count"] == 4 and body["undo"] is None
    assert rig.nexx.get(param_id("layout", 0)) == str(layout_to_device(1))

    again = check(operator.post(undo_url(mv)), 409)
    assert again["error"] == "nothing_to_undo"
    assert again["detail"].startswith("There is nothing to undo on MV 1")


def test_a_take_by_window_is_undone(rig):
    mv = rig.mv(0)
    route(rig, mv, 3, 2)
    client = rig.client(rig.operator)
    check(client.post("/api/routing/switch",
                      {"multiviewer": mv.pk, "window": 3, "source": rig.source(4).pk},
                      format="json"), 200)
    document = check(client.get(f"/api/multiviewers/{mv.pk}"), 200)
    assert document["undo"]["description"] == "Window 3 back to 2: SRC 2"
    body = check(client.post(undo_url(mv)), 200)
    assert body["windows"][2]["input"] == 2 and body["windows"][2]["source"]["quartz_input"] == 2
    assert rig.quartz.route(mv.output_for_window(3)) == 2


def test_a_umd_and_pcm_edit_is_undone(rig):
    mv = rig.mv(0)
    old = WindowState.objects.get(multiviewer=mv, window_index=0)
    bars = 2 if old.pcm_bars != 2 else 4
    client = rig.client(rig.operator)
    body = check(client.post(f"/api/multiviewers/{mv.pk}/windows/1",
                             {"pcm_bars": bars, "umd": [{"layer": 2, "text": "NEW TEXT"}]},
                             format="json"), 200)
    assert body["undo"]["description"] == "Window 1: PCM bars, UMD layer 2 text"
    body = check(client.post(undo_url(mv)), 200)
    assert body["windows"][0]["pcm_bars"] == old.pcm_bars
    assert body["windows"][0]["umd"][1]["text"] == old.umd[1]["text"]
    assert rig.nexx.get(param_id("pcm_bars", 0, 0)) == str(bars_to_device(old.pcm_bars))
    assert rig.nexx.get(param_id("text", 0, 0, 1)) == old.umd[1]["text"]


def test_a_partial_undo_answers_the_device_error_and_keeps_the_rest(rig):
    mv = rig.mv(0)
    route(rig, mv, 2, 5)
    old_bars = WindowState.objects.get(multiviewer=mv, window_index=1).pcm_bars
    client = rig.client(rig.operator)
    check(client.post(f"/api/multiviewers/{mv.pk}/windows/2",
                      {"source": rig.source(1).pk, "pcm_bars": 0 if old_bars else 16},
                      format="json"), 200)
    rig.quartz.mute = True
    body = check(client.post(undo_url(mv)), 504)
    assert body["error"] == "device_timeout" and body["result"]["partial"] is True
    assert body["result"]["applied"] == ["window 2 pcm_bars"]
    document = check(client.get(f"/api/multiviewers/{mv.pk}"), 200)
    assert document["undo"]["description"] == "Window 2 back to 5: SRC 5"
    assert document["windows"][1]["pcm_bars"] == old_bars
    rig.quartz.mute = False
    check(client.post(undo_url(mv)), 200)
    assert RoutingState.objects.get(output=mv.output_for_window(2)).input == 5


def test_an_undo_is_refused_like_any_take(rig):
    mv = rig.mv(0)
    route(rig, mv, 1, 30)  # not the operator's
    check(rig.client(rig.other).post(f"/api/multiviewers/{mv.pk}/windows/1",
                                     {"source": rig.source(3).pk}, format="json"), 200)
    leases.break_lease(multiviewer=mv)
    before = state_of(mv)
    body = check(rig.client(rig.operator).post(undo_url(mv)), 403)
    assert body["error"] == "not_granted" and list(body["fields"]) == ["windows.1.source"]
    Source.objects.filter(quartz_input=30).delete()
    body = check(rig.client(rig.admin).post(undo_url(mv)), 400)
    assert body["fields"] == {"windows.1.source": [
        "Router input 30 is not a registered source, so window 1 cannot be routed back to it."]}
    assert state_of(mv) == before and rig.quartz.route(mv.output_for_window(1)) == 3


def test_an_undo_counts_against_the_write_rate_and_respects_the_lease(rig, settings):
    settings.WRITE_RATE = "1/m"
    mv = rig.mv(0)
    check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/layout", {"layout": 3},
                                        format="json"), 200)
    held = check(rig.client(rig.other).post(undo_url(mv)), 409)
    assert held["error"] == "edit_lease_held"
    limited = check(rig.client(rig.operator).post(undo_url(mv)), 429)
    assert limited["error"] == "rate_limited"
    assert check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 200)["undo"]


def test_undo_needs_the_multiviewer(rig):
    assert check(rig.client(rig.operator).post(undo_url(rig.mv(1))), 403)["error"] == \
        "not_granted"
    assert check(rig.client(rig.operator).post("/api/multiviewers/987654/undo"), 404)
