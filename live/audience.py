"""Who sees which event: the stream's user, as AccessService says (admins see everything).

What a user may see is read once per stream and again whenever an `access` event names them
(grants changed, the user changed) or everyone (a multiviewer switched on or off): no event is
shown on the strength of a grant that was revoked before it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.services import AccessService
from devices.nexx.catalog import WINDOWS_PER_MULTIVIEWER
from live.messages import Event


@dataclass(frozen=True)
class Audience:
    user_id: int
    login: str
    active: bool
    admin: bool
    multiviewers: frozenset[int]
    outputs: frozenset[int]

    def affected_by(self, event: Event) -> bool:
        """An `access` event that changes what this stream may see."""
        return event.kind == "access" and event.user in (None, self.user_id)

    def view(self, event: Event) -> dict | None:
        """The event's data as this user may see it; None when they may not see it at all."""
        if not self.active:
            return None
        if event.kind == "preset_job":
            return event.data if event.user == self.user_id else None
        if event.kind == "refresh":
            return event.data
        if event.multiviewer is not None and not (self.admin
                                                  or event.multiviewer in self.multiviewers):
            return None
        if event.kind == "routing" and not self.admin:
            routes = [r for r in event.data["routes"] if r["output"] in self.outputs]
            return {"routes": routes} if routes else None
        if event.kind == "multiviewer":
            lease = event.data["document"].get("lease")
            if lease is not None and lease.get("login") == self.login:
                return {**event.data, "document": {**event.data["document"],
                                                   "lease": {**lease, "mine": True}}}
        return event.data


def audience_of(user) -> Audience:
    """What `user` may see now (read from the database)."""
    try:
        user.refresh_from_db(fields=["is_active", "role", "login"])
    except type(user).DoesNotExist:
        return Audience(user.pk, user.login, False, False, frozenset(), frozenset())
    mvs = list(AccessService.visible_multiviewers(user).order_by()
               .values_list("pk", "quartz_output_base"))
    outputs = frozenset(base + window for _, base in mvs
                        for window in range(WINDOWS_PER_MULTIVIEWER))
    return Audience(user.pk, user.login, user.is_active, AccessService.is_admin(user),
                    frozenset(pk for pk, _ in mvs), outputs)
