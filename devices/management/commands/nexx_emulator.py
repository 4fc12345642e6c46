"""Run the NEXX frame emulator until Ctrl-C (or SIGTERM).

    manage.py nexx_emulator --port 18080 --multiviewers 24 --auth jwt --reply-format list \
        --latency-ms 40 --max-rps 9

The first line printed is "NEXX emulator listening on BASE_URL", so a script that asked for
port 0 can read the port it got. Stats: GET {host:port}/_emulator/stats.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from devices.nexx.codec import REPLY_FORMATS
from devices.nexx.emulator import AUTH_MODES, DEFAULT_API_KEY, NexxEmulator


class Command(BaseCommand):
    help = "Serve an emulated Evertz NEXX frame (EV API, multiviewer state in memory)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=18080, help="0 picks a free port.")
        parser.add_argument("--multiviewers", type=int, default=24)
        parser.add_argument("--auth", choices=AUTH_MODES, default="none")
        parser.add_argument("--reply-format", choices=REPLY_FORMATS, default="keyed")
        parser.add_argument("--latency-ms", type=float, default=0.0,
                            help="Delay of every reply, in milliseconds.")
        parser.add_argument("--max-rps", type=float, default=None,
                            help="Answer HTTP 503 above this many requests per second.")
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)
        parser.add_argument("--jwt-user", default="admin")
        parser.add_argument("--jwt-password", default="admin")
        parser.add_argument("--jwt-lifespan", type=float, default=4500,
                            help="Seconds a JWT stays valid.")
        parser.add_argument("--jwt-role", choices=["administrator", "rw-user", "ro-user"],
                            default="administrator",
                            help="Device role of the JWT user; ro-user may only read.")

    def handle(self, *args, host: str, port: int, multiviewers: int, auth: str,
               reply_format: str, latency_ms: float, max_rps: float | None, api_key: str,
               jwt_user: str, jwt_password: str, jwt_lifespan: float, jwt_role: str,
               **options):
        try:
            emulator = NexxEmulator(
                host=host, port=port, multiviewers=multiviewers, auth=auth,
                reply_format=reply_format, latency_ms=latency_ms, max_rps=max_rps,
                api_key=api_key, jwt_user=jwt_user, jwt_password=jwt_password,
                jwt_lifespan=jwt_lifespan, jwt_role=jwt_role,
            ).start()
        except (OSError, ValueError) as exc:
            raise CommandError(f"NEXX emulator could not start: {exc}") from exc
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"NEXX emulator listening on {emulator.base_url}")
        limit = f"{max_rps:g} requests/s" if max_rps else "no rate limit"
        self.stdout.write(f"  {multiviewers} multiviewers, auth {auth}, {reply_format} replies, "
                          f"latency {latency_ms:g} ms, {limit}. Stats: {emulator.stats_url}. "
                          "Ctrl-C stops it.")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                continue
        finally:
            emulator.stop()
