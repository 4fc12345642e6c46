"""The one global throttle for a device, shared by every process that talks to it.

Gunicorn workers, django-q2 workers and management commands all reserve their device commands
here, so the router or frame never sees more than its configured rate, whoever sends.

The algorithm is a virtual schedule (GCRA): one row per device holds `next_free`, the time at
which the next command may be sent. Reserving N commands moves `next_free` forward by
N × interval in **one atomic statement** (an upsert with a condition), so concurrent callers in
any process get disjoint, consecutive slots. A caller then sends command i no earlier than its
slot. When the wait for the first slot would exceed the caller's timeout the statement changes
nothing and the caller gets `DeviceBusy`: waiting is always bounded.

The schedule lives in PostgreSQL, which every process already shares (Redis is optional, so it
cannot be the one place). The throttle uses its own autocommit connection so a reservation is
visible to other processes at once, whatever transaction the caller is in.

Slots are spaced for 95 % of the configured rate: a process that is a few milliseconds late for
its slot must not push a one-second window over the device's limit.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from django.db import connections

from devices.errors import DeviceBusy

HEADROOM = 0.95

_RESERVE_SQL = """
INSERT INTO devices_throttle (key, next_free)
VALUES (%(key)s, clock_timestamp() + make_interval(secs => %(span)s))
ON CONFLICT (key) DO UPDATE
   SET next_free = GREATEST(devices_throttle.next_free, clock_timestamp())
                   + make_interval(secs => %(span)s)
 WHERE GREATEST(devices_throttle.next_free, clock_timestamp())
       <= clock_timestamp() + make_interval(secs => %(timeout)s)
RETURNING extract(epoch FROM next_free - clock_timestamp()) - %(span)s
"""

@dataclass(frozen=True)
class Reservation:
    """`count` consecutive slots; slot 0 starts `first_delay` seconds after `reserved_at`."""

    count: int
    interval: float
    reserved_at: float  # time.monotonic() when the slots were granted
    first_delay: float

    def slot_time(self, i: int) -> float:
        """Monotonic time at which command i of the reservation may be sent."""
        return self.reserved_at + self.first_delay + i * self.interval

    def wait(self, i: int = 0) -> None:
        """Sleep until command i of the reservation may be sent."""
        delay = self.slot_time(i) - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class _PostgresSchedule:
    """One autocommit connection per process, used by one thread at a time: a reservation is a
    single short statement, and a connection per thread would leave one behind for every
    request thread of an ASGI worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn = None
        self._pid = os.getpid()

    def _connection(self):
        import psycopg

        if self._pid != os.getpid():  # a forked child: the socket is the parent's
            self._conn, self._pid = None, os.getpid()
        if self._conn is None or self._conn.closed:
            params = connections["default"].settings_dict
            kwargs = {
                "dbname": params["NAME"],
                "user": params.get("USER") or None,
                "password": params.get("PASSWORD") or None,
                "host": params.get("HOST") or None,
                "port": str(params["PORT"]) if params.get("PORT") else None,
            }
            kwargs.update({k: v for k, v in (params.get("OPTIONS") or {}).items()
                           if k != "pool"})
            self._conn = psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None},
                                         autocommit=True)
        return self._conn

    def reserve(self, key: str, span: float, timeout: float) -> float | None:
        import psycopg

        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                try:
                    row = conn.execute(
                        _RESERVE_SQL, {"key": key, "span": span, "timeout": timeout}
                    ).fetchone()
                    return None if row is None else max(0.0, float(row[0]))
                except psycopg.OperationalError:
                    # The server restarted or the connection was idle-killed: one fresh try.
                    conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise
        return None  # unreachable; keeps type checkers calm

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


_schedule_lock = threading.Lock()
_schedule: _PostgresSchedule | None = None


def _shared_schedule() -> _PostgresSchedule:
    global _schedule
    with _schedule_lock:
        if _schedule is None:
            _schedule = _PostgresSchedule()
        return _schedule


def reset_shared_schedule() -> None:
    """Forget the per-process connection (tests switching databases, forked workers)."""
    global _schedule
    with _schedule_lock:
        if _schedule is not None:
            _schedule.close()
        _schedule = None


class Throttle:
    """Global rate limit of one device.

    `key` identifies the device (e.g. "quartz:10.0.0.5:6543"), `rate` is commands or requests
    per second, `device` is the human name used in errors.
    """

    def __init__(self, key: str, rate: float, *, device: str) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.key = key
        self.rate = rate
        self.device = device
        self.interval = 1.0 / (rate * HEADROOM)

    def reserve(self, count: int = 1, *, timeout: float, command: str | None = None) -> Reservation:
        """Reserve `count` consecutive slots, or raise DeviceBusy when the first slot is more
        than `timeout` seconds away (nothing is reserved then)."""
        if count < 1:
            raise ValueError("count must be at least 1")
        span = count * self.interval
        delay = _shared_schedule().reserve(self.key, span, timeout)
        if delay is None:
            raise DeviceBusy(
                f"{self.device} is busy: no free slot within {timeout:g} s "
                f"(limit {self.rate:g} per second)",
                device=self.device,
                command=command,
            )
        return Reservation(count=count, interval=self.interval,
                           reserved_at=time.monotonic(), first_delay=delay)

    def acquire(self, count: int = 1, *, timeout: float, command: str | None = None) -> Reservation:
        """Reserve and wait for the first slot; the caller waits for later slots itself."""
        reservation = self.reserve(count, timeout=timeout, command=command)
        reservation.wait(0)
        return reservation
