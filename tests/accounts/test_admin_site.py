"""The Django admin side of accounts: its login shares the API's limits, a flagged admin is sent
to change the password, and an admin acting on their own account does not break the request."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Session, User
from tests.fixtures.accounts import DEFAULT_PASSWORD, AdminFactory, BrowserLikeClient

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase"


def admin_login(client: Client, login: str = "admin", password: str = DEFAULT_PASSWORD, **extra):
    return client.post(reverse("admin:login"), {"username": login, "password": password},
                       **extra)


def logged_into_admin(login: str = "admin", password: str = DEFAULT_PASSWORD) -> Client:
    client = Client()
    response = admin_login(client, login, password)
    assert response.status_code == 302, response.content
    return client


def change_own_password(client: Client, old: str, new: str = NEW_PASSWORD):
    return client.post(reverse("admin:password_change"),
                       {"old_password": old, "new_password1": new, "new_password2": new})


# --- login -----------------------------------------------------------------------------------

def test_admin_login_works(admin_user):
    client = logged_into_admin()
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_login_is_rate_limited_like_the_api(admin_user):
    client = Client()
    for _ in range(5):
        assert admin_login(client, password="wrong-password").status_code == 200
    refused = admin_login(client)  # the right password, but over the limit
    assert refused.status_code == 200
    assert "Too many login attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_admin_and_api_logins_share_one_budget(admin_user):
    api = BrowserLikeClient()
    for _ in range(5):
        assert api.api_login("admin", "wrong-password").status_code == 400
    response = admin_login(Client(), REMOTE_ADDR="10.1.2.3")  # same login, other address
    assert "Too many login attempts" in response.content.decode()


def test_admin_login_gives_one_answer_for_unknown_and_wrong(admin_user):
    unknown = admin_login(Client(), login="nobody").content.decode()
    wrong = admin_login(Client(), password="wrong-password").content.decode()
    assert "Please enter the correct login and password" in unknown
    assert "Please enter the correct login and password" in wrong


# --- must change the password ---------------------------------------------------------------------

def test_a_flagged_admin_is_sent_to_change_the_password_first():
    AdminFactory(login="admin", must_change_password=True)
    other_desk = logged_into_admin()
    client = logged_into_admin()
    for url in (reverse("admin:index"), reverse("admin:accounts_user_changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:password_change")
    assert client.get(reverse("admin:password_change")).status_code == 200

    same = change_own_password(client, DEFAULT_PASSWORD, DEFAULT_PASSWORD)
    assert same.status_code == 200 and "must differ" in same.content.decode()
    response = change_own_password(client, DEFAULT_PASSWORD)
    assert response.status_code == 302
    user = User.objects.get(login="admin")
    assert not user.must_change_password and user.check_password(NEW_PASSWORD)
    assert client.get(reverse("admin:index")).status_code == 200
    # Other sessions end with the old password.
    assert other_desk.get(reverse("admin:index")).status_code == 302
    assert Session.objects.count() == 1


def test_a_flagged_admin_may_still_log_out():
    AdminFactory(login="admin", must_change_password=True)
    client = logged_into_admin()
    assert client.post(reverse("admin:logout")).status_code == 200
    assert "_auth_user_id" not in client.session


def test_guessing_the_old_password_in_admin_is_rate_limited(settings, admin_user):
    settings.LOGIN_RATE = "2/m"
    client = logged_into_admin()
    for _ in range(2):
        change_own_password(client, "guess-guess")
    response = change_own_password(client, DEFAULT_PASSWORD)
    assert "Too many login attempts" in response.content.decode()
    admin_user.refresh_from_db()
    assert admin_user.check_password(DEFAULT_PASSWORD)


# --- acting on one's own account ------------------------------------------------------------

def test_resetting_ones_own_password_in_admin_shows_it_and_asks_for_a_new_one(admin_user):
    other_desk = logged_into_admin()
    client = logged_into_admin()
    response = client.post(reverse("admin:accounts_user_changelist"),
                           {"action": "reset_password", "_selected_action": [admin_user.pk]},
                           follow=True)
    assert response.status_code == 200
    # Landed on the password change page, with the temporary password shown once.
    assert response.redirect_chain[-1][0] == reverse("admin:password_change")
    (message,) = [str(m) for m in response.context["messages"]]
    assert message.startswith("Temporary password for admin: ")
    temporary = message.split(": ", 1)[1].split(" ")[0]
    admin_user.refresh_from_db()
    assert admin_user.must_change_password and admin_user.check_password(temporary)
    assert other_desk.get(reverse("admin:index")).status_code == 302

    assert change_own_password(client, temporary).status_code == 302
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200


def test_deactivating_oneself_in_admin_logs_out_cleanly(admin_user):
    AdminFactory(login="deputy")
    client = logged_into_admin()
    url = reverse("admin:accounts_user_change", args=[admin_user.pk])
    response = client.post(url, {"login": "admin", "role": "admin"}, follow=True)
    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert not admin_user.is_active
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("admin:index")).status_code == 302  # to the login page


def test_deleting_oneself_in_admin_logs_out_cleanly(admin_user):
    AdminFactory(login="deputy")
    client = logged_into_admin()
    url = reverse("admin:accounts_user_delete", args=[admin_user.pk])
    response = client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not User.objects.filter(pk=admin_user.pk).exists()
    assert "_auth_user_id" not in client.session


def test_deleting_oneself_with_others_from_the_list_logs_out_cleanly(admin_user):
    AdminFactory(login="deputy")
    leaving = AdminFactory(login="leaving")
    client = logged_into_admin()
    response = client.post(reverse("admin:accounts_user_changelist"),
                           {"action": "delete_selected", "post": "yes",
                            "_selected_action": [admin_user.pk, leaving.pk]}, follow=True)
    assert response.status_code == 200
    assert list(User.objects.values_list("login", flat=True)) == ["deputy"]
    assert "_auth_user_id" not in client.session
