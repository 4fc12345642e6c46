"""POST /api/refresh and GET /api/refresh/status: background run, per-user limit, progress."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.models import OrmQ
from rest_framework.test import APIClient

from state.models import RefreshRun
from state.runs import start_refresh
from tests.fixtures.accounts import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

REFRESH = "/api/refresh"
STATUS = "/api/refresh/status"


def queued_tasks() -> list[dict]:
    return [q.task for q in OrmQ.objects.all()]


def run_queued_task() -> str:
    """What a django-q2 worker does with the queued refresh task."""
    from django.utils.module_loading import import_string

    (task,) = queued_tasks()
    return import_string(task["func"])(*task["args"], **task["kwargs"])


def test_urls_are_where_the_control_page_expects_them():
    assert reverse("refresh") == REFRESH
    assert reverse("refresh-status") == STATUS


def test_an_operator_starts_a_refresh_that_runs_in_the_background(devices, operator_client_api,
                                                                   operator_user):
    response = operator_client_api.post(REFRESH)
    assert response.status_code == 202
    body = response.json()
    run = RefreshRun.objects.get()
    assert body["id"] == run.pk and body["joined"] is False and body["status"] == "running"
    assert run.trigger == "manual" and run.user == operator_user
    assert [(t["func"], t["args"]) for t in queued_tasks()] == [
        ("state.tasks.run_refresh", (run.pk,))]

    status = operator_client_api.get(STATUS).json()
    assert status["running"] is True
    assert status["last"]["id"] == run.pk and status["last"]["user"] == "operator"
    assert status["last"]["progress"]["phase"] == "queued"
    assert status["last_finished"] is None

    assert run_queued_task() == "success"
    status = operator_client_api.get(STATUS).json()
    assert status["running"] is False
    last = status["last"]
    assert last["status"] == "success" and last["progress"] is None
    assert last["trigger"] == "manual" and last["errors"] == []
    assert last["counts"]["multiviewers"] == 4 and last["finished_at"]
    assert status["last_finished"]["id"] == run.pk


def test_admins_may_refresh_too(admin_client_api):
    assert admin_client_api.post(REFRESH).status_code == 202


def test_one_refresh_per_minute_per_user(operator_client_api, admin_client_api):
    assert operator_client_api.post(REFRESH).status_code == 202
    response = operator_client_api.post(REFRESH)
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["error"] == "rate_limited"
    assert "at most 1 per minute" in body["detail"]
    # Another user is not held back by the first one's limit: they join the run in progress.
    other = admin_client_api.post(REFRESH)
    assert other.status_code == 202
    assert other.json()["joined"] is True
    assert other.json()["id"] == RefreshRun.objects.get().pk
    assert len(queued_tasks()) == 1


def test_the_limit_follows_the_setting(settings, operator_client_api):
    settings.REFRESH_RATE = "3/m"
    for _ in range(3):
        assert operator_client_api.post(REFRESH).status_code == 202
    assert operator_client_api.post(REFRESH).status_code == 429


def test_progress_while_a_run_is_reading(operator_client_api):
    run, _ = start_refresh(trigger="scheduled")
    RefreshRun.objects.filter(pk=run.pk).update(progress={
        "phase": "reading", "parts_done": 3, "parts_planned": 10, "parameters_read": 400,
        "parameters_planned": 1000, "eta_seconds": 7.5,
        "nexx": {"state": "reading", "requests": 10}, "quartz": {"state": "done"},
        "updated_at": "2026-01-01T03:00:01+00:00"})
    progress = operator_client_api.get(STATUS).json()["last"]["progress"]
    assert progress == {"phase": "reading", "parts_done": 3, "parts_planned": 10,
                        "parameters_read": 400, "parameters_planned": 1000, "eta_seconds": 7.5,
                        "nexx": {"state": "reading", "requests": 10},
                        "quartz": {"state": "done"},
                        "updated_at": "2026-01-01T03:00:01+00:00"}


def test_failures_are_listed_for_a_person(operator_client_api):
    run, _ = start_refresh(trigger="scheduled")
    run.status, run.error_summary = "partial", "NEXX: it broke.\nMV 3 reports layout 51."
    run.save()
    last = operator_client_api.get(STATUS).json()["last"]
    assert last["errors"] == ["NEXX: it broke.", "MV 3 reports layout 51."]
    assert last["user"] is None and last["trigger"] == "scheduled"


def test_not_logged_in_is_refused():
    client = APIClient()
    for response in (client.post(REFRESH), client.get(STATUS)):
        assert response.status_code in (401, 403)
        assert response.json()["error"] in ("not_authenticated", "forbidden")
    assert not RefreshRun.objects.exists()


def test_an_inactive_user_cannot_refresh():
    user = UserFactory(is_active=False)
    client = APIClient()
    client.force_login(user)
    assert client.post(REFRESH).status_code in (401, 403)


# --- scope -----------------------------------------------------------------------------------

def test_the_body_may_narrow_the_scope(devices, operator_client_api, operator_user):
    from devices.models import Multiviewer

    mv = Multiviewer.objects.create(nexx_index=1, label="Gallery")
    operator_user.multiviewers.set([mv])
    response = operator_client_api.post(REFRESH, {"multiviewer": mv.pk, "quartz": False},
                                        format="json")
    assert response.status_code == 202
    run = RefreshRun.objects.get()
    assert run.scope == {"nexx": True, "quartz": False, "multiviewer": 2}
    assert run_queued_task() == "success"
    last = operator_client_api.get(STATUS).json()["last"]
    assert last["scope"] == {"nexx": True, "quartz": False, "multiviewer": 2}
    assert last["counts"]["multiviewers"] == 1 and "routes" not in last["counts"]


def test_an_empty_body_refreshes_everything(operator_client_api):
    assert operator_client_api.post(REFRESH, {}, format="json").status_code == 202
    assert RefreshRun.objects.get().scope == {"nexx": True, "quartz": True, "multiviewer": None}


@pytest.mark.parametrize("body, field", [
    ({"nexx": False, "quartz": False}, "nexx"),
    ({"multiviewer": 0}, "multiviewer"),
    ({"multiviewer": -1}, "multiviewer"),
    ({"multiviewer": "two"}, "multiviewer"),
])
def test_a_bad_scope_is_refused_and_costs_nothing(operator_client_api, body, field):
    response = operator_client_api.post(REFRESH, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not RefreshRun.objects.exists()
    assert operator_client_api.post(REFRESH).status_code == 202  # the limit was not spent


def test_one_multiviewer_needs_access_to_it(operator_client_api, admin_client_api):
    from devices.models import Multiviewer

    mv = Multiviewer.objects.create(nexx_index=2)
    refused = operator_client_api.post(REFRESH, {"multiviewer": mv.pk}, format="json")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    missing = operator_client_api.post(REFRESH, {"multiviewer": mv.pk + 100}, format="json")
    assert missing.status_code == 404 and "multiviewer" in missing.json()["fields"]
    assert not RefreshRun.objects.exists()
    assert admin_client_api.post(REFRESH, {"multiviewer": mv.pk}, format="json").status_code == 202


def test_a_user_who_must_change_the_password_cannot_refresh():
    user = UserFactory(must_change_password=True)
    client = APIClient()
    client.force_login(user)
    for response in (client.post(REFRESH), client.get(STATUS)):
        assert response.status_code == 403
        assert response.json()["error"] == "password_change_required"
    assert not RefreshRun.objects.exists()
