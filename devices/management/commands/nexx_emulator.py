"""Run the NEXX frame emulator until Ctrl-C (or SIGTERM).

    manage.py nexx_emulator --port 18080 --multiviewers 24 --auth jwt --reply-format list \
        --latency-ms 40 --max-rps 9

The first line printed is "NEXX emulator listening on BASE_URL", so a script that asked for
port 0 can read the port it got. Stats: GET {host:port}/_emulator/stats.

Change notifications: receivers registered with EV/SERVERADD and their subscriptions are kept
in --state-file (if given) across restarts. A change "on the frame", as its own panel makes it:
GET {host:port}/_emulator/panel?2709.0.0.0=HELLO (raw device values: layout 0..42). Faults:
--notify-drop/--notify-duplicate/--notify-reorder SHARE, --notify-delay-ms, --max-subscriptions;
GET {host:port}/_emulator/reboot forgets every receiver.
"""

from __future__ import annotations

import argparse
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from devices.nexx.codec import REPLY_FORMATS
from devices.nexx.emulator import AUTH_MODES, DEFAULT_API_KEY, NexxEmulator


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share from 0 to 1")
    return value


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
        notify = parser.add_argument_group("change notifications")
        notify.add_argument("--state-file", default=None,
                            help="JSON file keeping the receivers and their subscriptions "
                                 "across restarts of the emulator.")
        notify.add_argument("--notify-drop", type=_share, default=0.0, metavar="SHARE",
                            help="Share of datagrams never sent (0..1).")
        notify.add_argument("--notify-duplicate", type=_share, default=0.0, metavar="SHARE",
                            help="Share of datagrams sent twice.")
        notify.add_argument("--notify-reorder", type=_share, default=0.0, metavar="SHARE",
                            help="Share of datagrams sent after the next one.")
        notify.add_argument("--notify-delay-ms", type=float, default=0.0,
                            help="Delay of every datagram, in milliseconds.")
        notify.add_argument("--max-subscriptions", type=int, default=None,
                            help="Refuse NOTIFYADD once the frame holds this many.")
        notify.add_argument("--notify-seed", type=int, default=None,
                            help="Seed of the fault choices, to repeat a run.")

    def handle(self, *args, host: str, port: int, multiviewers: int, auth: str,
               reply_format: str, latency_ms: float, max_rps: float | None, api_key: str,
               jwt_user: str, jwt_password: str, jwt_lifespan: float, jwt_role: str,
               state_file: str | None, notify_drop: float, notify_duplicate: float,
               notify_reorder: float, notify_delay_ms: float, max_subscriptions: int | None,
               notify_seed: int | None, **options):
        try:
            emulator = NexxEmulator(
                host=host, port=port, multiviewers=multiviewers, auth=auth,
                reply_format=reply_format, latency_ms=latency_ms, max_rps=max_rps,
                api_key=api_key, jwt_user=jwt_user, jwt_password=jwt_password,
                jwt_lifespan=jwt_lifespan, jwt_role=jwt_role, state_file=state_file,
                notify_drop=notify_drop, notify_duplicate=notify_duplicate,
                notify_reorder=notify_reorder, notify_delay_ms=notify_delay_ms,
                max_subscriptions=max_subscriptions, notify_seed=notify_seed,
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
        panel = emulator.stats_url.replace("/stats", "/panel")
        self.stdout.write(f"  A change on the frame's own panel: {panel}?2709.0.0.0=HELLO")
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                continue
        finally:
            emulator.stop()
