"""NEXX change notifications: what subscribing 24 multiviewers costs, and how soon a change made
on the frame reaches the snapshot.

    .venv/bin/python bench/notify.py [--multiviewers 24] [--rate 8] [--bench-rate 400]
                                     [--changes 200]                        (or: make bench)

The NEXX frame emulator (its demo state: 24 multiviewers with layouts of 2 to 16 windows, every
eighth disabled) runs in a child process. A NEXX refresh fills a scratch snapshot (database
created and dropped by the bench), then the listener of `manage.py nexx_listen`
(state/nexx_listener.py, in a thread here, on 127.0.0.1) registers and subscribes to every
parameter of the enabled multiviewers, then re-reads each multiviewer once (the gap of its start).

Printed:
- the requests the frame answered for the subscription (EV/SERVERSTATUS, EV/SERVERADD and one
  EV/NOTIFYADD per parameter), against the parameters the snapshot holds; the time that takes at
  the configured rate R (requests / 0.95 R, the throttle's pace) — the bench itself subscribes at
  --bench-rate, so as not to take a quarter of an hour — and the same figure for 24 multiviewers
  of 16 windows each (the largest frame of 24);
- the time from a change on the frame's panel (GET /_emulator/panel, one at a time, UMD texts
  of every followed multiviewer in turn) to the snapshot showing it (the database polled every
  millisecond from here): p50, p99 and max over --changes changes.
Targets: requests = parameters + 2; the frame never saw more than --bench-rate per second;
p99 <= 1 s (a datagram on a LAN, one short transaction).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvcontrol.settings")
# The scratch database: test_<db>_bench, or test_<db>_bench_<suffix> when TEST_DB_SUFFIX is set.
os.environ["TEST_DB_SUFFIX"] = "_".join(filter(None, ["bench", os.environ.get("TEST_DB_SUFFIX")]))

from stack import Emulators, scratch_database  # noqa: E402

WAIT = 600.0  # seconds the subscription may take at the bench's rate before the bench gives up


def configure(emulators: Emulators, rate: float) -> None:
    from devices.models import NexxAuthMode, NexxSettings

    nexx = NexxSettings.load()
    nexx.base_url = emulators.info["nexx"]
    nexx.auth_mode = NexxAuthMode.API_KEY
    nexx.api_key = "bench-key"  # noqa: S105 - the emulator's
    nexx.requests_per_second = rate
    nexx.timeout = 5.0
    nexx.save()


def refresh() -> None:
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.runs import Scope
    from state.services import StateService

    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND,
                                        scope=Scope(quartz=False))
    outcome = execute_run(ticket.run.pk)
    if outcome is None or outcome.status != "success":
        raise SystemExit(f"the refresh failed: {outcome.error_summary if outcome else '-'}")


def wait_for(condition, what: str, limit: float = WAIT) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what}")


def followed(listener) -> bool:
    session = listener.session
    return (session is not None and session.planned_total > 0
            and session.planned_live == session.planned_total and not session.missing
            and not session.reread and not session.read_windows)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(multiviewers: int, rate: float, bench_rate: float, changes: int) -> bool:
    from devices.throttle import HEADROOM
    from state.models import WindowState
    from state.nexx_listener import NexxListener, followed_ids

    emulators = Emulators(multiviewers, bench_rate)
    listener = None
    thread = None
    try:
        configure(emulators, bench_rate)
        refresh()
        emulators.reset_stats()
        listener = NexxListener(bind=("127.0.0.1", 0), check_seconds=3600, settings_poll=5)
        thread = threading.Thread(target=listener.run, name="bench-nexx-listen", daemon=True)
        started = time.perf_counter()
        thread.start()
        wait_for(lambda: listener.session is not None and listener.session.planned_live
                 == listener.session.planned_total > 0, "the subscription")
        subscribed_in = time.perf_counter() - started
        wait_for(lambda: followed(listener), "the re-reads after the subscription")
        stats = emulators.nexx_stats()
        session = listener.session
        planned = session.planned_total
        windows = dict(session.windows)
        by_call = stats["by_call"]
        subscribe = sum(by_call.get(c, 0) for c in ("EV/SERVERSTATUS", "EV/SERVERADD",
                                                    "EV/NOTIFYADD"))

        # Changes on the frame's panel, one at a time, each timed until the snapshot shows it.
        panel = emulators.info["nexx_stats"].replace("/stats", "/panel")
        targets = [(mv, w) for mv, count in sorted(windows.items()) for w in range(count)]
        latencies: list[float] = []
        for i in range(changes):
            mv, window = targets[(i * 7) % len(targets)]
            text = f"BENCH {i}"
            pid = f"2709.{mv}.{window}.0"
            begin = time.perf_counter()
            with urllib.request.urlopen(f"{panel}?{pid}={quote(text)}", timeout=5):  # noqa: S310
                pass
            row = WindowState.objects.filter(multiviewer__nexx_index=mv, window_index=window)
            deadline = begin + 10
            while True:
                umd = row.values_list("umd", flat=True).first()
                if umd and umd[0].get("text") == text:
                    break
                if time.perf_counter() > deadline:
                    raise SystemExit(f"change {i} ({pid}) never reached the snapshot")
                time.sleep(0.001)
            latencies.append(time.perf_counter() - begin)
        after = emulators.nexx_stats()
    finally:
        if listener is not None:
            listener.request_stop()
        if thread is not None:
            thread.join(30)
        emulators.close()

    enabled = len(windows)
    at_rate = subscribe / (rate * HEADROOM)
    largest = multiviewers * len(followed_ids(0, 16)) + 2
    print(f"NEXX frame: {multiviewers} multiviewers ({enabled} enabled, "
          f"{sum(windows.values())} windows of their layouts); configured rate R = {rate:g} "
          f"requests/s, the bench subscribed at {bench_rate:g}")
    print(f"{'parameters followed':<44}{planned:>10}")
    print(f"{'requests to subscribe':<44}{subscribe:>10}  "
          f"(SERVERSTATUS {by_call.get('EV/SERVERSTATUS', 0)}, SERVERADD "
          f"{by_call.get('EV/SERVERADD', 0)}, NOTIFYADD {by_call.get('EV/NOTIFYADD', 0)})")
    print(f"{'re-reads after subscribing (EV/GET)':<44}{by_call.get('EV/GET', 0):>10}")
    print(f"{'time to subscribe at R':<44}{at_rate:>9.0f}s  ({at_rate / 60:.1f} min)")
    print(f"{'  24 multiviewers of 16 windows at R':<44}{largest / (rate * HEADROOM):>9.0f}s  "
          f"({largest} requests, {largest / (rate * HEADROOM) / 60:.1f} min)")
    print(f"{'time to subscribe here (at the bench rate)':<44}{subscribed_in:>9.1f}s")
    print(f"{'most requests in one second':<44}{stats['peak_1s_window']:>10}")
    print(f"change on the frame → snapshot, {len(latencies)} changes "
          f"({after['datagrams_sent'] - stats['datagrams_sent']} datagrams):")
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(f"{'  p50':<44}{p50 * 1000:>8.1f}ms")
    print(f"{'  p99':<44}{p99 * 1000:>8.1f}ms")
    print(f"{'  max':<44}{max(latencies) * 1000:>8.1f}ms")
    print(f"{'  mean':<44}{statistics.fmean(latencies) * 1000:>8.1f}ms")
    ok_requests = subscribe == planned + 2
    ok_rate = stats["rejected_rate_limit"] == 0 and stats["peak_1s_window"] <= bench_rate
    ok_latency = p99 <= 1.0
    print(f"target: requests = parameters + 2 ({planned + 2}): {subscribe} "
          f"{'OK' if ok_requests else 'MISSED'}")
    print(f"the frame never saw more than {bench_rate:g} per second: "
          f"{'OK' if ok_rate else 'MISSED'}")
    print(f"target: p99 <= 1000 ms: {p99 * 1000:.1f} ms {'OK' if ok_latency else 'MISSED'}")
    return ok_requests and ok_rate and ok_latency


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiviewers", type=int, default=24)
    parser.add_argument("--rate", type=float, default=8.0,
                        help="the frame's configured rate R the figures are given for")
    parser.add_argument("--bench-rate", type=float, default=400.0,
                        help="the rate the bench subscribes at (the emulator allows it)")
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()

    with scratch_database():
        ok = run(args.multiviewers, args.rate, args.bench_rate, args.changes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
