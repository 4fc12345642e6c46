"""POST layout, PATCH multiviewer, POST window, POST routing/switch: happy paths and every
validation error of the issue, each leaving the devices and the state untouched."""

from __future__ import annotations

import pytest

from devices.nexx.catalog import bars_to_device, param_id
from state.models import MultiviewerState, RoutingState, WindowState
from tests.control.api.schema_check import check


def sets(rig) -> int:
    return rig.nexx.stats()["by_call"].get("EV/SET", 0)


def test_layout_change(rig):
    mv = rig.mv(0)
    body = check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/layout",
                                               {"layout": 36}, format="json"), 200)
    assert body["layout"] == 36 and body["window_count"] == 9 and len(body["windows"]) == 9
    assert len(body["geometry"]) == 9
    assert rig.nexx.get(param_id("layout", 0)) == "35"
    assert MultiviewerState.objects.get(multiviewer=mv).layout == 36


@pytest.mark.parametrize("layout", [0, 44, "x", None])
def test_layout_out_of_range_is_refused(rig, layout):
    mv = rig.mv(0)
    body = check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/layout",
                                               {"layout": layout}, format="json"), 400)
    assert body["error"] == "validation_error" and "layout" in body["fields"]
    assert sets(rig) == 0 and MultiviewerState.objects.get(multiviewer=mv).layout == 1


def test_multiviewer_parameters(rig):
    mv = rig.mv(0)
    body = check(rig.client(rig.operator).patch(
        f"/api/multiviewers/{mv.pk}", {"font": 2, "outer_border": 0, "output_format": 3},
        format="json"), 200)
    assert (body["font"], body["outer_border"], body["inner_border"], body["output_format"]) == (
        2, 0, 1, 3)
    assert rig.nexx.get(param_id("font", 0)) == "2"
    assert rig.nexx.get(param_id("output_format", 0)) == "3"
    assert rig.nexx.stats()["by_call"]["EV/SET"] == 1  # one request for the three


@pytest.mark.parametrize("payload, field", [
    ({"font": 9}, "font"),  # unknown enum value
    ({"output_format": -1}, "output_format"),
    ({"outer_border": 5}, "outer_border"),  # out of range
    ({"inner_border": "thick"}, "inner_border"),
    ({"fnt": 1}, "fnt"),  # a typo is not "nothing to change"
    ({}, "non_field_errors"),
])
def test_multiviewer_parameters_refused(rig, payload, field):
    mv = rig.mv(0)
    before = MultiviewerState.objects.get(multiviewer=mv)
    body = check(rig.client(rig.operator).patch(f"/api/multiviewers/{mv.pk}", payload,
                                                format="json"), 400)
    assert field in body["fields"], body
    after = MultiviewerState.objects.get(multiviewer=mv)
    assert (after.font, after.outer_border, after.updated_at) == (
        before.font, before.outer_border, before.updated_at)
    assert sets(rig) == 0


def test_window_change_routes_the_source_and_sets_pcm_and_umd(rig):
    mv = rig.mv(0)
    cam = rig.source(6)
    body = check(rig.client(rig.operator).post(
        f"/api/multiviewers/{mv.pk}/windows/3",
        {"source": cam.pk, "pcm_bars": 6,
         "umd": [{"layer": 1, "text": "CAM 6", "text_colour": 3}, {"layer": 3, "type": 0}]},
        format="json"), 200)
    window = body["windows"][2]
    assert window["source"] == {"id": cam.pk, "quartz_input": 6, "label": cam.label,
                                "category": ""}
    assert window["input"] == 6 and window["pcm_bars"] == 6
    assert window["umd"][0]["text"] == "CAM 6" and window["umd"][0]["text_colour"] == 3
    assert window["umd"][2]["type"] == 0
    # In the devices...
    assert rig.quartz.route(mv.output_for_window(3)) == 6
    assert rig.nexx.get(param_id("pcm_bars", 0, 2)) == str(bars_to_device(6))
    assert rig.nexx.get(param_id("text", 0, 2, 0)) == "CAM 6"
    assert rig.nexx.get(param_id("type", 0, 2, 2)) == "0"
    assert rig.nexx.stats()["by_call"]["EV/SET"] == 1  # PCM and UMD in one batched write
    # ...and in what the next read shows.
    again = check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 200)
    assert again["windows"][2]["source"]["id"] == cam.pk


@pytest.mark.parametrize("payload, field", [
    ({"pcm_bars": 3}, "windows.3.pcm_bars"),  # out of the allowed numbers
    ({"umd": [{"layer": 1, "text": "x" * 65}]}, "windows.3.umd.1.text"),  # over-long UMD text
    ({"umd": [{"layer": 1, "text": "two\nlines"}]}, "windows.3.umd.1.text"),
    ({"umd": [{"layer": 2, "box_colour": 8}]}, "windows.3.umd.2.box_colour"),  # unknown enum
    ({"umd": [{"layer": 2, "x": 1920}]}, "windows.3.umd.2.x"),  # out of range
    ({"umd": [{"layer": 4, "text": "A"}]}, "umd"),
    ({"umd": [{"layer": 1, "colour": 1}]}, "umd"),
    ({"source": 999999}, "source"),  # no such source
    ({}, "non_field_errors"),
])
def test_window_change_refused(rig, payload, field):
    mv = rig.mv(0)
    before = WindowState.objects.get(multiviewer=mv, window_index=2)
    body = check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/3", payload,
                                               format="json"), 400)
    assert field in body["fields"], body
    after = WindowState.objects.get(multiviewer=mv, window_index=2)
    assert (after.pcm_bars, after.umd, after.updated_at) == (
        before.pcm_bars, before.umd, before.updated_at)
    assert sets(rig) == 0


def test_refused_values_are_explained_in_an_operators_words(rig):
    from devices.models import NexxEnumLabel

    NexxEnumLabel.objects.create(varid=2716, value=1, label="Sans Mono Bold")
    mv = rig.mv(1)  # layout 2: 16 windows
    client = rig.client(rig.admin)
    body = check(client.post(f"/api/multiviewers/{mv.pk}/windows/5",
                             {"pcm_bars": 5, "umd": [{"layer": 1, "text": "x" * 70}]},
                             format="json"), 400)
    assert body["fields"] == {
        "windows.5.pcm_bars": ["5 is not one of the choices: 0, 2, 4, 6, 8, 12 or 16."],
        "windows.5.umd.1.text": [
            "Text is 70 characters long; at most 64 characters, without control characters."],
    }
    assert body["detail"] == ("Nothing was sent. Window 5 PCM bars: 5 is not one of the "
                              "choices. Window 5, UMD layer 1 text: text is 70 characters "
                              "long.")
    body = check(client.patch(f"/api/multiviewers/{mv.pk}", {"font": 9, "outer_border": 7},
                              format="json"), 400)
    assert body["fields"] == {
        "font": ["9 is not one of the choices: 0 (Sans), 1 (Sans Mono Bold) or 2 (D Din)."],
        "outer_border": ["7 is out of range; allowed: 0 to 4 pixels."]}
    body = check(client.post(f"/api/multiviewers/{mv.pk}/layout", {"layout": 44},
                             format="json"), 400)
    assert body["fields"] == {"layout": ["Layouts are 1 to 43."]}
    assert sets(rig) == 0


def test_a_change_with_many_refused_values_names_the_first_ones(rig):
    mv = rig.mv(1)
    body = check(rig.client(rig.admin).post(
        f"/api/multiviewers/{mv.pk}/windows/2",
        {"umd": [{"layer": layer, "x": 5000, "y": 5000} for layer in (1, 2, 3)]},
        format="json"), 400)
    assert len(body["fields"]) == 6
    assert body["detail"] == ("Nothing was sent. Window 2, UMD layer 1 X position: 5000 is out "
                              "of range. Window 2, UMD layer 1 Y position: 5000 is out of "
                              "range. Window 2, UMD layer 2 X position: 5000 is out of range. "
                              "And 3 more problems.")
    for messages in body["fields"].values():
        assert "windows." not in messages[0] and "271" not in messages[0]


def test_window_not_in_the_layout_is_refused(rig):
    mv = rig.mv(0)  # layout 1: windows 1..4
    for window in (5, 16, 17, 0):
        body = check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/{window}",
                                                   {"pcm_bars": 2}, format="json"), 400)
        messages = body["fields"][f"windows.{window}.window"]
        assert messages == [f"Window {window} is not in layout 1, which has windows 1 to 4."]
    assert sets(rig) == 0


def test_ungranted_source_and_multiviewer_are_refused(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    output = mv.output_for_window(1)
    before = rig.quartz.route(output)
    body = check(client.post(f"/api/multiviewers/{mv.pk}/windows/1",
                             {"source": rig.source(20).pk}, format="json"), 403)
    assert body["error"] == "not_granted" and "source 20" in body["detail"]
    assert "windows.1.source" in body["fields"]
    assert rig.quartz.route(output) == before

    for request in (
        lambda: client.patch(f"/api/multiviewers/{rig.mv(1).pk}", {"font": 1}, format="json"),
        lambda: client.post(f"/api/multiviewers/{rig.mv(1).pk}/layout", {"layout": 2},
                            format="json"),
        lambda: client.post(f"/api/multiviewers/{rig.mv(1).pk}/windows/1", {"pcm_bars": 2},
                            format="json"),
    ):
        assert check(request(), 403)["error"] == "not_granted"
    assert sets(rig) == 0


def test_routing_switch_by_output_and_by_window(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    body = check(client.post("/api/routing/switch",
                             {"output": 2, "source": rig.source(8).pk}, format="json"), 200)
    assert body["output"] == 2 and body["input"] == 8 and body["window"] == 2
    assert body["multiviewer"] == mv.pk and body["source"]["quartz_input"] == 8
    assert rig.quartz.route(2) == 8 and RoutingState.objects.get(output=2).input == 8

    body = check(client.post("/api/routing/switch", {"multiviewer": mv.pk, "window": 4,
                                                     "source": rig.source(1).pk},
                             format="json"), 200)
    assert (body["output"], body["input"]) == (mv.output_for_window(4), 1)
    assert rig.quartz.route(mv.output_for_window(4)) == 1


@pytest.mark.parametrize("payload, status, key", [
    ({"output": 17, "source": "S1"}, 403, "output"),  # MV 2's output: not granted
    ({"output": 1, "source": "S20"}, 403, "source"),  # ungranted source
    ({"source": "S1"}, 400, "non_field_errors"),
    ({"output": 1, "multiviewer": "MV1", "window": 1, "source": "S1"}, 400,
     "non_field_errors"),
    ({"multiviewer": "MV1", "source": "S1"}, 400, "window"),
    ({"multiviewer": "MV1", "window": 6, "source": "S1"}, 400, "windows.6.window"),
    ({"multiviewer": "MV2", "window": 1, "source": "S1"}, 403, None),
    ({"output": 0, "source": "S1"}, 400, "output"),
])
def test_routing_switch_refused(rig, payload, status, key):
    refs = {"S1": rig.source(1).pk, "S20": rig.source(20).pk, "MV1": rig.mv(0).pk,
            "MV2": rig.mv(1).pk}
    data = {k: refs.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    routes = {o: rig.quartz.route(o) for o in range(1, 20)}
    body = check(rig.client(rig.operator).post("/api/routing/switch", data, format="json"),
                 status)
    if key:
        assert key in body["fields"], body
    assert {o: rig.quartz.route(o) for o in range(1, 20)} == routes


def test_an_output_beyond_the_router_is_refused_for_admins_too(rig):
    body = check(rig.client(rig.admin).post("/api/routing/switch",
                                            {"output": 129, "source": rig.source(1).pk},
                                            format="json"), 400)
    assert "output" in body["fields"]
