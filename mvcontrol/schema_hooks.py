"""OpenAPI: the errors every operation can answer, documented once for all of them.

Some answers come from the framework layer rather than from a view (mvcontrol/api_errors.py):
not logged in (401), CSRF or password change required (403), an object id that does not exist
(404), a body that does not validate (400) or is not JSON (415), and the database being down
(503). Views document their own errors with mvcontrol.api_schema.error_responses; this hook adds
whichever of these an operation can meet and does not list yet, so clients (and the schemathesis
fuzz in tests/fuzz) see every status the API really answers.
"""

from __future__ import annotations

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERROR_SCHEMA = {
    "type": "object",
    "description": '{"error": code, "detail": sentence, "fields": {...}} and, depending on the '
                   "error, a few more keys.",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"},
                   "fields": {"type": "object", "additionalProperties": {}}},
    "required": ["error", "detail", "fields"],
}
_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each problem.",
    401: "Not logged in.",
    403: "Not allowed: admins only, not granted, password change required, or the CSRF token "
         "is missing or wrong.",
    404: "No such object.",
    415: "The body is not in a supported media type.",
    503: "The database is not reachable (database_unavailable; see Retry-After), or a device "
         "is not configured or busy.",
}


def _statuses(method: str, operation: dict) -> list[int]:
    anonymous = {} in (operation.get("security") or [])
    wanted = [503]
    if not anonymous:
        wanted += [401, 403]
    elif method in ("post", "put", "patch", "delete"):
        wanted.append(403)  # CSRF applies to anonymous forms too (login, first admin)
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        wanted.append(404)
    if "requestBody" in operation:
        wanted += [400, 415]
    return sorted(wanted)


def document_common_errors(result: dict, generator, request, public) -> dict:
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", _ERROR_SCHEMA)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _statuses(method, operation):
                responses.setdefault(str(status), {
                    "description": _DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": ERROR_REF}},
                })
    return result


_BODY_ERRORS = {
    400: "The body is not JSON, or nested too deeply (malformed_request), or a field is "
         "invalid (validation_error).",
    413: "The body is over DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MiB (request_too_large; `limit`).",
    415: "The body is not in a supported media type.",
}


def document_body_limits(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook (after document_common_errors): the answers about
    the body that any operation taking one can give, and any POST too, whose body the CSRF check
    parses before the view runs."""
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if method != "post" and "requestBody" not in operation:
                continue
            for status, description in _BODY_ERRORS.items():
                operation["responses"].setdefault(str(status), {
                    "description": description,
                    "content": {"application/json": {
                        "schema": ERROR_REF}},
                })
    return result
