"""A CSRF refusal says what helps: reloading fixes a stale token, never a cookie the browser
does not send (HTTPS-only cookies on a page opened over plain HTTP)."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from tests.fixtures.accounts import BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = {"login": "operator", "password": "irrelevant-here"}


@override_settings(CSRF_COOKIE_SECURE=True, SESSION_COOKIE_SECURE=True)
def test_no_cookie_over_plain_http_with_https_only_cookies_says_reloading_will_not_help():
    UserFactory(login="operator")
    client = BrowserLikeClient(send_csrf_token=False)
    response = client.post("/api/auth/login", LOGIN, format="json",
                           HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "csrf_failed"
    assert "https://" in body["detail"]
    assert "reloading will not help" in body["detail"]


@override_settings(CSRF_COOKIE_SECURE=False, SESSION_COOKIE_SECURE=False)
def test_no_cookie_with_plain_cookies_asks_to_allow_cookies():
    client = BrowserLikeClient(send_csrf_token=False)
    response = client.post("/api/auth/login", LOGIN, format="json")
    assert response.status_code == 403
    assert "allow cookies" in response.json()["detail"]


def test_a_wrong_token_with_the_cookie_asks_for_a_reload():
    client = BrowserLikeClient(send_csrf_token=False)
    client.get("/api/auth/setup")  # the cookie is there; the header is not
    assert "csrftoken" in client.cookies
    response = client.post("/api/auth/login", LOGIN, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == (
        "The security token is missing or out of date; reload the page.")


@override_settings(CSRF_COOKIE_SECURE=True, SESSION_COOKIE_SECURE=True)
def test_the_middlewares_failure_view_answers_the_same_sentence_under_api(rf):
    """CSRF_FAILURE_VIEW, for an /api/ request Django's middleware refuses itself."""
    from django.middleware.csrf import REASON_NO_CSRF_COOKIE

    from mvcontrol.api_errors import csrf_failure

    response = csrf_failure(rf.post("/api/anything"), reason=REASON_NO_CSRF_COOKIE)
    assert response.status_code == 403
    assert "reloading will not help" in json.loads(response.content)["detail"]
