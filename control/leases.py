"""Edit leases: one editor per multiviewer at a time.

A write takes the lease on its multiviewer for its user, or extends the user's own lease (sliding,
EDIT_LEASE_SECONDS from the last write). While another user's lease is live, the write is refused
with 409 naming the holder and when the lease ends. Taking the lease is one atomic statement
(an upsert whose update only happens for the same user or an expired lease), so two users
writing at the same instant cannot both win. Admins can break a lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from devices.models import EditLease, Multiviewer
from mvcontrol.errors import Conflict
from mvcontrol.events import publish

# The ORM has no conditional upsert; this is the one statement that makes the lease race-free.
# It also says whether the user already held the lease (renewed) or not (taken).
_ACQUIRE_SQL = """
WITH held AS (SELECT true AS renewed FROM devices_edit_lease
               WHERE multiviewer_id = %(mv)s AND user_id = %(user)s AND expires_at > now())
INSERT INTO devices_edit_lease (multiviewer_id, user_id, expires_at)
VALUES (%(mv)s, %(user)s, now() + make_interval(secs => %(seconds)s))
ON CONFLICT (multiviewer_id) DO UPDATE
   SET user_id = EXCLUDED.user_id, expires_at = EXCLUDED.expires_at
 WHERE devices_edit_lease.user_id = EXCLUDED.user_id
    OR devices_edit_lease.expires_at <= now()
RETURNING expires_at, EXISTS (SELECT 1 FROM held)
"""


@dataclass(frozen=True)
class LeaseHolder:
    user_id: int
    login: str
    expires_at: datetime

    def as_dict(self) -> dict:
        return {"login": self.login, "expires_at": self.expires_at.isoformat()}


def acquire(*, multiviewer: Multiviewer, user) -> datetime:
    """Take or extend `user`'s lease on `multiviewer` until EDIT_LEASE_SECONDS from now; when it
    ends. Conflict (409 edit_lease_held) while another user holds it."""
    with connection.cursor() as cursor:
        cursor.execute(_ACQUIRE_SQL, {"mv": multiviewer.pk, "user": user.pk,
                                      "seconds": settings.EDIT_LEASE_SECONDS})
        row = cursor.fetchone()
    if row is not None:
        expires_at, renewed = row
        publish("lease", multiviewer=multiviewer.pk, action="renewed" if renewed else "taken",
                lease={"login": user.login, "expires_at": expires_at})
        return expires_at
    holder = current(multiviewer=multiviewer)
    if holder is None:  # released between our statement and this read: try once more
        return acquire(multiviewer=multiviewer, user=user)
    until = timezone.localtime(holder.expires_at).strftime("%H:%M:%S")
    raise Conflict(
        f"{multiviewer} is being edited by {holder.login} until {until}; "
        "try again then, or ask an admin to break the lease.",
        code="edit_lease_held",
        extra={"lease": holder.as_dict()},
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
    publish("lease", multiviewer=multiviewer.pk, action="broken", lease=None)
    return was_live
