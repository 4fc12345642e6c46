"""What the fuzz modules share: the application in this process, the checks every answer must
pass, logged-in sessions, and the counts printed at the end of the run (tests/fuzz/conftest.py).
"""

from __future__ import annotations

import secrets
import string
from collections import Counter

from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
SCHEMA_URL = "/api/schema?format=json"

application = get_wsgi_application()

# Read by tests/fuzz/conftest.py for the run's summary: "generated" requests come from
# schemathesis' own generation, "hostile" ones from tests/fuzz/test_hostile_input.py, and
# "server_errors" counts every answer of 500 or more among both.
sent: Counter[str] = Counter()



def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings of a fuzz test: derandomized (a failure reproduces), no deadline."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def session(user) -> tuple[dict[str, str], dict[str, str]]:
    """A fresh logged-in session (a fuzzed logout or password change ends only that one) and a
    CSRF token pair, as a browser holds them."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    key = client.cookies["sessionid"].value
    token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    return {"sessionid": key, "csrftoken": token}, {"X-CSRFToken": token}


def call(case, user, *, kind: str = "generated"):
    """Send `case` as `user`, count it, and hold its answer to CHECKS."""
    from django.core.cache import cache

    cache.clear()  # rate-limit counters: each request is judged on its own
    cookies, headers = session(user)
    response = case.call(headers=headers, cookies=cookies)
    sent[kind] += 1
    if response.status_code >= 500:
        sent["server_errors"] += 1
    case.validate_response(response, checks=CHECKS)
    return response
