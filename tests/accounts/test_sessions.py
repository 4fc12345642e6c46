"""Server-side sessions: ending a user's sessions, sliding lifetime, purging expired ones."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Session
from accounts.services import AuthService, UserService
from accounts.sessions import SessionStore
from tests.fixtures.accounts import BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db


def session_for(user, *, expires_in: timedelta = timedelta(hours=1)) -> str:
    store = SessionStore()
    if user is not None:
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in)
    return store.session_key


def test_end_sessions_deletes_exactly_that_users_sessions():
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    alice_keys = [session_for(alice) for _ in range(3)]
    bob_key = session_for(bob)
    anonymous_key = session_for(None)
    assert UserService.end_sessions(user=alice, keep_session_key=alice_keys[0]) == 2
    assert set(Session.objects.values_list("session_key", flat=True)) == {
        alice_keys[0], bob_key, anonymous_key}
    assert UserService.end_sessions(user=alice) == 1
    assert UserService.end_sessions(user=alice) == 0


def test_a_user_with_a_numerically_similar_id_is_not_touched():
    users = [UserFactory() for _ in range(11)]
    first, eleventh = users[0], users[10]  # e.g. ids 1 and 11
    keep = session_for(eleventh)
    session_for(first)
    UserService.end_sessions(user=first)
    assert list(Session.objects.values_list("session_key", flat=True)) == [keep]


def test_sessions_slide_forward_with_each_request(settings, operator_user):
    settings.SESSION_COOKIE_AGE = 12 * 3600
    client = BrowserLikeClient()
    client.api_login("operator")
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() + timedelta(minutes=5))
    response = client.get("/api/auth/me")
    assert response.status_code == 200
    assert response.cookies["sessionid"]["max-age"] == 12 * 3600
    remaining = Session.objects.get(session_key=key).expire_date - timezone.now()
    assert remaining > timedelta(hours=11)


def test_session_lifetime_follows_the_setting(settings, operator_user):
    settings.SESSION_COOKIE_AGE = 2 * 3600
    response = BrowserLikeClient().api_login("operator")
    assert response.cookies["sessionid"]["max-age"] == 2 * 3600


def test_an_expired_session_is_logged_out(operator_user):
    client = BrowserLikeClient()
    client.api_login("operator")
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/auth/me").status_code == 401


def test_purge_deletes_only_expired_sessions():
    user = UserFactory()
    live = session_for(user)
    session_for(user, expires_in=-timedelta(minutes=1))
    session_for(None, expires_in=-timedelta(days=3))
    assert AuthService.purge_expired_sessions() == 2
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert AuthService.purge_expired_sessions() == 0


def test_purge_sessions_command_prints_the_count():
    session_for(None, expires_in=-timedelta(minutes=1))
    session_for(None)
    out = io.StringIO()
    call_command("purge_sessions", stdout=out)
    assert out.getvalue().strip() == "Purged 1 expired session."
    assert Session.objects.count() == 1
