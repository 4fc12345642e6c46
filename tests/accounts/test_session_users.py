"""The session's user kept beside the session in Redis (accounts/session_users.py): read with the
session in one round trip, never used once the user changed, never another session's or user's,
never holding the password hash."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import session_users
from accounts.models import Role, User
from accounts.services import UserService
from tests.fixtures.accounts import DEFAULT_PASSWORD, BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)




def logged_in(login: str) -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login(login).status_code == 200
    return client


def me(client) -> tuple[int, dict, int]:
    """GET /api/auth/me: status, body, and how many times the user table was read."""
    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/api/auth/me")
    reads = sum('FROM "accounts_user" WHERE "id" =' in q["sql"]
                for q in queries.captured_queries)
    return answer.status_code, answer.json(), reads


def snapshot_of(client) -> dict | None:
    return caches["default"].get(session_users.SNAPSHOT_PREFIX
                                 + client.cookies["sessionid"].value)


def test_the_user_comes_with_the_session_after_the_first_read(redis_sessions):
    UserFactory(login="alice")
    client = logged_in("alice")
    status, body, reads = me(client)  # the login changed the user (last_login): read
    assert (status, body["login"], reads) == (200, "alice", 1)
    status, body, reads = me(client)
    assert (status, body["login"], body["role"], reads) == (200, "alice", "user", 0)


def test_the_password_hash_never_goes_to_redis(redis_sessions):
    alice = UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    snapshot = snapshot_of(client)
    assert snapshot is not None and "password" not in snapshot["fields"]
    assert alice.password not in repr(snapshot)
    # A snapshot user that must check its password reads it from the database.
    user = session_users.user_from(session_users.LoadedSession(
        client.cookies["sessionid"].value, caches["default"].get(session_users.GENERATION_KEY),
        snapshot), alice.pk, User)
    assert user is not None and user.check_password(DEFAULT_PASSWORD)


def test_a_role_change_is_seen_by_the_very_next_request(redis_sessions):
    alice = UserFactory(login="alice")
    UserFactory(login="root", role=Role.ADMIN)
    client = logged_in("alice")
    me(client)
    assert me(client)[2] == 0
    UserService.update_user(user=alice, role=Role.ADMIN)
    status, body, reads = me(client)
    assert (status, body["role"], reads) == (200, "admin", 1)


def test_a_user_saved_inactive_is_refused_at_once(redis_sessions):
    alice = UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    assert me(client)[2] == 0
    alice.is_active = False
    alice.save()  # without ending the sessions: the snapshot alone must not let them in
    assert me(client)[0] in (401, 403)


def test_a_password_changed_elsewhere_ends_the_session(redis_sessions):
    alice = UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    alice.set_password("another-long-password-1")
    alice.save()
    assert me(client)[0] in (401, 403)


def test_the_users_own_password_change_keeps_them_logged_in(redis_sessions):
    UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    assert me(client)[2] == 0  # the request below starts from a snapshot user
    answer = client.post("/api/auth/password", {"current": DEFAULT_PASSWORD,
                                                "new": "a-new-long-password-2"}, format="json")
    assert answer.status_code == 200, answer.content
    assert me(client)[0] == 200
    assert me(client)[:2] == (200, me(client)[1])


def test_a_change_the_model_does_not_see_is_seen_when_the_snapshot_expires(redis_sessions):
    alice = UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    key = session_users.SNAPSHOT_PREFIX + client.cookies["sessionid"].value
    redis = caches["default"]._cache.get_client()
    ttl = redis.ttl(caches["default"].make_key(key))
    assert 0 < ttl <= session_users.SNAPSHOT_SECONDS
    User.objects.filter(pk=alice.pk).update(role=Role.ADMIN)  # no signal: the snapshot holds
    assert me(client)[1]["role"] == "user"
    caches["default"].delete(key)  # as its expiry does
    assert me(client)[1]["role"] == "admin"


def test_a_snapshot_serves_only_its_own_session_and_user(redis_sessions):
    UserFactory(login="alice")
    UserFactory(login="bob")
    alice, bob = logged_in("alice"), logged_in("bob")
    for _ in range(3):  # one thread, alternating sessions
        assert me(alice)[1]["login"] == "alice"
        assert me(bob)[1]["login"] == "bob"
    # Bob's snapshot offered with Alice's session names Bob: not used for her.
    loaded = session_users.LoadedSession(
        alice.cookies["sessionid"].value, caches["default"].get(session_users.GENERATION_KEY),
        snapshot_of(bob))
    alice_id = User.objects.get(login="alice").pk
    assert session_users.user_from(loaded, alice_id, User) is None


def test_a_snapshot_made_under_another_secret_key_is_not_used(redis_sessions, settings):
    UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    assert me(client)[2] == 0
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = []
    # The session hash no longer verifies: logged out, as without snapshots.
    assert me(client)[0] in (401, 403)


def test_a_new_redis_starts_a_generation_before_keeping_anything(redis_sessions):
    UserFactory(login="alice")
    client = logged_in("alice")
    caches["default"].delete(session_users.GENERATION_KEY)
    assert me(client)[2] == 1
    assert snapshot_of(client) is None or snapshot_of(client)["generation"] is not None
    assert caches["default"].get(session_users.GENERATION_KEY) is not None
    me(client)
    assert me(client)[2] == 0


def test_without_redis_nothing_is_kept(settings):
    assert not settings.REDIS_URL
    UserFactory(login="alice")
    client = logged_in("alice")
    me(client)
    assert me(client)[2] == 1
