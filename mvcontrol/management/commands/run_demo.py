"""Serve the demo: both device emulators, the background workers and the web server, in one go.

`make run` calls this. The Quartz and NEXX emulators run inside this process; the integration
settings are pointed at them; the django-q2 cluster, the live routing listener and the NEXX change
listener run as child processes; the web server — the production one, gunicorn with uvicorn
workers serving mvcontrol.asgi, so that what the tests check is what runs — until Ctrl-C, which
stops everything. The NEXX emulator keeps its receivers in var/nexx-emulator.json, so the listener's
subscriptions (a long first job at the frame's rate) outlive a restart of the demo, as they
outlive a restart of a real frame.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand

from devices.models import NexxAuthMode, NexxSettings, QuartzSettings
from mvcontrol.management.addresses import demo_urls, url_host

DEMO_API_KEY = "demo-api-key"  # noqa: S105 - the emulator's key, for the local demo only
DEMO_WORKERS = 2
DEMO_LISTEN_PORT = 18081  # UDP, where the demo's nexx_listen receives the emulator's datagrams


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve the local demo: device emulators, background workers and the web server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1",
                            help="Address to serve on; 0.0.0.0 for the other PCs on the LAN.")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--quartz-port", type=int, default=16543)
        parser.add_argument("--nexx-port", type=int, default=18080)
        parser.add_argument("--listen-port", type=int, default=DEMO_LISTEN_PORT,
                            help="UDP port of the NEXX change listener (0: a free one).")
        parser.add_argument("--no-emulators", action="store_true",
                            help="Use the configured devices instead of the emulators.")

    def handle(self, *args, host: str, port: int, quartz_port: int, nexx_port: int,
               listen_port: int, no_emulators: bool, **options):
        # A supervisor or `timeout` stops us with SIGTERM: shut the children down as for Ctrl-C
        # instead of leaving the workers running without their parent.
        signal.signal(signal.SIGTERM, _interrupt)
        emulators: list = []
        children: list[subprocess.Popen] = []
        # Whatever fails once a child is started (an unmigrated database, a port in use) still
        # stops every child: none is left running without its parent.
        try:
            if not no_emulators:
                emulators = self._start_emulators(quartz_port, nexx_port)
            children = self._start_workers(initial_refresh=not no_emulators,
                                           listen=None if no_emulators else listen_port)
            self._announce(host, port, emulators)
            web = subprocess.Popen([
                sys.executable, "-m", "gunicorn", "mvcontrol.asgi:application",
                "--worker-class", "uvicorn_worker.UvicornWorker", "--workers", str(DEMO_WORKERS),
                "--bind", f"{url_host(host)}:{port}", "--log-level", "warning",
                "--graceful-timeout", "5"],
                cwd=settings.BASE_DIR)
            children.insert(0, web)
            web.wait()
        except KeyboardInterrupt:
            # Ctrl+C is how the demo is meant to stop: say so, then stop every child below.
            self.stdout.write("Stopping the demo…")
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            for emulator in emulators:
                emulator.stop()

    def _announce(self, host: str, port: int, emulators: list) -> None:
        """Where to open the demo: for HOST=0.0.0.0 each address of this machine, the one other
        PCs use first."""
        url, *others = demo_urls(host, port)
        self.stdout.write(self.style.SUCCESS(f"\nmvcontrol demo: open {url}"))
        for other in others:
            self.stdout.write(self.style.SUCCESS(f"                 or {other}"))
        self.stdout.write(f"  Django admin: {url}admin/   API docs: {url}api/docs and "
                          f"{url}api/redoc")
        from accounts.models import User

        if not User.objects.exists():
            self.stdout.write(
                "  No user yet: create the first admin on the page, or with\n"
                "  .venv/bin/python manage.py create_first_admin --login admin"
            )
        if emulators:
            panel = emulators[0].stats_url.replace("/stats", "/panel")
            self.stdout.write(
                "  A change on the frame's own panel (MV 1, window 1, UMD layer 1 text), which\n"
                "  nexx_listen brings into the snapshot and the open pages:\n"
                f"  curl '{panel}?2709.0.0.0=HELLO'")
        self.stdout.write("  Ctrl-C stops the demo.\n")

    def _start_emulators(self, quartz_port: int, nexx_port: int) -> list:
        from devices.nexx.emulator import NexxEmulator
        from devices.quartz.emulator import QuartzEmulator

        quartz = QuartzEmulator(host="127.0.0.1", port=quartz_port, sources=128, outputs=512,
                                style="persistent").start()
        state = Path(settings.BASE_DIR) / "var" / "nexx-emulator.json"
        state.parent.mkdir(exist_ok=True)
        nexx = NexxEmulator(host="127.0.0.1", port=nexx_port, multiviewers=24, auth="api-key",
                            api_key=DEMO_API_KEY, state_file=state).start()
        q = QuartzSettings.load()
        q.host, q.port, q.source_count, q.output_count = "127.0.0.1", quartz.port, 128, 512
        q.save()
        n = NexxSettings.load()
        n.base_url, n.auth_mode, n.api_key = nexx.base_url, NexxAuthMode.API_KEY, DEMO_API_KEY
        n.save()
        self.stdout.write(f"Quartz router emulator on 127.0.0.1:{quartz.port} (128 × 512)")
        self.stdout.write(f"NEXX frame emulator at {nexx.base_url} (24 multiviewers)")
        return [nexx, quartz]

    def _start_workers(self, *, initial_refresh: bool, listen: int | None
                       ) -> list[subprocess.Popen]:
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        available = get_commands()
        children = []
        for name in ("qcluster", "quartz_listen"):
            if name in available:
                children.append(subprocess.Popen([sys.executable, manage, name]))
        if "nexx_listen" in available:
            # The emulator runs here on 127.0.0.1: the frame sends its datagrams there too. With
            # real devices the integration settings say where (listen_advertise, listen_port).
            where = [] if listen is None else ["--bind", f"127.0.0.1:{listen}",
                                               "--advertise", "127.0.0.1"]
            children.append(subprocess.Popen([sys.executable, manage, "nexx_listen", *where]))
        if initial_refresh:
            # The emulators start with fresh state: read it once so the control page has a
            # snapshot to show. A refresh already running (another demo) is followed, not doubled.
            self.stdout.write("Reading the emulators' state in the background (manage.py refresh)")
            refresh = [sys.executable, manage, "refresh", "--verbosity", "0"]
            children.append(subprocess.Popen(refresh, stdout=subprocess.DEVNULL))
        return children
