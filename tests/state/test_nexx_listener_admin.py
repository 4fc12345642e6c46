"""Django admin: the NEXX listener's status (read-only, one row) and its integration settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from devices.models import NexxSettings
from state.models import NexxListenerStatus

pytestmark = pytest.mark.django_db


def test_the_status_page_says_what_the_listener_does(client, admin_user):
    now = timezone.now()
    NexxListenerStatus.objects.update_or_create(pk=1, defaults={
        "state": "subscribing", "registered": True, "frame": "http://10.0.0.20/v.api/apis/",
        "receiver": "mvcontrol (id 3) → 10.0.0.9:18081/udp", "parameters_planned": 12050,
        "parameters_live": 4000, "eta_seconds": 1060.0, "last_datagram_at": now,
        "datagrams": 12, "last_heal_at": now, "last_heal": "registration found",
        "heartbeat_at": now})
    client.force_login(admin_user)
    response = client.get(reverse("admin:state_nexxlistenerstatus_changelist"))
    assert response.status_code == 302  # one row: straight to it
    page = client.get(response["Location"]).content.decode()
    assert "subscribing" in page
    assert "4000 of 12050 (subscribing, about 18 min left)" in page
    assert "mvcontrol (id 3) → 10.0.0.9:18081/udp" in page
    assert "registration found" in page
    assert 'name="_save"' not in page  # read-only


def test_a_silent_listener_is_shown_as_not_running(client, admin_user):
    NexxListenerStatus.objects.update_or_create(pk=1, defaults={
        "state": "listening", "heartbeat_at": timezone.now() - timedelta(minutes=5)})
    client.force_login(admin_user)
    page = client.get(reverse("admin:state_nexxlistenerstatus_change", args=[1])).content
    assert "not running (was: listening)" in page.decode()


def test_the_status_is_refused_to_a_user(client, operator_user):
    client.force_login(operator_user)
    response = client.get(reverse("admin:state_nexxlistenerstatus_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def _nexx_form(**overrides):
    data = {"base_url": "http://10.0.0.20/v.api/apis/", "auth_mode": "none", "api_key": "",
            "jwt_username": "", "jwt_password": "", "verify_tls": "on",
            "requests_per_second": "8", "timeout": "5"}
    data.update(overrides)
    return data


def test_the_listener_settings_are_edited_in_the_nexx_settings(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:devices_nexxsettings_change", args=[NexxSettings.load().pk])
    page = client.get(url).content.decode()
    assert "Change notifications" in page and "listen_advertise" in page
    response = client.post(url, _nexx_form(listen_enabled="on", listen_advertise="10.0.0.9",
                                           listen_port="19000", listen_check_seconds="60"))
    assert response.status_code == 302
    row = NexxSettings.load()
    assert (row.listen_enabled, row.listen_advertise, row.listen_port,
            row.listen_check_seconds) == (True, "10.0.0.9", 19000, 60)
    # A form without the numbers keeps them.
    assert client.post(url, _nexx_form(listen_enabled="on")).status_code == 302
    row.refresh_from_db()
    assert (row.listen_port, row.listen_check_seconds) == (19000, 60)


@pytest.mark.parametrize(("field", "value"), [
    ("listen_advertise", "not a host!"), ("listen_port", "70000"),
    ("listen_check_seconds", "1"),
])
def test_bad_listener_settings_are_refused(client, admin_user, field, value):
    client.force_login(admin_user)
    url = reverse("admin:devices_nexxsettings_change", args=[NexxSettings.load().pk])
    response = client.post(url, _nexx_form(**{field: value}))
    assert response.status_code == 200  # the form again, with the error
    assert NexxSettings.load().listen_port == 18081
