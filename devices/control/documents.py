"""What the control API answers for reads: built from the cached state, never from a device.

Every function takes the user asking; callers have checked the multiviewer is granted (reads of
lists filter by AccessService themselves).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from rest_framework.renderers import JSONRenderer

from accounts import session_reads
from accounts.services import AccessService
from devices.models import Multiviewer, Source
from devices.nexx.catalog import LAYERS_PER_WINDOW, WINDOWS_PER_MULTIVIEWER
from devices.nexx.layouts import Window, default_layouts
from mvcontrol.errors import NotFound
from mvcontrol.postgresql.commits import Statement
from state.models import MultiviewerState, RoutingState
from state.planning import MULTIVIEWER_KEYS, UMD_KEYS


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


def _umd_layers(stored: object) -> list[dict]:
    layers = stored if isinstance(stored, list) else []
    out = []
    for index in range(LAYERS_PER_WINDOW):
        values = layers[index] if index < len(layers) and isinstance(layers[index], dict) else {}
        out.append({"layer": index + 1, **{key: values.get(key) for key in UMD_KEYS}})
    return out


# The multiviewer, the version (xmin, ctid) of every row the shared part of its document is
# built from, its live edit lease and the asking user's grant, in one statement: see the
# function's text in devices/migrations/0005_multiviewer_read_functions.py. Any committed write,
# whoever makes it, changes the stamp.
_STAMP_SQL = "SELECT * FROM mvcontrol_multiviewer_stamp(%(mv)s, %(user)s, %(last)s)"
_STAMP_WIDTH = 14  # the stamp's columns, then (below) the document's
# A write's answer: its own change made a new stamp, so the document is always built. Both in
# one statement, so in one snapshot (the functions are STABLE): the document shows exactly the
# rows the stamp names, with the routes of the outputs of the multiviewer row read.
_STAMP_AND_DOCUMENT_SQL = (
    "SELECT * FROM mvcontrol_multiviewer_stamp(%(mv)s, %(user)s, %(last)s) AS s"
    " CROSS JOIN LATERAL mvcontrol_multiviewer_document("
    "s.mv_id, s.mv_output_base, s.mv_output_base + %(last)s) AS d")
DOCUMENTS_KEPT = 256


class _Kept:
    """What was built under a stamp, in each process. A stamp names one version of every row
    read, so an entry can never be stale, only unused: no need to share it between processes
    or to drop it; the least recently used go when there are more than DOCUMENTS_KEPT."""

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > DOCUMENTS_KEPT:
                self._entries.popitem(last=False)


# Built documents by (multiviewer, stamp); the rendered answers of GET /api/multiviewers/{id}
# by stamp and lease as the asker sees it.
_DOCUMENTS = _Kept()
_RENDERED = _Kept()


# The stamp for the user of the session `%(session_key)s`, after the session's and the user's
# own columns (accounts/session_reads.py), in one statement; NULLs when there is no multiviewer.
_STAMP_IN_SESSION_SQL = (
    f"SELECT * FROM {session_reads.SESSION_USER} LEFT JOIN LATERAL"  # noqa: S608
    " mvcontrol_multiviewer_stamp(%(mv)s, su.u_id, %(last)s) AS s ON true")


def read_stamp_in_session(session_key: str, pk: int) -> tuple[tuple, tuple]:
    """The session `session_key` with its user, and the stamp of multiviewer `pk` read for that
    user: the session's part (for session_reads.authenticate) and the stamp's row for
    read_multiviewer_json (NULLs: no such multiviewer)."""
    return session_reads.read_with_session(_STAMP_IN_SESSION_SQL, _stamp_params(pk, None),
                                           session_key)


def read_multiviewer_json(pk: int, user, stamp: tuple | None = None) -> bytes:
    """GET /api/multiviewers/{id} for `user`, as the JSON the API answers: NotFound, Forbidden
    (not_granted) as the other endpoints answer, else multiviewer_document. The multiviewer is
    read with the stamp, and the rendered answer is kept like the document (the control page
    polls it: rendering was a tenth of the read's CPU). `stamp`: the stamp's row already read for
    `user` (read_stamp_in_session); None: read it now."""
    from devices.control.services import require_multiviewer

    if stamp is None:
        mv, row = _stamped(pk, user)
    elif stamp[0] is None:
        raise NotFound(f"Multiviewer #{pk} does not exist.")
    else:
        mv, row = _multiviewer_of(stamp), stamp
    AccessService.mark_grant(user, mv, row[13])
    require_multiviewer(user, mv)
    return _rendered(mv, row, user)


def written_answer(pk: int, user) -> Statement:
    """The read a write to multiviewer `pk` by `user` answers from: the stamp and the document
    in one statement (ControlService.apply sends it with the write's last record)."""
    return Statement(_STAMP_AND_DOCUMENT_SQL, _stamp_params(pk, user))


def written_multiviewer_json(pk: int, user, row: tuple | None) -> bytes:
    """The answer of a write to multiviewer `pk` by `user` (who the write found granted): the
    multiviewer as it now is, as GET /api/multiviewers/{id} answers it, from `row`, what
    written_answer read. NotFound when it read nothing: the multiviewer is gone."""
    if row is None:
        raise NotFound(f"Multiviewer #{pk} does not exist.")
    return _rendered(_multiviewer_of(row), row[:_STAMP_WIDTH], user,
                     document_row=row[_STAMP_WIDTH:])


def _rendered(mv: Multiviewer, row: tuple, user, document_row: tuple | None = None) -> bytes:
    key = (_stamp_key(mv, row), *row[10:13], row[10] == user.pk)
    body = _RENDERED.get(key)
    if body is None:
        body = JSONRenderer().render(_document(mv, row, user, document_row))
        _RENDERED.put(key, body)
    return body


def multiviewer_document(mv: Multiviewer, user) -> dict:
    """The multiviewer document as `user` sees it: parameters, geometry, and each window of the
    current layout with its router output, routed source, PCM bars and UMD layers.

    The part every user sees alike is kept in memory under the stamp of the rows it comes from
    (read with the multiviewer and its edit lease in one query); the lease ("mine") is added per
    user. Any write, by anyone, changes the stamp: a kept document is never answered once the
    state it shows has changed. Documents are shared between requests: read them, never change
    them."""
    return _document(*_stamped(mv.pk, user), user)


def _stamped(pk: int, user) -> tuple[Multiviewer, tuple]:
    """The multiviewer as the stamp read it, and the stamp's row; NotFound when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, _stamp_params(pk, user))
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Multiviewer #{pk} does not exist.")
    return _multiviewer_of(row), row


def _stamp_params(pk: int, user) -> dict:
    return {"mv": pk, "last": WINDOWS_PER_MULTIVIEWER - 1, "user": getattr(user, "pk", None)}


def _multiviewer_of(row: tuple) -> Multiviewer:
    mv = Multiviewer(id=row[0], nexx_index=row[1], label=row[2], enabled=row[3],
                     quartz_output_base=row[4])
    mv._state.adding = False
    mv._state.db = connection.alias
    return mv


def _stamp_key(mv: Multiviewer, row: tuple) -> tuple[int, str]:
    return (mv.pk, "|".join(part or "" for part in row[5:10]))


def _document(mv: Multiviewer, row: tuple, user, document_row: tuple | None = None) -> dict:
    """`document_row`: the document function's row, read in the stamp's statement (else it is
    read now, when not kept)."""
    key = _stamp_key(mv, row)
    shared = _DOCUMENTS.get(key)
    if shared is None:
        # Built from rows read with the stamp or after it (the multiviewer's with it): never
        # older than the stamp it is kept under.
        shared = _shared_document(mv, document_row)
        _DOCUMENTS.put(key, shared)
    holder_id, login, expires_at = row[10:13]
    lease = None if holder_id is None else {"login": login, "expires_at": expires_at,
                                            "mine": holder_id == user.pk}
    document = {}
    for name, value in shared.items():
        if name == "geometry":  # the serializer's field order
            document["lease"] = lease
        document[name] = value
    return document


# The shared part of a multiviewer's document in one statement, so one snapshot: the state row,
# its windows, the routes of its outputs with their sources, and the stored geometry of its
# layout (the function in devices/migrations/0005_multiviewer_read_functions.py). Five ORM
# queries cost a write's answer more than the frame took to accept the change.
_DOCUMENT_SQL = "SELECT * FROM mvcontrol_multiviewer_document(%(mv)s, %(first)s, %(last)s)"


def _json_rows(value: object) -> list:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def _timestamp(value: str | None) -> datetime | None:
    # json_build_array writes timestamptz in ISO 8601 with the session's zone (UTC).
    return None if value is None else datetime.fromisoformat(value)


def _shared_document(mv: Multiviewer, row: tuple | None = None) -> dict:
    """The document without its lease: the same for every user who may see it. `row`: the
    document function's row when already read."""
    if row is None:
        with connection.cursor() as cursor:
            cursor.execute(_DOCUMENT_SQL, {"mv": mv.pk, "first": mv.output_for_window(1),
                                           "last": mv.output_for_window(WINDOWS_PER_MULTIVIEWER)})
            row = cursor.fetchone()
    layout, params, state_updated_at = row[0], row[0:5], row[5]
    by_index = {index: (pcm_bars, umd, _timestamp(updated_at))
                for index, pcm_bars, umd, updated_at in _json_rows(row[6])}
    routes = {output: (routed, _timestamp(updated_at), source_id, label)
              for output, routed, updated_at, source_id, label in _json_rows(row[7])}
    if layout is None:
        layout_windows = []
    else:
        # Floats as floats: JSON gives 0 and 1 as integers, the API answers 0.0 and 1.0.
        stored = [Window(n, float(x), float(y), float(w), float(h))
                  for n, x, y, w, h in _json_rows(row[8])]
        layout_windows = stored or default_layouts()[layout].windows
    count = len(layout_windows) if layout is not None else None
    windows = []
    for index in range(count or 0):
        pcm_bars, umd, updated_at = by_index.get(index, (None, None, None))
        output = mv.output_for_window(index + 1)
        routed, route_updated_at, source_id, label = routes.get(output, (None, None, None, None))
        source = (None if source_id is None else
                  source_document(Source(id=source_id, quartz_input=routed, label=label)))
        windows.append({
            "window": index + 1,
            "output": output,
            "input": routed,
            "source": source,
            "pcm_bars": pcm_bars,
            "umd": _umd_layers(umd),
            "updated_at": updated_at,
            "route_updated_at": route_updated_at,
        })
    geometry = [{"window": w.id, "x": w.x, "y": w.y, "w": w.w, "h": w.h} for w in layout_windows]
    return {
        "id": mv.pk,
        "number": mv.number,
        "nexx_index": mv.nexx_index,
        "label": str(mv),
        "enabled": mv.enabled,
        **dict(zip(MULTIVIEWER_KEYS, params, strict=True)),
        "window_count": count,
        "updated_at": state_updated_at,
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
