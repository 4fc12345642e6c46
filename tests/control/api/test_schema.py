"""/api/schema documents every control endpoint, with the error shape for its error statuses,
and drf-spectacular generates it without a warning."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.control.api.schema_check import openapi

ENDPOINTS = {
    ("get", "/api/sources"): {"200", "401", "403"},
    ("get", "/api/multiviewers"): {"200", "401", "403"},
    ("get", "/api/multiviewers/{id}"): {"200", "401", "403", "404", "409"},
    ("patch", "/api/multiviewers/{id}"): {"200", "400", "403", "404", "409", "413", "429",
                                          "502", "503", "504"},
    ("post", "/api/multiviewers/{id}/layout"): {"200", "400", "409", "429", "502", "504"},
    ("post", "/api/multiviewers/{id}/windows/{window}"): {"200", "400", "403", "409", "413",
                                                          "429", "502", "503", "504"},
    ("post", "/api/multiviewers/{id}/undo"): {"200", "400", "403", "404", "409", "429", "502",
                                              "503", "504"},
    ("put", "/api/sources/{id}/favourite"): {"204", "401", "404"},
    ("delete", "/api/sources/{id}/favourite"): {"204", "401", "404"},
    ("delete", "/api/multiviewers/{id}/lease"): {"204", "403", "404"},
    ("get", "/api/routing"): {"200", "401"},
    ("post", "/api/routing/switch"): {"200", "400", "403", "409", "429", "502", "503", "504"},
}


def test_every_control_endpoint_is_documented_with_its_errors():
    paths = openapi()["paths"]
    for (method, path), statuses in ENDPOINTS.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path, statuses - set(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Error"), (method, path, status)
    error = openapi()["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "detail", "fields"}


@pytest.mark.django_db
def test_the_schema_generates_without_warnings(tmp_path, admin_client_api):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file",
                 str(tmp_path / "schema.yaml"))
    response = admin_client_api.get("/api/schema?format=json")
    assert response.status_code == 200
    assert "/api/multiviewers/{id}/windows/{window}" in response.json()["paths"]
