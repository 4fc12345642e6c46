"""The project's gunicorn worker (mvcontrol/gunicorn_worker.py): a new connection wakes one idle
worker, not all of them, and the worker serves and stops as gunicorn's sync worker does.

Wake-ups are counted, not timed: each worker's voluntary context switches (Linux /proc), around
requests made one after the other on new connections while every worker is idle. gunicorn's own
sync worker is counted the same way, so the test shows it would notice the difference."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
WORKERS = 4
REQUESTS = 40

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="counts context switches in Linux /proc")


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    return answer


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _switches(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"no context switch count for {pid}")


def _serve(worker_class: str) -> tuple[list[int], int]:
    """Run gunicorn with `worker_class` (from the project's root, so with gunicorn.conf.py),
    make REQUESTS requests one after the other, stop it; the wake-ups of each worker during the
    requests, and gunicorn's exit status."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.fixtures.hello_wsgi:app",
         "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS),
         "--worker-class", worker_class, "--log-level", "warning"], cwd=BASE_DIR)
    try:
        deadline = time.monotonic() + 30
        while len(_children(server.pid)) < WORKERS or not _answers(port):
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        time.sleep(1.0)  # every worker booted and waiting
        workers = _children(server.pid)
        before = [_switches(pid) for pid in workers]
        for _ in range(REQUESTS):
            assert _get(port).endswith(b"\r\n\r\nok")
            time.sleep(0.02)  # every worker back to waiting before the next connection
        time.sleep(0.2)
        woken = [_switches(pid) - start for pid, start in zip(workers, before, strict=True)]
    finally:
        server.send_signal(signal.SIGTERM)
        status = server.wait(timeout=30)
    return woken, status


def _answers(port: int) -> bool:
    try:
        return _get(port).endswith(b"ok")
    except OSError:
        return False


def test_a_connection_wakes_one_worker_not_all():
    herd, herd_status = _serve("sync")
    woken, status = _serve("mvcontrol.gunicorn_worker.SyncWorker")
    assert herd_status == 0 and status == 0  # both stopped cleanly on SIGTERM
    # gunicorn's sync worker: every idle worker wakes for every connection.
    assert min(herd) >= REQUESTS * 3 / 4, herd
    # The project's: a connection wakes one idle worker (now and then two, as epoll allows): the
    # others sleep through nearly all of them.
    assert sum(count < REQUESTS / 4 for count in woken) >= WORKERS - 2, woken
