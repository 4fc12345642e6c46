"""API latency and throughput under gunicorn, with the device emulators, on the embedded database.

    .venv/bin/python bench/api_load.py [--workers N] [--operators 32] [--duration 8]
        [--server asgi|wsgi]                                          (or: make bench)

Starts the stack (bench/stack.py: gunicorn with N uvicorn workers serving mvcontrol.asgi as
production does, or sync workers with --server wsgi; default 2 x cores + 1; a scratch database,
the NEXX and Quartz emulators, one refresh run), logs in the operators with their passwords, then
for concurrency 1, 8 and 32 measures p50/p99 latency and requests per second of
- GET /api/multiviewers/{id}: each operator reads the multiviewer granted to them;
- window writes, POST /api/multiviewers/{id}/windows/1 {"source", "pcm_bars"}: one router
  switch and one NEXX request each; every operator writes to their own multiviewer, so no edit
  lease is contended.
It also times the same device work called directly (QuartzService.switch + NexxService
.write_values, one after the other, as the API does) to show what the API adds to the device
round trip. The two are timed alternately, one at a time, a request started every two throttle
spacings: back to back, the frame's throttle would hold each one until its slot, and both would
measure the spacing instead of themselves.
Per-user write and login rate limits are off (RATELIMIT_ENABLE=false): 32 operators writing flat
out would otherwise be held to WRITE_RATE after a second, and the bench measures the server;
bench/protection.py runs with them on. The frame's throttle is set to 100 requests/s (the most
the integration settings allow), so write throughput tops out near 95/s by design.

Prints a table and writes bench/results/api_load-<time>.json.
Targets: GET at concurrency 32 >= 250 requests/s with p99 <= 100 ms; a window write adds
<= 10 ms (p50) to the device round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (  # noqa: E402
    BlockingConnection,
    Connection,
    Stack,
    cpu_description,
    percentile,
    write_results,
)

LEVELS = (1, 8, 32)
WARM_UP = 1.0  # seconds of load before each measurement starts


async def _load(port: int, duration: float, concurrency: int, make_request,
                meter=None) -> dict:
    """`concurrency` clients sending `make_request(client, n)` back to back for 1 s of warm-up
    and `duration` s measured. `meter`: a callable giving CPU seconds by part of the stack
    (Stack.cpu_seconds), read when the measured part starts and at the end."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    measure_from = start + WARM_UP
    stop_at = measure_from + duration

    async def worker(i: int) -> None:
        n = 0
        connection = Connection(port)
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                await connection.close()
                return
            method, path, who, body = make_request(i, n)
            n += 1
            status, _, seconds = await connection.request(method, path, who, body)
            if time.perf_counter() - seconds >= measure_from:  # started after the warm-up
                latencies.append(seconds)
                statuses[status] = statuses.get(status, 0) + 1

    stack_cpu_from: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        stack_cpu_from.update(meter() if meter else {})

    marker = asyncio.create_task(mark())
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await marker
    stack_cpu_to = meter() if meter else {}
    elapsed = time.perf_counter() - measure_from
    # The load generator shares the machine with the server: its own CPU, in % of all cores.
    client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime
                  - cpu_before.ru_stime) / (time.perf_counter() - start) / (os.cpu_count() or 1)
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_cpu_percent": round(client_cpu * 100, 1),
        # CPU of each part of the stack per measured request (requests answered after the end
        # of the warm-up, CPU from then to the last answer).
        "cpu_ms_per_request": {
            part: round((seconds - stack_cpu_from.get(part, 0.0)) / len(latencies) * 1000, 2)
            for part, seconds in stack_cpu_to.items()} if latencies else {},
    }


def paired_overhead(stack: Stack, make_write, samples: int, gap: float) -> tuple[dict, dict]:
    """The window write's device work called directly (Quartz switch then NEXX write, as the
    API does them) and the window write through the API, alternately, one request started every
    `gap` seconds so that the devices' throttle never holds one back. Pairs under the same
    conditions: this machine's speed drifts within a minute, and two rows timed one after the
    other differed by a millisecond from drift alone. The direct calls use the server's throttle
    schedule, as the API's do. The writes go through a blocking client (BlockingConnection), as
    the direct calls are made, so neither carries an event loop's cost. Returns (device, write).
    """
    from devices.models import Multiviewer
    from devices.nexx.catalog import param_id
    from devices.nexx.service import NexxService
    from devices.quartz.service import QuartzService
    from devices.throttle import reset_shared_schedule

    method, path, who, _ = make_write(0, 0)
    mv = Multiviewer.objects.get(pk=who.multiviewer)
    output = mv.output_for_window(1)
    pid = param_id("pcm_bars", mv.nexx_index, 0)
    reset_shared_schedule()
    quartz, nexx = QuartzService.from_settings(), NexxService.from_settings()
    connection = BlockingConnection(stack.port)
    device_times: list[float] = []
    write_times: list[float] = []
    statuses: dict[int, int] = {}
    cpu_from: dict[str, float] = {}
    try:
        for i in range(samples + 5):
            if i == 5:  # the first few open connections
                cpu_from = stack.cpu_seconds()
            started = time.perf_counter()
            quartz.switch(output=output, source=(2, 3)[i % 2])
            nexx.write_values({pid: (4, 8)[i % 2]})
            took = time.perf_counter() - started
            time.sleep(max(0.0, gap - took))
            method, path, who, body = make_write(0, i)
            status, _, seconds = connection.request(method, path, who, body)
            if i >= 5:
                device_times.append(took)
                write_times.append(seconds)
                statuses[status] = statuses.get(status, 0) + 1
            time.sleep(max(0.0, gap - seconds))
        cpu_to = stack.cpu_seconds()
    finally:
        connection.close()
        reset_shared_schedule()
    device = {"samples": samples, "p50_ms": round(percentile(device_times, 50) * 1000, 2),
              "p99_ms": round(percentile(device_times, 99) * 1000, 2)}
    write = {"requests": samples, "p50_ms": round(percentile(write_times, 50) * 1000, 2),
             "p99_ms": round(percentile(write_times, 99) * 1000, 2),
             "statuses": {str(k): v for k, v in sorted(statuses.items())},
             # Only the parts the direct calls do not use: the server's.
             "cpu_ms_per_request": {part: round((cpu_to[part] - cpu_from[part]) / samples * 1000,
                                                2)
                                    for part in ("gunicorn", "postgresql") if part in cpu_to}}
    return device, write


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn workers (default 2 x cores + 1)")
    parser.add_argument("--operators", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0,
                        help="seconds measured per concurrency level (after 1 s of warm-up)")
    parser.add_argument("--samples", type=int, default=300,
                        help="pairs of a direct device round trip and a write, timed "
                             "alternately one at a time")
    parser.add_argument("--server", choices=("asgi", "wsgi"), default="asgi",
                        help="asgi: gunicorn with uvicorn workers, as production runs (default); "
                             "wsgi: gunicorn's sync workers")
    args = parser.parse_args()
    if args.operators < max(LEVELS):
        parser.error(f"--operators must be at least {max(LEVELS)} (one per concurrent writer)")

    print("Rate limits off for this bench (RATELIMIT_ENABLE=false): operators writing flat out "
          "would be held to WRITE_RATE per user; the per-user limits are exercised by "
          "bench/protection.py and the test suite.")
    stack = Stack(workers=args.workers, operators=args.operators, asgi=args.server == "asgi",
                  env={"RATELIMIT_ENABLE": "false"}, suffix="bench_api")
    with stack:
        operators = stack.log_in_operators()
        machine = cpu_description()
        print(f"machine: {machine['cores']} cores, {machine['cpu']}, {machine['ram_gib']} GiB RAM,"
              f" sum(range(1000)) in {machine['python_loop_us']} µs;"
              f" gunicorn {stack.workers} {'uvicorn' if stack.asgi else 'sync'} workers;"
              f" {len(operators)} operators logged in")
        source_ids = stack.source_ids

        def read(i: int, n: int):
            who = operators[i % len(operators)]
            return "GET", f"/api/multiviewers/{who.multiviewer}", who, None

        def write(i: int, n: int):
            who = operators[i % len(operators)]
            body = {"source": source_ids[(n % 2) + 1], "pcm_bars": (4, 8)[n % 2]}
            return "POST", f"/api/multiviewers/{who.multiviewer}/windows/1", who, body

        results: dict = {"machine": machine, "workers": stack.workers, "server": args.server,
                         "operators": len(operators), "duration": args.duration,
                         "get": [], "write": []}
        for level in LEVELS:
            results["get"].append(asyncio.run(_load(stack.port, args.duration, level, read,
                                                     stack.cpu_seconds)))
        # The frame's throttle spaces requests 10.5 ms apart: timed back to back, the device
        # work and a quick write would both measure that spacing, not themselves. The overhead
        # is therefore measured one request at a time with twice the spacing between starts.
        from devices.throttle import HEADROOM

        gap = 2 / (min(stack.nexx_rate, stack.quartz_rate) * HEADROOM)
        results["pace_ms"] = round(gap * 1000, 1)
        results["device_round_trip"], results["write_paced"] = paired_overhead(
            stack, write, args.samples, gap)
        for level in LEVELS:
            results["write"].append(asyncio.run(_load(stack.port, args.duration, level, write,
                                                       stack.cpu_seconds)))
        results["nexx_frame"] = stack.emulators.nexx_stats()["peak_1s_window"]

    print()
    print(f"{'request':<34}{'conc.':>6}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'client CPU':>12}  statuses")
    for kind, label in (("get", "GET /api/multiviewers/{id}"),
                        ("write", "POST .../windows/1 (source+bars)")):
        for row in results[kind]:
            print(f"{label:<34}{row['concurrency']:>6}{row['requests']:>10}"
                  f"{row['requests_per_second']:>9}{row['p50_ms']:>9}{row['p99_ms']:>9}"
                  f"{row['client_cpu_percent']:>11}%  {json.dumps(row['statuses'])}")
    print()
    print("CPU ms per request, by part of the stack (from /proc; the cores are shared):")
    for kind, label in (("get", "GET"), ("write", "write")):
        for row in results[kind]:
            parts = ", ".join(f"{part} {ms}" for part, ms in row["cpu_ms_per_request"].items())
            print(f"  {label} at concurrency {row['concurrency']}: {parts or 'not measured'}")
    device, paced = results["device_round_trip"], results["write_paced"]
    added = round(paced["p50_ms"] - device["p50_ms"], 2)
    results["write_adds_p50_ms"] = added
    print(f"One at a time, the two alternately, a request started every {results['pace_ms']} ms "
          "(twice the frame's throttle spacing, so that the throttle holds nothing back):")
    print(f"{'device round trip, called directly':<34}{1:>6}{device['samples']:>10}{'':>9}"
          f"{device['p50_ms']:>9}{device['p99_ms']:>9}")
    print(f"{'POST .../windows/1 (source+bars)':<34}{1:>6}{paced['requests']:>10}{'':>9}"
          f"{paced['p50_ms']:>9}{paced['p99_ms']:>9}{'':>12}  {json.dumps(paced['statuses'])}")
    print("  CPU ms per write: " + ", ".join(
        f"{part} {ms}" for part, ms in paced["cpu_ms_per_request"].items()))
    print(f"the window write adds {added} ms (p50) to the device round trip")

    get_32 = next(r for r in results["get"] if r["concurrency"] == 32)
    targets = {
        "get_p99_at_32_le_100ms": get_32["p99_ms"] <= 100,
        "get_rps_at_32_ge_250": get_32["requests_per_second"] >= 250,
        "write_adds_le_10ms_p50": added <= 10,
        "no_errors": all(set(r["statuses"]) == {"200"}
                         for r in results["get"] + results["write"] + [paced]),
    }
    results["targets"] = targets
    print(f"target: GET p99 <= 100 ms at concurrency 32: {get_32['p99_ms']} ms "
          f"{'OK' if targets['get_p99_at_32_le_100ms'] else 'MISSED'}")
    print(f"target: GET >= 250 requests/s at concurrency 32: {get_32['requests_per_second']} "
          f"{'OK' if targets['get_rps_at_32_ge_250'] else 'MISSED'}")
    print(f"target: window write adds <= 10 ms (p50): {added} ms "
          f"{'OK' if targets['write_adds_le_10ms_p50'] else 'MISSED'}")
    print(f"every answer 200: {'OK' if targets['no_errors'] else 'NO'}")
    write_results("api_load", results)
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
