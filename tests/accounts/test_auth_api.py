"""Login, logout, me, own password change, first-admin setup, over the API."""

from __future__ import annotations

import pytest

from accounts.models import Role, Session, User
from devices.models import Multiviewer, Source
from tests.fixtures.accounts import DEFAULT_PASSWORD, AdminFactory, BrowserLikeClient, UserFactory
from tests.support import FastArgon2PasswordHasher

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase"


def logged_in(login: str, password: str = DEFAULT_PASSWORD) -> BrowserLikeClient:
    client = BrowserLikeClient()
    response = client.api_login(login, password)
    assert response.status_code == 200, response.content
    return client


# --- login -----------------------------------------------------------------------------------

def test_login_sets_a_hardened_session_cookie_and_returns_the_user(settings, operator_user):
    settings.SESSION_COOKIE_SECURE = True  # production's default (the demo's is plain HTTP)
    client = BrowserLikeClient()
    response = client.api_login("operator")
    assert response.status_code == 200
    assert response.json() == {
        "id": operator_user.pk, "login": "operator", "role": "user",
        "must_change_password": False,
        "grants": {"all": False, "sources": [], "multiviewers": []},
    }
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert client.get("/api/auth/me").status_code == 200
    operator_user.refresh_from_db()
    assert operator_user.last_login is not None


def test_secure_flag_can_be_turned_off_for_plain_http_installs(settings, operator_user):
    settings.SESSION_COOKIE_SECURE = False
    response = BrowserLikeClient().api_login("operator")
    assert not response.cookies["sessionid"]["secure"]


def test_login_is_case_insensitive_on_the_login(operator_user):
    assert BrowserLikeClient().api_login("OPERATOR").status_code == 200


def test_login_rotates_the_session_key_and_the_csrf_token(operator_user):
    client = BrowserLikeClient()
    client.get("/api/auth/setup")
    token_before = client.cookies["csrftoken"].value
    client.force_login(UserFactory(login="someone"))
    key_before = client.cookies["sessionid"].value
    response = client.api_login("operator")
    assert response.status_code == 200
    assert response.cookies["sessionid"].value != key_before
    assert response.cookies["csrftoken"].value != token_before
    assert not Session.objects.filter(session_key=key_before).exists()


@pytest.mark.parametrize("login, password", [
    ("operator", "not-the-password"),   # wrong password
    ("nobody", DEFAULT_PASSWORD),       # unknown login
    ("retired", DEFAULT_PASSWORD),      # deactivated account
])
def test_failed_logins_all_get_the_same_answer(operator_user, login, password):
    UserFactory(login="retired", is_active=False)
    response = BrowserLikeClient().api_login(login, password)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_credentials",
                               "detail": "The login or the password is wrong.", "fields": {}}
    assert "sessionid" not in response.cookies


def test_unknown_login_runs_the_password_hasher_like_a_wrong_password(operator_user,
                                                                       monkeypatch):
    """Similar time: each failure hashes the candidate once (Argon2 dominates the cost)."""
    calls = []
    original_verify = FastArgon2PasswordHasher.verify
    original_encode = FastArgon2PasswordHasher.encode
    monkeypatch.setattr(FastArgon2PasswordHasher, "verify",
                        lambda self, *a: calls.append("verify") or original_verify(self, *a))
    monkeypatch.setattr(FastArgon2PasswordHasher, "encode",
                        lambda self, *a: calls.append("encode") or original_encode(self, *a))
    BrowserLikeClient().api_login("operator", "not-the-password")
    wrong_password = list(calls)
    calls.clear()
    BrowserLikeClient().api_login("nobody", "not-the-password")
    assert wrong_password == ["verify"]
    assert calls == ["encode"]


def test_login_with_missing_fields_is_a_validation_error():
    response = BrowserLikeClient().post("/api/auth/login", {"login": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "password" in response.json()["fields"]


def test_a_user_who_must_change_the_password_is_told_so_and_can_do_nothing_else():
    UserFactory(login="newcomer", must_change_password=True)
    client = BrowserLikeClient()
    response = client.api_login("newcomer")
    assert response.status_code == 200 and response.json()["must_change_password"] is True
    refused = client.get("/api/users")
    assert refused.status_code == 403
    assert refused.json()["error"] == "password_change_required"
    assert client.get("/api/auth/me").status_code == 200
    changed = client.post("/api/auth/password", {"current": DEFAULT_PASSWORD, "new": NEW_PASSWORD},
                          format="json")
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    assert client.get("/api/auth/me").json()["must_change_password"] is False


# --- login throttling --------------------------------------------------------------------------

def test_login_attempts_are_limited_per_ip(settings, operator_user):
    settings.LOGIN_RATE = "3/m"
    client = BrowserLikeClient()
    for n in range(3):
        assert client.api_login(f"guess{n}", "wrong-password").status_code == 400
    refused = client.api_login("operator")  # even the right password: not even checked
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "sessionid" not in refused.cookies
    # Another address is not affected.
    assert client.api_login("operator", REMOTE_ADDR="10.9.8.7").status_code == 200


def test_login_attempts_are_limited_per_login_across_addresses(settings, operator_user):
    settings.LOGIN_RATE = "3/m"
    client = BrowserLikeClient()
    for n in range(3):
        response = client.api_login("operator", "wrong-password", REMOTE_ADDR=f"10.0.0.{n + 1}")
        assert response.status_code == 400
    refused = client.api_login("Operator", REMOTE_ADDR="10.0.0.99")
    assert refused.status_code == 429
    assert "Retry-After" in refused
    # Another login from a fresh address still gets in.
    UserFactory(login="colleague")
    assert client.api_login("colleague", REMOTE_ADDR="10.0.0.100").status_code == 200


def test_default_login_rate_is_five_per_minute(operator_user):
    client = BrowserLikeClient()
    statuses = [client.api_login("operator", "wrong-password").status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]


# --- logout ------------------------------------------------------------------------------------

def test_logout_deletes_the_server_side_session_and_clears_the_cookie(operator_user):
    client = logged_in("operator")
    key = client.cookies["sessionid"].value
    stolen = BrowserLikeClient()
    stolen.cookies["sessionid"] = key  # someone who copied the cookie before logout
    response = client.post("/api/auth/logout")
    assert response.status_code == 204
    assert response.cookies["sessionid"].value == ""
    assert response.cookies["sessionid"]["max-age"] == 0
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/api/auth/me").status_code == 401
    assert stolen.get("/api/auth/me").status_code == 401


# --- me ----------------------------------------------------------------------------------------

def test_me_lists_what_the_user_may_use():
    cam = Source.objects.create(quartz_input=1, label="CAM 1")
    Source.objects.create(quartz_input=2)
    mv = Multiviewer.objects.create(nexx_index=0)
    Multiviewer.objects.create(nexx_index=1)
    user = UserFactory(login="operator")
    user.sources.set([cam])
    user.multiviewers.set([mv])
    body = logged_in("operator").get("/api/auth/me").json()
    assert body["grants"] == {"all": False, "sources": [cam.pk], "multiviewers": [mv.pk]}


def test_me_for_an_admin_lists_everything():
    sources = [Source.objects.create(quartz_input=n).pk for n in (1, 2)]
    mvs = [Multiviewer.objects.create(nexx_index=n).pk for n in (0, 1)]
    AdminFactory(login="boss")
    body = logged_in("boss").get("/api/auth/me").json()
    assert body["role"] == "admin"
    assert body["grants"] == {"all": True, "sources": sources, "multiviewers": mvs}


def test_me_hands_out_the_csrf_cookie_even_to_anonymous_callers():
    response = BrowserLikeClient().get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response.cookies["csrftoken"].value


# --- own password --------------------------------------------------------------------------------

def test_password_change_rotates_the_session_and_ends_the_other_sessions(operator_user):
    client = logged_in("operator")
    other_device = logged_in("operator")
    key_before = client.cookies["sessionid"].value
    response = client.post("/api/auth/password", {"current": DEFAULT_PASSWORD,
                                                   "new": NEW_PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.cookies["sessionid"].value != key_before
    assert client.get("/api/auth/me").status_code == 200
    assert other_device.get("/api/auth/me").status_code == 401
    assert Session.objects.count() == 1
    operator_user.refresh_from_db()
    assert operator_user.check_password(NEW_PASSWORD)
    assert BrowserLikeClient().api_login("operator", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("current, new, field", [
    ("not-the-password", NEW_PASSWORD, "current"),
    (DEFAULT_PASSWORD, "short", "new"),                   # minimum length 10
    (DEFAULT_PASSWORD, "1234567890123", "new"),           # entirely numeric
    (DEFAULT_PASSWORD, "password123", "new"),             # common
    (DEFAULT_PASSWORD, DEFAULT_PASSWORD, "new"),          # unchanged
])
def test_password_change_refusals_name_the_field(operator_user, current, new, field):
    client = logged_in("operator")
    response = client.post("/api/auth/password", {"current": current, "new": new},
                           format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == [field]
    operator_user.refresh_from_db()
    assert operator_user.check_password(DEFAULT_PASSWORD)


def test_a_new_password_like_the_login_is_refused(settings, operator_user):
    # The similarity validator must be told which attribute holds the login (settings).
    settings.AUTH_PASSWORD_VALIDATORS = [{
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ["login"]},
    }]
    response = logged_in("operator").post(
        "/api/auth/password", {"current": DEFAULT_PASSWORD, "new": "operator12"},
        format="json")
    assert response.status_code == 400
    assert "login" in " ".join(response.json()["fields"]["new"])


def test_guessing_the_current_password_is_rate_limited(settings, operator_user):
    settings.LOGIN_RATE = "2/m"
    client = BrowserLikeClient()
    client.force_login(operator_user)
    body = {"current": "guess-guess", "new": NEW_PASSWORD}
    statuses = [client.post("/api/auth/password", body, format="json").status_code
                for _ in range(3)]
    assert statuses == [400, 400, 429]


# --- first admin ---------------------------------------------------------------------------------

def test_setup_creates_the_first_admin_once():
    client = BrowserLikeClient()
    assert client.get("/api/auth/setup").json() == {"needed": True}
    response = client.post("/api/auth/setup", {"login": "chief", "password": NEW_PASSWORD},
                           format="json")
    assert response.status_code == 201
    assert response.json()["role"] == "admin"
    chief = User.objects.get()
    assert chief.login == "chief" and chief.role == Role.ADMIN and chief.is_staff
    assert not chief.must_change_password
    assert client.get("/api/auth/setup").json() == {"needed": False}
    again = client.post("/api/auth/setup", {"login": "intruder", "password": NEW_PASSWORD},
                        format="json")
    assert again.status_code == 409
    assert again.json()["error"] == "setup_done"
    assert User.objects.count() == 1
    assert client.api_login("chief", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("login, password, field", [
    ("chief", "short", "password"),
    ("bad login!", NEW_PASSWORD, "login"),
    ("", NEW_PASSWORD, "login"),
])
def test_setup_validates_login_and_password(login, password, field):
    response = BrowserLikeClient().post("/api/auth/setup",
                                        {"login": login, "password": password}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not User.objects.exists()
