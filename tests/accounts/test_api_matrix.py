"""Every accounts endpoint × every kind of caller → the expected status.

Callers: anonymous, a user (acting on their own user object where the path names one), a user
acting on another user's objects, an admin, and a user who must change their password first.
Every client behaves like the page: CSRF enforced, token sent.
"""

from __future__ import annotations

import pytest

from tests.fixtures.accounts import DEFAULT_PASSWORD, AdminFactory, BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase"

# (method, path, body, {caller: status}); {target} is the user object the caller acts on.
# "other" is only meaningful where the path names a user object.
MATRIX = [
    ("get", "/api/auth/setup", None,
     {"anonymous": 200, "user": 200, "admin": 200, "flagged": 200}),
    ("post", "/api/auth/setup", {"login": "chief", "password": NEW_PASSWORD},
     {"anonymous": 409, "user": 409, "admin": 409, "flagged": 409}),
    ("post", "/api/auth/login", {"login": "victim", "password": DEFAULT_PASSWORD},
     {"anonymous": 200, "user": 200, "admin": 200, "flagged": 200}),
    ("post", "/api/auth/logout", None,
     {"anonymous": 204, "user": 204, "admin": 204, "flagged": 204}),
    ("get", "/api/auth/me", None,
     {"anonymous": 401, "user": 200, "admin": 200, "flagged": 200}),
    ("post", "/api/auth/password", {"current": DEFAULT_PASSWORD, "new": NEW_PASSWORD},
     {"anonymous": 401, "user": 200, "admin": 200, "flagged": 200}),
    ("get", "/api/users", None,
     {"anonymous": 401, "user": 403, "admin": 200, "flagged": 403}),
    ("post", "/api/users", {"login": "newbie", "role": "user", "password": NEW_PASSWORD},
     {"anonymous": 401, "user": 403, "admin": 201, "flagged": 403}),
    ("get", "/api/users/{target}", None,
     {"anonymous": 401, "user": 403, "other": 403, "admin": 200, "flagged": 403}),
    ("patch", "/api/users/{target}", {"role": "admin"},
     {"anonymous": 401, "user": 403, "other": 403, "admin": 200, "flagged": 403}),
    ("patch", "/api/users/{target}", {"reset_password": True},
     {"anonymous": 401, "user": 403, "other": 403, "admin": 200, "flagged": 403}),
    ("delete", "/api/users/{target}", None,
     {"anonymous": 401, "user": 403, "other": 403, "admin": 204, "flagged": 403}),
    ("get", "/api/users/{target}/access", None,
     {"anonymous": 401, "user": 403, "other": 403, "admin": 200, "flagged": 403}),
    ("put", "/api/users/{target}/access", {"sources": [], "multiviewers": []},
     {"anonymous": 401, "user": 403, "other": 403, "admin": 200, "flagged": 403}),
]

CASES = [
    pytest.param(method, path, body, caller, expected,
                 id=f"{method.upper()} {path} as {caller}")
    for method, path, body, expected_by_caller in MATRIX
    for caller, expected in expected_by_caller.items()
]


@pytest.mark.parametrize(("method", "path", "body", "caller", "expected"), CASES)
def test_status(method, path, body, caller, expected):
    admin = AdminFactory(login="boss")
    user = UserFactory(login="operator")
    victim = UserFactory(login="victim")
    flagged = UserFactory(login="newcomer", must_change_password=True)
    client = BrowserLikeClient()
    acting_as = {"anonymous": None, "user": user, "other": user, "admin": admin,
                 "flagged": flagged}[caller]
    if acting_as is not None:
        client.force_login(acting_as)
    # A user acts on their own object; "other" and the admin act on someone else's.
    target = {"user": user, "flagged": flagged}.get(caller, victim)
    response = getattr(client, method)(path.format(target=target.pk), body, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        body = response.json()
        assert set(body) >= {"error", "detail", "fields"}
        if expected == 403 and caller == "flagged" and "/setup" not in path:
            assert body["error"] == "password_change_required"


def test_unknown_user_is_404_for_an_admin(admin_user):
    client = BrowserLikeClient()
    client.force_login(admin_user)
    for method, path in [("get", "/api/users/999999"), ("patch", "/api/users/999999"),
                         ("delete", "/api/users/999999"), ("get", "/api/users/999999/access"),
                         ("put", "/api/users/999999/access")]:
        response = getattr(client, method)(path, {"sources": [], "multiviewers": []},
                                           format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "not_found"


UNSAFE = [(method, path, body) for method, path, body, _ in MATRIX if method != "get"]


@pytest.mark.parametrize(("method", "path", "body"), UNSAFE,
                         ids=[f"{m.upper()} {p}" for m, p, _ in UNSAFE])
@pytest.mark.parametrize("caller", ["user", "admin"])
def test_missing_csrf_token_is_403_with_a_session(method, path, body, caller):
    admin = AdminFactory(login="boss")
    user = UserFactory(login="operator")
    victim = UserFactory(login="victim")
    client = BrowserLikeClient(send_csrf_token=False)
    client.force_login(admin if caller == "admin" else user)
    response = getattr(client, method)(path.format(target=victim.pk), body, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"


@pytest.mark.parametrize(("path", "body"), [
    ("/api/auth/login", {"login": "victim", "password": DEFAULT_PASSWORD}),
    ("/api/auth/setup", {"login": "chief", "password": NEW_PASSWORD}),
])
def test_anonymous_login_and_setup_need_the_csrf_token(path, body):
    """Login CSRF: another site must not log the browser into an account it chose."""
    if "login" in path:
        UserFactory(login="victim")
    client = BrowserLikeClient(send_csrf_token=False)
    client.get("/api/auth/setup")  # the cookie alone is not enough: the header must match
    response = client.post(path, body, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "csrf_failed"
    assert "sessionid" not in response.cookies


def test_a_wrong_csrf_token_is_refused(operator_user):
    client = BrowserLikeClient(send_csrf_token=False)
    client.get("/api/auth/setup")
    response = client.post("/api/auth/login",
                           {"login": "operator", "password": DEFAULT_PASSWORD},
                           format="json", HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
