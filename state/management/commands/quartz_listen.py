"""Keep the routing snapshot live: apply every route change the Quartz router pushes.

    manage.py quartz_listen

Runs until SIGTERM or SIGINT (Ctrl-C). `make run` starts it next to the web server; in production
run exactly one per installation (systemd unit, container), alongside the django-q2 cluster.
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from state.listener import RouteListener


class Command(BaseCommand):
    help = ("Listen to the Quartz router and apply every route change (.U) to the routing "
            "snapshot; reconnects by itself. Stops on SIGTERM or Ctrl-C.")

    def add_arguments(self, parser):
        parser.add_argument("--settings-poll", type=float, default=10.0,
                            help="Seconds between checks for changed router settings.")

    def handle(self, *args, settings_poll: float, **options):
        listener = RouteListener(settings_poll=settings_poll)

        def stop(signum, frame) -> None:
            listener.request_stop()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        if options["verbosity"] >= 1:
            self.stdout.write("Listening to the Quartz router for route changes "
                              "(Ctrl-C stops).")
        try:
            listener.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if options["verbosity"] >= 1:
            self.stdout.write(f"Stopped; {listener.stored} route changes stored.")
