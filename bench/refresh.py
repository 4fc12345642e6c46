"""A full refresh of 24 multiviewers with mixed layouts, from the emulators, at the frame's limit.

    .venv/bin/python bench/refresh.py [--rate 8] [--multiviewers 24]     (or: make bench)

The NEXX frame emulator (its demo layouts: 4 to 16 windows, every eighth multiviewer disabled,
0 ms added latency, refusing anything over R requests per second) and a Quartz router emulator
run in a child process. The refresh runs here, exactly as `manage.py refresh` does, against a
scratch database (created and dropped by the bench), with the frame's throttle set to R.

Printed: NEXX requests sent, the lower bound ceil(P/40), parameters read P, wall time, and
requests / R (the time the requests need at the limit).
Targets: requests <= bound + 2; wall time <= 1.1 x requests / R.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvcontrol.settings")
# The scratch database: test_<db>_bench, or test_<db>_bench_<suffix> when TEST_DB_SUFFIX is set
# (parallel benches and test runs on one server do not collide).
os.environ["TEST_DB_SUFFIX"] = "_".join(filter(None, ["bench", os.environ.get("TEST_DB_SUFFIX")]))

# The emulators' child process is the one the load benches use.
from stack import SOURCES, Emulators, scratch_database  # noqa: E402


def configure(emulators: Emulators, multiviewers: int, rate: float, quartz_rate: float) -> None:
    from devices.models import NexxAuthMode, NexxSettings, QuartzSettings

    nexx = NexxSettings.load()
    nexx.base_url = emulators.info["nexx"]
    nexx.auth_mode = NexxAuthMode.API_KEY
    nexx.api_key = "bench-key"  # noqa: S105 - the emulator's
    nexx.requests_per_second = rate
    nexx.timeout = 5.0
    nexx.save()
    quartz = QuartzSettings.load()
    quartz.host, quartz.port = "127.0.0.1", emulators.info["quartz"]
    quartz.source_count, quartz.output_count = SOURCES, multiviewers * 16
    quartz.commands_per_second = quartz_rate
    quartz.save()


def run(multiviewers: int, rate: float, quartz_rate: float) -> bool:
    from state.models import RefreshRun
    from state.planning import lower_bound
    from state.refresh import execute_run
    from state.services import StateService

    emulators = Emulators(multiviewers, rate)
    try:
        configure(emulators, multiviewers, rate, quartz_rate)
        ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
        started = time.perf_counter()
        outcome = execute_run(ticket.run.pk)
        wall = time.perf_counter() - started
        stats = emulators.nexx_stats()
    finally:
        emulators.close()
    if outcome is None or outcome.status != "success":
        print(f"the refresh did not succeed: {outcome.error_summary if outcome else 'not run'}")
        return False
    counts = outcome.counts
    requests = stats["by_call"].get("EV/GET", 0)
    parameters = stats["parameters"]
    bound = lower_bound(parameters)
    at_limit = requests / rate
    sizes = stats["parameters_per_request"]
    print(f"NEXX frame: {multiviewers} multiviewers ({counts['multiviewers']} enabled, "
          f"{counts['windows']} windows of their layouts), limit R = {rate:g} requests/s")
    print(f"Quartz router: {counts['sources']} source names, {counts['routes']} routes "
          f"({counts['quartz_commands']} commands at {quartz_rate:g}/s), read at the same time")
    print(f"{'parameters read P':<34}{parameters:>10}")
    print(f"{'lower bound ceil(P/40)':<34}{bound:>10}")
    print(f"{'requests sent':<34}{requests:>10}")
    print(f"{'requests / R':<34}{at_limit:>9.2f}s")
    print(f"{'wall time':<34}{wall:>9.2f}s")
    print(f"{'parameters per request':<34}{json.dumps(sizes):>10}")
    print(f"{'refused by the frame (over R)':<34}{stats['rejected_rate_limit']:>10}")
    print(f"{'most requests in one second':<34}{stats['max_per_second']:>10}")
    ok_requests = requests <= bound + 2
    ok_wall = wall <= 1.1 * at_limit
    ok_limit = stats["rejected_rate_limit"] == 0
    print(f"target: requests <= bound + 2 ({bound + 2}): {requests} "
          f"{'OK' if ok_requests else 'MISSED'}")
    print(f"target: wall time <= 1.1 x requests / R ({1.1 * at_limit:.2f} s): {wall:.2f} s "
          f"({wall / at_limit:.3f} x) {'OK' if ok_wall else 'MISSED'}")
    print(f"the frame never saw more than R per second: {'OK' if ok_limit else 'MISSED'}")
    return ok_requests and ok_wall and ok_limit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=8.0,
                        help="NEXX requests per second R (the frame wants fewer than 10)")
    parser.add_argument("--multiviewers", type=int, default=24)
    parser.add_argument("--quartz-rate", type=float, default=100.0)
    args = parser.parse_args()

    with scratch_database():
        ok = run(args.multiviewers, args.rate, args.quartz_rate)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
