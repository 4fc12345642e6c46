"""The live edit lease read alone, by its own statement: what mvcontrol_change_reads's lease part
(devices/control/reads.py) is held to, and a `seen` for leases.take in the lease tests."""

from __future__ import annotations

from django.db import connection

from devices.control import leases

# The live lease on %(mv)s, and whether %(lease_seconds)s of it are left.
SEEN_ALONE_SQL = """
SELECT user_id, expires_at, expires_at - now() >= make_interval(secs => %(lease_seconds)s)
  FROM devices_edit_lease WHERE multiviewer_id = %(mv)s AND expires_at > now()
"""


def seen_alone(mv, lease_seconds: int = 60) -> leases.SeenLease | None:
    with connection.cursor() as cursor:
        cursor.execute(SEEN_ALONE_SQL, {"mv": mv.pk, "lease_seconds": lease_seconds})
        return leases.seen_from_row(cursor.fetchone())
