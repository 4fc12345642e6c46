"""Device protection under load: 32 operators writing flat out while a refresh runs.

    .venv/bin/python bench/protection.py [--duration 30] [--operators 32]     (or: make bench)

The stack of bench/stack.py with 4 gunicorn workers and 2 django-q2 workers, the integration
settings at their defaults (NEXX 8 requests/s, Quartz 100 commands/s), the emulated frame
refusing anything over 10 requests in any second (as a real frame does), and the per-user write
rate limit on (WRITE_RATE, default 10 per 10 s; without REDIS_URL each gunicorn worker counts on
its own). An admin starts a refresh through the API (a django-q2 worker runs it) and 32 operators
then write to their own multiviewer's window 1 (a source and PCM bars: one router switch and one
NEXX request each) as fast as the answers come, for --duration seconds.

Passes when: the frame never saw more than its limit in any one-second window and refused
nothing; the router never saw more than its configured commands per second; no answer was a 5xx
other than 503; every answer is 200 or 429 / 409 / 503 in the error shape; the refresh finished.
Login rate limits are raised for the bench only (LOGIN_RATE): 32 logins from one address in a
second would otherwise be refused, which is the login limit working, not what is measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (  # noqa: E402
    Stack,
    cpu_description,
    percentile,
    request,
    write_results,
)

NEXX_RATE = 8.0  # the integration settings' default
NEXX_FRAME_LIMIT = 10  # what the emulated frame accepts in any second
QUARTZ_RATE = 100.0  # the integration settings' default
ALLOWED = {200, 409, 429, 503}


def error_shaped(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return (isinstance(doc, dict) and isinstance(doc.get("error"), str)
            and isinstance(doc.get("detail"), str) and isinstance(doc.get("fields"), dict))


async def hammer(stack: Stack, duration: float) -> dict:
    statuses: dict[int, int] = {}
    codes: dict[str, int] = {}
    bad: list[str] = []
    latencies: list[float] = []
    stop_at = time.perf_counter() + duration
    sources = stack.source_ids

    async def writer(i: int) -> None:
        who = stack.operators[i]
        n = 0
        while time.perf_counter() < stop_at:
            body = {"source": sources[(n % 2) + 1], "pcm_bars": (4, 8)[n % 2]}
            n += 1
            status, answer, seconds = await request(
                stack.port, "POST", f"/api/multiviewers/{who.multiviewer}/windows/1", who, body)
            latencies.append(seconds)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                shaped = error_shaped(answer)
                code = json.loads(answer)["error"] if shaped else "(not in the error shape)"
                codes[f"{status} {code}"] = codes.get(f"{status} {code}", 0) + 1
                if status not in ALLOWED or not shaped:
                    bad.append(f"{status}: {answer[:200]!r}")
            if status == 429:
                await asyncio.sleep(0.2)  # as the control page does: wait, then try again

    await asyncio.gather(*(writer(i) for i in range(len(stack.operators))))
    return {"statuses": statuses, "codes": codes, "bad": bad,
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1)}


def refresh_status(stack: Stack, admin) -> dict:
    status, body, _ = asyncio.run(request(stack.port, "GET", "/api/refresh/status", admin))
    return json.loads(body) if status == 200 else {"error": status}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--operators", type=int, default=32)
    args = parser.parse_args()

    print("Login rate limit raised for the bench only (LOGIN_RATE=10000/m): the operators all "
          "log in from 127.0.0.1 at once. The write rate limit stays on.")
    stack = Stack(workers=4, q_workers=2, operators=args.operators, nexx_rate=NEXX_RATE,
                  nexx_limit=NEXX_FRAME_LIMIT, quartz_rate=QUARTZ_RATE,
                  env={"LOGIN_RATE": "10000/m"}, suffix="bench_protect")
    with stack:
        from stack import Operator

        stack.log_in_operators()
        admin = stack.log_in(Operator("admin", 0))
        stack.emulators.reset_stats()
        status, body, _ = asyncio.run(request(stack.port, "POST", "/api/refresh", admin, {}))
        if status != 202:
            raise SystemExit(f"POST /api/refresh answered {status}: {body[:200]!r}")
        run_id = json.loads(body)["id"]
        started = time.perf_counter()
        load = asyncio.run(hammer(stack, args.duration))
        deadline = time.monotonic() + 600
        while True:
            last = refresh_status(stack, admin).get("last") or {}
            if last.get("id") == run_id and last.get("status") != "running":
                break
            if time.monotonic() > deadline:
                raise SystemExit("the refresh did not finish within 10 minutes")
            time.sleep(1)
        refresh_seconds = time.perf_counter() - started
        nexx = stack.emulators.nexx_stats()
        quartz = stack.emulators.quartz_stats()

    machine = cpu_description()
    total = sum(load["statuses"].values())
    print(f"machine: {machine['cores']} cores, {machine['cpu']}, {machine['ram_gib']} GiB RAM, "
          f"sum(range(1000)) in {machine['python_loop_us']} µs; "
          f"gunicorn 4 workers, django-q2 2 workers; {args.operators} writers for "
          f"{args.duration:g} s")
    print(f"write answers: {total} ({json.dumps(load['statuses'])}); p50 {load['p50_ms']} ms, "
          f"p99 {load['p99_ms']} ms")
    for code, count in sorted(load["codes"].items()):
        print(f"  {code}: {count}")
    print(f"refresh run {run_id}: {last.get('status')} after {refresh_seconds:.1f} s, "
          f"counts {json.dumps(last.get('counts', {}))}")
    for line in last.get("errors") or []:
        print(f"  refresh error: {line}")
    print(f"NEXX frame: {nexx['requests']} requests, most in any second {nexx['peak_1s_window']} "
          f"(frame limit {NEXX_FRAME_LIMIT}, settings {NEXX_RATE:g}/s), refused over the limit "
          f"{nexx['rejected_rate_limit']}")
    print(f"Quartz router: {quartz['commands']} commands, most in any second "
          f"{quartz['peak_1s_window']} (settings {QUARTZ_RATE:g}/s)")
    checks = {
        "nexx_within_limit": nexx["peak_1s_window"] <= NEXX_FRAME_LIMIT
        and nexx["rejected_rate_limit"] == 0,
        "quartz_within_limit": quartz["peak_1s_window"] <= QUARTZ_RATE,
        "no_5xx_but_503": not any(s >= 500 and s != 503 for s in load["statuses"]),
        "only_200_409_429_503_in_error_shape": not load["bad"],
        "refresh_finished": last.get("status") in ("success", "partial"),
    }
    for name, ok in checks.items():
        print(f"{name.replace('_', ' ')}: {'OK' if ok else 'MISSED'}")
    for line in load["bad"][:10]:
        print(f"  unexpected: {line}")
    write_results("protection", {"machine": machine, "duration": args.duration,
                                 "operators": args.operators, "load": load, "refresh": last,
                                 "nexx": nexx, "quartz": quartz, "checks": checks})
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
