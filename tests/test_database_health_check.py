"""The per-request database health check (CONN_HEALTH_CHECKS): a connection the server dropped
(a restart, a failover, an administrator's kill) is replaced before the request's first query,
so the request succeeds.

Each test works on a connection of its own, swapped in for the test, so the test database's
connection (and its transaction) is not touched."""

from __future__ import annotations

import contextlib
import copy
import select
from collections.abc import Iterator

import psycopg
import pytest
from django.db import close_old_connections, connections
from django.db.backends.postgresql.base import DatabaseWrapper

from tests.fixtures.accounts import BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def own_connection() -> Iterator[DatabaseWrapper]:
    real = connections["default"]
    mine = real.__class__(copy.deepcopy(real.settings_dict), alias="default")
    connections["default"] = mine
    try:
        yield mine
    finally:
        mine.close()
        connections["default"] = real


def admin_connection(wrapper: DatabaseWrapper) -> psycopg.Connection:
    """A second, plain connection to the same database (to drop or notify the first)."""
    params = wrapper.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def backend_pid(wrapper: DatabaseWrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def wait_until_the_server_said_something(wrapper: DatabaseWrapper) -> None:
    """The server acts on a terminate or a notify a moment after the statement returns."""
    poller = select.poll()
    poller.register(wrapper.connection.fileno(), select.POLLIN)
    assert poller.poll(10_000), "the server sent nothing on the connection"


def new_request() -> None:
    """What Django does when a request starts (the test client skips it)."""
    close_old_connections()


def test_health_checks_are_on():
    assert connections["default"].settings_dict["CONN_HEALTH_CHECKS"] is True


def test_a_connection_the_server_dropped_is_replaced_before_the_first_query():
    UserFactory(login="alice")
    client = BrowserLikeClient()
    with own_connection() as wrapper:
        assert client.api_login("alice").status_code == 200
        pid = backend_pid(wrapper)
        with admin_connection(wrapper) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        wait_until_the_server_said_something(wrapper)
        new_request()
        assert client.get("/api/auth/me").json()["login"] == "alice"
        assert backend_pid(wrapper) != pid
