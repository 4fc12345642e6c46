import pytest
from django.db import OperationalError


@pytest.mark.django_db
def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_database_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_unreachable_database(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def refuse(self, sql, params=None):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_health_endpoints_refuse_writes(client):
    assert client.post("/healthz").status_code == 405


# --- the icon (issue 23: admin pages asked /favicon.ico and got 404) -----------------------------

def test_favicon_answers_the_project_icon(client):
    from tests.support import BASE_DIR

    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    body = response.content
    assert body == (BASE_DIR / "static" / "img" / "favicon.svg").read_bytes()
    assert b"<svg" in body
    cache = response["Cache-Control"]
    assert "public" in cache and "max-age=86400" in cache
    assert client.post("/favicon.ico").status_code == 405


def test_favicon_needs_no_database(client, monkeypatch):
    """Like the health probes it reads no session, so any cookie is fine with PostgreSQL down."""
    from django.db.backends.utils import CursorWrapper

    def refuse(self, sql, params=None):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", refuse)
    client.cookies["sessionid"] = "made-up-session-key-000000000000"
    assert client.get("/favicon.ico").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/login", "/api/redoc"])
def test_pages_link_the_icon(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b'<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">' in (
        response.content)


@pytest.mark.django_db
def test_admin_pages_keep_their_title_and_header(admin_client):
    """templates/admin/base_site.html adds the icon to Django's page, and nothing else."""
    content = admin_client.get("/admin/").content.decode()
    assert "<title>Users, devices and state | mvcontrol admin</title>" in content
    assert "mvcontrol administration" in content
    assert content.count('rel="icon"') == 1
