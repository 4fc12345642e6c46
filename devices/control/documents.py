"""What the control API answers for reads: built from the cached state, never from a device.

Every function takes the user asking; callers have checked the multiviewer is granted (reads of
lists filter by AccessService themselves).
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts.services import AccessService
from devices.control import leases
from devices.models import Multiviewer, Source
from devices.nexx.catalog import LAYERS_PER_WINDOW, WINDOWS_PER_MULTIVIEWER
from devices.nexx.layouts import layout_geometry
from state.models import MultiviewerState, RoutingState
from state.planning import MULTIVIEWER_KEYS, UMD_KEYS
from state.services import StateService


def source_document(source: Source) -> dict:
    return {"id": source.pk, "quartz_input": source.quartz_input, "label": source.label}


def sources_list(user) -> list[dict]:
    return [source_document(s) for s in AccessService.visible_sources(user).order_by(
        "quartz_input")]


def _sources_by_input(inputs: Iterable[int | None]) -> dict[int, Source]:
    wanted = {i for i in inputs if i is not None}
    return {s.quartz_input: s for s in Source.objects.filter(quartz_input__in=wanted)}


def multiviewers_list(user) -> list[dict]:
    mvs = list(AccessService.visible_multiviewers(user).order_by("nexx_index"))
    states = {s.multiviewer_id: s for s in MultiviewerState.objects.filter(multiviewer__in=mvs)}
    rows = []
    for mv in mvs:
        state = states.get(mv.pk)
        rows.append({"id": mv.pk, "nexx_index": mv.nexx_index, "number": mv.number,
                     "label": str(mv), "enabled": mv.enabled,
                     "layout": state.layout if state else None,
                     "updated_at": state.updated_at if state else None})
    return rows


def _lease(mv: Multiviewer, user) -> dict | None:
    holder = leases.current(multiviewer=mv)
    if holder is None:
        return None
    return {"login": holder.login, "expires_at": holder.expires_at,
            "mine": holder.user_id == user.pk}


def _umd_layers(stored: object) -> list[dict]:
    layers = stored if isinstance(stored, list) else []
    out = []
    for index in range(LAYERS_PER_WINDOW):
        values = layers[index] if index < len(layers) and isinstance(layers[index], dict) else {}
        out.append({"layer": index + 1, **{key: values.get(key) for key in UMD_KEYS}})
    return out


def multiviewer_document(mv: Multiviewer, user) -> dict:
    """GET /api/multiviewers/{id}: parameters, geometry, and each window of the current layout
    with its router output, routed source, PCM bars and UMD layers."""
    snapshot = StateService.multiviewer_snapshot(mv)
    state = snapshot.state
    layout = state.layout if state else None
    # The geometry gives the window count too: one layout query instead of two (this document
    # is the control page's most frequent read; bench/api_load.py).
    layout_windows = layout_geometry(layout) if layout else []
    count = len(layout_windows) if layout else None
    by_index = {w.window_index: w for w in snapshot.windows}
    sources = _sources_by_input(r.input for r in snapshot.routes.values())
    windows = []
    for index in range(count or 0):
        row = by_index.get(index)
        output = mv.output_for_window(index + 1)
        route = snapshot.routes.get(output)
        routed = route.input if route else None
        source = sources.get(routed) if routed is not None else None
        windows.append({
            "window": index + 1,
            "output": output,
            "input": routed,
            "source": source_document(source) if source else None,
            "pcm_bars": row.pcm_bars if row else None,
            "umd": _umd_layers(row.umd if row else None),
            "updated_at": row.updated_at if row else None,
            "route_updated_at": route.updated_at if route else None,
        })
    geometry = [{"window": w["id"], "x": w["x"], "y": w["y"], "w": w["w"], "h": w["h"]}
                for w in layout_windows]
    return {
        "id": mv.pk,
        "number": mv.number,
        "nexx_index": mv.nexx_index,
        "label": str(mv),
        "enabled": mv.enabled,
        **{key: getattr(state, key) if state else None for key in MULTIVIEWER_KEYS},
        "window_count": count,
        "updated_at": state.updated_at if state else None,
        "lease": _lease(mv, user),
        "geometry": geometry,
        "windows": windows,
    }


def route_document(route: RoutingState | None, output: int, *,
                   owner: tuple[Multiviewer, int] | None,
                   sources: dict[int, Source]) -> dict:
    routed = route.input if route else None
    source = sources.get(routed) if routed is not None else None
    return {
        "output": output,
        "multiviewer": owner[0].pk if owner else None,
        "window": owner[1] if owner else None,
        "input": routed,
        "source": source_document(source) if source else None,
        "updated_at": route.updated_at if route else None,
    }


def routing_list(user) -> list[dict]:
    """GET /api/routing: the outputs of every window (of the current layout; all 16 while the
    layout is unknown) of the multiviewers the user may use, with their cached route. Admins
    also see every other output the state knows a route for."""
    from devices.nexx.layouts import window_count

    owners: dict[int, tuple[Multiviewer, int]] = {}
    mvs = list(AccessService.visible_multiviewers(user).order_by("nexx_index"))
    layouts = dict(MultiviewerState.objects.filter(multiviewer__in=mvs)
                   .values_list("multiviewer_id", "layout"))
    for mv in mvs:
        layout = layouts.get(mv.pk)
        count = window_count(layout) if layout else WINDOWS_PER_MULTIVIEWER
        for window in range(1, count + 1):
            owners.setdefault(mv.output_for_window(window), (mv, window))
    routes = {r.output: r for r in RoutingState.objects.filter(output__in=list(owners))}
    if AccessService.is_admin(user):
        routes.update({r.output: r for r in RoutingState.objects.exclude(output__in=list(owners))})
    sources = _sources_by_input(r.input for r in routes.values())
    outputs = sorted(set(owners) | set(routes))
    return [route_document(routes.get(o), o, owner=owners.get(o), sources=sources)
            for o in outputs]


def route_row(user, output: int) -> dict:
    """One output as GET /api/routing shows it."""
    from devices.control.services import owner_of_output

    route = RoutingState.objects.filter(output=output).first()
    owner_mv = owner_of_output(output, among=AccessService.visible_multiviewers(user))
    owner = (owner_mv, output - owner_mv.quartz_output_base + 1) if owner_mv else None
    sources = _sources_by_input([route.input if route else None])
    return route_document(route, output, owner=owner, sources=sources)
