"""Run the Quartz router emulator until Ctrl-C (or SIGTERM).

    manage.py quartz_emulator --port 6543 --sources 128 --outputs 512 --style per-command

The first line printed is "Quartz emulator listening on HOST:PORT", so a script that asked for
port 0 can read the port it got. The fault options make it misbehave from the start, to see how
mvcontrol copes with a difficult router (tests switch the same faults at run time in-process).
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from devices.quartz.emulator import MAX_SIZE, QuartzEmulator, parse_outputs


class Command(BaseCommand):
    help = "Serve an emulated Evertz Quartz router (names, routes, locks in memory)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=6543, help="0 picks a free port.")
        parser.add_argument("--sources", type=int, default=128)
        parser.add_argument("--outputs", type=int, default=512)
        parser.add_argument("--style", choices=["persistent", "per-command", "per_command"],
                            default="persistent",
                            help="per-command: answer one command, then close the connection "
                                 "(a successful switch closes without any reply).")
        parser.add_argument("--latency-ms", type=float, default=0.0,
                            help="Delay of every reply, in milliseconds.")
        parser.add_argument("--seed", default=None,
                            help="JSON file of names, routes, locks and salvos.")
        parser.add_argument("--crlf", action="store_true", help="End lines with CR LF.")
        parser.add_argument("--pad", type=int, default=0,
                            help="Zero-pad numbers in replies to this many digits.")
        faults = parser.add_argument_group("faults")
        faults.add_argument("--drop-after", type=int, default=None, metavar="K",
                            help="Close each connection after it has sent K commands.")
        faults.add_argument("--fragment", action="store_true",
                            help="Write every reply in pieces of 1-4 bytes.")
        faults.add_argument("--garbage", action="store_true",
                            help="Send a garbage line before every reply.")
        faults.add_argument("--mute", action="store_true", help="Never answer anything.")
        faults.add_argument("--no-list", action="store_true",
                            help="Answer .E to .L (a router without the list command).")
        faults.add_argument("--silent-interrogate", action="store_true",
                            help="Never answer .I (as MAGNUM does).")
        faults.add_argument("--no-interrogate", action="store_true",
                            help="Answer .E to .I (a router without the interrogate command).")
        faults.add_argument("--unreadable-routes", action="store_true",
                            help="Answer neither .L nor .I, as some MAGNUM-controlled frames "
                                 "do: .E to .L and silence to .I (the same as --no-list "
                                 "--silent-interrogate; add --no-interrogate for .E to .I). "
                                 "Switching still works.")
        faults.add_argument("--unreadable-outputs", default=None, metavar="RANGES",
                            help="Do not report the routes of these outputs (e.g. 65-128,200): "
                                 ".E to a .L starting at one, .L lists stop before them, no "
                                 "answer to .I for them.")
        faults.add_argument("--lock-refusal", choices=["report", "error"], default="report",
                            help="How a switch on a locked output is refused: a .BA lock "
                                 "report (default) or a bare .E.")

    def handle(self, *args, host: str, port: int, sources: int, outputs: int, style: str,
               latency_ms: float, seed: str | None, crlf: bool, pad: int,
               drop_after: int | None, fragment: bool, garbage: bool, mute: bool,
               no_list: bool, silent_interrogate: bool, no_interrogate: bool,
               unreadable_routes: bool, unreadable_outputs: str | None, lock_refusal: str,
               **options):
        if not (1 <= sources <= MAX_SIZE and 1 <= outputs <= MAX_SIZE):
            raise CommandError(f"--sources and --outputs must be 1 to {MAX_SIZE}")
        if latency_ms < 0 or not 0 <= pad <= 10:
            raise CommandError("--latency-ms must be at least 0 and --pad 0 to 10")
        if drop_after is not None and drop_after < 1:
            raise CommandError("--drop-after must be at least 1")
        unreadable: frozenset[int] = frozenset()
        if unreadable_outputs:
            try:
                unreadable = parse_outputs(unreadable_outputs)
            except ValueError as exc:
                raise CommandError(f"--unreadable-outputs must be output numbers and ranges "
                                   f"(65-128,200): {exc}") from None
        try:
            emulator = QuartzEmulator(
                host=host, port=port, sources=sources, outputs=outputs, style=style,
                latency_ms=latency_ms, seed=seed, eol=b"\r\n" if crlf else b"\r",
                number_width=pad, lock_refusal=lock_refusal,
            )
        except (OSError, ValueError) as exc:
            raise CommandError(f"Quartz emulator could not start: {exc}") from exc
        emulator.drop_after = drop_after
        emulator.fragment = fragment
        emulator.garbage = garbage
        emulator.mute = mute
        emulator.list_unsupported = no_list or unreadable_routes
        emulator.silent_interrogate = silent_interrogate or unreadable_routes
        emulator.interrogate_unsupported = no_interrogate
        emulator.unreadable_outputs = unreadable
        try:
            emulator.start()
        except OSError as exc:
            raise CommandError(f"Quartz emulator could not start: {exc}") from exc
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"Quartz emulator listening on {emulator.address}")
        active = [name for name, on in (
            (f"drop after {drop_after}", drop_after is not None), ("fragment", fragment),
            ("garbage", garbage), ("mute", mute), ("no .L", emulator.list_unsupported),
            ("silent .I", emulator.silent_interrogate and not no_interrogate),
            (".E to .I", no_interrogate),
            (f"{len(unreadable)} unreadable outputs", bool(unreadable))) if on]
        self.stdout.write(f"  {sources} sources x {outputs} outputs, style {style}, "
                          f"latency {latency_ms:g} ms, faults: {', '.join(active) or 'none'}. "
                          "Ctrl-C stops it.")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                continue
        finally:
            emulator.stop()
