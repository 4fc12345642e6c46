"""The global device throttle: its schedule in PostgreSQL, moved by one atomic upsert. The
schedule is checked directly — slot times, refusals, and that concurrent reservations from
threads and from separate processes never lose one."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest

from devices.errors import DeviceBusy
from devices.throttle import HEADROOM, Throttle, reset_shared_schedule
from tests.support import BASE_DIR, subprocess_env

# A slow rate keeps every check far from the scheduling noise of a loaded machine: one slot is
# more than a second, the tolerance a fraction of it.
RATE = 1.0
INTERVAL = 1.0 / (RATE * HEADROOM)
TOLERANCE = 0.4


@pytest.fixture
def store(transactional_db):
    """A fresh connection to the schedule."""
    reset_shared_schedule()
    yield
    reset_shared_schedule()


def throttle() -> Throttle:
    return Throttle(key=f"test:{uuid.uuid4().hex}", rate=RATE, device="Test device 10.0.0.1")


def test_reservations_get_consecutive_disjoint_slots(store):
    t = throttle()
    first = t.reserve(3, timeout=30)
    second = t.reserve(2, timeout=30)
    assert first.first_delay < TOLERANCE  # an idle device: the first slot is now
    assert second.slot_time(0) == pytest.approx(first.slot_time(2) + INTERVAL, abs=TOLERANCE)
    assert second.slot_time(1) - second.slot_time(0) == pytest.approx(INTERVAL)


def test_a_caller_that_would_wait_too_long_is_busy_and_reserves_nothing(store):
    t = throttle()
    booked = t.reserve(5, timeout=30)  # the next ~5 s of the device
    with pytest.raises(DeviceBusy) as info:
        t.reserve(1, timeout=2, command=".SV1,2")
    assert info.value.device == "Test device 10.0.0.1"
    assert info.value.command == ".SV1,2"
    assert "no free slot within 2 s" in str(info.value)
    # The refusal left the schedule alone: the next slot is right after the booked ones.
    after = t.reserve(1, timeout=30)
    assert after.slot_time(0) == pytest.approx(booked.slot_time(4) + INTERVAL, abs=TOLERANCE)


def test_threads_never_share_a_slot(store):
    t = throttle()
    anchor = t.reserve(1, timeout=30)
    slots: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(5):
                r = t.reserve(1, timeout=120)
                with lock:
                    slots.append(r.slot_time(0))
        except BaseException as exc:  # re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    slots.sort()
    gaps = [b - a for a, b in zip([anchor.slot_time(0), *slots], slots, strict=False)]
    assert len(slots) == 30
    assert min(gaps) > INTERVAL - TOLERANCE


CHILD = """
import sys
import django
django.setup()
from devices.throttle import Throttle
t = Throttle(key=sys.argv[1], rate=float(sys.argv[2]), device="Test device")
for _ in range(int(sys.argv[3])):
    t.reserve(1, timeout=600)
print("done")
"""


def test_processes_never_lose_a_reservation(store):
    """Thirty reservations from three processes at once move the schedule by exactly thirty
    slots: no update is lost to a race."""
    t = throttle()
    # Booking a minute ahead keeps the schedule from draining while the children start, so
    # where it ends up depends only on how many slots were taken.
    anchor = t.reserve(60, timeout=30)
    env = subprocess_env()
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, t.key, str(RATE), "10"], cwd=BASE_DIR,
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert out.strip() == "done"
    after = t.reserve(1, timeout=600)
    expected = anchor.slot_time(0) + (60 + 30) * INTERVAL
    assert after.slot_time(0) == pytest.approx(expected, abs=TOLERANCE)
