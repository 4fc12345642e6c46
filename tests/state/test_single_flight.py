"""One refresh at a time across processes: triggers join the run in progress."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from state import runs
from state.models import RefreshRun
from state.refresh import execute_run
from state.runs import EXECUTOR_LOCK, LOCK_CLASS, start_refresh
from tests.support import BASE_DIR, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_commands_at_once_in_two_processes_share_one_run(make_devices, transactional_db):
    # Slow enough replies that the first run is still going when the second process asks.
    make_devices(nexx_options={"latency_ms": 60})
    command = [sys.executable, str(BASE_DIR / "manage.py"), "refresh"]
    env = subprocess_env()
    first = subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    outputs = []
    for process in (first, second):
        out, err = process.communicate(timeout=120)
        outputs.append(out)
        assert process.returncode == 0, out + err
    run = RefreshRun.objects.get()  # one run, however the two raced
    assert run.status == "success" and run.trigger == "command"
    started = [o for o in outputs if f"Refresh run #{run.pk}: all multiviewers" in o]
    joined = [o for o in outputs if f"A refresh is already running: run #{run.pk}" in o]
    assert len(started) == 1 and len(joined) == 1, outputs
    for out in outputs:
        assert f"Refresh run #{run.pk}: success" in out


def test_concurrent_triggers_in_threads_get_one_run():
    barrier = threading.Barrier(5)
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def trigger() -> None:
        try:
            barrier.wait(timeout=10)
            run, joined = start_refresh(trigger="manual")
            with lock:
                results.append((run.pk, joined))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=trigger) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 5
    assert len({pk for pk, _ in results}) == 1
    assert sorted(joined for _, joined in results) == [False, True, True, True, True]
    assert RefreshRun.objects.count() == 1


def test_a_run_nobody_picked_up_in_time_is_closed_and_a_new_one_starts(settings):
    settings.REFRESH_QUEUE_TIMEOUT = 60
    stale, joined = start_refresh(trigger="manual")
    RefreshRun.objects.filter(pk=stale.pk).update(
        started_at=timezone.now() - timedelta(seconds=61))
    run, joined = start_refresh(trigger="command")
    assert not joined and run.pk != stale.pk
    stale.refresh_from_db()
    assert stale.status == "failed" and stale.finished_at is not None
    assert "No background worker started this refresh within 60 s" in stale.error_summary
    assert "qcluster" in stale.error_summary


def test_a_queued_run_within_its_time_is_joined():
    first, _ = start_refresh(trigger="manual")
    second, joined = start_refresh(trigger="command")
    assert joined and second.pk == first.pk


def test_a_run_whose_process_died_is_closed_and_a_new_one_starts():
    dead, _ = start_refresh(trigger="manual")
    RefreshRun.objects.filter(pk=dead.pk).update(progress={"phase": "reading"})
    run, joined = start_refresh(trigger="manual")
    assert not joined and run.pk != dead.pk
    dead.refresh_from_db()
    assert dead.status == "failed"
    assert "ended before it finished" in dead.error_summary


def other_session():
    params = connection.settings_dict
    return psycopg.connect(dbname=params["NAME"], user=params.get("USER") or None,
                           password=params.get("PASSWORD") or None,
                           host=params.get("HOST") or None,
                           port=str(params["PORT"]) if params.get("PORT") else None,
                           autocommit=True)


def test_a_run_whose_executor_is_alive_elsewhere_is_joined():
    alive, _ = start_refresh(trigger="manual")
    RefreshRun.objects.filter(pk=alive.pk).update(progress={"phase": "reading"})
    with other_session() as session:
        session.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, EXECUTOR_LOCK])
        assert runs.executor_alive()
        run, joined = start_refresh(trigger="command")
        assert joined and run.pk == alive.pk
        # Another executor holds the lock: this process does not execute a second run.
        RefreshRun.objects.filter(pk=alive.pk).update(status="success",
                                                      finished_at=timezone.now())
        queued, _ = start_refresh(trigger="command")
        with runs.claimed(queued.pk, wait=0.3) as claimed:
            assert claimed is None
        queued.refresh_from_db()
        assert queued.status == "failed"
        assert "Another refresh was being executed" in queued.error_summary
        # Unlocked explicitly: a closed connection's backend may linger in pg_locks a moment.
        session.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, EXECUTOR_LOCK])
    assert not runs.executor_alive()


def test_a_run_is_executed_once(devices):
    run, _ = start_refresh(trigger="command")
    assert execute_run(run.pk) is not None
    assert execute_run(run.pk) is None  # no longer queued: nothing to do
    run.refresh_from_db()
    assert run.status == "success"


def test_the_command_follows_a_run_in_progress_and_reports_it(devices, capsys):
    from django.core.management import call_command

    run, _ = start_refresh(trigger="manual")
    finisher = threading.Thread(target=lambda: (execute_run(run.pk), connections.close_all()))
    finisher.start()
    try:
        call_command("refresh")
    finally:
        finisher.join(timeout=60)
    out = capsys.readouterr().out
    assert re.search(rf"A refresh is already running: run #{run.pk} \(manual", out)
    assert f"Refresh run #{run.pk}: success" in out
    assert RefreshRun.objects.count() == 1
