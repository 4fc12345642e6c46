"""Each way a device can fail a write: the status and error of the issue, the device named, and
the state left exactly as it was (or, when a later step failed, holding exactly what the devices
accepted)."""

from __future__ import annotations

import pytest

from devices.models import NexxSettings, QuartzSettings
from devices.nexx.catalog import bars_to_device, param_id
from state.models import WindowState
from tests.control.api.schema_check import check
from tests.fixtures.control import state_of
from tests.fixtures.nexx import point_settings_at
from tests.state.conftest import point_quartz_at
from tests.support import free_port


def patch_font(rig, font: int = 2):
    return rig.client(rig.operator).patch(f"/api/multiviewers/{rig.mv(0).pk}", {"font": font},
                                          format="json")


def route_window(rig, window: int = 1, source: int = 5, **extra):
    return rig.client(rig.operator).post(f"/api/multiviewers/{rig.mv(0).pk}/windows/{window}",
                                         {"source": rig.source(source).pk, **extra},
                                         format="json")


@pytest.mark.parametrize("fault, status, code", [
    ("http_500", 502, "device_refused"),
    ("malformed_json", 502, "device_protocol_error"),
    ("drop_connection", 502, "device_unreachable"),
    ("timeout", 504, "device_timeout"),
    ("rate_limited", 503, "device_busy"),
])
def test_frame_failures(rig, fault, status, code):
    point_settings_at(rig.nexx, timeout=0.5)
    mv = rig.mv(0)
    before = state_of(mv)
    font = rig.nexx.get(param_id("font", 0))
    rig.nexx.set_fault(fault, times=1)
    body = check(patch_font(rig), status, method="PATCH", path=f"/api/multiviewers/{mv.pk}")
    assert body["error"] == code
    assert body["device"] == f"NEXX frame {rig.nexx.base_url}"
    assert body["device"] in body["detail"]
    assert "result" not in body  # nothing was applied: a plain device error
    assert state_of(mv) == before
    if fault != "timeout":  # a timed-out write may or may not have landed on a real frame
        assert rig.nexx.get(param_id("font", 0)) == font


@pytest.mark.parametrize("setup, status, code", [
    ("locked", 409, "output_locked"),
    ("mute", 504, "device_timeout"),
    ("refuse", 502, "device_unreachable"),
    ("closed_port", 502, "device_unreachable"),
])
def test_router_failures(rig, setup, status, code):
    mv = rig.mv(0)
    output = mv.output_for_window(1)
    if setup == "locked":
        rig.quartz.set_lock(output, 255)
    elif setup == "mute":
        point_quartz_at(rig.quartz, read_timeout=0.3)
        rig.quartz.mute = True
    elif setup == "refuse":
        point_quartz_at(rig.quartz, connect_timeout=0.3)
        rig.quartz.refuse = True
    else:
        point_quartz_at(rig.quartz, port=free_port())
    route_before = rig.quartz.route(output)
    before = state_of(mv)
    body = check(route_window(rig), status)
    assert body["error"] == code
    assert body["device"].startswith("Quartz router 127.0.0.1:")
    assert state_of(mv) == before
    rig.quartz.mute = False
    assert rig.quartz.route(output) == route_before


def test_integrations_not_configured(rig):
    mv = rig.mv(0)
    before = state_of(mv)
    nexx = NexxSettings.load()
    nexx.base_url = ""
    nexx.save()
    body = check(patch_font(rig), 503, method="PATCH", path=f"/api/multiviewers/{mv.pk}")
    assert body["error"] == "integration_not_configured" and body["device"] == "NEXX frame"

    quartz = QuartzSettings.load()
    quartz.host = ""
    quartz.save()
    body = check(route_window(rig), 503)
    assert body["error"] == "integration_not_configured" and body["device"] == "Quartz router"
    assert state_of(mv) == before


def test_a_change_that_fails_half_way_reports_what_was_applied(rig):
    mv = rig.mv(0)
    output = mv.output_for_window(2)
    rig.quartz.set_lock(output, 255)
    before = state_of(mv)
    body = check(route_window(rig, window=2, source=4, pcm_bars=16), 409)
    assert body["error"] == "output_locked"
    assert "partly applied" in body["detail"] and "window 2 pcm_bars" in body["detail"]
    result = body["result"]
    assert result["partial"] is True and result["ok"] is False
    assert result["applied"] == ["window 2 pcm_bars"]
    assert [(f["item"], f["error"]) for f in result["failed"]] == [
        ("window 2 source", "output_locked")]
    # The frame accepted the bars: they are state; the route is not.
    assert rig.nexx.get(param_id("pcm_bars", 0, 1)) == str(bars_to_device(16))
    assert WindowState.objects.get(multiviewer=mv, window_index=1).pcm_bars == 16
    after = state_of(mv)
    assert after["routes"] == before["routes"] and after["params"] == before["params"]
