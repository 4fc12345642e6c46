"""User management by admins over the API: create, change role, deactivate, reset, delete."""

from __future__ import annotations

import pytest

from accounts.models import Role, Session, User
from accounts.services import UserService
from tests.fixtures.accounts import DEFAULT_PASSWORD, AdminFactory, BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db

INITIAL = "an-initial-passphrase"


@pytest.fixture
def admin_api(admin_user) -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login("admin").status_code == 200
    return client


def logged_in(login: str, password: str = DEFAULT_PASSWORD) -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login(login, password).status_code == 200
    return client


def test_create_a_user_who_must_change_the_password_at_first_login(admin_api):
    response = admin_api.post("/api/users", {"login": "night.shift", "role": "user",
                                             "password": INITIAL}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["login"] == "night.shift" and body["role"] == "user"
    assert body["must_change_password"] is True and body["temporary_password"] is None
    assert INITIAL not in response.content.decode()
    me = logged_in("night.shift", INITIAL).get("/api/auth/me").json()
    assert me["must_change_password"] is True


def test_create_without_a_password_returns_a_generated_one_once(admin_api):
    response = admin_api.post("/api/users", {"login": "dayshift", "role": "admin"},
                              format="json")
    assert response.status_code == 201
    temporary = response.json()["temporary_password"]
    assert len(temporary) >= 16
    assert User.objects.get(login="dayshift").role == Role.ADMIN
    assert temporary not in admin_api.get("/api/users").content.decode()
    assert logged_in("dayshift", temporary).get("/api/auth/me").json()["role"] == "admin"


@pytest.mark.parametrize("payload, field", [
    ({"login": "bad login", "password": INITIAL}, "login"),
    ({"login": "ok", "password": "short"}, "password"),
    ({"login": "ok", "password": INITIAL, "role": "root"}, "role"),
    ({"password": INITIAL}, "login"),
])
def test_create_validates_fields(admin_api, payload, field):
    response = admin_api.post("/api/users", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert User.objects.count() == 1


def test_create_refuses_a_login_taken_in_any_case(admin_api):
    UserFactory(login="operator")
    response = admin_api.post("/api/users", {"login": "Operator", "password": INITIAL},
                              format="json")
    assert response.status_code == 409
    assert response.json()["fields"] == {"login": ["This login is taken."]}


def test_list_and_read_users_without_secrets(admin_api, operator_user):
    listed = admin_api.get("/api/users").json()
    assert [u["login"] for u in listed] == ["admin", "operator"]
    assert set(listed[0]) == {"id", "login", "role", "is_active", "must_change_password",
                              "created_at", "last_login"}
    one = admin_api.get(f"/api/users/{operator_user.pk}").json()
    assert one["login"] == "operator" and "password" not in one


def test_change_role_both_ways(admin_api, operator_user):
    url = f"/api/users/{operator_user.pk}"
    assert admin_api.patch(url, {"role": "admin"}, format="json").json()["role"] == "admin"
    assert logged_in("operator").get("/api/users").status_code == 200
    assert admin_api.patch(url, {"role": "user"}, format="json").json()["role"] == "user"


def test_deactivation_ends_the_users_sessions_and_login(admin_api, operator_user):
    phone, desk = logged_in("operator"), logged_in("operator")
    response = admin_api.patch(f"/api/users/{operator_user.pk}", {"is_active": False},
                               format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert phone.get("/api/auth/me").status_code == 401
    assert desk.get("/api/auth/me").status_code == 401
    assert BrowserLikeClient().api_login("operator").status_code == 400
    # The admin's own session is untouched.
    assert admin_api.get("/api/auth/me").status_code == 200
    assert Session.objects.count() == 1


def test_reactivation_lets_the_user_in_again(admin_api):
    retired = UserFactory(login="retired", is_active=False)
    admin_api.patch(f"/api/users/{retired.pk}", {"is_active": True}, format="json")
    assert BrowserLikeClient().api_login("retired").status_code == 200


def test_reset_returns_the_temporary_password_once_and_ends_sessions(admin_api, operator_user):
    session = logged_in("operator")
    response = admin_api.patch(f"/api/users/{operator_user.pk}", {"reset_password": True},
                               format="json")
    assert response.status_code == 200
    temporary = response.json()["temporary_password"]
    assert temporary and response.json()["must_change_password"] is True
    assert session.get("/api/auth/me").status_code == 401
    assert BrowserLikeClient().api_login("operator").status_code == 400  # old password gone
    fresh = logged_in("operator", temporary)
    assert fresh.get("/api/users").json()["error"] == "password_change_required"
    again = admin_api.get(f"/api/users/{operator_user.pk}").json()
    assert "temporary_password" not in again


def test_a_role_change_keeps_the_users_sessions(admin_api, operator_user):
    session = logged_in("operator")
    admin_api.patch(f"/api/users/{operator_user.pk}", {"role": "admin"}, format="json")
    assert session.get("/api/auth/me").json()["role"] == "admin"


def test_delete_ends_the_sessions(admin_api, operator_user):
    session = logged_in("operator")
    response = admin_api.delete(f"/api/users/{operator_user.pk}")
    assert response.status_code == 204
    assert not User.objects.filter(pk=operator_user.pk).exists()
    assert session.get("/api/auth/me").status_code == 401
    assert Session.objects.count() == 1


@pytest.mark.parametrize("change", [{"role": "user"}, {"is_active": False},
                                    {"role": "user", "is_active": False}, "delete"])
def test_the_last_active_admin_stays(admin_api, admin_user, change):
    AdminFactory(login="retired.admin", is_active=False)  # inactive admins do not count
    url = f"/api/users/{admin_user.pk}"
    if change == "delete":
        response = admin_api.delete(url)
    else:
        response = admin_api.patch(url, change, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "last_admin"
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN and admin_user.is_active
    assert admin_api.get("/api/auth/me").status_code == 200


def test_with_another_admin_an_admin_may_step_down(admin_api, admin_user):
    AdminFactory(login="deputy")
    response = admin_api.patch(f"/api/users/{admin_user.pk}", {"role": "user"}, format="json")
    assert response.status_code == 200
    assert admin_api.get("/api/users").status_code == 403


def test_resetting_ones_own_password_keeps_this_session_and_asks_for_a_new_one(admin_api,
                                                                              admin_user):
    other_desk = logged_in("admin")
    key_before = admin_api.cookies["sessionid"].value
    response = admin_api.patch(f"/api/users/{admin_user.pk}", {"reset_password": True},
                               format="json")
    assert response.status_code == 200
    temporary = response.json()["temporary_password"]
    assert response.cookies["sessionid"].value != key_before  # rotated, not ended
    assert other_desk.get("/api/auth/me").status_code == 401
    me = admin_api.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["must_change_password"] is True
    assert admin_api.get("/api/users").json()["error"] == "password_change_required"
    changed = admin_api.post("/api/auth/password", {"current": temporary, "new": INITIAL},
                             format="json")
    assert changed.status_code == 200
    assert admin_api.get("/api/users").status_code == 200
    assert Session.objects.count() == 1


def test_resetting_the_last_admins_password_from_elsewhere_ends_its_sessions(admin_user):
    deputy = AdminFactory(login="deputy")
    boss = logged_in("admin")
    deputy_api = logged_in("deputy")
    response = deputy_api.patch(f"/api/users/{admin_user.pk}", {"reset_password": True},
                                format="json")
    assert response.status_code == 200
    assert boss.get("/api/auth/me").status_code == 401
    assert deputy_api.get("/api/auth/me").json()["login"] == deputy.login
    assert logged_in("admin", response.json()["temporary_password"]).get(
        "/api/auth/me").json()["must_change_password"] is True


@pytest.mark.parametrize("change", [{"is_active": False}, "delete"])
def test_an_admin_leaving_ends_their_own_session(admin_api, admin_user, change):
    AdminFactory(login="deputy")
    url = f"/api/users/{admin_user.pk}"
    if change == "delete":
        assert admin_api.delete(url).status_code == 204
    else:
        assert admin_api.patch(url, change, format="json").status_code == 200
    assert admin_api.get("/api/auth/me").status_code == 401
    assert not Session.objects.exists()


def test_patch_validates_fields(admin_api, operator_user):
    response = admin_api.patch(f"/api/users/{operator_user.pk}", {"role": "root"},
                               format="json")
    assert response.status_code == 400 and "role" in response.json()["fields"]


def test_reset_password_service_for_the_admin_action(operator_user):
    session = logged_in("operator")
    temporary = UserService.reset_password(user=operator_user)
    assert operator_user.must_change_password is True
    assert operator_user.check_password(temporary)
    assert not operator_user.check_password(DEFAULT_PASSWORD)
    assert session.get("/api/auth/me").status_code == 401
    assert temporary != UserService.reset_password(user=operator_user)
