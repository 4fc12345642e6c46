"""Schemathesis against /api/schema: every operation, generated requests, as an admin and as a user.

The WSGI application runs in this process, on the test database, with the NEXX and Quartz
emulators behind it (their state read by one refresh run), so writes really reach the devices.
Each generated request carries a logged-in session cookie and its X-CSRFToken, as the control
page sends them. Every answer must be no 5xx, a documented status code, the documented content
type and headers, and a body matching the documented schema.

MAX_EXAMPLES per operation and role keeps `make test` bounded; with the operations of the API
that is over a thousand requests in all (a run with `-n 0` prints the count at the end, and the
number of answers of 500 or more). Hostile input — bodies nested too deeply or too big, integers
past a bigint in paths and bodies — is tests/fuzz/test_hostile_input.py.
"""

from __future__ import annotations

import schemathesis

from tests.fuzz.support import SCHEMA_URL, application, call, fuzz_settings

MAX_EXAMPLES = 10

schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)


@schema.parametrize()
@fuzz_settings(MAX_EXAMPLES)
def test_api_as_admin(case, api_world):
    call(case, api_world["admin"])


@schema.parametrize()
@fuzz_settings(MAX_EXAMPLES)
def test_api_as_user(case, api_world):
    call(case, api_world["user"])


def test_the_schema_lists_the_control_api():
    paths = set(schema.raw_schema["paths"]) if hasattr(schema, "raw_schema") else set()
    assert {"/api/multiviewers/{id}", "/api/routing/switch", "/api/refresh"} <= paths
