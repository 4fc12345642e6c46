"""The preset API without devices: import and its errors, export, list/show/delete, ownership,
the admin pages. Applying and saving against the emulators: test_apply.py."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from rest_framework.test import APIClient

from presets.models import Preset
from tests.control.api.schema_check import check
from tests.fixtures.accounts import AdminFactory, UserFactory
from tests.presets.docs import as_bytes, spoil, valid_document
from tests.presets.test_document import json_values, near_values

pytestmark = pytest.mark.usefixtures("inventory")

PRESETS = "/api/presets"
IMPORT = "/api/presets/import"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def import_json(client, doc, **query):
    url = IMPORT + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    return client.generic("POST", url, as_bytes(doc) if isinstance(doc, dict) else doc,
                          content_type="application/json")


def import_file(client, data: bytes, filename: str = "preset.json"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(filename, data,
                                                           "application/json")},
                       format="multipart")


def test_urls_are_where_the_control_page_expects_them():
    assert reverse("presets") == PRESETS
    assert reverse("presets-import") == IMPORT
    assert reverse("preset", args=[3]) == "/api/presets/3"
    assert reverse("preset-apply", args=[3]) == "/api/presets/3/apply"
    assert reverse("preset-export", args=[3]) == "/api/presets/3/export"
    assert reverse("preset-job", args=[4]) == "/api/presets/jobs/4"


def test_import_a_json_body_then_show_and_list_it(operator_client_api, operator_user):
    response = import_json(operator_client_api, valid_document())
    body = check(response, 201)
    preset = Preset.objects.get()
    assert preset.owner == operator_user and preset.name == "Evening news"
    assert body["id"] == preset.pk and body["name"] == "Evening news"
    assert body["groups"] == ["layout", "font", "borders", "output_format", "pcm", "umd",
                              "sources"]
    mv1 = body["multiviewers"][0]
    assert (mv1["number"], mv1["nexx_index"], mv1["label"], mv1["windows"]) == (
        1, 0, "Studio A", 4)
    assert body["document"]["multiviewers"][0]["windows"][0]["umd"][0]["text"] == "CAM 1"

    listed = check(operator_client_api.get(PRESETS), 200)
    assert [(p["id"], p["name"]) for p in listed] == [(preset.pk, "Evening news")]
    assert "document" not in listed[0]
    shown = check(operator_client_api.get(f"{PRESETS}/{preset.pk}"), 200)
    assert shown["document"] == body["document"]


def test_import_a_multipart_file_under_another_name(operator_client_api):
    response = operator_client_api.post(
        IMPORT + "?name=Morning", {"file": SimpleUploadedFile(
            "x.json", as_bytes(valid_document()), "application/json")}, format="multipart")
    assert check(response, 201)["name"] == "Morning"
    assert Preset.objects.get().payload["name"] == "Morning"


@pytest.mark.parametrize(("data", "path", "words"), [
    (as_bytes(valid_document())[:-10], "$", "not valid JSON"),
    (as_bytes(valid_document(format="other.tool")), "$.format", "not a mvcontrol preset"),
    (as_bytes(valid_document(version=2)), "$.version", "newer mvcontrol"),
    (as_bytes(spoil(valid_document(), "multiviewers.0.windows.0.umd.0.box_colour", 12)),
     "$.multiviewers[0].windows[0].umd[0].box_colour", "not one of the choices"),
    (as_bytes(spoil(valid_document(), "multiviewers.1.nexx_index", 9)),
     "$.multiviewers[1].nexx_index", "does not exist"),
    (as_bytes(spoil(valid_document(), "multiviewers.0.windows.2.source.quartz_input", 40)),
     "$.multiviewers[0].windows[2].source.quartz_input", "not a source"),
    (as_bytes(spoil(valid_document(), "multiviewers.0.layout", "1")),
     "$.multiviewers[0].layout", "whole number"),
    (as_bytes(spoil(valid_document(), "multiviewers.0.windows", "all")),
     "$.multiviewers[0].windows", "list of windows"),
])
@pytest.mark.parametrize("how", ["json", "file"])
def test_malformed_documents_are_refused_with_their_json_path(operator_client_api, data, path,
                                                               words, how):
    response = (import_json(operator_client_api, data) if how == "json"
                else import_file(operator_client_api, data))
    body = check(response, 400, method="POST", path=IMPORT)
    assert body["error"] == "invalid_preset_document"
    assert path in body["fields"], body
    assert any(words in message for message in body["fields"][path])
    assert "nothing was stored" in body["detail"]
    assert not Preset.objects.exists()


@pytest.mark.parametrize("how", ["json", "file"])
def test_a_10_mib_file_is_refused_before_it_is_read(operator_client_api, how):
    big = b'{"format": "mvcontrol.preset", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = (import_json(operator_client_api, big) if how == "json"
                else import_file(operator_client_api, big))
    body = check(response, 413, method="POST", path=IMPORT)
    assert body["error"] == "preset_too_large"
    assert body["limit"] == 1024 * 1024 and body["size"] > 10 * 1024 * 1024
    assert not Preset.objects.exists()


def test_a_file_just_over_one_mib_is_refused_and_one_just_under_is_read(operator_client_api):
    doc = as_bytes(valid_document())
    padded = doc[:-1] + b" " * (1024 * 1024 - len(doc)) + b"}"
    assert len(padded) == 1024 * 1024
    assert import_file(operator_client_api, padded).status_code == 201
    Preset.objects.all().delete()
    over = padded[:-1] + b" }"
    assert import_file(operator_client_api, over).status_code == 413
    assert import_json(operator_client_api, over).status_code == 413
    assert not Preset.objects.exists()


def test_import_needs_json_or_a_file(operator_client_api):
    response = operator_client_api.generic("POST", IMPORT, b"name=x",
                                           content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    response = operator_client_api.post(IMPORT, {"other": "x"}, format="multipart")
    assert check(response, 400, method="POST", path=IMPORT)["fields"] == {
        "file": ["Attach the preset file as 'file'."]}
    assert not Preset.objects.exists()


def test_names_are_unique_per_owner_409(operator_client_api, admin_client_api):
    assert import_json(operator_client_api, valid_document()).status_code == 201
    again = import_json(operator_client_api, valid_document())
    body = check(again, 409, method="POST", path=IMPORT)
    assert body["error"] == "preset_name_taken" and "name" in body["fields"]
    # Another user may use the same name; and a new name resolves it.
    assert import_json(admin_client_api, valid_document()).status_code == 201
    assert import_json(operator_client_api, valid_document(), name="Copy").status_code == 201
    assert Preset.objects.count() == 3


def test_a_bad_name_override_is_refused(operator_client_api):
    response = import_json(operator_client_api, valid_document(), name="%20")
    assert check(response, 400, method="POST", path=IMPORT)["fields"] == {
        "name": ["The name must not be empty."]}


def test_export_then_import_is_byte_for_byte_equal(operator_client_api):
    # A hand-written file (other key order, local time) becomes the canonical document.
    raw = json.dumps(valid_document(created_at="2026-01-05T20:00:00+02:00"),
                     sort_keys=True).encode()
    preset_id = import_file(operator_client_api, raw).json()["id"]
    first = operator_client_api.get(f"{PRESETS}/{preset_id}/export")
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json; charset=utf-8"
    assert first["Content-Disposition"] == 'attachment; filename="Evening-news.mvpreset.json"'
    content = first.content
    assert json.loads(content)["created_at"] == "2026-01-05T18:00:00Z"

    assert operator_client_api.delete(f"{PRESETS}/{preset_id}").status_code == 204
    again_id = import_file(operator_client_api, content, "Evening-news.mvpreset.json").json()["id"]
    second = operator_client_api.get(f"{PRESETS}/{again_id}/export").content
    assert second == content


def test_ownership_another_users_preset_is_not_found(operator_client_api, operator_user):
    stranger = UserFactory(login="stranger")
    admin = AdminFactory(login="boss")
    theirs = client_for(stranger)
    preset_id = import_json(operator_client_api, valid_document()).json()["id"]
    for client in (theirs, client_for(admin)):
        assert client.get(PRESETS).json() == []
        for response in (client.get(f"{PRESETS}/{preset_id}"),
                         client.get(f"{PRESETS}/{preset_id}/export"),
                         client.post(f"{PRESETS}/{preset_id}/apply", {}, format="json"),
                         client.delete(f"{PRESETS}/{preset_id}")):
            assert response.status_code == 404, response.content
            assert response.json()["error"] == "not_found"
    assert Preset.objects.get().owner == operator_user


def test_delete(operator_client_api):
    preset_id = import_json(operator_client_api, valid_document()).json()["id"]
    assert operator_client_api.delete(f"{PRESETS}/{preset_id}").status_code == 204
    assert operator_client_api.delete(f"{PRESETS}/{preset_id}").status_code == 404
    assert not Preset.objects.exists()


def test_job_of_another_user_is_not_found(operator_client_api):
    response = operator_client_api.get("/api/presets/jobs/12345")
    assert check(response, 404)["error"] == "not_found"


def test_not_logged_in_is_refused():
    client = APIClient()
    for response in (client.get(PRESETS), client.post(PRESETS, {}, format="json"),
                     import_json(client, valid_document())):
        assert response.status_code in (401, 403)
    assert not Preset.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"multiviewers": [1]}, "name"),
    ({"name": "x", "multiviewers": []}, "multiviewers"),
    ({"name": "x", "multiviewers": [1], "groups": ["colour"]}, "groups"),
    ({"name": "x", "multiviewers": ["one"]}, "multiviewers"),
])
def test_save_checks_its_input(operator_client_api, payload, field):
    body = check(operator_client_api.post(PRESETS, payload, format="json"), 400)
    assert field in body["fields"]
    assert not Preset.objects.exists()


def test_the_admin_shows_the_document_read_only(client, admin_user, operator_client_api):
    preset_id = import_json(operator_client_api, valid_document()).json()["id"]
    client.force_login(admin_user)
    page = client.get(reverse("admin:presets_preset_change", args=[preset_id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "&quot;format&quot;: &quot;mvcontrol.preset&quot;" in text
    assert "layout, font, borders, output_format, pcm, umd, sources" in text
    assert 'name="name"' not in text  # no form field: nothing to edit
    listing = client.get(reverse("admin:presets_preset_changelist")).content.decode()
    assert "Evening news" in listing
    response = client.post(reverse("admin:presets_preset_delete", args=[preset_id]),
                           {"post": "yes"})
    assert response.status_code == 302
    assert not Preset.objects.exists()


@hyp_settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=json_values | near_values)
def test_fuzz_the_import_endpoint_answers_with_the_error_shape(operator_client_api, body):
    response = import_json(operator_client_api, json.dumps(body).encode())
    assert response.status_code in (201, 400, 409), response.content
    if response.status_code != 201:
        payload = response.json()
        assert set(payload) >= {"error", "detail", "fields"}


def test_an_unreadable_stored_preset_is_listed_and_can_be_deleted(operator_client_api,
                                                                  operator_user):
    broken = Preset.objects.create(owner=operator_user, name="Hand-edited",
                                   payload={"format": "x"})
    listed = check(operator_client_api.get(PRESETS), 200)
    assert [(p["name"], p["groups"]) for p in listed] == [("Hand-edited", [])]
    for response in (operator_client_api.get(f"{PRESETS}/{broken.pk}/export"),
                     operator_client_api.post(f"{PRESETS}/{broken.pk}/apply", {},
                                              format="json")):
        assert response.status_code == 409
        assert response.json()["error"] == "preset_unreadable"
    assert operator_client_api.delete(f"{PRESETS}/{broken.pk}").status_code == 204
