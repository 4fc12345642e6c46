"""django-q2 tasks: a manual refresh run, and the nightly job.

    state.tasks.run_refresh(run_id)    queued by POST /api/refresh
    state.tasks.nightly_refresh()      the "nightly refresh" schedule (state/schedule.py)
"""

from __future__ import annotations

import logging

from state.models import RefreshRun
from state.refresh import execute_run
from state.services import StateService

logger = logging.getLogger(__name__)


def run_refresh(run_id: int) -> str:
    """Execute a queued run; returns its final status ("not run" when it was no longer
    queued: another worker took it, or a trigger gave up waiting for it)."""
    outcome = execute_run(run_id)
    return outcome.status if outcome is not None else "not run"


def nightly_refresh() -> dict:
    """Purge expired sessions, then refresh everything (or join the refresh in progress)."""
    from accounts.services import AuthService

    purged = AuthService.purge_expired_sessions()
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.SCHEDULED)
    result = {"sessions_purged": purged, "run": ticket.run.pk, "joined": ticket.joined}
    if not ticket.joined:
        outcome = execute_run(ticket.run.pk)
        result["status"] = outcome.status if outcome is not None else "not run"
    return result
