"""The page routes themselves (no browser needed): who gets which page, safe redirects."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.fixtures.accounts import UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_go_to_the_login_page_and_get_a_csrf_cookie():
    client = Client()
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2F"
    login = client.get("/login?next=%2F")
    assert login.status_code == 200
    assert "csrftoken" in login.cookies
    assert b'data-next="/"' in login.content
    assert b"js/login.js" in login.content


def test_the_control_page_for_a_logged_in_operator():
    client = Client()
    client.force_login(UserFactory(login="operator"))
    response = client.get("/")
    assert response.status_code == 200
    assert b'data-login="operator"' in response.content
    assert b'data-admin="false"' in response.content
    assert b'href="/admin/"' not in response.content
    assert b"js/control.js" in response.content


def test_admins_get_the_admin_link(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.get("/")
    assert b'data-admin="true"' in response.content
    assert b'href="/admin/"' in response.content


def test_a_user_who_must_change_the_password_is_sent_to_the_login_page():
    client = Client()
    client.force_login(UserFactory(login="newcomer", must_change_password=True))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x",
                                    "relative/path", ""])
def test_next_never_leaves_the_site(target):
    response = Client().get("/login", {"next": target})
    assert b'data-next="/"' in response.content


def test_next_keeps_a_local_path():
    response = Client().get("/login", {"next": "/#mv=3"})
    assert b'data-next="/#mv=3"' in response.content


def test_the_pages_answer_only_get():
    assert Client().post("/login").status_code == 405


def test_static_modules_are_served():
    client = Client()
    for path in ("/static/js/control.js", "/static/js/api.js", "/static/css/app.css"):
        response = client.get(path)
        assert response.status_code == 200, path
