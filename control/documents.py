"""What the control API answers for reads, built from the cached state, never from a device.

The views check access first; the list reads filter by AccessService themselves. The objects here
are what the output serializers (control/api/serializers.py) render.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from accounts.services import AccessService
from control.models import UndoStep
from control.services import owner_of_output
from control.undo import describe_step
from devices.layouts import layout_catalog, layout_geometry
from devices.models import EditLease, Multiviewer, Source
from devices.nexx.catalog import LAYERS_PER_WINDOW, WINDOWS_PER_MULTIVIEWER
from state.models import MultiviewerState, RoutingState, WindowState
from state.planning import UMD_KEYS


def sources_by_input(inputs: Iterable[int | None]) -> dict[int, Source]:
    wanted = {i for i in inputs if i is not None}
    return {s.quartz_input: s for s in Source.objects.filter(quartz_input__in=wanted).order_by()}


def sources_list(user) -> list[Source]:
    """The user's sources, each with `favourite` (theirs)."""
    return list(AccessService.sources_with_favourites(user).order_by("quartz_input"))


def multiviewers_list(user) -> list[dict]:
    """Every multiviewer listed to the user: a user's granted ones switched off on the frame
    too ("enabled": false), so that they do not vanish without a note."""
    mvs = AccessService.listed_multiviewers(user).select_related("state").order_by("nexx_index")
    rows = []
    for mv in mvs:
        state = _state_of(mv)
        rows.append({"id": mv.pk, "nexx_index": mv.nexx_index, "number": mv.number,
                     "label": str(mv), "enabled": mv.enabled,
                     "layout": state.layout if state else None,
                     "updated_at": state.updated_at if state else None})
    return rows


def _state_of(mv: Multiviewer) -> MultiviewerState | None:
    try:
        return mv.state
    except MultiviewerState.DoesNotExist:
        return None


def _umd_layers(stored: object) -> list[dict]:
    layers = stored if isinstance(stored, list) else []
    out = []
    for index in range(LAYERS_PER_WINDOW):
        values = layers[index] if index < len(layers) and isinstance(layers[index], dict) else {}
        out.append({"layer": index + 1, **{key: values.get(key) for key in UMD_KEYS}})
    return out


@dataclass(frozen=True)
class WindowView:
    window: int
    output: int
    input: int | None
    source: Source | None
    pcm_bars: int | None
    umd: list[dict]
    updated_at: datetime | None
    route_updated_at: datetime | None


@dataclass(frozen=True)
class MultiviewerView:
    """One multiviewer as the control page shows it, for one user (the lease's "mine")."""

    multiviewer: Multiviewer
    state: MultiviewerState | None
    lease: dict | None
    geometry: list[dict]
    windows: list[WindowView]
    undo: dict | None = None  # {"description", "login", "at"} of the undo step, if any

    def _param(self, name: str) -> int | None:
        # None until the device was read.
        return getattr(self.state, name) if self.state is not None else None

    @property
    def layout(self) -> int | None:
        return self._param("layout")

    @property
    def font(self) -> int | None:
        return self._param("font")

    @property
    def outer_border(self) -> int | None:
        return self._param("outer_border")

    @property
    def inner_border(self) -> int | None:
        return self._param("inner_border")

    @property
    def output_format(self) -> int | None:
        return self._param("output_format")

    @property
    def window_count(self) -> int | None:
        return len(self.geometry) if self.layout is not None else None

    @property
    def updated_at(self) -> datetime | None:
        return self.state.updated_at if self.state is not None else None


def multiviewer_with_state(pk: int, among=None) -> Multiviewer | None:
    """Multiviewer `pk` of `among` (a queryset, default all) read with its state and edit lease,
    as multiviewer_view wants it."""
    among = Multiviewer.objects.all() if among is None else among
    return (among.select_related("state", "edit_lease__user", "undo_step").filter(pk=pk)
            .order_by().first())


def multiviewer_view(mv: Multiviewer, user) -> MultiviewerView:
    """`mv` (read by multiviewer_with_state) with its windows, routes, geometry and lease as
    `user` sees them (None: nobody's, the lease is not "mine"); the caller checks access."""
    state = _state_of(mv)
    layout = state.layout if state is not None else None
    geometry = [] if layout is None else [
        {"window": w["id"], "x": w["x"], "y": w["y"], "w": w["w"], "h": w["h"]}
        for w in layout_geometry(layout)]
    # Unordered: Meta.ordering would join the multiviewer for nothing.
    windows = {w.window_index: w for w in WindowState.objects.filter(
        multiviewer=mv, window_index__lt=len(geometry)).order_by()}
    outputs = [mv.output_for_window(n) for n in range(1, len(geometry) + 1)]
    routes = {r.output: r for r in RoutingState.objects.filter(output__in=outputs).order_by()}
    sources = sources_by_input(r.input for r in routes.values())
    views = []
    for index, output in enumerate(outputs):
        row, route = windows.get(index), routes.get(output)
        routed = route.input if route is not None else None
        views.append(WindowView(
            window=index + 1, output=output, input=routed, source=sources.get(routed),
            pcm_bars=row.pcm_bars if row else None, umd=_umd_layers(row.umd if row else None),
            updated_at=row.updated_at if row else None,
            route_updated_at=route.updated_at if route else None))
    return MultiviewerView(mv, state, _lease_of(mv, user), geometry, views,
                           undo=describe_step(_undo_step_of(mv)))


def _undo_step_of(mv: Multiviewer) -> UndoStep | None:
    try:
        return mv.undo_step
    except UndoStep.DoesNotExist:
        return None


def _lease_of(mv: Multiviewer, user) -> dict | None:
    try:
        lease = mv.edit_lease
    except EditLease.DoesNotExist:
        return None
    if lease.expires_at <= timezone.now():
        return None
    return {"login": lease.user.login, "expires_at": lease.expires_at,
            "mine": user is not None and lease.user_id == user.pk}


def route_document(route: RoutingState | None, output: int, *,
                   owner: tuple[Multiviewer, int] | None,
                   sources: dict[int, Source]) -> dict:
    routed = route.input if route else None
    return {
        "output": output,
        "multiviewer": owner[0].pk if owner else None,
        "window": owner[1] if owner else None,
        "input": routed,
        "source": sources.get(routed) if routed is not None else None,
        "updated_at": route.updated_at if route else None,
    }


def routing_list(user) -> list[dict]:
    """GET /api/routing: the outputs of every window (of the current layout; all 16 while the
    layout is unknown) of the multiviewers the user may use, with their cached route. Admins
    also see every other output the state knows a route for."""
    owners: dict[int, tuple[Multiviewer, int]] = {}
    mvs = AccessService.visible_multiviewers(user).select_related("state").order_by("nexx_index")
    layouts = layout_catalog()
    for mv in mvs:
        state = _state_of(mv)
        layout = state.layout if state is not None else None
        count = layouts[layout].window_count if layout else WINDOWS_PER_MULTIVIEWER
        for window in range(1, count + 1):
            owners.setdefault(mv.output_for_window(window), (mv, window))
    routes = {r.output: r for r in RoutingState.objects.filter(output__in=list(owners))}
    if AccessService.is_admin(user):
        routes.update({r.output: r for r in RoutingState.objects.exclude(output__in=list(owners))})
    sources = sources_by_input(r.input for r in routes.values())
    outputs = sorted(set(owners) | set(routes))
    return [route_document(routes.get(o), o, owner=owners.get(o), sources=sources)
            for o in outputs]


def route_row(user, output: int) -> dict:
    """One output as GET /api/routing shows it."""
    route = RoutingState.objects.filter(output=output).first()
    owner_mv = owner_of_output(output, among=AccessService.visible_multiviewers(user))
    owner = (owner_mv, output - owner_mv.quartz_output_base + 1) if owner_mv else None
    sources = sources_by_input([route.input if route else None])
    return route_document(route, output, owner=owner, sources=sources)
