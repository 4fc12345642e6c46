"""The refresh runs page: the last refresh shown first, and the "Refresh now" button."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from state.models import RefreshRun

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:state_refreshrun_changelist"
REFRESH_NOW = "admin:state_refreshrun_refresh_now"


def test_the_page_says_when_nothing_was_refreshed_yet(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "No refresh yet" in page
    assert reverse(REFRESH_NOW) in page and "Refresh now" in page


def test_the_last_refresh_is_shown_first_with_its_errors(client, admin_user):
    now = timezone.now()
    RefreshRun.objects.create(trigger="scheduled", started_at=now, finished_at=now,
                              status="partial", counts={"multiviewers": 20, "windows": 180,
                                                        "routes": 320},
                              error_summary="Quartz: the router 10.0.0.5:6543 is unreachable.")
    client.force_login(admin_user)
    page = client.get(reverse(CHANGELIST)).content.decode()
    box = page[page.index('id="last-refresh"'):]
    assert "Last refresh: PARTIAL" in box
    assert "20 multiviewers, 180 windows; 320 routes" in box
    assert "Quartz: the router 10.0.0.5:6543 is unreachable." in box
    assert 'http-equiv="refresh"' not in page


def test_a_running_refresh_shows_its_progress_and_the_page_reloads(client, admin_user):
    RefreshRun.objects.create(trigger="manual", user=admin_user, started_at=timezone.now(),
                              progress={"phase": "reading", "parts_done": 2, "parts_planned": 9,
                                        "parameters_read": 120, "parameters_planned": 900,
                                        "eta_seconds": 12})
    client.force_login(admin_user)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "Last refresh: RUNNING" in page
    assert "2 of 9 parts stored, 120 of 900 values read, about 12 s left" in page
    assert 'http-equiv="refresh"' in page


def test_refresh_now_starts_a_background_run(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse(REFRESH_NOW), follow=True)
    run = RefreshRun.objects.get()
    assert run.trigger == "manual" and run.user == admin_user
    assert OrmQ.objects.count() == 1
    assert f"Refresh run #{run.pk} started" in response.content.decode()
    again = client.post(reverse(REFRESH_NOW), follow=True).content.decode()
    assert "Too many refreshes" in again
    assert RefreshRun.objects.count() == 1


def test_refresh_now_needs_a_post(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse(REFRESH_NOW)).status_code == 405
    assert not RefreshRun.objects.exists()


def test_refresh_now_is_refused_to_a_user(client, operator_user):
    client.force_login(operator_user)
    response = client.post(reverse(REFRESH_NOW))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not RefreshRun.objects.exists()
