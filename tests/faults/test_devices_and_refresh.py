"""The fault matrix through the device services and a refresh run.

For every row: the service call the control API makes (a Quartz switch of a window's output, a
NEXX write of a window's PCM bars) raises the documented DeviceError — or succeeds when the fault
is absorbed —; a refresh run under the fault records it and leaves the cached state as it was;
after recovery the same call succeeds and a refresh run succeeds again.
"""

from __future__ import annotations

import pytest

from devices.models import Multiviewer
from devices.nexx.catalog import bars_from_device, param_id
from devices.nexx.service import NexxService
from devices.quartz.service import QuartzService
from tests.faults.conftest import FAULTS, NEXX, QUARTZ, SOURCE, WINDOW, Fault, Rig, cached_state
from tests.faults.conftest import refresh_now as refresh


def device_call(fault: Fault, rig: Rig, *, bars: int) -> None:
    """What the control API asks of the device for the row's change."""
    mv = Multiviewer.objects.get(nexx_index=0)
    if fault.device == QUARTZ:
        QuartzService.from_settings().switch(output=mv.output_for_window(WINDOW), source=SOURCE)
    else:
        NexxService.from_settings().write_values(
            {param_id("pcm_bars", mv.nexx_index, WINDOW - 1): bars})


def device_shows(fault: Fault, rig: Rig, *, bars: int) -> bool:
    mv = Multiviewer.objects.get(nexx_index=0)
    if fault.device == QUARTZ:
        return rig.quartz.route(mv.output_for_window(WINDOW)) == SOURCE
    raw = rig.nexx.get(param_id("pcm_bars", mv.nexx_index, WINDOW - 1))
    return bars_from_device(raw) == bars


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault(fault: Fault, rig: Rig):
    if fault.prepare:
        fault.prepare(rig)
    healthy = refresh()
    assert healthy.status == "success", healthy.error_summary
    before = cached_state()
    bars = 12 if before["windows"][WINDOW - 1][2] != 12 else 16

    fault.inject(rig)
    if fault.error is None:
        device_call(fault, rig, bars=bars)  # absorbed: the change goes through
        assert device_shows(fault, rig, bars=bars)
    else:
        with pytest.raises(fault.error) as caught:
            device_call(fault, rig, bars=bars)
        assert (caught.value.http_status, caught.value.code) == (fault.status, fault.code)
        assert caught.value.device.startswith("Quartz router" if fault.device == QUARTZ
                                              else "NEXX frame")

    run = refresh()
    if fault.refresh_says is None:
        assert run.status == "success", run.error_summary
    else:
        assert run.status in ("partial", "failed")
        prefix = "Quartz: " if fault.device == QUARTZ else "NEXX: "
        line = next(x for x in run.error_summary.splitlines() if x.startswith(prefix))
        assert fault.refresh_says in line, line
        assert run.run.status == run.status and line in run.run.error_summary
        # Nothing the failing device would have said replaced what the cache had.
        after = cached_state()
        if fault.device == QUARTZ:
            assert (after["routes"], after["sources"]) == (before["routes"], before["sources"])
        else:
            assert (after["multiviewers"], after["windows"]) == (
                before["multiviewers"], before["windows"])

    fault.recover(rig)
    device_call(fault, rig, bars=bars)
    assert device_shows(fault, rig, bars=bars)
    recovered = refresh()
    assert recovered.status == "success", recovered.error_summary
    if fault.device == NEXX:
        window = cached_state()["windows"][WINDOW - 1]
        assert window[:3] == (0, WINDOW - 1, bars)


def test_an_expired_jwt_is_renewed_once_without_the_operator_noticing(rig: Rig):
    fault = next(f for f in FAULTS if f.name == "NEXX expired JWT")
    fault.prepare(rig)
    assert refresh().status == "success"
    created = rig.nexx.stats()["jwt_created"]
    fault.inject(rig)
    device_call(fault, rig, bars=8)
    stats = rig.nexx.stats()
    assert stats["jwt_created"] + stats["jwt_refreshed"] == created + 1
