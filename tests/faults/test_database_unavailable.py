"""The last row of the fault matrix: PostgreSQL unavailable.

The request's database connection is pointed at a port where nothing listens (a fresh
connection wrapper, swapped in for the test only; the test database itself is untouched, so
other tests running at the same time see nothing). Readiness says 503, the API answers 503 in
the error shape with Retry-After, nothing half-done is left, and the first request once the
database is back succeeds.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import pytest
from django.db import connections
from django.db.utils import OperationalError

from state.models import RefreshRun
from tests.support import free_port


@contextlib.contextmanager
def database_down() -> Iterator[None]:
    real = connections["default"]
    settings = copy.deepcopy(real.settings_dict)
    settings.update(HOST="127.0.0.1", PORT=str(free_port()))
    settings["OPTIONS"] = {**settings.get("OPTIONS", {}), "connect_timeout": 2}
    broken = real.__class__(settings, alias="default")
    connections["default"] = broken
    try:
        yield
    finally:
        broken.close()
        connections["default"] = real


def assert_database_unavailable(response) -> None:
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"error", "detail", "fields"}
    assert body["error"] == "database_unavailable"
    assert body["detail"] and body["fields"] == {}
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_readiness_and_the_api_say_503_and_recover(client, admin_client_api):
    assert client.get("/readyz").status_code == 200
    runs_before = RefreshRun.objects.count()

    with database_down():
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["database"] == "unreachable"
        assert client.get("/healthz").status_code == 200  # alive, just not ready

        assert_database_unavailable(admin_client_api.get("/api/refresh/status"))
        assert_database_unavailable(admin_client_api.post("/api/refresh", format="json"))
        assert_database_unavailable(admin_client_api.get("/api/auth/me"))
        assert_database_unavailable(admin_client_api.post(
            "/api/multiviewers/1/windows/2", {"pcm_bars": 4}, format="json"))
        assert_database_unavailable(admin_client_api.post(
            "/api/routing/switch", {"output": 2, "source": 1}, format="json"))
        with pytest.raises(OperationalError):
            connections["default"].ensure_connection()

    assert client.get("/readyz").status_code == 200
    assert admin_client_api.get("/api/refresh/status").status_code == 200
    assert RefreshRun.objects.count() == runs_before  # nothing was started in the dark
