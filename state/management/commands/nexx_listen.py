"""Keep the multiviewer snapshot live: follow the NEXX frame's change notifications.

    manage.py nexx_listen [--bind HOST:PORT] [--advertise HOST] [--name NAME]
    manage.py nexx_listen --status        # the health check: prints the status, exit 0 / 1 / 2
    manage.py nexx_listen --unregister    # remove this receiver and its subscriptions

Binds UDP HOST:PORT (default 0.0.0.0 and the settings' listen_port, 18081), registers with the
frame as NAME and tells it to send to the advertised address (--advertise, else the settings'
listen_advertise, else the bind address; one of the first two when binding 0.0.0.0). Runs until
SIGTERM or SIGINT (Ctrl-C). `make run` starts it next to the web server; in production run
exactly one per installation, alongside the django-q2 cluster and quartz_listen.
"""

from __future__ import annotations

import signal
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from state.nexx_listener import DEFAULT_NAME, ListenerSettingsError, NexxListener

HEARTBEAT_STALE = timedelta(seconds=30)  # the listener writes its status every 2 s


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"--bind takes HOST:PORT (e.g. 0.0.0.0:18081), not {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - the operator's choice


class Command(BaseCommand):
    help = ("Follow the NEXX frame's change notifications and apply them to the multiviewer "
            "snapshot; registers, subscribes and heals by itself. Stops on SIGTERM or Ctrl-C.")

    def add_arguments(self, parser):
        parser.add_argument("--bind", metavar="HOST:PORT", default=None,
                            help="UDP address to receive on (default 0.0.0.0 and the NEXX "
                                 "settings' listen_port, 18081; port 0 picks a free one).")
        parser.add_argument("--advertise", metavar="HOST", default=None,
                            help="Address the frame sends to (default: the settings' "
                                 "listen_advertise, else the bind address). Required when "
                                 "binding 0.0.0.0 and the settings do not say.")
        parser.add_argument("--name", default=DEFAULT_NAME,
                            help="Name of the registration with the frame (found again by it "
                                 f"after a restart; default {DEFAULT_NAME}).")
        parser.add_argument("--settings-poll", type=float, default=10.0,
                            help="Seconds between checks for changed NEXX settings.")
        parser.add_argument("--status", action="store_true",
                            help="Print the listener's status and exit: 0 when it runs and "
                                 "follows the frame, 2 when it runs but the frame refused some "
                                 "subscriptions, 1 otherwise.")
        parser.add_argument("--unregister", action="store_true",
                            help="Remove this receiver (by --name) and its subscriptions from "
                                 "the frame, and exit.")

    def handle(self, *args, bind: str | None, advertise: str | None, name: str,
               settings_poll: float, status: bool, unregister: bool, **options):
        if status:
            return self._status()
        if unregister:
            return self._unregister(name)
        address = _address(bind) if bind else None
        listener = NexxListener(bind=address, advertise=advertise, name=name,
                                settings_poll=settings_poll, on_progress=self._progress)
        self._check_endpoint(listener)

        def stop(signum, frame) -> None:
            listener.request_stop()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        if options["verbosity"] >= 1:
            self.stdout.write("Following the NEXX frame's change notifications (Ctrl-C stops).")
            self.stdout.flush()
        try:
            listener.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if options["verbosity"] >= 1:
            self.stdout.write(f"Stopped; {listener.datagrams} datagrams received, "
                              f"{listener.changes_applied} snapshot values changed.")

    def _progress(self, line: str) -> None:
        self.stdout.write(f"NEXX listener: {line}")
        self.stdout.flush()

    def _check_endpoint(self, listener: NexxListener) -> None:
        """Refuse at once what the settings cannot fix by themselves: 0.0.0.0 without an
        advertised address. (A database that is down is the listener's to wait for.)"""
        from devices.models import NexxSettings

        try:
            settings = NexxSettings.load()
        except DatabaseError:
            return
        if not settings.listen_advertise and not listener.advertise:
            try:
                listener.endpoint(settings)
            except ListenerSettingsError as exc:
                raise CommandError(str(exc)) from exc

    def _unregister(self, name: str) -> None:
        from devices.errors import DeviceError
        from devices.nexx.service import NexxService

        try:
            service = NexxService.from_settings()
            ours = [r for r in service.server_status() if r.name == name]
            for receiver in ours:
                service.server_del(receiver.id)
        except DeviceError as exc:
            raise CommandError(exc.detail) from exc
        if not ours:
            self.stdout.write(f"The frame has no receiver named {name!r}.")
        for receiver in ours:
            self.stdout.write(f"Removed receiver {receiver.id} ({receiver.ip}:{receiver.port}, "
                              f"{len(receiver.parameters)} subscriptions).")

    def _status(self) -> None:
        from state.models import NexxListenerStatus

        row = NexxListenerStatus.load()
        now = timezone.now()
        running = row.heartbeat_at is not None and now - row.heartbeat_at <= HEARTBEAT_STALE
        state = row.state if running or row.state == "stopped" else (
            f"not running (last heard of {_ago(now, row.heartbeat_at)})")
        lines = [f"NEXX listener: {state}"]
        if row.problem:
            lines.append(f"  problem: {row.problem}")
        if row.frame:
            lines.append(f"  frame {row.frame}; receiver {row.receiver or '—'}; "
                         f"{'registered' if row.registered else 'not registered'}")
        live = f"  parameters live: {row.parameters_live} of {row.parameters_planned}"
        if row.eta_seconds:
            live += f" (subscribing, about {round(row.eta_seconds / 60)} min left)"
        lines.append(live)
        if row.refused:
            lines.append(f"  refused: {row.refused}")
        lines.append(f"  last datagram: {_when(row.last_datagram_at)} ({row.datagrams} "
                     f"datagrams, {row.junk_datagrams} with junk, {row.changes_applied} values "
                     "changed)")
        lines.append(f"  last check: {_when(row.last_heal_at)}"
                     + (f": {row.last_heal}" if row.last_heal else ""))
        self.stdout.write("\n".join(lines))
        if not (running and row.registered and not row.problem):
            raise SystemExit(1)
        if row.refused:
            raise SystemExit(2)  # runs, but part of the snapshot is not followed


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


def _ago(now, moment) -> str:
    if moment is None:
        return "never"
    return f"{int((now - moment).total_seconds())} s ago"
