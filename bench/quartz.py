"""Full read of a 1024 x 1024 Quartz router from the emulator, over loopback.

    .venv/bin/python bench/quartz.py          (or: make bench)

A full read is 1024 source names, 1024 output names and the 1024 routes (`.L`, 8 per reply):
2176 commands. It is done pipelined on one connection (the client's normal way) and one command
per connection (how a MAGNUM that closes after each reply must be read), at 0 ms and 2 ms reply
latency. The global throttle is in the path but set far above what loopback can carry, so the
figures measure the client, not the policy. The emulator runs in its own process.

Targets: pipelined under 1 s at 0 ms; at 2 ms, at least 20x faster than one command per
connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mvcontrol.settings")

from stack import end_child  # noqa: E402

SIZE = 1024
UNBOUND_RATE = 1_000_000.0  # commands per second: never the limit on loopback

EMULATOR = """
import sys
from devices.quartz.emulator import QuartzEmulator
emulator = QuartzEmulator(sources={size}, outputs={size}, style=sys.argv[1],
                          latency_ms=float(sys.argv[2])).start()
print(emulator.port, flush=True)
sys.stdin.read()  # runs until the bench closes our stdin
emulator.stop()
"""


class EmulatorProcess:
    def __init__(self, style: str, latency_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", EMULATOR.format(size=SIZE), style, str(latency_ms)],
            cwd=BASE_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.close()
            raise SystemExit(f"the emulator did not start (said {line!r})")
        self.port = int(line)

    def close(self) -> None:
        end_child(self.process)


def full_read(style: str, latency_ms: float) -> dict[str, float]:
    from devices.quartz.service import QuartzConfig, QuartzService

    emulator = EmulatorProcess(style, latency_ms)
    try:
        service = QuartzService(QuartzConfig(
            host="127.0.0.1", port=emulator.port, connect_timeout=2.0, read_timeout=5.0,
            source_count=SIZE, output_count=SIZE, commands_per_second=UNBOUND_RATE,
            max_outstanding=32, connection_style=style,
        ))
        started = time.perf_counter()
        sources = service.source_names()
        outputs = service.output_names()
        routes = service.routes()
        elapsed = time.perf_counter() - started
        service.close()
    finally:
        emulator.close()
    unknown = sum(1 for v in routes.values() if v is None)
    if len(sources) != SIZE or len(outputs) != SIZE or len(routes) != SIZE or unknown:
        raise SystemExit(f"incomplete read: {len(sources)} sources, {len(outputs)} outputs, "
                         f"{len(routes) - unknown} routes")
    counters = service.client.counters
    return {"seconds": elapsed, "commands": counters["commands"],
            "round_trips": counters["writes"], "connections": counters["connections"]}


def main() -> int:
    import django

    django.setup()
    from django.core.management import call_command

    # The throttle keeps its schedule in the database: make sure its table exists. All apps:
    # migrating one alone runs the others' post-migrate steps on tables not created yet.
    call_command("migrate", verbosity=0)

    print(f"Quartz full read of a {SIZE} x {SIZE} router "
          f"({SIZE} source names, {SIZE} output names, {SIZE} routes)")
    print(f"{'latency':>8} {'style':<12} {'commands':>9} {'round trips':>12} "
          f"{'connections':>12} {'wall time':>10}")
    results: dict[tuple[float, str], dict[str, float]] = {}
    for latency in (0.0, 2.0):
        for style in ("persistent", "per_command"):
            r = full_read(style, latency)
            results[(latency, style)] = r
            label = "pipelined" if style == "persistent" else "per-command"
            print(f"{latency:>6g}ms {label:<12} {r['commands']:>9.0f} {r['round_trips']:>12.0f} "
                  f"{r['connections']:>12.0f} {r['seconds']:>9.3f}s")

    fast = results[(0.0, "persistent")]["seconds"]
    ratio = results[(2.0, "per_command")]["seconds"] / results[(2.0, "persistent")]["seconds"]
    ok_fast, ok_ratio = fast < 1.0, ratio >= 20
    print(f"target: pipelined full read under 1 s at 0 ms: {fast:.3f} s "
          f"{'OK' if ok_fast else 'MISSED'}")
    print(f"target: at 2 ms, at least 20x faster than one command per connection: "
          f"{ratio:.1f}x {'OK' if ok_ratio else 'MISSED'}")
    return 0 if ok_fast and ok_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
