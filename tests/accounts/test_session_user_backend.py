"""The backend sessions name (accounts/backends.py): the user read with a statement built once
must be exactly the user the ORM reads, and refuse exactly whom Django's ModelBackend refuses."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.backends import SessionUserBackend, user_by_id
from accounts.models import User
from accounts.services import UserService
from accounts.sessions import SessionStore
from tests.fixtures.accounts import BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(login: str) -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login(login).status_code == 200
    return client


def test_the_user_read_is_the_orm_user_field_for_field():
    user = UserFactory(login="alice", must_change_password=True)
    read = user_by_id(str(user.pk))
    expected = User.objects.get(pk=user.pk)
    assert isinstance(read, User)
    assert read._state.adding is False and read._state.db == "default"
    for field in User._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.name


def test_an_unknown_or_impossible_id_is_no_user():
    assert user_by_id("999999") is None
    assert user_by_id("not-a-number") is None


def test_an_inactive_user_is_refused_like_django_refuses_them():
    user = UserFactory(is_active=False)
    assert user_by_id(user.pk) is not None
    assert SessionUserBackend().get_user(user.pk) is None


def test_a_request_reads_its_user_in_one_query_and_logins_name_this_backend():
    UserFactory(login="alice")
    client = logged_in("alice")
    store = SessionStore(client.cookies["sessionid"].value)
    assert store["_auth_user_backend"] == "accounts.backends.SessionUserBackend"
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/auth/me").json()["login"] == "alice"
    user_reads = [q["sql"] for q in queries.captured_queries if '"accounts_user"' in q["sql"]]
    assert len(user_reads) == 1


def test_deactivating_or_deleting_a_user_ends_their_requests_at_once():
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    alice_client, bob_client = logged_in("alice"), logged_in("bob")
    User.objects.filter(pk=alice.pk).update(is_active=False)  # no signals, no session purge
    assert alice_client.get("/api/auth/me").status_code == 401
    bob.delete()
    assert bob_client.get("/api/auth/me").status_code == 401


def test_a_password_changed_elsewhere_ends_the_session():
    user = UserFactory(login="alice")
    client = logged_in("alice")
    user.set_password("another-long-password-7")
    User.objects.filter(pk=user.pk).update(password=user.password)  # the session hash changes
    assert client.get("/api/auth/me").status_code == 401


def test_sessions_started_under_djangos_backend_keep_working():
    user = UserFactory(login="alice")
    client = logged_in("alice")
    store = SessionStore(client.cookies["sessionid"].value)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store.save()
    assert client.get("/api/auth/me").json()["login"] == "alice"
    assert UserService.end_sessions(user=user) == 1
    assert client.get("/api/auth/me").status_code == 401
