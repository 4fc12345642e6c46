"""The fault matrix through the control API, as the control page meets it.

For every row: a window write (POST /api/multiviewers/{id}/windows/{n}: a source for the Quartz
rows, PCM bars for the NEXX rows) and, for the Quartz rows, a routing switch (POST
/api/routing/switch) answer the documented status in the one error shape, naming the device;
the cached state is exactly as before; once the device is mended the first request succeeds and
the cache shows the change. (The refresh-run half of each row is in test_devices_and_refresh.)
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.models import Multiviewer, Source
from tests.faults.conftest import FAULTS, QUARTZ, SOURCE, WINDOW, Fault, Rig, cached_state
from tests.faults.conftest import refresh_now as refresh
from tests.fixtures.accounts import AdminFactory


@pytest.fixture
def admin_api(rig) -> APIClient:
    client = APIClient()
    client.force_login(AdminFactory(login="faults-admin"))
    return client


def window_write(client: APIClient, fault: Fault, bars: int):
    mv = Multiviewer.objects.get(nexx_index=0)
    if fault.device == QUARTZ:
        body = {"source": Source.objects.get(quartz_input=SOURCE).pk}
    else:
        body = {"pcm_bars": bars}
    return client.post(f"/api/multiviewers/{mv.pk}/windows/{WINDOW}", body, format="json")


def routing_switch(client: APIClient):
    mv = Multiviewer.objects.get(nexx_index=0)
    return client.post("/api/routing/switch",
                       {"multiviewer": mv.pk, "window": WINDOW,
                        "source": Source.objects.get(quartz_input=SOURCE).pk}, format="json")


def assert_error_shape(response, fault: Fault) -> None:
    assert response.status_code == fault.status, response.content
    body = response.json()
    assert {"error", "detail", "fields"} <= set(body)
    assert body["error"] == fault.code
    assert body["detail"] and isinstance(body["fields"], dict)
    assert body["device"].startswith("Quartz router" if fault.device == QUARTZ else "NEXX frame")


def cache_shows(fault: Fault, bars: int) -> bool:
    window = next(w for w in cached_state()["windows"] if w[:2] == (0, WINDOW - 1))
    if fault.device == QUARTZ:
        output = Multiviewer.objects.get(nexx_index=0).output_for_window(WINDOW)
        return dict((o, i) for o, i, _ in cached_state()["routes"])[output] == SOURCE
    return window[2] == bars


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault(fault: Fault, rig: Rig, admin_api: APIClient):
    if fault.prepare:
        fault.prepare(rig)
    assert refresh().status == "success"
    before = cached_state()
    bars = 12 if next(w for w in before["windows"] if w[:2] == (0, WINDOW - 1))[2] != 12 else 16

    fault.inject(rig)
    response = window_write(admin_api, fault, bars)
    if fault.error is None:
        assert response.status_code == 200, response.content
        assert cache_shows(fault, bars)
    else:
        assert_error_shape(response, fault)
        if fault.device == QUARTZ:
            assert_error_shape(routing_switch(admin_api), fault)
        assert cached_state() == before

    fault.recover(rig)
    response = window_write(admin_api, fault, bars)
    assert response.status_code == 200, response.content
    assert cache_shows(fault, bars)
    if fault.device == QUARTZ:
        assert routing_switch(admin_api).status_code == 200
