"""Run the Quartz router emulator until Ctrl-C (or SIGTERM).

    manage.py quartz_emulator --port 6543 --sources 128 --outputs 512 --style per-command

The first line printed is "Quartz emulator listening on HOST:PORT", so a script that asked for
port 0 can read the port it got.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from devices.quartz.emulator import QuartzEmulator


class Command(BaseCommand):
    help = "Serve an emulated Evertz Quartz router (names, routes, locks in memory)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=6543, help="0 picks a free port.")
        parser.add_argument("--sources", type=int, default=128)
        parser.add_argument("--outputs", type=int, default=512)
        parser.add_argument("--style", choices=["persistent", "per-command", "per_command"],
                            default="persistent")
        parser.add_argument("--latency-ms", type=float, default=0.0,
                            help="Delay of every reply, in milliseconds.")
        parser.add_argument("--seed", default=None,
                            help="JSON file of names, routes, locks and salvos.")
        parser.add_argument("--crlf", action="store_true", help="End lines with CR LF.")
        parser.add_argument("--pad", type=int, default=0,
                            help="Zero-pad numbers in replies to this many digits.")

    def handle(self, *args, host: str, port: int, sources: int, outputs: int, style: str,
               latency_ms: float, seed: str | None, crlf: bool, pad: int, **options):
        if sources < 1 or outputs < 1:
            raise CommandError("--sources and --outputs must be at least 1")
        try:
            emulator = QuartzEmulator(
                host=host, port=port, sources=sources, outputs=outputs, style=style,
                latency_ms=latency_ms, seed=seed, eol=b"\r\n" if crlf else b"\r",
                number_width=pad,
            ).start()
        except (OSError, ValueError) as exc:
            raise CommandError(f"Quartz emulator could not start: {exc}") from exc
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Quartz emulator listening on {emulator.address}")
        self.stdout.write(f"  {sources} sources x {outputs} outputs, style {style}, "
                          f"latency {latency_ms:g} ms. Ctrl-C stops it.")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                continue
        finally:
            emulator.stop()
