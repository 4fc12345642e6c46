"""What a published message becomes on the page: the event types of GET /api/events.

    multiviewer  {"multiviewer": id, "document": GET /api/multiviewers/{id}'s answer, its
                 undo step included}
    routing      {"routes": [{"output", "input",
                              "source": {id, quartz_input, label, category} | null}]}
    lease        {"multiviewer": id, "lease": {"login", "expires_at"} | null, "action"}
    refresh      GET /api/refresh/status's answer
    preset_job   GET /api/presets/jobs/{job}'s answer (to its owner only)
    resync       {}: what was missed cannot be replayed; read the state again

`access` messages (grants or a user changed) are not shown: each stream re-reads what its user
may see, and ends when the user was deactivated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from rest_framework.renderers import JSONRenderer

logger = logging.getLogger(__name__)

KINDS = ("multiviewer", "routing", "lease", "refresh", "preset_job", "access")


@dataclass(eq=False)
class Event:
    number: int
    kind: str
    data: dict
    # Who may see it (checked per stream by live.audience): the multiviewer it is about, the
    # router outputs, the one user it belongs to, or the user whose access changed.
    multiviewer: int | None = None
    user: int | None = None
    _rendered: dict = field(default_factory=dict, repr=False)

    def rendered(self, data: dict | None = None) -> str:
        """`data` (default the event's own) as the one JSON line of its `data:` field."""
        if data is None:
            if "own" not in self._rendered:
                self._rendered["own"] = JSONRenderer().render(self.data).decode()
            return self._rendered["own"]
        return JSONRenderer().render(data).decode()


def enrich(message: dict) -> Event | None:
    """The event a published message stands for, with what it names read from the database;
    None for a message of no known kind (logged), or naming something gone."""
    kind = message.get("kind")
    if kind not in KINDS:
        logger.error("Ignored a change notification of unknown kind %r.", kind)
        return None
    return _READERS[kind](message)


def _multiviewer(message: dict) -> Event | None:
    from control.api.serializers import MultiviewerSerializer
    from control.documents import multiviewer_view, multiviewer_with_state

    mv = multiviewer_with_state(message.get("multiviewer"))
    if mv is None:
        return None
    # The lease's "mine" is set per stream (live.audience).
    document = MultiviewerSerializer(multiviewer_view(mv, None)).data
    return Event(0, "multiviewer", {"multiviewer": mv.pk, "document": document},
                 multiviewer=mv.pk)


def _routing(message: dict) -> Event:
    from control.api.serializers import SourceSerializer
    from control.documents import sources_by_input

    routes = [r for r in message.get("routes") or [] if isinstance(r, dict)]
    sources = sources_by_input(r.get("input") for r in routes)
    return Event(0, "routing", {"routes": [
        {"output": r.get("output"), "input": r.get("input"),
         "source": (SourceSerializer(sources[r.get("input")]).data
                    if r.get("input") in sources else None)} for r in routes]})


def _lease(message: dict) -> Event:
    return Event(0, "lease", {"multiviewer": message.get("multiviewer"),
                              "lease": message.get("lease"), "action": message.get("action")},
                 multiviewer=message.get("multiviewer"))


def _refresh(message: dict) -> Event:
    from state.api.serializers import RefreshStatusSerializer
    from state.services import StateService

    return Event(0, "refresh", dict(RefreshStatusSerializer(StateService.refresh_status()).data))


def _preset_job(message: dict) -> Event | None:
    from presets.api.serializers import ApplyJobSerializer
    from presets.models import ApplyJob
    from presets.services import PresetService

    job = ApplyJob.objects.filter(pk=message.get("job")).first()
    if job is None:
        return None
    return Event(0, "preset_job", dict(ApplyJobSerializer(PresetService.describe_job(job)).data),
                 user=job.user_id)


def _access(message: dict) -> Event:
    return Event(0, "access", {}, user=message.get("user"))


_READERS = {"multiviewer": _multiviewer, "routing": _routing, "lease": _lease,
            "refresh": _refresh, "preset_job": _preset_job, "access": _access}
