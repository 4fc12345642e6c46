"""A session ended anywhere — logout, password change, an admin ending a user's sessions, a
worker deleting it — ends for every process at once: sessions live in PostgreSQL only, never in
a per-process cache. With Redis, the login limit is counted there, shared by every process."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import cache

from accounts.models import Session
from accounts.services import UserService
from tests.fixtures.accounts import BrowserLikeClient

pytestmark = pytest.mark.django_db


def logged_in(login: str = "operator") -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login(login).status_code == 200
    return client


def test_a_logout_ends_the_session_for_every_holder_of_the_cookie(operator_user):
    client = logged_in()
    stolen = BrowserLikeClient()  # the same cookie in another browser / worker
    stolen.cookies["sessionid"] = client.cookies["sessionid"].value
    assert stolen.get("/api/auth/me").status_code == 200
    assert client.post("/api/auth/logout").status_code in (200, 204)
    assert stolen.get("/api/auth/me").status_code in (401, 403)


def test_ending_a_users_sessions_ends_them_at_once(operator_user):
    client = logged_in()
    assert client.get("/api/auth/me").status_code == 200
    assert UserService.end_sessions(user=operator_user) == 1
    assert client.get("/api/auth/me").status_code in (401, 403)


def test_a_session_deleted_by_another_process_is_gone(operator_user):
    client = logged_in()
    key = client.cookies["sessionid"].value
    assert cache.get(key) is None  # nothing about a session is kept per process
    Session.objects.filter(session_key=key).delete()  # as another worker's logout would
    assert client.get("/api/auth/me").status_code in (401, 403)


def test_with_redis_the_login_limit_is_counted_in_redis(redis_cache, operator_user, settings):
    settings.LOGIN_RATE = "2/m"
    for _ in range(2):
        assert BrowserLikeClient().api_login("operator", password="wrong").status_code == 400
    assert BrowserLikeClient().api_login("operator", password="wrong").status_code == 429
    keys = redis.Redis.from_url(redis_cache).keys("*")
    assert keys, "the login limit was not counted in Redis"
