"""What a change to a multiviewer reads before anything is sent, in one round trip.

A window write needs the multiviewer with its grant to the user, the source with its grant, the
cached state the change is planned from (with its layout's stored window count), both devices'
settings and the multiviewer's live edit lease (a lease its user holds for long enough is not
written again). All five come in one row of one function, mvcontrol_change_reads (its text and
why it is a function: devices/migrations/0006_change_reads_function.py), each part in its
model's columns (mvcontrol/postgresql/rows.py), so they become instances as the ORM makes them.
tests/devices/api/test_change_reads.py holds each part to the same thing read alone
(AccessService.get_with_grant, state_for_change, load_both, the lease's own statement).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from accounts import session_reads
from accounts.services import AccessService, storable_pk
from devices.control import leases
from devices.models import LayoutWindow, Multiviewer, NexxSettings, QuartzSettings, Source
from devices.models.integration import both_from_row
from mvcontrol.postgresql import rows
from state.models import MultiviewerState


@dataclass(frozen=True)
class ChangeReads:
    """What a change reads before it is planned. `multiviewer` and `source` carry their grant
    to the user read with them (AccessService.mark_grant); None when there is none. `state`
    has `stored_windows`, how many windows of its layout are stored (0: the default
    geometry)."""

    multiviewer: Multiviewer | None
    source: Source | None
    state: MultiviewerState | None
    quartz: QuartzSettings
    nexx: NexxSettings
    lease: leases.SeenLease | None = None  # the live edit lease, if any


@functools.cache
def _state_statement() -> str:
    """The state a change is planned from by the `%(mv)s` parameter, then its layout's stored
    window count."""
    return (f"SELECT {rows.columns(MultiviewerState, 'st')}, (SELECT count(*)"  # noqa: S608
            f" FROM {rows.table(LayoutWindow)} g WHERE g.layout_id = st.layout)"
            f" FROM {rows.table(MultiviewerState)} st WHERE st.multiviewer_id = %(mv)s")


def _state_of(row) -> MultiviewerState | None:
    """The state from the row of _state_statement() (None when there is none: no state yet)."""
    if row is None:
        return None
    state = rows.instance(MultiviewerState, row[:-1])
    state.stored_windows = row[-1]
    return state


def state_for_change(mv: Multiviewer) -> MultiviewerState | None:
    """The cached state a change to `mv` is planned from, read alone."""
    with connection.cursor() as cursor:
        cursor.execute(_state_statement(), {"mv": mv.pk})
        return _state_of(cursor.fetchone())


CHANGE_READS_SQL = ("SELECT * FROM mvcontrol_change_reads(%(mv)s, %(source)s, %(user)s,"
                    " %(lease_seconds)s)")
# The function's parts in the order of its columns: the prefix of the part's columns, its model
# (whose columns come first, in field order), and the columns that follow them.
CHANGE_READS_PARTS = (("mv", Multiviewer, ("granted",)), ("source", Source, ("granted",)),
                      ("st", MultiviewerState, ("stored_windows",)), ("q", QuartzSettings, ()),
                      ("n", NexxSettings, ()), ("lease", None, ("user_id", "expires_at", "lasts")))


def change_reads_columns() -> list[str]:
    """The names mvcontrol_change_reads's columns must have, as the models' fields make them."""
    names = []
    for prefix, model, extra in CHANGE_READS_PARTS:
        fields = [f.column for f in model._meta.concrete_fields] if model is not None else []
        names.extend(f"{prefix}_{name}" for name in (*fields, *extra))
    return names


def _parts(row: tuple) -> dict[str, tuple]:
    """The function's row cut into its parts, by prefix."""
    parts, start = {}, 0
    for prefix, model, extra in CHANGE_READS_PARTS:
        end = start + (rows.width(model) if model is not None else 0) + len(extra)
        parts[prefix] = row[start:end]
        start = end
    return parts


def _found(part: tuple) -> tuple | None:
    """`part`, or None when it was not found: its first column, an id, is NULL."""
    return None if part[0] is None else part


def _with_grant(user, model, part: tuple):
    if _found(part) is None:
        return None
    obj = rows.instance(model, part[:-1])
    AccessService.mark_grant(user, obj, part[-1])
    return obj


def read_for_change(user, multiviewer_pk: int, source_pk: int | None = None) -> ChangeReads:
    """Multiviewer `multiviewer_pk` and source `source_pk` (None: no source) with their grants
    to `user`, the multiviewer's cached state, both settings and its live lease, in one round
    trip."""
    with connection.cursor() as cursor:
        cursor.execute(CHANGE_READS_SQL, _params(multiviewer_pk, source_pk,
                                                 user=getattr(user, "pk", None)))
        return reads_from_row(user, cursor.fetchone())


# The same reads for the user of the session `%(session_key)s`, after the session's and the
# user's own columns (accounts/session_reads.py), in one statement, so in one snapshot.
CHANGE_READS_IN_SESSION_SQL = (
    f"SELECT * FROM {session_reads.SESSION_USER} CROSS JOIN LATERAL"  # noqa: S608
    " mvcontrol_change_reads(%(mv)s, %(source)s, su.u_id, %(lease_seconds)s) AS r")


def read_for_change_in_session(session_key: str, multiviewer_pk: int,
                               source_pk: int | None = None) -> tuple[tuple, tuple]:
    """The session `session_key` with its user, and read_for_change's row for that user: the
    session's part (for session_reads.authenticate) and the reads' (for reads_from_row)."""
    return session_reads.read_with_session(CHANGE_READS_IN_SESSION_SQL,
                                           _params(multiviewer_pk, source_pk), session_key)


def _params(multiviewer_pk: int, source_pk: int | None, **more) -> dict:
    return {"mv": storable_pk(multiviewer_pk), "source": storable_pk(source_pk),
            "lease_seconds": settings.EDIT_LEASE_SECONDS, **more}


def reads_from_row(user, row: tuple) -> ChangeReads:
    """What read_for_change gives from mvcontrol_change_reads's row, read for `user`."""
    parts = _parts(row)
    # A settings row not created yet is created with defaults (both_from_row), as load() does.
    quartz, nexx = both_from_row(parts["q"] + parts["n"])
    return ChangeReads(multiviewer=_with_grant(user, Multiviewer, parts["mv"]),
                       source=_with_grant(user, Source, parts["source"]),
                       state=_state_of(_found(parts["st"])), quartz=quartz, nexx=nexx,
                       lease=leases.seen_from_row(_found(parts["lease"])))
