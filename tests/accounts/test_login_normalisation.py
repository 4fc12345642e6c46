"""One login, one budget (issue 20): every spelling that can reach an account spends that
account's login budget, a spelling outside the login characters ("admın" with a dotless ı) names
no account at all, and logins that would normalise alike cannot both be created."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from accounts.models import User, login_key
from accounts.services import AuthService, UserService
from mvcontrol.errors import InvalidInput
from tests.fixtures.accounts import DEFAULT_PASSWORD, BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db

BAD_CREDENTIALS = {"error": "invalid_credentials",
                   "detail": "The login or the password is wrong.", "fields": {}}
# Spellings of "admin" that Python's casefold() or PostgreSQL's UPPER() tie to it, but that hold
# characters no login may have.
LOOKALIKES = [
    "admın",              # U+0131 dotless i: UPPER('admın') = 'ADMIN'
    "ADMİN",              # U+0130 capital I with dot: lower() gives 'admi̇n'
    "ａｄｍｉｎ",           # full-width letters: NFKC gives 'admin'
    "adm\u0131n\u200b",   # with a zero-width space
    " admın ",
]


def attempt(login: str, password: str = DEFAULT_PASSWORD, address: str = "10.0.0.1"):
    return BrowserLikeClient().api_login(login, password, REMOTE_ADDR=address)


# --- the normalisation -------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["admin", "ADMIN", "Admin", "aDmIn"])
def test_allowed_spellings_are_usable_and_share_one_key(typed):
    assert login_key(typed) == ("admin", True)


@pytest.mark.parametrize("typed", LOOKALIKES + ["admin\n", "adm in"])
def test_other_spellings_are_not_usable(typed):
    assert login_key(typed).usable is False


@pytest.mark.parametrize("typed", LOOKALIKES)
def test_lookalikes_are_keyed_as_the_login_they_imitate(typed):
    assert login_key(typed).key == "admin"


def test_a_lone_surrogate_gives_a_key_that_can_be_hashed():
    assert login_key("adm\ud800n").key.encode("utf-8")


# --- login ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", LOOKALIKES)
def test_a_lookalike_login_never_logs_in(admin_user, typed):
    response = attempt(typed)  # the right password
    assert response.status_code == 400
    assert response.json() == BAD_CREDENTIALS
    assert "sessionid" not in response.cookies


def test_the_dotless_i_does_not_get_a_budget_of_its_own(admin_user):
    """The reported bypass: 5 wrong passwords for admin, then admın logged in as admin."""
    for n in range(5):
        assert attempt("admin", "wrong-password", f"10.0.1.{n}").status_code == 400
    assert attempt("ADMIN", address="10.0.2.1").status_code == 429
    for n, typed in enumerate(LOOKALIKES):
        refused = attempt(typed, address=f"10.0.3.{n}")
        assert refused.status_code == 429, typed
        assert refused.json()["error"] == "rate_limited" and "Retry-After" in refused
        assert "sessionid" not in refused.cookies


def test_lookalike_attempts_spend_the_budget_of_the_login_they_imitate(admin_user):
    for n, typed in enumerate(LOOKALIKES):
        assert attempt(typed, "wrong-password", f"10.0.4.{n}").status_code == 400
    # Five attempts spent, by five spellings from five addresses: admin itself is now limited.
    assert attempt("admin", address="10.0.5.1").status_code == 429


def test_the_admin_login_page_normalises_the_same_way(admin_user):
    """Django admin's login would NFKC-normalise ａｄｍｉｎ into admin; it now answers as the
    API does, and counts in the same budget."""
    def admin_login(login: str, address: str):
        client = Client()
        response = client.post(reverse("admin:login"),
                               {"username": login, "password": DEFAULT_PASSWORD},
                               REMOTE_ADDR=address)
        return client, response

    for n, typed in enumerate(["ａｄｍｉｎ", "admın"]):
        client, response = admin_login(typed, f"10.0.6.{n}")
        assert response.status_code == 200  # the form again, with an error
        assert "_auth_user_id" not in client.session
    for n in range(3):
        assert attempt("admin", "wrong-password", f"10.0.7.{n}").status_code == 400
    client, response = admin_login("Admin", "10.0.8.1")
    assert "Too many login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_authenticate_refuses_a_lookalike_even_without_the_limit(admin_user):
    from accounts.services import InvalidCredentials

    with pytest.raises(InvalidCredentials):
        AuthService.authenticate(login="admın", password=DEFAULT_PASSWORD)
    assert AuthService.authenticate(login="ADMIN", password=DEFAULT_PASSWORD) == admin_user


def test_natural_key_lookup_uses_the_same_normalisation(admin_user):
    assert User.objects.get_by_natural_key("ADMIN") == admin_user
    with pytest.raises(User.DoesNotExist):
        User.objects.get_by_natural_key("admın")


# --- creation ------------------------------------------------------------------------------------

@pytest.fixture
def admin_api(admin_user) -> BrowserLikeClient:
    client = BrowserLikeClient()
    assert client.api_login("admin").status_code == 200
    return client


@pytest.mark.parametrize("login", ["admın", "ａｄｍｉｎ", "\u212aelvin", "new\u200buser"])
def test_a_login_outside_the_characters_cannot_be_created(admin_api, login):
    response = admin_api.post("/api/users", {"login": login}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error" and "login" in body["fields"]
    assert User.objects.count() == 1


@pytest.mark.parametrize("login", ["ADMIN", "Admin"])
def test_a_login_that_normalises_like_another_cannot_be_created(admin_api, login):
    response = admin_api.post("/api/users", {"login": login}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "login_taken"
    assert User.objects.count() == 1


def test_a_trailing_newline_is_not_a_login():
    """Python's `$` matched before a final newline: the service took "nightshift\\n"."""
    with pytest.raises(InvalidInput) as refused:
        UserService.create_user(login="nightshift\n")
    assert "login" in refused.value.fields


def test_the_database_keeps_logins_unique_in_their_normalised_form():
    UserFactory(login="Kelvin")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(login="KELVIN")


def test_django_admin_refuses_a_login_taken_in_another_case(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.post(reverse("admin:accounts_user_add"),
                           {"login": "ADMIN", "password": "an-initial-passphrase",
                            "role": "user", "is_active": "on"})
    assert response.status_code == 200  # the form again
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1
