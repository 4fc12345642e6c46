"""Live updates (GET /api/events) on the production server: how soon a change reaches the open
streams, what open streams cost the plain API, and the memory an open stream takes.

    .venv/bin/python bench/live.py [--workers N] [--changes 60] [--duration 5] [--concurrency 8]

Starts the stack (bench/stack.py with asgi=True: gunicorn with uvicorn workers serving
mvcontrol.asgi, DEBUG off as deploy/mvcontrol-web.service runs it, a
scratch database, the emulators, one refresh run). Without DATABASE_URL the scratch database is
on an embedded PostgreSQL server of the bench's own (var/bench-live, stopped at the end), so the
bench's connections never crowd out other runs on the shared one. Every operator
is also granted one shared multiviewer, so every stream may see the changes made to it, and
logs in (the streams and the API clients use their sessions). Then:

1. GET /api/multiviewers/{id} p50/p99: `--concurrency` clients on kept-alive connections, each
   reading the multiviewer of its own operator back to back, 1 s of warm-up then `--duration`
   seconds measured, with no stream open;
2. the server's resident memory (gunicorn master and workers, from /proc) with no stream, with
   50 and with 200 streams open: per stream = (200 streams - none) / 200, which includes each
   worker's listener connection started by its first stream; marginal = (200 - 50) / 150;
3. the same GET load again while the 200 streams are open (idle but for heartbeats);
4. event latency at 200, then 50, then 1 open streams: the bench commits a change (a UMD text
   of window 1 of the shared multiviewer, StateService.record_window, in this process), stamped
   with time.perf_counter() right after the commit (an on_commit callback that runs before the
   NOTIFY is sent), and each stream notes when the bytes of that text arrive. `--changes` changes
   per level, one at a time (the next once every stream has the last one, or after 2 s), 3 more
   before them unmeasured. p50/p99/max over every (change, stream) pair.

When the server refuses a stream (say, out of database connections), the bench says how many
it opened and why the next was refused, and measures with those.

All the streams are read by this one asyncio process (a Protocol per connection: arrival is
stamped in data_received, with no parsing), so its own CPU is part of the figures at 200
streams, as the server, PostgreSQL and this process share the machine's cores.

Prints a table and writes bench/results/live-<time>.json; takes about a minute.
Targets: event p99 <= 100 ms at 200 streams; GET p99 with 200 streams open <= 1.5 x without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (  # noqa: E402
    BASE_DIR,
    Connection,
    Stack,
    cpu_description,
    percentile,
    write_results,
)

LEVELS = (200, 50, 1)  # streams, measured in this order (closing streams between levels)
WARM_UP = 1.0  # seconds of API load before it is measured
WARM_CHANGES = 3  # changes per level before the measured ones
WAIT_EVENT = 2.0  # seconds a change may take to reach every stream before it counts as missed
OPEN_BATCH = 25  # streams opened at once
# The web server as deploy/mvcontrol-web.service runs it: under ASGI every request has a thread
# of its own, so a persistent database connection would outlive it unused.
SERVER_ENV = {"RATELIMIT_ENABLE": "false"}
OWN_VAR_DIR = BASE_DIR / "var" / "bench-live"


def use_own_database() -> bool:
    """Without DATABASE_URL: an embedded PostgreSQL server of this bench's own (started here,
    stopped at the end), so that hundreds of streams cannot take connections from the shared
    one other test runs use. True when so."""
    if os.environ.get("DATABASE_URL") or os.environ.get("MVCONTROL_VAR_DIR"):
        return False
    os.environ["MVCONTROL_VAR_DIR"] = str(OWN_VAR_DIR)  # read when Django sets up
    return True


# --- set-up (synchronous, before the event loop runs) --------------------------------------------

def prepare(stack: Stack) -> int:
    """Every operator also sees the first multiviewer, and logs in (password login over HTTP,
    as the login page does). The shared multiviewer's id."""
    from accounts.models import User

    shared = stack.multiviewer_ids[0]
    for user in User.objects.filter(login__in=[o.login for o in stack.operators]):
        user.multiviewers.add(shared)
    stack.log_in_operators()
    return shared


def commit_change(mv_id: int, text: str) -> float:
    """Window 1's UMD layer 1 text of multiviewer `mv_id` set to `text`, committed; the
    perf_counter() of right after the commit (before the change is published)."""
    from django.db import close_old_connections, transaction

    from devices.models import Multiviewer
    from state.services import StateService

    close_old_connections()
    mv = Multiviewer.objects.get(pk=mv_id)
    stamp: list[float] = []
    with transaction.atomic():
        # Registered first, so it runs first once the transaction commits: before the NOTIFY.
        transaction.on_commit(lambda: stamp.append(time.perf_counter()))
        StateService.record_window(mv, 0, umd_layers={0: {"text": text}})
    return stamp[0]


def close_connections() -> None:
    from django.db import connections

    connections.close_all()


# --- event streams -------------------------------------------------------------------------------

class Streams:
    """Open GET /api/events connections and the arrival of the change being waited for."""

    def __init__(self, port: int, operators: list) -> None:
        self.port = port
        self.operators = operators
        self.readers: list[StreamReader] = []
        self.token: bytes | None = None  # the text of the change being waited for
        self.arrivals: dict[int, float] = {}  # reader id -> perf_counter() of arrival
        self.all_arrived = asyncio.Event()

    async def open_to(self, count: int) -> str | None:
        """Open streams until `count` are; None, or why the server refused one (the streams it
        accepted stay open)."""
        loop = asyncio.get_running_loop()
        while len(self.readers) < count:
            batch = []
            for _ in range(min(OPEN_BATCH, count - len(self.readers))):
                who = self.operators[len(self.readers) % len(self.operators)]
                reader = StreamReader(self, len(self.readers), self.port, who)
                self.readers.append(reader)
                batch.append(reader)
                await loop.create_connection(lambda r=reader: r, "127.0.0.1", self.port)
            outcomes = await asyncio.gather(*(asyncio.wait_for(r.opened, 30) for r in batch),
                                            return_exceptions=True)
            refused = [(r, o) for r, o in zip(batch, outcomes, strict=True) if o is not True]
            if refused:
                for reader, _ in refused:
                    reader.close()
                    self.readers.remove(reader)
                for index, reader in enumerate(self.readers):
                    reader.index = index
                return f"{len(refused)} of {len(batch)} refused: {refused[0][1]}"
        return None

    def close_to(self, count: int) -> None:
        while len(self.readers) > count:
            self.readers.pop().close()

    def expect(self, token: bytes) -> None:
        self.token = token
        self.arrivals = {}
        self.all_arrived.clear()

    def arrived(self, reader: StreamReader, when: float) -> None:
        if reader.index not in self.arrivals:
            self.arrivals[reader.index] = when
            if len(self.arrivals) >= len(self.readers):
                self.all_arrived.set()


class StreamReader(asyncio.Protocol):
    def __init__(self, streams: Streams, index: int, port: int, who) -> None:
        self.streams = streams
        self.index = index
        self.request = (f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        f"Accept: text/event-stream\r\nCookie: "
                        + "; ".join(f"{k}={v}" for k, v in who.cookies.items())
                        + "\r\n\r\n").encode("latin-1")
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.tail = b""
        self.ended = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.opened.done():
            self.head += data
            if len(self.head) >= 12 and not self.head.startswith(b"HTTP/1.1 200"):
                status = self.head.split(b"\r\n", 1)[0].decode("latin-1")
                body = self.head.rpartition(b"\r\n\r\n")[2][:200].decode("utf-8", "replace")
                self.opened.set_exception(RuntimeError(f"{status} {body}"))
            elif b"retry:" in self.head:  # sent once the worker listens for changes
                self.opened.set_result(True)
        token = self.streams.token
        if token is not None and token in self.tail + data:
            self.streams.arrived(self, now)
        self.tail = data[-64:]

    def connection_lost(self, exc) -> None:
        self.ended = True
        if not self.opened.done():
            self.opened.set_exception(RuntimeError("the event stream closed before it opened"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def latency(streams: Streams, executor, mv_id: int, changes: int, serial: list[int]
                  ) -> dict:
    """`changes` changes, one at a time, each waited for on every open stream."""
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    missed = 0
    for n in range(WARM_CHANGES + changes):
        serial[0] += 1
        text = f"bench-live-{serial[0]:07d}"
        streams.expect(f'"{text}"'.encode())
        committed = await loop.run_in_executor(executor, commit_change, mv_id, text)
        try:
            await asyncio.wait_for(streams.all_arrived.wait(),
                                   max(0.05, WAIT_EVENT - (time.perf_counter() - committed)))
        except TimeoutError:
            pass
        if n >= WARM_CHANGES:
            samples.extend(when - committed for when in streams.arrivals.values())
            missed += len(streams.readers) - len(streams.arrivals)
        streams.expect(b"\x00never")
        await asyncio.sleep(0.02)
    ended = sum(r.ended for r in streams.readers)
    return {"streams": len(streams.readers), "changes": changes, "samples": len(samples),
            "p50_ms": round(percentile(samples, 50) * 1000, 2) if samples else None,
            "p99_ms": round(percentile(samples, 99) * 1000, 2) if samples else None,
            "max_ms": round(max(samples) * 1000, 2) if samples else None,
            "missed": missed, "streams_ended": ended}


# --- the plain API -------------------------------------------------------------------------------

async def api_load(port: int, operators: list, concurrency: int, duration: float) -> dict:
    """GET /api/multiviewers/{id} back to back by `concurrency` clients on kept-alive
    connections."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    measure_from = start + WARM_UP
    stop_at = measure_from + duration

    async def client(i: int) -> None:
        who = operators[i % len(operators)]
        connection = Connection(port, keep_alive=True)
        try:
            while time.perf_counter() < stop_at:
                status, _, seconds = await connection.request(
                    "GET", f"/api/multiviewers/{who.multiviewer}", who)
                if time.perf_counter() - seconds >= measure_from:
                    latencies.append(seconds)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            await connection.close()

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - measure_from
    return {"concurrency": concurrency, "requests": len(latencies),
            "requests_per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2) if latencies else None,
            "p99_ms": round(percentile(latencies, 99) * 1000, 2) if latencies else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


# --- the run -------------------------------------------------------------------------------------

async def run(stack: Stack, mv_id: int, args) -> dict:
    operators = stack.operators
    executor = ThreadPoolExecutor(1, thread_name_prefix="bench-writer")
    streams = Streams(stack.port, operators)
    serial = [0]
    results: dict = {"latency": [], "refused": None}
    most = max(LEVELS)
    try:
        results["api_without_streams"] = await api_load(stack.port, operators, args.concurrency,
                                                        args.duration)
        # Memory first, before any change: the workers keep the last events for replay, which
        # would count as the streams' memory.
        await asyncio.sleep(1)
        rss = {0: stack.server_rss()}
        for level in sorted(LEVELS)[1:]:
            results["refused"] = await streams.open_to(level)
            await asyncio.sleep(2)
            rss[len(streams.readers)] = stack.server_rss()
            if results["refused"]:
                print(f"the server refused streams beyond {len(streams.readers)}: "
                      f"{results['refused']}", flush=True)
                break
        results["rss_bytes"] = {str(k): v for k, v in rss.items()}
        opened = len(streams.readers)
        results["streams_opened"] = opened
        results["memory_per_stream_kib"] = round((rss[opened] - rss[0]) / opened / 1024, 1)
        middle = sorted(rss)[-2]
        results["memory_marginal_per_stream_kib"] = (
            round((rss[opened] - rss[middle]) / (opened - middle) / 1024, 1)
            if middle else None)
        results["api_with_streams"] = await api_load(stack.port, operators, args.concurrency,
                                                     args.duration)
        results["api_with_streams"]["streams"] = opened
        for level in LEVELS:
            if level > opened and level != most:
                continue
            streams.close_to(level)
            await asyncio.sleep(0.5)
            results["latency"].append(await latency(streams, executor, mv_id, args.changes,
                                                    serial))
    finally:
        streams.close_to(0)
        await asyncio.sleep(0.2)
        # The writer's database connection, or the scratch database could not be dropped.
        await asyncio.get_running_loop().run_in_executor(executor, close_connections)
        executor.shutdown(wait=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None,
                        help="gunicorn (uvicorn) workers (default 2 x cores + 1)")
    parser.add_argument("--operators", type=int, default=32,
                        help="operators whose sessions the streams and API clients use")
    parser.add_argument("--changes", type=int, default=60,
                        help="measured changes per number of streams")
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds of API load measured, with and without streams")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="API clients reading at once")
    args = parser.parse_args()
    started = time.perf_counter()
    own_database = use_own_database()
    stack = Stack(asgi=True, workers=args.workers, operators=args.operators,
                  env=SERVER_ENV, suffix="bench_live")
    try:
        with stack:
            mv_id = prepare(stack)
            machine = cpu_description()
            machine["load_average"] = [round(x, 2) for x in os.getloadavg()]
            print(f"machine: {machine['cores']} cores, {machine['cpu']}, {machine['ram_gib']} "
                  f"GiB RAM, sum(range(1000)) in {machine['python_loop_us']} µs, load average "
                  f"{machine['load_average'][0]} before the run; gunicorn "
                  f"{stack.workers} uvicorn workers; {len(stack.operators)} operators; "
                  + ("a PostgreSQL server of its own (var/bench-live)" if own_database
                     else "DATABASE_URL's PostgreSQL"), flush=True)
            results = asyncio.run(run(stack, mv_id, args))
    finally:
        if own_database:
            from mvcontrol.embedded_db import stop

            stop(OWN_VAR_DIR)
    results.update({"machine": machine, "workers": stack.workers, "changes": args.changes,
                    "duration": args.duration, "server_env": SERVER_ENV,
                    "run_seconds": round(time.perf_counter() - started, 1)})
    return report(results, args)


def report(results: dict, args) -> int:
    most = max(LEVELS)
    opened = results["streams_opened"]
    print()
    print("Event latency, commit -> event read by the stream:")
    print(f"{'streams':>8}{'changes':>9}{'samples':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'missed':>8}")
    for row in sorted(results["latency"], key=lambda r: r["streams"]):
        print(f"{row['streams']:>8}{row['changes']:>9}{row['samples']:>9}{row['p50_ms']:>9}"
              f"{row['p99_ms']:>9}{row['max_ms']:>9}{row['missed']:>8}")
    print()
    without, with_ = results["api_without_streams"], results["api_with_streams"]
    print(f"GET /api/multiviewers/{{id}}, {args.concurrency} clients on kept-alive connections, "
          f"{args.duration} s:")
    print(f"{'':>24}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for label, row in (("no stream open", without), (f"{opened} streams open", with_)):
        print(f"{label:>24}{row['requests']:>10}{row['requests_per_second']:>9}"
              f"{row['p50_ms']:>9}{row['p99_ms']:>9}  {json.dumps(row['statuses'])}")
    ratio = (round(with_["p99_ms"] / without["p99_ms"], 2)
             if with_["p99_ms"] and without["p99_ms"] else None)
    results["api_p99_ratio"] = ratio
    print()
    rss = results["rss_bytes"]
    print("server memory (RSS, gunicorn master + workers): " + ", ".join(
        f"{int(v) / 2**20:.1f} MiB with {k} stream{'' if k == '1' else 's'}"
        for k, v in rss.items()))
    print(f"memory per open stream: {results['memory_per_stream_kib']} KiB ({opened} vs none, "
          f"with each worker's listener connection), "
          f"{results['memory_marginal_per_stream_kib']} KiB (marginal, the last streams)")
    if results["refused"]:
        print(f"NOTE: only {opened} of {most} streams opened; the server refused the next: "
              f"{results['refused']}")
    at_most = next((r for r in results["latency"] if r["streams"] == most), None)
    targets = {
        "streams_opened": opened == most,
        "event_p99_at_200_le_100ms": bool(at_most and at_most["p99_ms"] is not None
                                          and at_most["p99_ms"] <= 100),
        "api_p99_with_200_streams_le_1_5x": opened == most and ratio is not None
        and ratio <= 1.5,
        "no_missed_events": all(r["missed"] == 0 and r["streams_ended"] == 0
                                for r in results["latency"]),
        "api_all_200": all(set(r["statuses"]) == {"200"} for r in (without, with_)),
    }
    results["targets"] = targets
    print(f"target: {most} streams open at once: {opened} "
          f"{'OK' if targets['streams_opened'] else 'MISSED'}")
    print(f"target: event p99 <= 100 ms at {most} streams: "
          f"{at_most['p99_ms'] if at_most else 'not measured'} ms "
          f"{'OK' if targets['event_p99_at_200_le_100ms'] else 'MISSED'}")
    print(f"target: GET p99 with {most} streams open <= 1.5 x without: {ratio} x "
          f"{'OK' if targets['api_p99_with_200_streams_le_1_5x'] else 'MISSED'}")
    print(f"every change reached every stream: "
          f"{'OK' if targets['no_missed_events'] else 'NO'}; every GET answered 200: "
          f"{'OK' if targets['api_all_200'] else 'NO'}")
    print(f"run time: {results['run_seconds']} s")
    write_results("live", results)
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
