"""Hostile input against every operation of /api/schema, in the setting of test_api_schema.py
(the application in this process, the emulators behind it, a fresh logged-in session per
request) and held to the same checks: no 5xx, a documented status, content type, headers and
body. Every answer is counted in the run's summary (`responses >= 500: N`).

- Generated: schemathesis generates each operation's requests (its fuzzing phase, MAX_EXAMPLES
  per operation and role) from a second loading of the schema whose hooks spoil them: each
  integer path parameter, and each integer of a body, is about half the time replaced by one at
  or past the edge of a PostgreSQL bigint (2**63 - 1, 2**63, 2**64, 10**30, and in bodies their
  negatives too).
- Fixed, for every operation that reads a body (one documented, or any POST: DRF's CSRF check
  parses it): arrays and objects nested far too deep, and a body just over
  DATA_UPLOAD_MAX_MEMORY_SIZE as JSON and as a multipart form. Their answers are known exactly:
  400 malformed_request, 413 request_too_large (preset_too_large for a preset file).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation

from tests.fuzz.support import SCHEMA_URL, application, call, fuzz_settings, sent

MAX_EXAMPLES = 20

BIGINT_MAX = 2**63 - 1
PAST_BIGINT = [2**63, 2**64, 10**30]
IN_PATHS = st.sampled_from([BIGINT_MAX, *PAST_BIGINT])
IN_BODIES = st.sampled_from([BIGINT_MAX, *PAST_BIGINT, -(2**63) - 1, -(10**30)])


def _has_integers_to_spoil(context) -> bool:
    """Operations with a path parameter or a body: the others take no integer."""
    return "{" in context.operation.path or context.operation.method.upper() in (
        "POST", "PUT", "PATCH")


schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, application)
hostile = schema.include(_has_integers_to_spoil)
# Only the generation the hooks below act on: the explicit examples and the coverage phase are
# test_api_schema.py's, and would only repeat it here.
hostile.config.phases.update(phases=["fuzzing"])


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count_integers(value: object) -> int:
    if _is_integer(value):
        return 1
    if isinstance(value, dict):
        return sum(_count_integers(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_integers(v) for v in value)
    return 0


def _replace_integers(value: object, picks) -> object:
    """`value` with its integers, in walk order, replaced by the next of `picks` (None: kept)."""
    if _is_integer(value):
        pick = next(picks)
        return value if pick is None else pick
    if isinstance(value, dict):
        return {k: _replace_integers(v, picks) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_integers(v, picks) for v in value]
    return value


# Path parameters naming objects that exist, while a test runs (set by the `existing` fixture):
# a path left unspoilt names one of them, so that the body's integers reach the view instead of
# a 404 for a random id.
EXISTING: dict[str, int] = {}


def _existing_path_values(world) -> dict[str, int]:
    from devices.models import Multiviewer

    return {"id": Multiviewer.objects.get(nexx_index=0).pk, "window": 2, "number": 1,
            "user_id": world["user"].pk}


@pytest.fixture
def existing(api_world):
    EXISTING.update(_existing_path_values(api_world))
    try:
        yield api_world
    finally:
        EXISTING.clear()


@hostile.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries({
        name: st.one_of(st.just(EXISTING.get(name, value)), IN_PATHS) if _is_integer(value)
        else st.just(value)
        for name, value in path_parameters.items()
    })


@hostile.hook
def flatmap_body(context, body):
    slots = _count_integers(body)
    if not slots:
        return st.just(body)
    picks = st.lists(st.one_of(st.none(), IN_BODIES), min_size=slots, max_size=slots)
    return picks.map(lambda chosen: _replace_integers(body, iter(chosen)))


def _past_bigint(value: object) -> bool:
    if _is_integer(value):
        return not -(2**63) <= value <= BIGINT_MAX
    if isinstance(value, dict):
        return any(_past_bigint(v) for v in value.values())
    if isinstance(value, list):
        return any(_past_bigint(v) for v in value)
    return False


def call_spoilt(case, user) -> None:
    if _past_bigint(case.path_parameters) or _past_bigint(case.body):
        sent["past_bigint"] += 1  # shows in the summary that the hooks did their work
    call(case, user, kind="hostile")


@hostile.parametrize()
@fuzz_settings(MAX_EXAMPLES)
def test_integers_past_a_bigint_as_admin(case, existing):
    call_spoilt(case, existing["admin"])


@hostile.parametrize()
@fuzz_settings(MAX_EXAMPLES)
def test_integers_past_a_bigint_as_user(case, existing):
    call_spoilt(case, existing["user"])


# --- fixed: nesting and size -------------------------------------------------------------------

def _nested(depth: int, *, objects: bool = False) -> bytes:
    if objects:
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth + b"]" * depth


DEEP = {"arrays 1000 deep": _nested(1000), "objects 1000 deep": _nested(1000, objects=True),
        "arrays 100000 deep": _nested(100_000)}


def _reads_a_body(operation) -> bool:
    return operation.method.upper() == "POST" or bool(list(operation.body))


BODY_OPERATIONS = sorted(
    (op for op in (result.ok() for result in schema.get_all_operations()) if _reads_a_body(op)),
    key=lambda op: op.label)


def _path_parameters(operation, world) -> dict:
    """Path parameters naming things that exist (where one exists): the answer is about the
    body, not a missing object."""
    known = {**_existing_path_values(world), "preset_id": 1, "job_id": 1}
    return {p.name: known[p.name] for p in operation.iter_parameters()
            if p.location == ParameterLocation.PATH}


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert {"error", "detail", "fields"} <= set(body) and body["error"] == code, body


def _device_traffic(world) -> tuple[int, int]:
    devices = world["devices"]
    return devices.nexx.stats()["requests"], devices.quartz.stats()["commands"]


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=lambda op: op.label)
def test_a_deeply_nested_body(operation, api_world):
    before = _device_traffic(api_world)
    for body in DEEP.values():
        case = operation.Case(path_parameters=_path_parameters(operation, api_world),
                              body=body, media_type="application/json")
        assert_error(call(case, api_world["admin"], kind="hostile"), 400, "malformed_request")
    assert _device_traffic(api_world) == before


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=lambda op: op.label)
def test_a_body_over_the_upload_limit(operation, api_world):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    code = "preset_too_large" if operation.path == "/api/presets/import" else "request_too_large"
    before = _device_traffic(api_world)
    big = b'{"x": "' + b"x" * limit + b'"}'
    for body, media_type in [(big, "application/json"),
                             ({"file": b"x" * (limit + 1)}, "multipart/form-data")]:
        case = operation.Case(path_parameters=_path_parameters(operation, api_world),
                              body=body, media_type=media_type)
        assert_error(call(case, api_world["admin"], kind="hostile"), 413, code)
    assert _device_traffic(api_world) == before


def test_every_operation_that_reads_a_body_is_covered():
    labels = {op.label for op in BODY_OPERATIONS}
    assert {"POST /api/auth/login", "POST /api/multiviewers/{id}/windows/{window}",
            "PATCH /api/multiviewers/{id}", "POST /api/presets/import",
            "PUT /api/users/{user_id}/access", "POST /api/auth/logout"} <= labels
