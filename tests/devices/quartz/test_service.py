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
from devices.quartz.service import (
    GIVE_UP_AFTER,
    QuartzConfig,
    QuartzService,
    RouterNumberOutOfRange,
    describe_numbers,
)
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


@pytest.mark.parametrize("style", ["persistent", "per_command"])
@pytest.mark.django_db
def test_a_router_that_will_not_say_is_asked_a_few_times_then_no_more(style):
    """`.L` answered `.E`, `.I` not answered: after GIVE_UP_AFTER outputs in a row without a
    route the reading stops asking, in this call and the next ones of the same reading."""
    with QuartzEmulator(sources=16, outputs=64, style=style) as emu:
        emu.unreadable_routes = True
        service = service_for(emu.port, output_count=64, read_timeout=0.2,
                              connection_style=style)
        reading = service.route_reading()
        assert service.routes(range(1, 33), reading=reading) == dict.fromkeys(range(1, 33))
        assert emu.stats()["by_command"] == {"ListRoutes": 4, "Interrogate": GIVE_UP_AFTER}
        assert reading.gave_up and reading.read == 0
        assert reading.unanswered == list(range(1, 9))
        assert reading.not_asked == list(range(9, 33))
        # The next chunk of the same reading: `.L` is known to be missing, `.I` given up.
        assert service.routes(range(33, 65), reading=reading) == dict.fromkeys(range(33, 65))
        assert emu.stats()["by_command"] == {"ListRoutes": 4, "Interrogate": GIVE_UP_AFTER}
        assert reading.problem() == (
            f"Quartz router 127.0.0.1:{emu.port} answered neither .L nor .I for outputs 1–64 "
            f"(.L answered .E; .I unanswered within 0.2 s 8 times; asking stopped after 8 "
            f"outputs in a row got no route, 56 outputs not asked): 64 routes left unknown")
        # A call of its own is a reading of its own: it asks again.
        service.routes([1])
        assert emu.stats()["by_command"]["Interrogate"] == GIVE_UP_AFTER + 1
        service.close()


@pytest.mark.django_db
def test_an_answer_now_and_then_keeps_the_reading_asking():
    """Seven outputs in a row without a route, then one answered, and so on: the router does
    answer `.I`, so every output is asked."""
    with QuartzEmulator(sources=16, outputs=32) as emu:
        emu.list_unsupported = True
        emu.unreadable_outputs = frozenset(o for o in range(1, 33) if o % 8)
        service = service_for(emu.port, read_timeout=0.2)
        reading = service.route_reading()
        routes = service.routes(range(1, 33), reading=reading)
        assert {o: s for o, s in routes.items() if s} == {8: 8, 16: 16, 24: 8, 32: 16}
        assert emu.stats()["by_command"]["Interrogate"] == 32
        assert not reading.gave_up and not reading.not_asked and reading.read == 4
        assert "for outputs 1–7, 9–15, 17–23, 25–31 (.L answered .E; .I unanswered within " \
               "0.2 s 28 times): 28 routes left unknown" in reading.problem()
        service.close()


@pytest.mark.django_db
def test_list_refused_for_some_outputs_only_stays_in_use():
    """A router that has listed routes and refuses `.L` for a block of outputs (another frame
    behind MAGNUM) still lacks only those: `.L` is asked for the next outputs too."""
    with QuartzEmulator(sources=16, outputs=64) as emu:
        emu.unreadable_outputs = frozenset(range(17, 33))
        service = service_for(emu.port, output_count=64, read_timeout=0.2)
        reading = service.route_reading()
        first = service.routes(range(1, 17), reading=reading)
        assert first == {o: o for o in range(1, 17)}
        middle = service.routes(range(17, 33), reading=reading)  # every `.L` answered .E
        assert middle == dict.fromkeys(range(17, 33))
        last = service.routes(range(33, 65), reading=reading)
        assert last == {o: (o - 1) % 16 + 1 for o in range(33, 65)}
        assert emu.stats()["by_command"] == {"ListRoutes": 8, "Interrogate": GIVE_UP_AFTER}
        assert reading.read == 48 and reading.list_refused == 2 and not reading.list_unsupported
        assert reading.problem().startswith(
            f"Quartz router 127.0.0.1:{emu.port} answered neither .L nor .I for outputs 17–32 "
            f"(.L answered .E 2 times; .I unanswered within 0.2 s 8 times;")
        service.close()


def test_a_reading_that_got_every_route_has_no_problem(quartz_settings, quartz_emulator):
    service = QuartzService.from_settings()
    reading = service.route_reading()
    service.routes(range(1, 33), reading=reading)
    assert reading.read == 32 and reading.problem() is None


@pytest.mark.parametrize(("numbers", "text"), [
    ([3], "3"), ([1, 2, 3, 5], "1–3, 5"), (range(1, 385), "1–384"),
    ([1, 3, 5, 7, 9, 11, 13, 15], "1, 3, 5, 7, 9, 11 and 2 more ranges"),
])
def test_numbers_are_described_as_ranges(numbers, text):
    assert describe_numbers(numbers) == text


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

