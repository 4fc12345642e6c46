"""ControlService: an operator's change becomes device commands, then state.

    result = ControlService.apply(user=user, multiviewer=mv, change=MultiviewerChange(
        layout=2, windows=[WindowChange(3, source=cam1, pcm_bars=8,
                                        umd=[UmdLayerChange(1, {"text": "CAM 1"})])]))
    result.applied   # ["layout", "window 3 pcm_bars", "window 3 umd layer 1", "window 3 source"]

The seed's command flow, in this order:
  1. validate everything before anything is sent: the multiviewer and every source granted
     (AccessService), every value against the NEXX catalog, every window in the layout the change
     leaves in place, router numbers within the configured router;
  2. the size limit (MAX_PARAMS_PER_REQUEST, 413);
  3. the per-user write rate (WRITE_RATE, 429 with Retry-After);
  4. the edit lease on the multiviewer (409 while another user holds it);
  5. the devices, through their throttled services: the layout in its own NEXX request first
     (a layout change re-arranges the windows), then the multiviewer parameters and the windows'
     PCM bars and UMD layers packed into requests of at most 40 parameters (an item — a UMD layer,
     PCM bars, one parameter — never straddles two requests), then the Quartz switches;
  6. what each request the devices accepted changed goes into the state snapshot at once, in
     its own short transaction (none is ever open while a device is asked), so nothing accepted
     is left unrecorded when apply returns or raises.

A device failure stops the change there (a locked router output stops only its own switch): what
the devices accepted before stays applied and recorded, nothing else is sent. When nothing at all
was applied the DeviceError is raised (the state is unchanged); otherwise the ApplyResult lists
what was applied and what failed, and its `partial` is True.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from accounts.services import AccessService
from control import leases, undo
from control.changes import (
    UMD_KEYS,
    MultiviewerChange,
    WindowChange,
    pcm_item,
    source_item,
    umd_item,
)
from control.models import UndoStep
from control.words import place
from devices.catalog import enum_labels
from devices.errors import DeviceError, OutputLocked
from devices.layouts import window_count
from devices.models import Multiviewer, NexxSettings, QuartzSettings, Source
from devices.nexx.catalog import (
    LAYERS_PER_WINDOW,
    MAX_PARAMETERS_PER_REQUEST,
    WINDOWS_PER_MULTIVIEWER,
    InvalidParameterValue,
    param_id,
    parameter,
)
from devices.nexx.service import NexxService
from devices.quartz.service import QuartzService
from mvcontrol.errors import Conflict, Forbidden, InvalidInput, TooLarge
from mvcontrol.ratelimits import enforce
from state.models import MultiviewerState, RoutingState, WindowState
from state.services import StateService

WRITE_RATE_GROUP = "device-write"
NOT_ATTEMPTED = "not_attempted"


@dataclass
class ApplyResult:
    """What one apply did. `failed` holds {"item", "error", "detail"} per item not applied
    because of a device failure ("not_attempted" for items after the failure, never sent)."""

    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    requests: int = 0
    #: The first device failure (the API answers with its status); None when all went through.
    error: DeviceError | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def partial(self) -> bool:
        return bool(self.failed) and bool(self.applied)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "partial": self.partial, "applied": list(self.applied),
                "skipped": list(self.skipped), "failed": [dict(f) for f in self.failed],
                "requests": self.requests}

    def summary(self) -> str:
        """One sentence for a person: what went through and what did not."""
        failed = [f["item"] for f in self.failed if f["error"] != NOT_ATTEMPTED]
        not_sent = [f["item"] for f in self.failed if f["error"] == NOT_ATTEMPTED]
        parts = []
        if self.applied:
            parts.append("applied: " + ", ".join(self.applied))
        if failed:
            parts.append("failed: " + ", ".join(failed))
        if not_sent:
            parts.append("not sent: " + ", ".join(not_sent))
        return "; ".join(parts) + "." if parts else "Nothing to change."


# --- the plan of one change -------------------------------------------------------------------


@dataclass
class _NexxItem:
    """Parameters that go to the frame together and are recorded together."""

    name: str
    values: dict[str, object]  # parameter id → operator value
    mv_params: dict[str, object] = field(default_factory=dict)
    window_index: int | None = None  # 0-based
    pcm_bars: int | None = None
    layer_index: int | None = None  # 0-based
    umd_values: dict[str, object] = field(default_factory=dict)
    #: The cached value of each operator key before the change (None: not known), for undo.
    previous: dict[str, object] = field(default_factory=dict)

    def new_values(self) -> dict[str, object]:
        """The operator values this item sets, by key."""
        if self.layer_index is not None:
            return dict(self.umd_values)
        if self.window_index is not None:
            return {"pcm_bars": self.pcm_bars}
        return dict(self.mv_params)


@dataclass
class _Switch:
    name: str
    output: int
    source: Source
    field: str  # where the API's error fields name it
    window: int  # 1-based
    previous_input: int | None = None  # routed before the change, as cached (None: not known)


@dataclass
class _Plan:
    layout: _NexxItem | None = None
    nexx: list[_NexxItem] = field(default_factory=list)
    switches: list[_Switch] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Both devices' settings, read once while planning and sent with.
    quartz_settings: QuartzSettings | None = None
    nexx_settings: NexxSettings | None = None

    @property
    def empty(self) -> bool:
        return self.layout is None and not self.nexx and not self.switches

    def item_names(self) -> list[str]:
        names = [self.layout.name] if self.layout else []
        return names + [i.name for i in self.nexx] + [s.name for s in self.switches]


def _not_granted(error: Forbidden, fields: dict | None = None) -> Forbidden:
    return Forbidden(error.detail, code="not_granted", fields=fields)


def require_multiviewer(user, multiviewer: Multiviewer) -> None:
    """403 not_granted unless `user` may use `multiviewer` (admins may use everything)."""
    try:
        AccessService.require_multiviewer(user, multiviewer)
    except Forbidden as exc:
        raise _not_granted(exc) from None


def _router_limits(quartz: QuartzSettings) -> tuple[int, int] | None:
    """(sources, outputs) of the configured router; None when it is not configured (the switch
    then fails with integration_not_configured)."""
    if not quartz.configured:
        return None
    return quartz.source_count, quartz.output_count


class _Errors(dict):
    """The refused fields of a change: field key → sentences for an operator, and for the
    answer's `detail` what is wrong where, in short ("Window 5, UMD layer 1 text: text is 70
    characters long.")."""

    def __init__(self) -> None:
        super().__init__()
        self.summaries: list[str] = []
        self._labels: dict[int, dict[int, str]] | None = None

    def add(self, name: str, message: str, summary: str | None = None) -> None:
        self.setdefault(name, []).append(message)
        self.summaries.append(summary or message)

    def labels(self) -> dict[int, dict[int, str]]:
        # The labels in force (an admin's corrections), read only when a value is refused.
        if self._labels is None:
            self._labels = enum_labels()
        return self._labels

    def invalid_input(self) -> InvalidInput:
        shown = self.summaries[:_SUMMARIES_SHOWN]
        more = len(self.summaries) - len(shown)
        detail = "Nothing was sent. " + " ".join(shown)
        if more:
            detail += f" And {more} more problem{'s' if more > 1 else ''}."
        return InvalidInput(detail, fields=dict(self))


_SUMMARIES_SHOWN = 3


def _check(errors: _Errors, name: str, key: str, value: object) -> object:
    try:
        return parameter(key).validate(value, name=name)
    except InvalidParameterValue as exc:
        sentence = exc.sentence(errors.labels().get(exc.parameter.varid)
                                if exc.parameter is not None else None)
        problem = exc.problem or exc.detail
        errors.add(name, sentence, f"{place(name)}: {problem[:1].lower()}{problem[1:]}.")
        return None


def _plan(*, user, mv: Multiviewer, change: MultiviewerChange, only_differences: bool) -> _Plan:
    """Validate the whole change (InvalidInput listing every problem, Forbidden for grants) and
    turn it into device items; with `only_differences`, values equal to the cached state are
    left out (listed in `skipped`)."""
    errors = _Errors()
    plan = _Plan(quartz_settings=QuartzSettings.load(), nexx_settings=NexxSettings.load())
    state = MultiviewerState.objects.filter(multiviewer=mv).first()
    idx = mv.nexx_index

    if change.layout is not None:
        layout = _check(errors, "layout", "layout", change.layout)
        if layout is not None:
            if only_differences and state is not None and state.layout == layout:
                plan.skipped.append("layout")
            else:
                plan.layout = _NexxItem("layout", {param_id("layout", idx): layout},
                                        mv_params={"layout": layout},
                                        previous={"layout": _cached(state, "layout")})
    for key, value in change.params().items():
        checked = _check(errors, key, key, value)
        if checked is None:
            continue
        if only_differences and state is not None and getattr(state, key) == checked:
            plan.skipped.append(key)
        else:
            plan.nexx.append(_NexxItem(key, {param_id(key, idx): checked},
                                       mv_params={key: checked},
                                       previous={key: _cached(state, key)}))

    if change.windows:
        _plan_windows(user=user, mv=mv, change=change, state=state, plan=plan, errors=errors,
                      only_differences=only_differences)
    if errors:
        raise errors.invalid_input()
    _require_sources(user, plan)
    return plan


def _cached(state: MultiviewerState | None, key: str) -> object:
    return getattr(state, key) if state is not None else None


def _target_layout(change: MultiviewerChange, state: MultiviewerState | None,
                   errors: dict) -> int | None:
    if change.layout is not None:
        return None if "layout" in errors else change.layout
    return state.layout if state is not None else None


def _plan_windows(*, user, mv: Multiviewer, change: MultiviewerChange,
                  state: MultiviewerState | None, plan: _Plan, errors: _Errors,
                  only_differences: bool) -> None:
    layout = _target_layout(change, state, errors)
    if layout is None and "layout" not in errors:
        raise Conflict(f"The layout of {mv} is not known yet, so its windows cannot be checked; "
                       "refresh the state first.", code="layout_unknown")
    windows_in_layout = WINDOWS_PER_MULTIVIEWER if layout is None else window_count(layout)
    # The cached windows tell which values are unchanged, and what undo would restore.
    cached = {w.window_index: w for w in WindowState.objects.filter(multiviewer=mv)}
    limits = _router_limits(plan.quartz_settings)
    seen: set[int] = set()
    switches: list[_Switch] = []
    for wc in change.windows:
        prefix = f"windows.{wc.window}"
        if (isinstance(wc.window, bool) or not isinstance(wc.window, int)
                or not 1 <= wc.window <= windows_in_layout):
            errors.add(f"{prefix}.window",
                       f"Window {wc.window} is not in layout {layout}, which has windows 1 to "
                       f"{windows_in_layout}." if layout is not None else
                       f"Window {wc.window} does not exist: windows are 1 to "
                       f"{windows_in_layout}.")
            continue
        if wc.window in seen:
            errors.add(f"{prefix}.window", f"Window {wc.window} is given more than once.")
            continue
        seen.add(wc.window)
        index = wc.window - 1
        row = cached.get(index)
        _plan_window_nexx(mv, wc, index, row, plan, errors, only_differences, prefix)
        if wc.source is not None:
            switch = _plan_switch(mv, wc, limits, errors, prefix)
            if switch is not None:
                switches.append(switch)
    routed = StateService.routes([s.output for s in switches])
    for switch in switches:
        switch.previous_input = routed[switch.output]
        if only_differences and switch.previous_input == switch.source.quartz_input:
            plan.skipped.append(switch.name)
        else:
            plan.switches.append(switch)


def _plan_window_nexx(mv: Multiviewer, wc: WindowChange, index: int, row: WindowState | None,
                      plan: _Plan, errors: _Errors, only_differences: bool,
                      prefix: str) -> None:
    idx = mv.nexx_index
    if wc.pcm_bars is not None:
        bars = _check(errors, f"{prefix}.pcm_bars", "pcm_bars", wc.pcm_bars)
        if bars is not None:
            if only_differences and row is not None and row.pcm_bars == bars:
                plan.skipped.append(pcm_item(wc.window))
            else:
                plan.nexx.append(_NexxItem(pcm_item(wc.window),
                                           {param_id("pcm_bars", idx, index): bars},
                                           window_index=index, pcm_bars=bars,
                                           previous={"pcm_bars": row.pcm_bars if row else None}))
    layers_seen: set[int] = set()
    for layer_change in wc.umd:
        layer = layer_change.layer
        where = f"{prefix}.umd.{layer}"
        if (isinstance(layer, bool) or not isinstance(layer, int)
                or not 1 <= layer <= LAYERS_PER_WINDOW):
            errors.add(f"{where}.layer",
                       f"UMD layer {layer} does not exist: layers are 1 to {LAYERS_PER_WINDOW}.")
            continue
        if layer in layers_seen:
            errors.add(f"{where}.layer", f"UMD layer {layer} is given more than once.")
            continue
        layers_seen.add(layer)
        unknown = sorted(set(layer_change.values) - set(UMD_KEYS))
        for key in unknown:
            errors.add(f"{where}.{key}",
                       f"{key} is not a UMD parameter; they are {', '.join(UMD_KEYS)}.")
        cached_layer = (row.umd[layer - 1] if row is not None and isinstance(row.umd, list)
                        and len(row.umd) >= layer and isinstance(row.umd[layer - 1], dict)
                        else {})
        values: dict[str, object] = {}
        for key in UMD_KEYS:
            if key not in layer_change.values:
                continue
            checked = _check(errors, f"{where}.{key}", key, layer_change.values[key])
            if checked is None:
                continue
            if only_differences and cached_layer.get(key) == checked:
                plan.skipped.append(f"{umd_item(wc.window, layer)} {key}")
            else:
                values[key] = checked
        if values and not unknown:
            plan.nexx.append(_NexxItem(
                umd_item(wc.window, layer),
                {param_id(key, idx, index, layer - 1): value for key, value in values.items()},
                window_index=index, layer_index=layer - 1, umd_values=values,
                previous={key: cached_layer.get(key) for key in values}))


def _plan_switch(mv: Multiviewer, wc: WindowChange, limits: tuple[int, int] | None,
                 errors: _Errors, prefix: str) -> _Switch | None:
    output = mv.output_for_window(wc.window)
    source = wc.source
    if limits is not None:
        sources, outputs = limits
        if not 1 <= source.quartz_input <= sources:
            errors.add(f"{prefix}.source",
                       f"Source {source} is router input {source.quartz_input}, but the router "
                       f"has inputs 1 to {sources}.")
            return None
        if not 1 <= output <= outputs:
            errors.add(f"{prefix}.source",
                       f"Window {wc.window} of {mv} shows router output {output}, but the "
                       f"router has outputs 1 to {outputs}; correct the multiviewer's output "
                       "base.")
            return None
    return _Switch(source_item(wc.window), output, source, f"{prefix}.source", wc.window)


def _require_sources(user, plan: _Plan) -> None:
    refused: dict[str, list[str]] = {}
    first: Forbidden | None = None
    for switch in plan.switches:
        try:
            AccessService.require_source(user, switch.source)
        except Forbidden as exc:
            first = first or exc
            refused.setdefault(switch.field, []).append(exc.detail)
    if first is not None:
        detail = first.detail if len(refused) == 1 else (
            "You have no access to some of the sources: "
            + " ".join(m for messages in refused.values() for m in messages))
        raise Forbidden(detail, code="not_granted", fields=refused)


def _batches(items: list[_NexxItem], size: int = MAX_PARAMETERS_PER_REQUEST
             ) -> list[list[_NexxItem]]:
    """Items in order, packed into requests of at most `size` parameters, none split."""
    batches: list[list[_NexxItem]] = []
    current: list[_NexxItem] = []
    count = 0
    for item in items:
        n = len(item.values)
        if current and count + n > size:
            batches.append(current)
            current, count = [], 0
        current.append(item)
        count += n
    if current:
        batches.append(current)
    return batches


def _accepted(items: Iterable[_NexxItem]) -> tuple[dict[str, object], dict[int, dict]]:
    """What the frame accepted in one request: the multiviewer parameters, and by window index
    its PCM bars (None: unchanged) and UMD values by layer."""
    mv_params: dict[str, object] = {}
    windows: dict[int, dict] = {}
    for item in items:
        mv_params.update(item.mv_params)
        if item.window_index is None:
            continue
        window = windows.setdefault(item.window_index, {"pcm_bars": None, "umd_layers": {}})
        if item.pcm_bars is not None:
            window["pcm_bars"] = item.pcm_bars
        if item.layer_index is not None:
            window["umd_layers"].setdefault(item.layer_index, {}).update(item.umd_values)
    return mv_params, windows


def _device_failure(error: DeviceError) -> dict:
    return {"error": error.code, "detail": error.detail}


class ControlService:
    """Every write to a multiviewer or a router output goes through here (see module doc)."""

    @staticmethod
    def apply(*, user, multiviewer: Multiviewer, change: MultiviewerChange,
              enforce_rate: bool = True, enforce_size: bool = True,
              only_differences: bool = False) -> ApplyResult:
        """Validate, limit, lease, send and record one change of `multiviewer` for `user`.

        Raises InvalidInput (400), Forbidden (403 not_granted), Conflict (409 edit_lease_held,
        layout_unknown, multiviewer_off), TooLarge (413), RateLimited (429) before anything is
        sent, and the DeviceError when a device failed before anything was applied.

        What was applied becomes the multiviewer's undo step (control/undo.py)."""
        return _apply(user=user, mv=multiviewer, change=change, enforce_rate=enforce_rate,
                      enforce_size=enforce_size, only_differences=only_differences)

    @staticmethod
    def undo(*, user, multiviewer: Multiviewer) -> ApplyResult:
        """Apply the multiviewer's undo step as `apply` applies a change (the same checks, rate,
        lease, devices and recording) and consume it as it goes: the step is gone, or holds only
        what a partial undo did not apply. Values already as the step would set them are not
        sent.

        Conflict (409 nothing_to_undo) when there is no step; InvalidInput when a window's
        previous input is not a registered source; otherwise what apply raises."""
        require_multiviewer(user, multiviewer)
        step = undo.required_step(multiviewer)
        inverse = undo.Inverse.from_json(step.change)
        # Not held to MAX_PARAMS_PER_REQUEST: a step is one multiviewer's worth at most (a
        # preset's background job may have changed all of it at once), and it is all or nothing
        # for the operator.
        result = _apply(user=user, mv=multiviewer, change=inverse.to_change(multiviewer),
                        enforce_rate=True, enforce_size=False, only_differences=True,
                        undoing=(step, inverse))
        # Also when nothing had to be sent (all of it was already so).
        undo.consume(step, left=inverse.only(f["item"] for f in result.failed))
        return result

    @staticmethod
    def switch(*, user, output: int, source: Source) -> RoutingState:
        """Route `source` to router `output`: the output must feed a window of a multiviewer
        granted to `user` (any output for admins) and the source must be granted. The output
        need not be shown by the multiviewer's current layout. Takes the edit lease of the
        multiviewer whose window the output feeds."""
        quartz_settings = QuartzSettings.load()
        limits = _router_limits(quartz_settings)
        errors: dict[str, list[str]] = {}
        if limits is not None:
            sources, outputs = limits
            if not 1 <= output <= outputs:
                errors["output"] = [f"Router output {output} does not exist: the router has "
                                    f"outputs 1 to {outputs}."]
            if not 1 <= source.quartz_input <= sources:
                errors["source"] = [f"Source {source} is router input {source.quartz_input}, "
                                    f"but the router has inputs 1 to {sources}."]
        if errors:
            raise InvalidInput("The switch has invalid values: " + ", ".join(sorted(errors))
                               + ".", fields=errors)
        try:
            AccessService.require_output(user, output)
        except Forbidden as exc:
            raise _not_granted(exc, {"output": [exc.detail]}) from None
        try:
            AccessService.require_source(user, source)
        except Forbidden as exc:
            raise _not_granted(exc, {"source": [exc.detail]}) from None
        enforce(group=WRITE_RATE_GROUP, key=str(user.pk), rate=settings.WRITE_RATE,
                what="changes")
        owner = owner_of_output(output)
        if owner is not None:
            leases.acquire(multiviewer=owner, user=user)
        QuartzService.from_settings(quartz_settings).switch(output, source.quartz_input)
        StateService.record_route(output, source.quartz_input)
        return RoutingState.objects.get(output=output)

    @staticmethod
    def switch_window(*, user, multiviewer: Multiviewer, window: int,
                      source: Source) -> RoutingState:
        """Route `source` to the router output of `window` (1-based) of `multiviewer`."""
        result = ControlService.apply(user=user, multiviewer=multiviewer,
                                      change=MultiviewerChange(
                                          windows=[WindowChange(window, source=source)]))
        return _switch_outcome(result, multiviewer.output_for_window(window))

    @staticmethod
    def break_lease(*, admin, multiviewer: Multiviewer) -> bool:
        """Remove the edit lease on `multiviewer`; True when one was live. Admins only."""
        if not AccessService.is_admin(admin):
            raise Forbidden("Only an admin may break an edit lease.")
        return leases.break_lease(multiviewer=multiviewer)


def _apply(*, user, mv: Multiviewer, change: MultiviewerChange, enforce_rate: bool,
           enforce_size: bool, only_differences: bool,
           undoing: tuple[UndoStep, undo.Inverse] | None = None) -> ApplyResult:
    """ControlService.apply; `undoing` (the step and its inverse, which `change` is) consumes
    that step as the change is accepted instead of recording a new one."""
    require_multiviewer(user, mv)
    plan = _plan(user=user, mv=mv, change=change, only_differences=only_differences)
    count = change.parameter_count()
    limit = settings.MAX_PARAMS_PER_REQUEST
    if enforce_size and count > limit:
        raise TooLarge(f"This change sets {count} parameters; one request may set at most "
                       f"{limit}. Split it into smaller changes.",
                       extra={"count": count, "limit": limit})
    result = ApplyResult(skipped=list(plan.skipped))
    if plan.empty:
        return result
    if enforce_rate:
        enforce(group=WRITE_RATE_GROUP, key=str(user.pk), rate=settings.WRITE_RATE,
                what="changes")
    leases.acquire(multiviewer=mv, user=user)

    def keep_undo(*, announce: bool) -> None:
        if undoing is None:
            _record_undo(mv, user, plan, result.applied, announce=announce)
        else:
            step, inverse = undoing
            pending = set(plan.item_names()) - set(result.applied)
            undo.consume(step, left=inverse.only(pending), announce=announce)

    _send(mv, plan, result, keep_undo)
    if result.error is not None and not result.applied:
        raise result.error
    return result


def _record_undo(mv: Multiviewer, user, plan: _Plan, applied: list[str], *,
                 announce: bool) -> None:
    """Replace the multiviewer's undo step with the inverse of what was applied so far, from the
    cached values read while planning. A change that set only values already there leaves the
    step as it was (the state is still what the step's change left); one that changed values
    the cache did not know removes it (it cannot be undone, and an older step must not be
    undone out of order). `announce`: publish the multiviewer's change (not needed when a
    state record of the same transaction does)."""
    done = set(applied)
    inverse = undo.Inverse()
    changed = False
    for item in ([plan.layout] if plan.layout else []) + plan.nexx:
        if item.name not in done:
            continue
        for key, value in item.new_values().items():
            before = item.previous.get(key)
            if before == value:
                continue
            changed = True
            if before is None:
                continue
            if item.window_index is None:
                if key == "layout":
                    inverse.layout = before
                else:
                    inverse.params[key] = before
            elif item.layer_index is None:
                inverse.window(item.window_index + 1).pcm_bars = before
            else:
                layers = inverse.window(item.window_index + 1).umd
                layers.setdefault(item.layer_index + 1, {})[key] = before
    for switch in plan.switches:
        if switch.name not in done or switch.previous_input == switch.source.quartz_input:
            continue
        changed = True
        if switch.previous_input is not None:
            inverse.window(switch.window).source = switch.previous_input
    if not changed:
        return
    if inverse.layout is not None:
        inverse.keep_windows(window_count(inverse.layout))
    else:
        inverse.keep_windows(WINDOWS_PER_MULTIVIEWER)
    undo.record(mv, login=user.login, inverse=inverse, announce=announce)


def owner_of_output(output: int, among=None) -> Multiviewer | None:
    """The multiviewer (of `among`, default all) one of whose windows shows router `output` (the
    lowest-numbered one when cabling overlaps), or None."""
    return ((Multiviewer.objects.all() if among is None else among)
            .filter(quartz_output_base__lte=output,
                    quartz_output_base__gt=output - WINDOWS_PER_MULTIVIEWER)
            .order_by("nexx_index").first())


def _switch_outcome(result: ApplyResult, output: int) -> RoutingState:
    if result.error is not None:  # one item: a failure means nothing was applied
        raise result.error
    route = RoutingState.objects.filter(output=output).first()
    if route is None:  # the switch was skipped as unchanged and nothing is cached: impossible
        raise InvalidInput(f"Router output {output} has no known route.")
    return route


def _send(mv: Multiviewer, plan: _Plan, result: ApplyResult,
          keep_undo: Callable[..., None]) -> None:
    """Send the plan, recording what each request the devices accepted changed as soon as it
    is accepted (and the undo step with it); stop at the first failure."""
    nexx_batches = ([[plan.layout]] if plan.layout else []) + _batches(plan.nexx)
    stopped = False
    if nexx_batches:
        try:
            nexx = NexxService.from_settings(plan.nexx_settings)
        except DeviceError as exc:
            nexx = None
            _fail(result, [i.name for batch in nexx_batches for i in batch], exc)
            stopped = True
        for number, batch in enumerate(nexx_batches):
            if stopped:
                break
            values = {pid: value for item in batch for pid, value in item.values.items()}
            with nexx.count_requests() as sent:
                try:
                    nexx.write_values(values)
                except DeviceError as exc:
                    remaining = [i.name for later in nexx_batches[number:] for i in later]
                    _fail(result, remaining, exc, failed_now=len(batch))
                    stopped = True
                finally:
                    result.requests += sent.requests
            if not stopped:
                params, windows = _accepted(batch)
                # One transaction: the multiviewer's event (published on commit by the state
                # record) shows the undo step that goes with it.
                with transaction.atomic():
                    StateService.record_accepted(mv, params=params, windows=windows)
                    result.applied.extend(item.name for item in batch)
                    keep_undo(announce=False)
    if not plan.switches:
        return
    if stopped:
        _fail(result, [s.name for s in plan.switches], None)
        return
    try:
        quartz = QuartzService.from_settings(plan.quartz_settings)
    except DeviceError as exc:
        _fail(result, [s.name for s in plan.switches], exc)
        return
    switched = False
    try:
        for number, switch in enumerate(plan.switches):
            try:
                result.requests += 1
                quartz.switch(switch.output, switch.source.quartz_input)
            except OutputLocked as exc:
                _fail(result, [switch.name], exc)  # only this output: the others may go on
                continue
            except DeviceError as exc:
                _fail(result, [s.name for s in plan.switches[number:]], exc, failed_now=1)
                return
            StateService.record_route(switch.output, switch.source.quartz_input)
            result.applied.append(switch.name)
            switched = True
    finally:
        # Once for all the switches (a route publishes a routing event, not the multiviewer's),
        # even when the change broke off: what the router accepted can be undone.
        if switched:
            keep_undo(announce=True)


def _fail(result: ApplyResult, names: list[str], error: DeviceError | None, *,
          failed_now: int | None = None) -> None:
    """Mark `names` failed: the first `failed_now` (default all) with `error`, the rest (and all
    of them when `error` is None: an earlier failure stopped the change) as not attempted."""
    if error is not None and result.error is None:
        result.error = error
    cut = len(names) if failed_now is None else failed_now
    if error is None:
        cut = 0
    for position, name in enumerate(names):
        if position < cut:
            result.failed.append({"item": name, **_device_failure(error)})
        else:
            result.failed.append({"item": name, "error": NOT_ATTEMPTED,
                                  "detail": "Not sent: an earlier device failure stopped "
                                            "the change."})

