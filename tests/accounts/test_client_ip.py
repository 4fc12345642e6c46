"""The address the per-IP login limit counts, directly and behind a reverse proxy."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts.client_ip import UNKNOWN, client_ip
from tests.fixtures.accounts import BrowserLikeClient

pytestmark = pytest.mark.django_db


def request(remote: str = "192.0.2.10", **meta):
    return RequestFactory().get("/", REMOTE_ADDR=remote, **meta)


def test_without_a_header_the_peer_address_counts(settings):
    settings.CLIENT_IP_HEADER = ""
    assert client_ip(request(HTTP_X_FORWARDED_FOR="203.0.113.5")) == "192.0.2.10"


@pytest.mark.parametrize("forwarded, expected", [
    ("203.0.113.5", "203.0.113.5"),
    ("10.6.6.6, 203.0.113.5", "203.0.113.5"),  # the client's own entry can be forged
    ("2001:db8::1", "2001:db8::1"),
    ("not-an-address", "192.0.2.10"),          # unusable: the peer address
    ("", "192.0.2.10"),
])
def test_behind_a_proxy_the_address_it_added_counts(settings, forwarded, expected):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    assert client_ip(request(HTTP_X_FORWARDED_FOR=forwarded)) == expected


def test_a_request_that_bypassed_the_proxy_counts_under_its_peer(settings):
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    assert client_ip(request()) == "192.0.2.10"


def test_no_address_at_all_shares_one_bucket(settings):
    settings.CLIENT_IP_HEADER = ""
    assert client_ip(request(remote="")) == UNKNOWN


def test_login_limit_per_client_behind_a_proxy(settings, operator_user):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.LOGIN_RATE = "2/m"
    proxy = BrowserLikeClient(REMOTE_ADDR="10.0.0.1")
    for n in range(2):
        response = proxy.api_login(f"guess{n}", "wrong-password",
                                   HTTP_X_FORWARDED_FOR="203.0.113.5")
        assert response.status_code == 400
    assert proxy.api_login("operator", HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    # Another client behind the same proxy is not held back.
    assert proxy.api_login("operator", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200
