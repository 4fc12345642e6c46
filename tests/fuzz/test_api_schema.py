"""Schemathesis against /api/schema: every operation, generated requests, as an admin and as a user.

The WSGI application runs in this process, on the test database, with the NEXX and Quartz
emulators behind it (their state read by one refresh run), so writes really reach the devices.
Each generated request carries a logged-in session cookie and its X-CSRFToken, as the control
page sends them. Every answer must be no 5xx, a documented status code, the documented content
type and headers, and a body matching the documented schema.

MAX_EXAMPLES per operation and role keeps `make test` bounded; with the operations of the API
that is over a thousand requests in all (a run with `-n 0` prints the count at the end).
"""

from __future__ import annotations

import secrets
import string

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.accounts import AdminFactory, UserFactory
from tests.state.conftest import make_devices  # noqa: F401 - the fixture

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", application)

sent = {"requests": 0}  # read by tests/fuzz/conftest.py for the run's summary line


@pytest.fixture
def api_world(db, make_devices, django_db_blocker):  # noqa: F811 - the fixture
    """Devices, their state in the cache, and one admin and one user with grants."""
    from devices.models import Multiviewer, NexxSettings, Source
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    make_devices()
    # The frame's throttle well above the fuzz's pace: the fuzz judges answers, not waiting.
    NexxSettings.objects.update(requests_per_second=1000)
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None and outcome.status == "success", outcome
    admin = AdminFactory(login="fuzz-admin")
    user = UserFactory(login="fuzz-user")
    user.multiviewers.set(Multiviewer.objects.filter(nexx_index__in=[0, 1]))
    user.sources.set(Source.objects.filter(quartz_input__lte=16))
    # In-process requests share the test's connection: the request signals must not close it
    # (Django's own test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"admin": admin, "user": user}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def session(user) -> tuple[dict[str, str], dict[str, str]]:
    """A fresh logged-in session (a fuzzed logout or password change ends only that one) and a
    CSRF token pair, as a browser holds them."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value
    token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return {"sessionid": key, "csrftoken": token}, {"X-CSRFToken": token}


def call(case, user) -> None:
    from django.core.cache import cache

    cache.clear()  # rate-limit counters: each request is judged on its own
    cookies, headers = session(user)
    response = case.call(headers=headers, cookies=cookies)
    sent["requests"] += 1
    case.validate_response(response, checks=CHECKS)


FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@schema.parametrize()
@FUZZ
def test_api_as_admin(case, api_world):
    call(case, api_world["admin"])


@schema.parametrize()
@FUZZ
def test_api_as_user(case, api_world):
    call(case, api_world["user"])


def test_the_schema_lists_the_control_api():
    paths = set(schema.raw_schema["paths"]) if hasattr(schema, "raw_schema") else set()
    assert {"/api/multiviewers/{id}", "/api/routing/switch", "/api/refresh"} <= paths


