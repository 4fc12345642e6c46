"""Executing a refresh run: read the NEXX frame and the Quartz router at once, store part by part.

Two reader threads talk to the devices (different devices, so they go concurrently); neither
touches the snapshot tables. They hand finished parts to the calling thread, which writes each in
its own short transaction (state/snapshot.py) and keeps the run's progress up to date. No
transaction is ever open while a device is being waited on.

NEXX: the reads and their packing come from state/planning.py (requests of exactly 40 across
multiviewer boundaries). Quartz: source names 1..N, then the routes (`.L`, pipelined) and names of
the outputs feeding the multiviewers' windows, once the frame has said which multiviewers are in
use. Route changes the router pushes while the refresh reads (`.U`) win over what was read: they
are newer.

A router that will not say a route (it answers neither `.L` nor `.I`, as some MAGNUM-controlled
frames do) is not a failure of the device: its names are read and stored, the routes it did not
give stay unknown — or keep the route known before (state/snapshot.py `write_routes`) — and the
run ends partial with a sentence saying which outputs and why. The reading stops asking once a
few outputs in a row got no route (devices/quartz/service.py `RouteReading`), so such a router
costs one read timeout, not one per output.

A device failing stops that device's reads only: parts already stored stay, parts not yet read
keep their previous snapshot, and the run says which device failed, what failed and how far it got.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import DatabaseError
from django.utils import timezone

from devices.errors import DeviceError
from devices.nexx.catalog import MAX_PARAMETERS_PER_REQUEST, WINDOWS_PER_MULTIVIEWER
from devices.quartz.codec import RouteUpdate
from devices.throttle import HEADROOM
from mvcontrol.errors import DomainError
from state import runs, snapshot
from state.models import RefreshRun
from state.planning import (
    Discovery,
    MultiviewerProblem,
    MultiviewerValues,
    NexxReadPlan,
    PlanError,
    lower_bound,
)
from state.runs import Scope

logger = logging.getLogger(__name__)

QUARTZ_CHUNK = 128  # names or outputs per pipelined call: progress steps, and parts for routes
PROGRESS_INTERVAL = 0.5  # seconds between progress saves
NEXX, QUARTZ = "nexx", "quartz"

ProgressCallback = Callable[[dict], None]


@dataclass
class _Failure:
    device: str  # NEXX / QUARTZ
    detail: str


@dataclass
class _NexxProgress:
    state: str = "waiting"  # waiting, reading, done, failed, skipped
    read: int = 0
    planned: int = 0
    requests: int = 0
    multiviewers_done: int = 0
    multiviewers_planned: int = 0


@dataclass
class _QuartzProgress:
    state: str = "waiting"
    names_read: int = 0
    names_total: int = 0
    outputs_read: int = 0
    outputs_total: int = 0  # estimated from the known multiviewers until the reader says
    outputs_out_of_range: int = 0
    commands: int = 0
    outputs_known: bool = False
    routes_stopped: bool = False  # the router showed it will not say: no more `.I`

    @property
    def read(self) -> int:
        return self.names_read + 2 * self.outputs_read  # an output: its route and its name

    @property
    def planned(self) -> int:
        return self.names_total + 2 * self.outputs_total

    def commands_left(self) -> float:
        # A name is one command; routes come 8 to an `.L` (none once the router gave up).
        per_output = 1 if self.routes_stopped else 1 + 1 / 8
        return (max(0, self.names_total - self.names_read)
                + max(0, self.outputs_total - self.outputs_read) * per_output)


@dataclass(frozen=True)
class RefreshOutcome:
    run: RefreshRun
    status: str
    counts: dict
    error_summary: str


class RefreshEngine:
    """Execute one claimed run. `nexx_service` / `quartz_service` default to the process's shared
    services from the integration settings (a device not configured fails its part of the run);
    pass instances to read other devices (bench/)."""

    def __init__(self, run: RefreshRun, *, nexx_service=None, quartz_service=None,
                 on_progress: ProgressCallback | None = None,
                 progress_interval: float = PROGRESS_INTERVAL) -> None:
        self.run_row = run
        self.scope = Scope.from_json(run.scope)
        self.on_progress = on_progress
        self.progress_interval = progress_interval
        self._nexx = nexx_service
        self._quartz = quartz_service
        self._inbox: queue.Queue = queue.Queue()
        self._outputs: queue.Queue[list[int]] = queue.Queue()
        self._outputs_sent = False
        self._stop = threading.Event()
        self._nexx_progress = _NexxProgress()
        self._quartz_progress = _QuartzProgress()
        self._failures: list[_Failure] = []
        self._problems: list[str] = []
        self._route_problem: str | None = None  # routes the router did not give (its sentence)
        self.parts_done = 0
        self._parts_failed = 0
        self._counts: dict = {}
        self._discovered = False
        self._last_saved = 0.0
        self._started = time.monotonic()
        self._nexx_rate = 8.0
        self._quartz_rate = 100.0

    # --- the run -------------------------------------------------------------------------

    def execute(self) -> RefreshOutcome:
        readers: list[threading.Thread] = []
        try:
            self._start_readers(readers)
            self._publish(force=True)
            while any(t.is_alive() for t in readers) or not self._inbox.empty():
                try:
                    message = self._inbox.get(timeout=self.progress_interval)
                except queue.Empty:
                    self._publish()
                    continue
                self._handle(message)
                self._publish()
        except BaseException:
            self._stop.set()
            for thread in readers:
                thread.join(timeout=30)
            raise
        for thread in readers:
            thread.join()
        return self._finish()

    def _start_readers(self, readers: list[threading.Thread]) -> None:
        if self.scope.nexx:
            service = self._service(NEXX)
            if service is not None:
                self._nexx = service
                self._nexx_rate = service.config.requests_per_second
                plan = self._nexx_plan()
                readers.append(self._thread(NEXX, self._read_nexx, plan))
            else:
                self._release_outputs()
        else:
            self._nexx_progress.state = "skipped"
            self._release_outputs()
        if self.scope.quartz:
            service = self._service(QUARTZ)
            if service is not None:
                self._quartz = service
                self._quartz_rate = service.config.commands_per_second
                names = self.scope.multiviewer is None
                progress = self._quartz_progress
                progress.names_total = service.config.source_count if names else 0
                progress.outputs_total = len([
                    o for o in snapshot.mapped_outputs(only=self.scope.nexx_index)
                    if o <= service.config.output_count])
                readers.append(self._thread(QUARTZ, self._read_quartz, names))
        else:
            self._quartz_progress.state = "skipped"

    def _thread(self, device: str, target: Callable, *args) -> threading.Thread:
        thread = threading.Thread(target=self._guard, args=(device, target, *args),
                                  name=f"refresh-{device}-{self.run_row.pk}", daemon=True)
        self._device_progress(device).state = "reading"
        thread.start()
        return thread

    def _device_progress(self, device: str) -> _NexxProgress | _QuartzProgress:
        return self._nexx_progress if device == NEXX else self._quartz_progress

    def _service(self, device: str):
        given = self._nexx if device == NEXX else self._quartz
        if given is not None:
            return given
        try:
            if device == NEXX:
                from devices.nexx.service import NexxService

                return NexxService.from_settings()
            from devices.quartz.service import QuartzService

            return QuartzService.from_settings()
        except DeviceError as exc:
            self._failures.append(_Failure(device, f"{exc.detail} Nothing was read from it."))
            self._device_progress(device).state = "failed"
            return None

    def _nexx_plan(self) -> NexxReadPlan:
        from devices.layouts import layout_catalog
        from devices.models import Multiviewer

        counts = {number: g.window_count for number, g in layout_catalog().items()}
        expected: dict[int, int] = {}
        rows = Multiviewer.objects.filter(enabled=True).select_related("state")
        if self.scope.nexx_index is not None:
            rows = rows.filter(nexx_index=self.scope.nexx_index)
        for mv in rows:
            layout = getattr(getattr(mv, "state", None), "layout", None)
            expected[mv.nexx_index] = counts.get(layout, WINDOWS_PER_MULTIVIEWER)
        plan = NexxReadPlan(counts, only=self.scope.nexx_index, expected=expected)
        self._nexx_progress.planned = plan.parameters_planned
        self._nexx_progress.multiviewers_planned = plan.multiviewers_planned
        return plan

    # --- readers (no database here) --------------------------------------------------------

    def _guard(self, device: str, target: Callable, *args) -> None:
        try:
            target(*args)
        except (DeviceError, DomainError, PlanError) as exc:
            detail = getattr(exc, "detail", None) or str(exc)
            self._inbox.put(("failed", device, detail))
        except Exception as exc:
            logger.exception("Refresh: reading the %s failed", device)
            self._inbox.put(("failed", device, f"unexpected error ({exc.__class__.__name__}); "
                                               f"see the server log"))
        else:
            self._inbox.put(("done", device))

    def _read_nexx(self, plan: NexxReadPlan) -> None:
        service = self._nexx
        with service.count_requests() as sent:
            while not self._stop.is_set():
                batch = plan.next_batch()
                if not batch:
                    break
                try:
                    values = service.read_values(batch)
                except BaseException:
                    self._inbox.put(("nexx-progress", self._nexx_figures(plan, sent.requests)))
                    raise
                plan.receive(values)
                for item in plan.completed():
                    self._inbox.put(("part", item))
                self._inbox.put(("nexx-progress", self._nexx_figures(plan, sent.requests)))

    @staticmethod
    def _nexx_figures(plan: NexxReadPlan, requests: int) -> dict:
        return {"read": plan.parameters_read, "planned": plan.parameters_planned,
                "requests": requests, "multiviewers_done": plan.multiviewers_done,
                "multiviewers_planned": plan.multiviewers_planned}

    def _read_quartz(self, read_names: bool) -> None:
        service = self._quartz
        pushed: dict[int, int | None] = {}
        lock = threading.Lock()

        def on_message(message) -> None:
            if isinstance(message, RouteUpdate) and "V" in message.levels:
                with lock:
                    pushed[message.output] = message.source or None

        start_commands = service.client.counters["commands"]
        figures = {"names_read": 0, "outputs_read": 0}

        def report(**changes) -> None:
            figures.update(changes)
            figures["commands"] = service.client.counters["commands"] - start_commands
            self._inbox.put(("quartz-progress", dict(figures)))

        service.subscribe(on_message)
        try:
            if read_names:
                names: dict[int, str] = {}
                for chunk in _chunks(range(1, service.config.source_count + 1), QUARTZ_CHUNK):
                    if self._stop.is_set():
                        return
                    try:
                        names.update(service.source_names(chunk))
                    except BaseException:
                        report()
                        raise
                    report(names_read=len(names))
                self._inbox.put(("part", ("sources", names)))
            outputs = self._wait_for_outputs()
            if outputs is None:
                return
            maximum = service.config.output_count
            in_range = [o for o in outputs if o <= maximum]
            report(outputs_total=len(in_range), outputs_out_of_range=len(outputs) - len(in_range))
            done = 0
            reading = service.route_reading()
            for chunk in _chunks(in_range, QUARTZ_CHUNK):
                if self._stop.is_set():
                    return
                try:
                    routes = service.routes(chunk, reading=reading)
                    labels = service.output_names(chunk)
                except BaseException:
                    self._inbox.put(("route-problem", reading.problem()))
                    report()
                    raise
                with lock:
                    newer = {o: s for o, s in pushed.items() if o in routes}
                routes.update(newer)
                reading.settled(o for o, s in newer.items() if s is not None)
                self._inbox.put(("part", ("routes", routes, labels)))
                self._inbox.put(("route-problem", reading.problem()))
                done += len(chunk)
                report(outputs_read=done, routes_stopped=reading.gave_up)
        finally:
            service.unsubscribe(on_message)

    def _wait_for_outputs(self) -> list[int] | None:
        while not self._stop.is_set():
            try:
                return self._outputs.get(timeout=0.2)
            except queue.Empty:
                continue
        return None

    # --- the writer (this thread) ----------------------------------------------------------

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "part":
            self._write(message[1])
        elif kind == "nexx-progress":
            figures = message[1]
            progress = self._nexx_progress
            progress.read, progress.planned = figures["read"], figures["planned"]
            progress.requests = figures["requests"]
            progress.multiviewers_done = figures["multiviewers_done"]
            progress.multiviewers_planned = figures["multiviewers_planned"]
        elif kind == "quartz-progress":
            for name, value in message[1].items():
                setattr(self._quartz_progress, name, value)
            if "outputs_total" in message[1]:
                self._quartz_progress.outputs_known = True
        elif kind == "route-problem":
            self._route_problem = message[1]
        elif kind == "failed":
            device, detail = message[1], message[2]
            self._device_progress(device).state = "failed"
            self._failures.append(_Failure(device, detail))
            if device == NEXX:
                self._release_outputs()
        elif kind == "done":
            self._device_progress(message[1]).state = "done"
            if message[1] == NEXX:
                self._release_outputs()

    def _write(self, part) -> None:
        try:
            if isinstance(part, Discovery):
                result = snapshot.write_discovery(part, full=self.scope.multiviewer is None)
                self._counts["licensed"] = part.licensed
                self._counts["enabled_count"] = part.enabled_count
                self._counts["multiviewers_enabled"] = len(result.enabled)
                self._counts["multiviewers_created"] = len(result.created)
                self._discovered = True
                self._release_outputs()
            elif isinstance(part, MultiviewerValues):
                windows = snapshot.write_multiviewer(part)
                self._bump("multiviewers", 1)
                self._bump("windows", windows)
            elif isinstance(part, MultiviewerProblem):
                self._problems.append(f"MV {part.index + 1} {part.reason}; its state was not "
                                      f"updated.")
                self._parts_failed += 1
                return
            elif part[0] == "sources":
                created = snapshot.write_sources(part[1])
                self._counts["sources"] = len(part[1])
                self._counts["sources_created"] = created
            else:
                _, routes, labels = part
                kept = snapshot.write_routes(routes, labels)
                read = sum(1 for source in routes.values() if source is not None)
                self._bump("routes", read)  # read: the router gave the source
                self._bump("routes_unknown", len(routes) - read)
                self._bump("routes_kept", kept)
        except DatabaseError as exc:
            logger.exception("Refresh: storing a part failed")
            self._problems.append(f"Storing {_part_name(part)} failed ({exc.__class__.__name__});"
                                  f" it keeps its previous state.")
            self._parts_failed += 1
            return
        self.parts_done += 1

    def _bump(self, key: str, by: int) -> None:
        self._counts[key] = self._counts.get(key, 0) + by

    def _release_outputs(self) -> None:
        """Let the Quartz reader go on to the routes, once the multiviewer list is settled (or
        will not be read)."""
        if self._outputs_sent:
            return
        self._outputs_sent = True
        self._outputs.put(snapshot.mapped_outputs(only=self.scope.nexx_index))

    # --- progress ------------------------------------------------------------------------

    def progress(self, phase: str = "reading") -> dict:
        nexx, quartz = self._nexx_progress, self._quartz_progress
        parts_planned = 0
        if self.scope.nexx:
            parts_planned += 1 + nexx.multiviewers_planned  # the multiviewer list, then each
        if self.scope.quartz:
            parts_planned += (1 if self.scope.multiviewer is None else 0) + lower_bound(
                quartz.outputs_total, QUARTZ_CHUNK)
        read, planned = nexx.read + quartz.read, nexx.planned + quartz.planned
        return {
            "phase": phase,
            "parts_done": self.parts_done,
            "parts_failed": self._parts_failed,
            "parts_planned": max(self.parts_done + self._parts_failed, parts_planned),
            "parameters_read": read,
            "parameters_planned": max(read, planned),
            "nexx": {"state": nexx.state, "parameters_read": nexx.read,
                     "parameters_planned": max(nexx.read, nexx.planned),
                     "requests": nexx.requests, "multiviewers_done": nexx.multiviewers_done,
                     "multiviewers_planned": nexx.multiviewers_planned},
            "quartz": {"state": quartz.state, "source_names_read": quartz.names_read,
                       "source_names_planned": quartz.names_total,
                       "outputs_read": quartz.outputs_read,
                       "outputs_planned": quartz.outputs_total, "commands": quartz.commands},
            "eta_seconds": self._eta() if phase == "reading" else 0,
            "elapsed_seconds": round(time.monotonic() - self._started, 1),
            "updated_at": timezone.now().isoformat(),
        }

    def _eta(self) -> float:
        """Seconds left at the devices' configured rates (each throttle sends at 95 % of it)."""
        nexx, quartz = self._nexx_progress, self._quartz_progress
        left_nexx = left_quartz = 0.0
        if nexx.state in ("reading", "waiting"):
            requests = lower_bound(max(0, nexx.planned - nexx.read), MAX_PARAMETERS_PER_REQUEST)
            left_nexx = requests / (self._nexx_rate * HEADROOM)
        if quartz.state in ("reading", "waiting"):
            left_quartz = quartz.commands_left() / (self._quartz_rate * HEADROOM)
        return round(max(left_nexx, left_quartz), 1)

    def _publish(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_saved < self.progress_interval:
            return
        self._last_saved = now
        progress = self.progress()
        runs.save_progress(self.run_row.pk, progress)
        if self.on_progress is not None:
            self.on_progress(progress)

    # --- the end -------------------------------------------------------------------------

    def _finish(self) -> RefreshOutcome:
        nexx, quartz = self._nexx_progress, self._quartz_progress
        counts = dict(self._counts)
        if self.scope.nexx:
            counts.setdefault("multiviewers", 0)
            counts.setdefault("windows", 0)
            counts["nexx_requests"] = nexx.requests
            counts["nexx_parameters"] = nexx.read
            counts["nexx_lower_bound"] = lower_bound(nexx.read)
        if self.scope.quartz:
            counts.setdefault("routes", 0)
            counts.setdefault("routes_unknown", 0)
            counts.setdefault("routes_kept", 0)
            counts["quartz_commands"] = quartz.commands
            if quartz.outputs_out_of_range:
                counts["outputs_out_of_range"] = quartz.outputs_out_of_range
        counts["parts"] = self.parts_done
        counts["seconds"] = round(time.monotonic() - self._started, 2)
        errors = [self._failure_text(f) for f in self._failures] + self._problems
        if self._route_problem:
            errors.append(self._route_problem_text())
        if quartz.outputs_out_of_range:
            errors.append(f"Quartz: {quartz.outputs_out_of_range} outputs of the multiviewers' "
                          f"windows are beyond the router's {self._quartz.config.output_count} "
                          f"outputs (check the multiviewers' output base or the router's "
                          f"output count); their routes were not read.")
        if not errors:
            status = RefreshRun.Status.SUCCESS
        elif self.parts_done:
            status = RefreshRun.Status.PARTIAL
        else:
            status = RefreshRun.Status.FAILED
        summary = "\n".join(errors)
        progress = self.progress(phase="done")
        if self.on_progress is not None:
            self.on_progress(progress)
        run = runs.finish(self.run_row, status=status, counts=counts, error_summary=summary,
                          progress=progress)
        return RefreshOutcome(run, status, counts, summary)

    def _failure_text(self, failure: _Failure) -> str:
        if failure.device == NEXX:
            nexx = self._nexx_progress
            if not nexx.requests:
                return f"NEXX: {failure.detail}"
            listed = ("the multiviewer list was stored" if self._discovered
                      else "the multiviewer list was not read")
            return (f"NEXX: {failure.detail}. It failed after {nexx.requests} requests and "
                    f"{nexx.read} of about {max(nexx.planned, nexx.read)} parameters; {listed}; "
                    f"{nexx.multiviewers_done} of {nexx.multiviewers_planned} multiviewers were "
                    f"stored, the others keep their previous state.")
        quartz = self._quartz_progress
        if not quartz.commands:
            return f"Quartz: {failure.detail}"
        parts = []
        if self.scope.multiviewer is None:
            if "sources" in self._counts:
                parts.append(f"the {self._counts['sources']} source names were stored")
            else:
                parts.append(f"{quartz.names_read} of {quartz.names_total} source names were "
                             f"read but not stored (the sources keep their previous names)")
        if not quartz.outputs_known:
            parts.append("no routes were read (they keep their previous state)")
        else:
            stored = self._counts.get("routes", 0) + self._counts.get("routes_unknown", 0)
            parts.append(f"routes of {stored} of {quartz.outputs_total} "
                         f"outputs were stored, the others keep their previous routes")
        return (f"Quartz: {failure.detail}. It failed after {quartz.commands} commands; "
                + "; ".join(parts) + ".")

    def _route_problem_text(self) -> str:
        read = self._counts.get("routes", 0)
        unknown = self._counts.get("routes_unknown", 0)
        kept = self._counts.get("routes_kept", 0)
        if kept:
            left = (f"{kept} of the {unknown} without a route {'keeps' if kept == 1 else 'keep'}"
                    f" the one known before (its update time tells its age), the others show "
                    f"\"route unknown\"")
        else:
            left = f"the {unknown} without a route show \"route unknown\""
        return (f"Quartz: {self._route_problem}. {read} of {read + unknown} routes were read; "
                f"{left}.")


def execute_run(run_id: int, *, on_progress: ProgressCallback | None = None,
                nexx_service=None, quartz_service=None) -> RefreshOutcome | None:
    """Claim the queued run and execute it here; None when it was not this process's to run."""
    with runs.claimed(run_id) as run:
        if run is None:
            return None
        engine = RefreshEngine(run, on_progress=on_progress, nexx_service=nexx_service,
                               quartz_service=quartz_service)
        try:
            return engine.execute()
        except BaseException as exc:
            # Interrupted (Ctrl-C, worker timeout) or a bug: the run must not stay "running".
            if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                logger.exception("Refresh run %s failed", run_id)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                reason = "The refresh was interrupted"
            else:
                reason = (f"The refresh stopped on an unexpected error "
                          f"({exc.__class__.__name__}); see the server log")
            try:
                runs.finish(run, status=(RefreshRun.Status.PARTIAL if engine.parts_done
                                         else RefreshRun.Status.FAILED),
                            counts={"parts": engine.parts_done},
                            error_summary=reason + "; the parts stored so far are kept.",
                            progress=engine.progress(phase="done"))
            except DatabaseError:
                logger.exception("Refresh run %s could not be closed", run_id)
            raise


def _chunks(items: Iterable[int], size: int) -> Iterable[list[int]]:
    chunk: list[int] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _part_name(part) -> str:
    if isinstance(part, Discovery):
        return "the multiviewer list"
    if isinstance(part, MultiviewerValues):
        return f"MV {part.index + 1}"
    if part[0] == "sources":
        return "the source names"
    outputs = sorted(part[1])
    return f"the routes of outputs {outputs[0]}–{outputs[-1]}"
