"""Refresh the cached device state now, with a progress bar and a summary.

    manage.py refresh                      everything (NEXX and Quartz at once)
    manage.py refresh --nexx-only          the multiviewers only
    manage.py refresh --quartz-only        source names and routes only
    manage.py refresh --multiviewer 5      MV 5 and the routes of its windows

When a refresh is already running (from the API, the nightly schedule or another command), this
follows it instead of starting another. Exit code: 0 success, 1 failed, 2 partial.
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from devices.nexx.catalog import MAX_MULTIVIEWERS
from state.models import RefreshRun
from state.refresh import execute_run
from state.runs import Scope
from state.services import StateService

EXIT_CODES = {RefreshRun.Status.SUCCESS: 0, RefreshRun.Status.FAILED: 1,
              RefreshRun.Status.PARTIAL: 2}
BAR_WIDTH = 30


class ProgressBar:
    """One line redrawn in place on a terminal; on anything else a line per tenth done."""

    def __init__(self, stream, *, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self._last_tenth = -1
        self._drawn = False

    def update(self, progress: dict) -> None:
        phase = progress.get("phase", "queued")
        read = progress.get("parameters_read", 0)
        planned = progress.get("parameters_planned") or 0
        fraction = min(1.0, read / planned) if planned else 0.0
        filled = int(fraction * BAR_WIDTH)
        eta = progress.get("eta_seconds")
        text = (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {fraction:4.0%}  "
                f"{read}/{planned} read  parts {progress.get('parts_done', 0)}/"
                f"{progress.get('parts_planned') or 0}"
                + (f"  ~{eta:.0f} s left" if eta and phase == "reading" else "")
                + ("" if phase in ("reading", "done") else f"  ({phase})"))
        if self.tty:
            self.stream.write("\r" + text.ljust(100), ending="")
            self.stream.flush()
            self._drawn = True
            return
        tenth = int(fraction * 10)
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(text)

    def close(self) -> None:
        if self._drawn:
            self.stream.write("")


class Command(BaseCommand):
    help = ("Refresh the cached state from the NEXX frame and the Quartz router (or follow the "
            "refresh already running). Exit code 0 success, 1 failed, 2 partial.")

    def add_arguments(self, parser):
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--nexx-only", action="store_true", help="Read the NEXX frame only.")
        only.add_argument("--quartz-only", action="store_true",
                          help="Read the Quartz router only.")
        parser.add_argument("--multiviewer", type=int, metavar="N",
                            help=f"Only multiviewer N (1..{MAX_MULTIVIEWERS}) and its routes.")

    def handle(self, *args, nexx_only: bool, quartz_only: bool, multiviewer: int | None,
               **options):
        if multiviewer is not None and not 1 <= multiviewer <= MAX_MULTIVIEWERS:
            raise CommandError(f"--multiviewer must be 1 to {MAX_MULTIVIEWERS}, not {multiviewer}")
        scope = Scope(nexx=not quartz_only, quartz=not nexx_only, multiviewer=multiviewer)
        ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND, scope=scope)
        run = ticket.run
        verbose = options["verbosity"] >= 1
        bar = ProgressBar(self.stdout, tty=self.stdout.isatty()) if verbose else None
        try:
            if ticket.joined:
                who = f" by {run.user.login}" if run.user else ""
                self.stdout.write(f"A refresh is already running: run #{run.pk} "
                                  f"({run.trigger}{who}, {Scope.from_json(run.scope).describe()},"
                                  f" started {run.started_at:%Y-%m-%d %H:%M:%S}); following it.")
                run = self._follow(run, bar)
            else:
                self.stdout.write(f"Refresh run #{run.pk}: {scope.describe()}.")
                outcome = execute_run(run.pk, on_progress=bar.update if bar else None)
                run = outcome.run if outcome is not None else self._follow(run, bar)
        except KeyboardInterrupt:
            if bar:
                bar.close()
            raise CommandError("Interrupted.", returncode=130)
        if bar:
            bar.close()
        self._summary(run)
        code = EXIT_CODES.get(run.status, 1)
        if code:
            raise CommandError(f"Refresh run #{run.pk} {run.status}.", returncode=code)

    def _follow(self, run: RefreshRun, bar: ProgressBar | None) -> RefreshRun:
        while True:
            run.refresh_from_db()
            if run.status != RefreshRun.Status.RUNNING:
                return run
            if bar:
                bar.update(run.progress or {})
            time.sleep(0.5)

    def _summary(self, run: RefreshRun) -> None:
        counts = run.counts or {}
        seconds = counts.get("seconds")
        if seconds is None and run.finished_at:
            seconds = round((run.finished_at - run.started_at).total_seconds(), 2)
        style = {RefreshRun.Status.SUCCESS: self.style.SUCCESS,
                 RefreshRun.Status.PARTIAL: self.style.WARNING}.get(run.status, self.style.ERROR)
        self.stdout.write(style(f"Refresh run #{run.pk}: {run.status} in {seconds} s."))
        lines = []
        if "nexx_requests" in counts:
            lines.append(f"  NEXX: {counts.get('multiviewers', 0)} multiviewers and "
                         f"{counts.get('windows', 0)} windows stored; "
                         f"{counts['nexx_parameters']} parameters in "
                         f"{counts['nexx_requests']} requests (at least "
                         f"{counts.get('nexx_lower_bound', 0)} needed)")
            if counts.get("multiviewers_created"):
                lines.append(f"  New multiviewers: {counts['multiviewers_created']}")
        if "quartz_commands" in counts:
            sources = (f"{counts['sources']} source names, " if "sources" in counts else "")
            read, unknown = counts.get("routes", 0), counts.get("routes_unknown", 0)
            if unknown:
                # Not "N routes stored" when the router did not say them.
                kept = counts.get("routes_kept", 0)
                routes = (f"{read} of {read + unknown} routes read, {unknown} unknown"
                          + (f" ({kept} keep the route known before)" if kept else ""))
            else:
                routes = f"{read} routes stored"
            lines.append(f"  Quartz: {sources}{routes}; {counts['quartz_commands']} commands")
        for line in lines:
            self.stdout.write(line)
        for error in filter(None, (run.error_summary or "").splitlines()):
            self.stderr.write(f"  {error}")
