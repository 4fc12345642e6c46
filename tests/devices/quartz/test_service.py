"""QuartzService against the emulator: settings, reads, switches, locks, errors, throttle."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

from devices.errors import (
    DeviceBusy,
    DeviceNotConfigured,
    DeviceRefused,
    DeviceTimeout,
    OutputLocked,
)
from devices.models import QuartzSettings
from devices.quartz.emulator import QuartzEmulator
from devices.quartz.service import QuartzConfig, QuartzService, RouterNumberOutOfRange
from devices.throttle import Throttle
from mvcontrol.errors import InvalidInput
from tests.fixtures.quartz import ScriptedRouter
from tests.support import BASE_DIR, subprocess_env


def service_for(port: int, **overrides) -> QuartzService:
    values = {"connect_timeout": 1.0, "read_timeout": 1.0, "source_count": 16,
              "output_count": 32, "commands_per_second": 1000}
    values.update(overrides)
    return QuartzService(QuartzConfig(host="127.0.0.1", port=port, **values))


# --- settings ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_empty_host_is_not_configured():
    settings = QuartzSettings.load()
    settings.host = ""
    settings.save()
    with pytest.raises(DeviceNotConfigured):
        QuartzService.from_settings()


def test_one_service_per_process_recreated_when_the_settings_change(quartz_settings):
    first = QuartzService.from_settings()
    assert QuartzService.from_settings() is first
    assert first.config.port == quartz_settings.port
    first.source_names([1])

    quartz_settings.read_timeout = 1.5
    quartz_settings.save()
    second = QuartzService.from_settings()
    assert second is not first
    assert second.config.read_timeout == 1.5
    with pytest.raises(RuntimeError):
        first.source_names([1])  # the replaced service was closed
    assert second.source_names([1]) == {1: "SRC 1"}


# --- reads ---------------------------------------------------------------------------------


def test_names_are_read_stripped_and_decoded(quartz_settings, quartz_emulator):
    quartz_emulator.set_name("source", 2, "Cam, wide")
    quartz_emulator.set_name("output", 3, "Écran 3")
    service = QuartzService.from_settings()
    sources = service.source_names()
    assert len(sources) == 16
    assert sources[1] == "SRC 1" and sources[2] == "Cam, wide"
    assert service.output_names([3, 1]) == {1: "DST 1", 3: "Écran 3"}


@pytest.mark.django_db
def test_names_fall_back_to_8_characters_when_10_are_refused():
    with ScriptedRouter({b".RD1": b".RAD1,PGM     \r", b".RD2": b".RAD2,PVW     \r"}) as router:
        service = service_for(router.port)
        assert service.output_names([1, 2]) == {1: "PGM", 2: "PVW"}
        assert service.output_names([2]) == {2: "PVW"}
        # Learned: the second read asked for short names straight away.
        assert router.received == [b".RE1", b".RE2", b".RD1", b".RD2", b".RD2"]
        service.close()


def test_routes_use_list_eight_at_a_time(quartz_settings, quartz_emulator):
    quartz_emulator.set_route(9, 16)
    service = QuartzService.from_settings()
    routes = service.routes()
    assert routes == {o: 16 if o == 9 else (o - 1) % 16 + 1 for o in range(1, 33)}
    assert quartz_emulator.stats()["by_command"] == {"ListRoutes": 4}
    assert service.routes([5, 6, 20]) == {5: 5, 6: 6, 20: 4}
    assert quartz_emulator.stats()["by_command"] == {"ListRoutes": 6}


def test_routes_fall_back_to_interrogate_without_list(quartz_settings, quartz_emulator):
    quartz_emulator.list_unsupported = True
    service = QuartzService.from_settings()
    assert service.routes(range(1, 11)) == {o: o for o in range(1, 11)}
    assert quartz_emulator.stats()["by_command"] == {"ListRoutes": 2, "Interrogate": 10}
    service.routes([1])
    assert quartz_emulator.stats()["by_command"] == {"ListRoutes": 2, "Interrogate": 11}


def test_unanswered_routes_are_unknown_never_zero(quartz_settings, quartz_emulator):
    quartz_emulator.list_unsupported = True
    quartz_emulator.silent_interrogate = True
    quartz_settings.read_timeout = 0.3
    quartz_settings.save()
    assert QuartzService.from_settings().routes([1, 2, 3]) == {1: None, 2: None, 3: None}


@pytest.mark.django_db
def test_source_zero_in_a_reply_is_unknown():
    with ScriptedRouter({b".LV1,-": b".AV1,0V2,7\r"}) as router:
        service = service_for(router.port)
        assert service.routes([1, 2]) == {1: None, 2: 7}
        service.close()


# --- switching and locks -------------------------------------------------------------------


@pytest.mark.parametrize("style", ["persistent", "per_command"])
@pytest.mark.django_db
def test_switch_in_both_styles(style):
    with QuartzEmulator(sources=16, outputs=32, style=style) as emu:
        service = service_for(emu.port, connection_style=style)
        service.switch(output=12, source=7)
        assert emu.route(12) == 7
        assert service.routes([12]) == {12: 7}
        service.close()


@pytest.mark.parametrize("refusal", ["report", "error"])
@pytest.mark.parametrize("style", ["persistent", "per_command"])
@pytest.mark.django_db
def test_a_locked_output_is_reported_as_locked(style, refusal):
    with QuartzEmulator(sources=16, outputs=32, style=style, lock_refusal=refusal) as emu:
        service = service_for(emu.port, connection_style=style)
        assert service.lock(5) == 255
        assert service.lock_state(5) == 255
        with pytest.raises(OutputLocked) as info:
            service.switch(output=5, source=2)
        assert info.value.command == ".SV5,2"
        assert "output 5 is locked" in str(info.value)
        assert emu.route(5) == 5
        assert service.unlock(5) == 0
        service.switch(output=5, source=2)
        assert emu.route(5) == 2
        service.close()


@pytest.mark.django_db
def test_an_E_on_an_unlocked_output_is_a_refusal_not_a_lock():
    with QuartzEmulator(sources=8, outputs=32) as emu:
        # Configured for more sources than the router has: the router itself says .E.
        service = service_for(emu.port, source_count=16)
        with pytest.raises(DeviceRefused) as info:
            service.switch(output=1, source=12)
        assert not isinstance(info.value, OutputLocked)
        assert info.value.command == ".SV1,12"
        service.close()


def test_silence_on_a_switch_is_a_timeout(quartz_settings, quartz_emulator):
    quartz_emulator.mute = True
    quartz_settings.read_timeout = 0.3
    quartz_settings.save()
    with pytest.raises(DeviceTimeout) as info:
        QuartzService.from_settings().switch(output=3, source=4)
    assert quartz_emulator.address in str(info.value)


@pytest.mark.parametrize(
    ("call", "args"),
    [("switch", (33, 1)), ("switch", (1, 17)), ("switch", (0, 1)), ("switch", (1, -2)),
     ("source_names", ([1, 17],)), ("output_names", ([33],)), ("routes", ([0, 1],)),
     ("lock_state", (40,)), ("lock", (True,))],
)
def test_out_of_range_numbers_are_refused_before_anything_is_sent(
    quartz_settings, quartz_emulator, call, args
):
    service = QuartzService.from_settings()
    with pytest.raises(RouterNumberOutOfRange) as info:
        getattr(service, call)(*args)
    # The one API error shape: a 400 naming the field.
    assert isinstance(info.value, InvalidInput)
    assert info.value.http_status == 400
    assert set(info.value.fields) <= {"source", "output"} and info.value.fields
    assert "is out of range" in info.value.detail
    assert quartz_emulator.stats()["commands"] == 0
    assert quartz_emulator.stats()["connections"] == 0


# --- throttle ------------------------------------------------------------------------------


def test_commands_are_paced_to_the_limit(quartz_settings, quartz_emulator):
    quartz_settings.commands_per_second = 20
    quartz_settings.save()
    QuartzService.from_settings().source_names()  # 16 commands, one batch
    QuartzService.from_settings().output_names(range(1, 15))
    stats = quartz_emulator.stats()
    assert stats["commands"] == 30
    assert stats["max_per_second"] <= 20


@pytest.mark.django_db(transaction=True)  # the booking is committed, and flushed after
def test_a_caller_that_would_wait_too_long_gets_busy(quartz_settings, quartz_emulator):
    quartz_settings.commands_per_second = 2
    quartz_settings.save()
    service = QuartzService.from_settings()
    # Another process has booked the next ten seconds of the router.
    Throttle(key=f"quartz:{quartz_emulator.address}", rate=2, device="x").reserve(20, timeout=5)
    with pytest.raises(DeviceBusy) as info:
        service.switch(output=1, source=2)
    assert info.value.command == ".SV1,2"
    assert quartz_emulator.stats()["commands"] == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_share_the_process_connection(quartz_settings, quartz_emulator):
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(5):
                service = QuartzService.from_settings()
                output = k * 5 + i + 1
                service.switch(output=output, source=k + 1)
                assert service.routes([output]) == {output: k + 1}
        except BaseException as exc:  # re-raised by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert all(quartz_emulator.route(k * 5 + i + 1) == k + 1 for k in range(6) for i in range(5))
    assert quartz_emulator.stats()["connections"] == 1


HAMMER = """
import json, sys, time
import django
django.setup()
from devices.errors import DeviceBusy
from devices.quartz.service import QuartzService
start, duration = float(sys.argv[1]), float(sys.argv[2])
QuartzService.from_settings()
time.sleep(max(0.0, start - time.time()))
sent = busy = 0
while time.time() < start + duration:
    try:
        sent += len(QuartzService.from_settings().source_names(range(1, 13)))
    except DeviceBusy:
        busy += 1
print(json.dumps({"sent": sent, "busy": busy}))
"""


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_processes(quartz_settings, quartz_emulator):
    limit = 50
    quartz_settings.commands_per_second = limit
    quartz_settings.read_timeout = 2.0
    quartz_settings.save()
    start = time.time() + 4  # every child is set up and waiting by then
    children = [
        subprocess.Popen([sys.executable, "-c", HAMMER, str(start), "2.5"], cwd=BASE_DIR,
                         env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(3)
    ]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    stats = quartz_emulator.stats()
    assert stats["max_per_second"] <= limit
    # Three unthrottled hammers would send thousands. The throttle still lets work through (the
    # floor is loose: a loaded machine may start the children late).
    assert stats["commands"] >= limit // 2
    assert sum(r["sent"] for r in reports) <= stats["commands"]
    assert all(r["sent"] > 0 for r in reports)

