"""Edit leases: one editor per multiviewer at a time.

A write takes the lease on its multiviewer for its user, or extends the user's own lease (sliding,
EDIT_LEASE_SECONDS). While another user's lease is live, the write is refused with 409 naming the
holder and when the lease ends. Taking the lease is one atomic statement, so two users writing at
the same instant cannot both win. Admins can break a lease.

A lease is written for EDIT_LEASE_SECONDS plus a quarter of that (at most 15 s), and a write
that finds its user's lease with at least EDIT_LEASE_SECONDS left (read with the change's other
reads, devices/control/reads.py) leaves it as it is: an operator's burst of writes rewrites the
lease once every 15 s instead of on every write, one round trip less per write. A lease
therefore ends between EDIT_LEASE_SECONDS and EDIT_LEASE_SECONDS + 15 s after its holder's
last write, never sooner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from devices.models import EditLease, Multiviewer
from mvcontrol.errors import Conflict
from mvcontrol.postgresql.commits import execute_lossable

_TAKE_SQL = """
INSERT INTO devices_edit_lease (multiviewer_id, user_id, expires_at)
VALUES (%(mv)s, %(user)s, now() + make_interval(secs => %(seconds)s))
ON CONFLICT (multiviewer_id) DO UPDATE
   SET user_id = EXCLUDED.user_id, expires_at = EXCLUDED.expires_at
 WHERE devices_edit_lease.user_id = EXCLUDED.user_id
    OR devices_edit_lease.expires_at <= now()
RETURNING expires_at
"""


@dataclass(frozen=True)
class LeaseHolder:
    user_id: int
    login: str
    expires_at: datetime

    def as_dict(self) -> dict:
        return {"login": self.login, "expires_at": self.expires_at.isoformat()}


@dataclass(frozen=True)
class SeenLease:
    """The live lease on a multiviewer as a change read it: its holder, its end, and whether
    at least EDIT_LEASE_SECONDS of it were left (by the database's clock)."""

    user_id: int
    expires_at: datetime
    lasts: bool


MAX_EXTENSION = 15.0


def extension() -> float:
    """Seconds a lease is written for beyond EDIT_LEASE_SECONDS."""
    return min(MAX_EXTENSION, settings.EDIT_LEASE_SECONDS / 4)


def seen_from_row(row) -> SeenLease | None:
    """The lease from its row (user id, end, whether EDIT_LEASE_SECONDS are left): the lease
    part of mvcontrol_change_reads (devices/control/reads.py); None: no live lease."""
    return None if row is None else SeenLease(*row)


def take(*, multiviewer: Multiviewer, user, seen: SeenLease | None = None) -> datetime:
    """Take or extend `user`'s lease on `multiviewer`; Conflict when another user holds it.
    `seen`: the lease as the change read it (read_for_change); when it is `user`'s with at least
    EDIT_LEASE_SECONDS left, it stays as it is."""
    if seen is not None and seen.user_id == user.pk and seen.lasts:
        return seen.expires_at
    seconds = settings.EDIT_LEASE_SECONDS + extension()
    # A lease lasts a minute: one lost in a database crash is retaken by its holder's next write.
    with connection.cursor() as cursor:
        execute_lossable(cursor, _TAKE_SQL, {"mv": multiviewer.pk, "user": user.pk,
                                             "seconds": seconds})
        row = cursor.fetchone()
    if row is not None:
        return row[0]
    holder_lease = current(multiviewer=multiviewer)
    if holder_lease is None:  # released between our statement and this read: try once more
        return take(multiviewer=multiviewer, user=user)
    until = timezone.localtime(holder_lease.expires_at).strftime("%H:%M:%S")
    raise Conflict(
        f"{multiviewer} is being edited by {holder_lease.login} until {until}; "
        "try again then, or ask an admin to break the lease.",
        code="edit_lease_held",
        extra={"lease": holder_lease.as_dict()},
    )


def current(*, multiviewer: Multiviewer) -> LeaseHolder | None:
    """The live lease on `multiviewer`, if any (expired leases count as none)."""
    lease = (EditLease.objects.select_related("user")
             .filter(multiviewer=multiviewer, expires_at__gt=timezone.now()).first())
    if lease is None:
        return None
    return LeaseHolder(user_id=lease.user_id, login=lease.user.login, expires_at=lease.expires_at)


def break_lease(*, multiviewer: Multiviewer) -> bool:
    """Remove the lease on `multiviewer` (an admin's decision). True when one was live."""
    was_live = current(multiviewer=multiviewer) is not None
    EditLease.objects.filter(multiviewer=multiviewer).delete()
    return was_live
