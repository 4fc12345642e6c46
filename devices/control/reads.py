"""What a change to a multiviewer reads before anything is sent, in one round trip.

A window write needs the multiviewer with its grant to the user, the source with its grant, the
cached state the change is planned from (with its layout's stored window count), both devices'
settings and the multiviewer's live edit lease (a lease its user holds for long enough is not
written again): five statements, sent in one query string, so one round trip instead of five.

The statements come from their owners (AccessService's grant read, the settings models), built
once per process from the models' fields (mvcontrol/postgresql/rows.py), like the ones they
replace. Several statements with parameters in one string need psycopg's client-side binding,
Django's default, which the settings keep (as mvcontrol/postgresql/commits.py needs too).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from accounts.services import AccessService, storable_pk, with_grant_statement
from devices.control import leases
from devices.models import LayoutWindow, Multiviewer, NexxSettings, QuartzSettings, Source
from devices.models.integration import both_from_row, both_statement
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


@functools.cache
def _change_statements() -> str:
    # Five statements in one query string: one round trip, each planned on its own (as one
    # statement of four LATERAL joins, PostgreSQL took longer to plan it than the four).
    return "; ".join((with_grant_statement(Multiviewer, "mv"),
                      with_grant_statement(Source, "source"), _state_statement(),
                      both_statement(), leases.SEEN_SQL))


def read_for_change(user, multiviewer_pk: int, source_pk: int | None = None) -> ChangeReads:
    """Multiviewer `multiviewer_pk` and source `source_pk` (None: no source) with their grants
    to `user`, the multiviewer's cached state, both settings and its live lease, in one round
    trip."""
    found: list = []
    with connection.cursor() as cursor:
        cursor.execute(_change_statements(), {"mv": storable_pk(multiviewer_pk),
                                              "source": storable_pk(source_pk),
                                              "user": getattr(user, "pk", None),
                                              "lease_seconds": settings.EDIT_LEASE_SECONDS})
        for model in (Multiviewer, Source):
            row = cursor.fetchone()
            obj = None
            if row is not None:
                obj = rows.instance(model, row[:-1])
                AccessService.mark_grant(user, obj, row[-1])
            found.append(obj)
            cursor.nextset()
        state = _state_of(cursor.fetchone())
        cursor.nextset()
        quartz, nexx = both_from_row(cursor.fetchone())
        cursor.nextset()
        lease = leases.seen_from_row(cursor.fetchone())
    return ChangeReads(multiviewer=found[0], source=found[1], state=state, quartz=quartz,
                       nexx=nexx, lease=lease)
