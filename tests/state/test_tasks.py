"""The django-q2 tasks: a queued manual run, and the nightly job (sessions, then a refresh)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Session
from state.models import RefreshRun
from state.runs import start_refresh
from state.tasks import nightly_refresh, run_refresh

pytestmark = pytest.mark.django_db(transaction=True)


def make_session(key: str, *, expired: bool) -> None:
    delta = timedelta(hours=1)
    Session.objects.create(session_key=key, session_data="",
                           expire_date=timezone.now() + (-delta if expired else delta))


def test_the_nightly_job_purges_expired_sessions_and_refreshes(devices):
    make_session("old", expired=True)
    make_session("live", expired=False)
    result = nightly_refresh()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]
    run = RefreshRun.objects.get()
    assert run.trigger == "scheduled" and run.user is None and run.status == "success"
    assert result == {"sessions_purged": 1, "run": run.pk, "joined": False, "status": "success"}


def test_the_nightly_job_joins_a_refresh_in_progress(transactional_db):
    make_session("old", expired=True)
    running, _ = start_refresh(trigger="manual")
    result = nightly_refresh()
    assert result == {"sessions_purged": 1, "run": running.pk, "joined": True}
    assert RefreshRun.objects.count() == 1
    assert not Session.objects.exists()


def test_a_manual_run_no_longer_queued_is_not_run_twice(devices):
    run, _ = start_refresh(trigger="manual")
    assert run_refresh(run.pk) == "success"
    assert run_refresh(run.pk) == "not run"
