"""Issue 20: the accounts API takes strict JSON types, as every other body does — a login or a
password is a JSON string, an id a JSON number, a flag true or false — refused as a 400
validation_error naming the field, with nothing changed."""

from __future__ import annotations

import pytest

from accounts.models import Role, User
from devices.models import Multiviewer, Source
from tests.fixtures.accounts import DEFAULT_PASSWORD, BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db

INITIAL = "an-initial-passphrase"


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert isinstance(body["detail"], str)
    assert list(body["fields"]) == [field], body


@pytest.fixture
def admin_api(admin_user) -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login("admin").status_code == 200
    return client


@pytest.mark.parametrize(("payload", "field"), [
    ({"login": 12345, "password": DEFAULT_PASSWORD}, "login"),
    ({"login": ["operator"], "password": DEFAULT_PASSWORD}, "login"),
    ({"login": "operator", "password": 1234567890123}, "password"),
    ({"login": "operator", "password": True}, "password"),
])
def test_login_takes_text_only(payload, field):
    UserFactory(login="12345")
    UserFactory(login="operator")
    response = BrowserLikeClient().post("/api/auth/login", payload, format="json")
    assert_refused(response, field)
    assert "sessionid" not in response.cookies


def test_setup_takes_text_only():
    response = BrowserLikeClient().post("/api/auth/setup", {"login": 1234, "password": INITIAL},
                                        format="json")
    assert_refused(response, "login")
    assert not User.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"login": 2024, "password": INITIAL}, "login"),
    ({"login": "nightshift", "password": 1234567890123}, "password"),
])
def test_create_user_takes_text_only(admin_api, payload, field):
    assert_refused(admin_api.post("/api/users", payload, format="json"), field)
    assert User.objects.count() == 1


@pytest.mark.parametrize(("payload", "field"), [
    ({"is_active": "false"}, "is_active"),
    ({"is_active": 0}, "is_active"),
    ({"reset_password": "true"}, "reset_password"),
    ({"reset_password": 1}, "reset_password"),
])
def test_update_user_takes_json_booleans_only(admin_api, payload, field):
    user = UserFactory(login="operator")
    assert_refused(admin_api.patch(f"/api/users/{user.pk}", payload, format="json"), field)
    user.refresh_from_db()
    assert user.is_active and not user.must_change_password and user.role == Role.USER
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("spoilt", ["text", "float", "bool"])
@pytest.mark.parametrize("field", ["sources", "multiviewers"])
def test_grants_take_json_numbers_only(admin_api, spoilt, field):
    user = UserFactory(login="operator")
    source = Source.objects.create(quartz_input=1, label="CAM 1")
    mv = Multiviewer.objects.create(nexx_index=0)
    body = {"sources": [source.pk], "multiviewers": [mv.pk]}
    good = body[field][0]
    body[field] = [{"text": str(good), "float": float(good), "bool": True}[spoilt]]
    assert_refused(admin_api.put(f"/api/users/{user.pk}/access", body, format="json"), field)
    assert not user.sources.exists() and not user.multiviewers.exists()


def test_the_right_types_still_pass(admin_api):
    user = UserFactory(login="operator")
    source = Source.objects.create(quartz_input=1, label="CAM 1")
    response = admin_api.put(f"/api/users/{user.pk}/access",
                             {"sources": [source.pk], "multiviewers": []}, format="json")
    assert response.status_code == 200
    response = admin_api.patch(f"/api/users/{user.pk}", {"is_active": False}, format="json")
    assert response.status_code == 200 and response.json()["is_active"] is False
