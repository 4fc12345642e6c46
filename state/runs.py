"""Refresh runs: one at a time across every process (single flight).

A trigger (the API, the nightly schedule, `manage.py refresh`) calls `start_refresh()`. Under a
PostgreSQL advisory lock held for that one short transaction it either finds the run in progress
and joins it (gets its id, starts nothing) or creates a new run in the "queued" phase.

Whoever executes the run (a django-q2 worker, the command, the nightly job) first takes a second
advisory lock for its whole duration, on its own database session, then claims the queued run.
The database releases that lock when the process dies, which is how a later trigger tells a run
in progress from one whose process was killed: a run marked running whose executor lock is free
(or that no worker picked up in time) is closed as failed and a new one starts.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mvcontrol.events import publish
from state.models import RefreshRun

# Advisory lock keys (two int4s): the class says "mvcontrol refresh", the second the purpose.
LOCK_CLASS = 0x6D76  # "mv"
TRIGGER_LOCK = 1  # serialises triggers (transaction-level)
EXECUTOR_LOCK = 2  # held by the process executing the run (session-level)

QUEUED = "queued"


@dataclass(frozen=True)
class Scope:
    """What a run reads. `multiviewer` is the 1-based number operators use (None: all)."""

    nexx: bool = True
    quartz: bool = True
    multiviewer: int | None = None

    @property
    def full(self) -> bool:
        return self.nexx and self.quartz and self.multiviewer is None

    @property
    def nexx_index(self) -> int | None:
        return None if self.multiviewer is None else self.multiviewer - 1

    def as_json(self) -> dict:
        return {"nexx": self.nexx, "quartz": self.quartz, "multiviewer": self.multiviewer}

    @classmethod
    def from_json(cls, data: dict | None) -> Scope:
        data = data or {}
        mv = data.get("multiviewer")
        return cls(nexx=bool(data.get("nexx", True)), quartz=bool(data.get("quartz", True)),
                   multiviewer=int(mv) if mv is not None else None)

    def describe(self) -> str:
        devices = ("NEXX and Quartz" if self.nexx and self.quartz
                   else "NEXX only" if self.nexx else "Quartz only")
        where = "all multiviewers" if self.multiviewer is None else f"MV {self.multiviewer}"
        return f"{where}, {devices}"


def queue_timeout() -> float:
    """Seconds a run may wait for a background worker before it counts as never started."""
    return float(settings.REFRESH_QUEUE_TIMEOUT)


def start_refresh(*, trigger: str, user=None, scope: Scope | None = None
                  ) -> tuple[RefreshRun, bool]:
    """The run in progress (joined: True) or a new queued run (joined: False)."""
    scope = scope or Scope()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::int, %s::int)",
                           [LOCK_CLASS, TRIGGER_LOCK])
        for run in RefreshRun.objects.select_for_update().filter(
                status=RefreshRun.Status.RUNNING).order_by("-started_at"):
            reason = _stale_reason(run)
            if reason is None:
                return run, True
            _close(run, RefreshRun.Status.FAILED, reason)
        now = timezone.now()
        run = RefreshRun.objects.create(
            trigger=trigger, user=user if user is not None and user.is_authenticated else None,
            scope=scope.as_json(), started_at=now,
            progress={"phase": QUEUED, "updated_at": now.isoformat()},
        )
        publish("refresh", run=run.pk)
    return run, False


def fail_queued(run: RefreshRun, reason: str) -> None:
    """A queued run that cannot be handed to a worker."""
    RefreshRun.objects.filter(pk=run.pk, status=RefreshRun.Status.RUNNING).update(
        status=RefreshRun.Status.FAILED, finished_at=timezone.now(), error_summary=reason,
    )
    publish("refresh", run=run.pk)


@contextlib.contextmanager
def claimed(run_id: int, *, wait: float = 5.0) -> Iterator[RefreshRun | None]:
    """Hold the executor lock and claim the queued run for this process; None when the run is
    gone, already claimed or closed (a trigger gave up on it), or another run holds the lock."""
    if not _take_executor_lock(wait):
        RefreshRun.objects.filter(
            pk=run_id, status=RefreshRun.Status.RUNNING, progress__phase=QUEUED
        ).update(status=RefreshRun.Status.FAILED, finished_at=timezone.now(),
                 error_summary="Another refresh was being executed; this one did not start.")
        publish("refresh", run=run_id)
        yield None
        return
    try:
        now = timezone.now()
        taken = RefreshRun.objects.filter(
            pk=run_id, status=RefreshRun.Status.RUNNING, progress__phase=QUEUED
        ).update(progress={"phase": "starting", "updated_at": now.isoformat()})
        publish("refresh", run=run_id)
        yield RefreshRun.objects.get(pk=run_id) if taken else None
    finally:
        _release_executor_lock()


def finish(run: RefreshRun, *, status: str, counts: dict, error_summary: str,
           progress: dict) -> RefreshRun:
    run.status = status
    run.counts = counts
    run.error_summary = error_summary
    run.progress = progress
    run.finished_at = max(timezone.now(), run.started_at)
    run.save(update_fields=["status", "counts", "error_summary", "progress", "finished_at"])
    publish("refresh", run=run.pk)
    return run


def save_progress(run_id: int, progress: dict) -> None:
    RefreshRun.objects.filter(pk=run_id, status=RefreshRun.Status.RUNNING).update(
        progress=progress)
    publish("refresh", run=run_id)


def executor_alive() -> bool:
    """Whether some session of this database holds the executor lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2)",
            [LOCK_CLASS, EXECUTOR_LOCK],
        )
        return bool(cursor.fetchone()[0])


def _stale_reason(run: RefreshRun) -> str | None:
    phase = (run.progress or {}).get("phase")
    if phase == QUEUED:
        waited = timezone.now() - run.started_at
        if waited > timedelta(seconds=queue_timeout()):
            return (f"No background worker started this refresh within "
                    f"{int(queue_timeout())} s; is the django-q2 cluster "
                    f"(manage.py qcluster) running?")
        return None
    if executor_alive():
        return None
    return ("The process executing this refresh ended before it finished (stopped or "
            "crashed); the parts it had stored are kept.")


def _close(run: RefreshRun, status: str, reason: str) -> None:
    run.status = status
    run.finished_at = max(timezone.now(), run.started_at)
    run.error_summary = "\n".join(filter(None, [run.error_summary, reason]))
    run.save(update_fields=["status", "finished_at", "error_summary"])
    publish("refresh", run=run.pk)


def _take_executor_lock(wait: float) -> bool:
    # A trigger never takes this lock (it looks at pg_locks), so a short wait only covers a run
    # whose executor is finishing right now.
    deadline = time.monotonic() + wait
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)",
                           [LOCK_CLASS, EXECUTOR_LOCK])
            if cursor.fetchone()[0]:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _release_executor_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s::int, %s::int)",
                       [LOCK_CLASS, EXECUTOR_LOCK])
