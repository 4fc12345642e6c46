"""Check API answers against the OpenAPI document the project publishes at /api/schema: the status
must be documented for the operation and the body must match the documented schema."""

from __future__ import annotations

import functools
import json
import re

import jsonschema
from drf_spectacular.generators import SchemaGenerator


@functools.cache
def openapi() -> dict:
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True),
                                 default=str))


def _json_schema(node, components: dict):
    """OpenAPI 3.0 schema → JSON Schema: $refs inlined, `nullable` as a null alternative."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {k: _json_schema(v, components) for k, v in node.items()
           if k not in ("nullable", "readOnly", "writeOnly", "example", "format")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _operation(method: str, path: str) -> dict:
    paths = openapi()["paths"]
    for template, operations in paths.items():
        pattern = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def check(response, status: int, *, method: str | None = None, path: str | None = None):
    """Assert the status, that the document lists it for the operation, and that the body
    matches its schema. Returns the parsed body (None for an empty one)."""
    request = response.wsgi_request
    method = method or request.method
    path = path or request.path
    body = response.json() if response.content else None
    assert response.status_code == status, (response.status_code, body)
    operation = _operation(method, path)
    documented = operation["responses"]
    assert str(status) in documented, f"{method} {path} does not document {status}"
    content = documented[str(status)].get("content")
    if content is None:
        assert not response.content, f"{status} is documented without a body"
        return None
    schema = _json_schema(content["application/json"]["schema"],
                          openapi()["components"]["schemas"])
    jsonschema.validate(body, schema)
    return body
