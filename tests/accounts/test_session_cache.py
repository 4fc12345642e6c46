"""Sessions read through Redis when REDIS_URL is set (accounts/sessions.py): a session ended
anywhere — logout, password change, an admin ending a user's sessions — ends everywhere at once,
and without Redis nothing about a session is kept in the per-process cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import sessions
from accounts.models import Session
from accounts.services import UserService
from tests.fixtures.accounts import BrowserLikeClient

pytestmark = pytest.mark.django_db




def logged_in(login: str = "operator") -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login(login).status_code == 200
    return client


def session_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/auth/me").status_code == 200
    return sum("accounts_session" in q["sql"] for q in queries.captured_queries)


def test_with_redis_a_request_reads_its_session_from_redis(redis_sessions, operator_user):
    client = logged_in()
    assert session_queries(client) == 0
    key = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=key).exists()  # the database stays the record


def test_with_redis_a_logout_ends_the_session_for_every_process(redis_sessions, operator_user):
    client = logged_in()
    stolen = BrowserLikeClient()  # the same cookie in another browser / worker
    stolen.cookies["sessionid"] = client.cookies["sessionid"].value
    assert stolen.get("/api/auth/me").status_code == 200
    assert client.post("/api/auth/logout").status_code in (200, 204)
    assert stolen.get("/api/auth/me").status_code in (401, 403)


def test_with_redis_ending_a_users_sessions_ends_cached_ones(redis_sessions, operator_user):
    client = logged_in()
    assert client.get("/api/auth/me").status_code == 200  # now in Redis
    assert UserService.end_sessions(user=operator_user) == 1
    assert client.get("/api/auth/me").status_code in (401, 403)


def test_a_delete_racing_a_database_read_cannot_put_the_session_back(
        redis_sessions, operator_user, monkeypatch):
    client = logged_in()
    key = client.cookies["sessionid"].value
    caches["default"].delete(sessions.CACHE_PREFIX + key)  # not cached: the next read goes to
    original = sessions.SessionStore._get_session_from_db  # the database…

    def read_then_deleted_elsewhere(self):
        stored = original(self)
        sessions.SessionStore(session_key=key).delete()  # …and a logout lands meanwhile
        return stored

    monkeypatch.setattr(sessions.SessionStore, "_get_session_from_db",
                        read_then_deleted_elsewhere)
    assert sessions.SessionStore(session_key=key).load()  # the request in flight
    monkeypatch.undo()
    assert sessions.SessionStore(session_key=key).load() == {}
    assert client.get("/api/auth/me").status_code in (401, 403)


def test_without_redis_sessions_stay_out_of_the_per_process_cache(settings, operator_user):
    assert not settings.REDIS_URL
    client = logged_in()
    assert client.get("/api/auth/me").status_code == 200
    key = client.cookies["sessionid"].value
    assert cache.get(sessions.CACHE_PREFIX + key) is None
    assert session_queries(client) == 1
    Session.objects.filter(session_key=key).delete()  # as another worker's logout would
    assert client.get("/api/auth/me").status_code in (401, 403)
