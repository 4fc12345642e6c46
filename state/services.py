"""StateService: the cached device state the UI reads, and the refresh runs that fill it.

    StateService.request_refresh(user=request.user)      # manual: throttled, runs in django-q2
    StateService.start_refresh(trigger="command")        # (run, joined)
    StateService.refresh_status()                        # what GET /api/refresh/status shows
    StateService.multiviewer_snapshot(mv)                # one multiviewer, its windows, routes
    StateService.routes([1, 2, 3])                       # {1: 5, 2: None, 3: 7}
    StateService.record_route(3, 7)                      # after the router accepted a switch

Reads never touch a device. Writes from the control API come after the device accepted the
change, each in one short transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.models import Multiviewer
from devices.nexx.catalog import LAYERS_PER_WINDOW, WINDOWS_PER_MULTIVIEWER
from mvcontrol.errors import DomainError, NotFound
from mvcontrol.events import publish
from mvcontrol.ratelimits import enforce
from state import runs
from state.models import MultiviewerState, RefreshRun, RoutingState, WindowState
from state.planning import MULTIVIEWER_KEYS, UMD_KEYS
from state.runs import Scope

logger = logging.getLogger(__name__)

REFRESH_TASK = "state.tasks.run_refresh"


class QueueUnavailable(DomainError):
    code = "queue_unavailable"
    http_status = 503


@dataclass(frozen=True)
class RefreshTicket:
    """A refresh asked for: the run (new, or the one in progress that was joined)."""

    run: RefreshRun
    joined: bool


@dataclass
class MultiviewerSnapshot:
    multiviewer: Multiviewer
    state: MultiviewerState | None
    windows: list[WindowState]
    routes: dict[int, RoutingState] = field(default_factory=dict)  # by router output

    @property
    def window_count(self) -> int | None:
        """Windows of the current layout (None while the layout is not known)."""
        if self.state is None or self.state.layout is None:
            return None
        from devices.layouts import window_count

        return window_count(self.state.layout)

    def as_dict(self) -> dict:
        mv, state = self.multiviewer, self.state
        by_index = {w.window_index: w for w in self.windows}
        count = self.window_count
        windows = []
        for index in range(count if count is not None else len(by_index)):
            row = by_index.get(index)
            output = mv.output_for_window(index + 1)
            route = self.routes.get(output)
            windows.append({
                "window": index + 1,
                "pcm_bars": row.pcm_bars if row else None,
                "umd": row.umd if row else [],
                "updated_at": row.updated_at if row else None,
                "output": output,
                "input": route.input if route else None,
                "output_label": route.output_label if route else "",
            })
        return {
            "multiviewer": mv.number,
            "label": str(mv),
            "enabled": mv.enabled,
            "params": {key: getattr(state, key) if state else None for key in MULTIVIEWER_KEYS},
            "updated_at": state.updated_at if state else None,
            "window_count": count,
            "windows": windows,
        }


class StateService:
    # --- refresh -------------------------------------------------------------------------

    @staticmethod
    def request_refresh(*, user, scope: Scope | None = None) -> RefreshTicket:
        """A manual refresh from the API: at most REFRESH_RATE per user (RateLimited), then the
        run in progress is joined or a new one is handed to a django-q2 worker. A scope naming
        one multiviewer needs access to it (NotFound / Forbidden, checked before the limit
        counts)."""
        if scope is not None and scope.multiviewer is not None:
            from accounts.services import AccessService

            mv = Multiviewer.objects.filter(nexx_index=scope.nexx_index).first()
            if mv is None:
                raise NotFound(f"There is no multiviewer {scope.multiviewer} yet; a full "
                               "refresh discovers the multiviewers the frame has.")
            AccessService.require_multiviewer(user, mv)
        enforce(group="state.refresh", key=f"user:{user.pk}", rate=settings.REFRESH_RATE,
                what="refreshes")
        run, joined = runs.start_refresh(trigger=RefreshRun.Trigger.MANUAL, user=user,
                                         scope=scope)
        if not joined:
            from django_q.tasks import async_task

            try:
                async_task(REFRESH_TASK, run.pk, task_name=f"refresh-{run.pk}", group="refresh")
            except Exception as exc:
                logger.exception("Could not queue refresh run %s", run.pk)
                runs.fail_queued(run, "The refresh could not be handed to the background "
                                      f"workers ({exc.__class__.__name__}).")
                raise QueueUnavailable("The refresh could not be queued; try again in a "
                                       "moment.") from exc
        return RefreshTicket(run, joined)

    @staticmethod
    def start_refresh(*, trigger: str, user=None, scope: Scope | None = None
                      ) -> RefreshTicket:
        """Join the run in progress or create one to execute in this process
        (`state.refresh.execute_run(ticket.run.pk)`)."""
        run, joined = runs.start_refresh(trigger=trigger, user=user, scope=scope)
        return RefreshTicket(run, joined)

    @staticmethod
    def refresh_status() -> dict:
        """The latest run (with its progress while it runs) and the latest finished one."""
        latest = RefreshRun.objects.select_related("user").order_by("-started_at").first()
        finished = (RefreshRun.objects.select_related("user").exclude(
            status=RefreshRun.Status.RUNNING).order_by("-started_at").first())
        return {
            "running": bool(latest and latest.status == RefreshRun.Status.RUNNING),
            "last": describe_run(latest) if latest else None,
            "last_finished": describe_run(finished) if finished else None,
        }

    # --- reads ---------------------------------------------------------------------------

    @staticmethod
    def multiviewer_snapshot(mv: Multiviewer) -> MultiviewerSnapshot:
        state = MultiviewerState.objects.filter(multiviewer=mv).first()
        windows = list(WindowState.objects.filter(multiviewer=mv).order_by("window_index"))
        outputs = [mv.output_for_window(w) for w in range(1, WINDOWS_PER_MULTIVIEWER + 1)]
        routes = {r.output: r for r in RoutingState.objects.filter(output__in=outputs)}
        return MultiviewerSnapshot(mv, state, windows, routes)

    @staticmethod
    def routes(outputs: Iterable[int]) -> dict[int, int | None]:
        """Input routed to each output as last known; None where unknown."""
        wanted = list(outputs)
        known = dict(RoutingState.objects.filter(output__in=wanted)
                     .values_list("output", "input"))
        return {o: known.get(o) for o in wanted}

    # --- writes after a device accepted a change -----------------------------------------

    @staticmethod
    def record_accepted(mv: Multiviewer, *, params: Mapping[str, object],
                        windows: Mapping[int, Mapping]) -> None:
        """What the frame accepted in one request, recorded together: the multiviewer's
        parameters, and by window index {"pcm_bars": n or None, "umd_layers": {layer: values}}."""
        records = len(windows) + (1 if params else 0)
        with transaction.atomic() if records > 1 else nullcontext():
            if params:
                StateService.record_multiviewer_params(mv, **params)
            for index, window in windows.items():
                StateService.record_window(mv, index, pcm_bars=window.get("pcm_bars"),
                                           umd_layers=window.get("umd_layers") or None)

    @staticmethod
    def record_multiviewer_params(mv: Multiviewer, **values) -> MultiviewerState:
        """Parameters the frame accepted (operator values: layout 1..43, font, outer_border,
        inner_border, output_format); the others keep their snapshot value."""
        unknown = set(values) - set(MULTIVIEWER_KEYS)
        if unknown:
            raise ValueError(f"not multiviewer parameters: {', '.join(sorted(unknown))}")
        state, _ = MultiviewerState.objects.update_or_create(
            multiviewer=mv, defaults={**values, "updated_at": timezone.now()})
        publish("multiviewer", multiviewer=mv.pk)
        return state

    @staticmethod
    def record_window(mv: Multiviewer, window_index: int, *, pcm_bars: int | None = None,
                      umd_layers: Mapping[int, Mapping[str, object]] | None = None) -> None:
        """A window's PCM bars and/or UMD values the frame accepted. `window_index` is 0-based;
        `umd_layers` maps layer 0..2 to the UMD values changed ({"text": "CAM 1"}), merged into
        what the snapshot holds; None values leave the snapshot's as they are."""
        if not 0 <= window_index < WINDOWS_PER_MULTIVIEWER:
            raise ValueError(f"window index {window_index} is out of range 0..15")
        if not umd_layers:
            _record_pcm_bars(mv, window_index, pcm_bars)
            publish("multiviewer", multiviewer=mv.pk)
            return
        for layer, values in umd_layers.items():
            if not 0 <= layer < LAYERS_PER_WINDOW:
                raise ValueError(f"UMD layer {layer} is out of range 0..2")
            unknown = set(values) - set(UMD_KEYS)
            if unknown:
                raise ValueError(f"not UMD parameters: {', '.join(sorted(unknown))}")
        # Locked while merging: a refresh or another write of the same window waits its turn.
        with transaction.atomic(savepoint=False):
            window, _ = WindowState.objects.select_for_update().get_or_create(
                multiviewer=mv, window_index=window_index,
                defaults={"umd": [{} for _ in range(LAYERS_PER_WINDOW)],
                          "updated_at": timezone.now()})
            if pcm_bars is not None:
                window.pcm_bars = pcm_bars
            layers = [dict(layer) for layer in (window.umd or [])]
            layers += [{} for _ in range(LAYERS_PER_WINDOW - len(layers))]
            for layer, values in umd_layers.items():
                layers[layer].update(values)
            window.umd = layers
            window.updated_at = timezone.now()
            window.save()
        publish("multiviewer", multiviewer=mv.pk)

    @staticmethod
    def record_route(output: int, input: int | None) -> None:
        """The router now sends `input` to `output` (None: unknown); the output's name stays."""
        RoutingState.objects.bulk_create(
            [RoutingState(output=output, input=input, updated_at=timezone.now())],
            update_conflicts=True, unique_fields=["output"], update_fields=["input", "updated_at"])
        publish("routing", routes=[{"output": output, "input": input}])


def _record_pcm_bars(mv: Multiviewer, window_index: int, pcm_bars: int | None) -> None:
    """record_window of PCM bars alone: no merge to make, so one UPDATE (the UMD layers stay as
    stored; None keeps the stored bars), or the window's first row."""
    now = timezone.now()
    values = {"updated_at": now} if pcm_bars is None else {"pcm_bars": pcm_bars, "updated_at": now}
    if WindowState.objects.filter(multiviewer=mv, window_index=window_index).update(**values):
        return
    WindowState.objects.get_or_create(
        multiviewer=mv, window_index=window_index,
        defaults={"pcm_bars": pcm_bars, "umd": [{} for _ in range(LAYERS_PER_WINDOW)],
                  "updated_at": now})


def describe_run(run: RefreshRun) -> dict:
    """A run as the API and the admin show it."""
    running = run.status == RefreshRun.Status.RUNNING
    progress = run.progress or {}
    return {
        "id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "user": run.user.login if run.user else None,
        "scope": Scope.from_json(run.scope).as_json(),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "counts": run.counts or {},
        "errors": [line for line in (run.error_summary or "").splitlines() if line],
        "progress": _progress_view(progress) if running else None,
    }


def _progress_view(progress: dict) -> dict:
    phase = progress.get("phase", runs.QUEUED)
    return {
        "phase": phase,
        "parts_done": progress.get("parts_done", 0),
        "parts_planned": progress.get("parts_planned"),
        "parameters_read": progress.get("parameters_read", 0),
        "parameters_planned": progress.get("parameters_planned"),
        "eta_seconds": progress.get("eta_seconds"),
        "nexx": progress.get("nexx"),
        "quartz": progress.get("quartz"),
        "updated_at": progress.get("updated_at"),
    }
