"""Live routing: `.U` updates from the router reach state_routing without a refresh."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from devices.models import Multiviewer, QuartzSettings
from state.listener import RouteListener
from state.models import RoutingState
from state.services import StateService
from tests.state.conftest import point_quartz_at
from tests.support import BASE_DIR, InThread, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 10.0  # seconds a condition may take before the test gives up (not a speed target)


def eventually(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def route(output: int) -> int | None:
    return StateService.routes([output])[output]


class Running(InThread):
    """A RouteListener in a thread, stopped (and its database connections closed) after."""

    def __init__(self, **options) -> None:
        super().__init__(RouteListener(**options), wait=WAIT)


def test_route_changes_from_other_panels_reach_the_snapshot(devices):
    Multiviewer.objects.create(nexx_index=0)
    with Running() as listener:
        eventually(lambda: listener.resyncs >= 1, "the routes read at connection")
        assert route(5) == devices.quartz.route(5)
        devices.quartz.set_route(5, 9)  # a take on another panel
        eventually(lambda: route(5) == 9, "output 5 to show input 9")
        devices.quartz.set_route(100, 3)  # not a window output: stored all the same
        eventually(lambda: route(100) == 3, "output 100 to show input 3")
    assert RoutingState.objects.get(output=100).output_label == ""


def test_a_burst_of_updates_ends_with_the_last_route(devices):
    with Running():
        eventually(lambda: devices.quartz.stats()["open_connections"] > 0, "the connection")
        for source in range(1, 21):
            devices.quartz.set_route(7, source)
        eventually(lambda: route(7) == 20, "output 7 to show input 20")


def test_reconnects_after_the_router_was_down_and_reads_the_routes_again(devices):
    Multiviewer.objects.create(nexx_index=0)
    devices.quartz.refuse = True
    with Running() as listener:
        time.sleep(0.3)  # a few failed attempts: the listener keeps going
        devices.quartz.set_route(2, 11)  # changed while we were not connected
        devices.quartz.refuse = False
        eventually(lambda: route(2) == 11, "the missed change to be read at reconnection")
        assert listener.resyncs >= 1
        devices.quartz.set_route(2, 12)
        eventually(lambda: route(2) == 12, "updates to flow again")


def test_waits_for_the_router_settings(transactional_db, make_devices):
    devices = make_devices()
    QuartzSettings.objects.update(host="")
    with Running(settings_poll=0.2):
        time.sleep(0.3)
        point_quartz_at(devices.quartz)
        eventually(lambda: devices.quartz.stats()["open_connections"] > 0,
                   "the listener to connect once configured")
        devices.quartz.set_route(4, 6)
        eventually(lambda: route(4) == 6, "output 4 to show input 6")


def test_follows_changed_router_settings(transactional_db, make_devices):
    first = make_devices()
    with Running(settings_poll=0.2):
        eventually(lambda: first.quartz.stats()["open_connections"] > 0, "the first router")
        second = make_devices()  # points the settings at a new router
        eventually(lambda: second.quartz.stats()["open_connections"] > 0, "the second router")
        second.quartz.set_route(8, 2)
        eventually(lambda: route(8) == 2, "the new router's update")


def test_quartz_listen_stops_cleanly_on_sigterm(devices):
    process = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "quartz_listen"],
                               cwd=BASE_DIR, env=subprocess_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: devices.quartz.stats()["open_connections"] > 0,
                   "quartz_listen to connect")
        devices.quartz.set_route(6, 13)
        eventually(lambda: route(6) == 13, "quartz_listen to store the update")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "Stopped; 1 route changes stored." in out
    assert "Traceback" not in err
