"""Issue 20 through the preset API: the one text rule (no C0/C1 control characters, invisible
formatting characters or line/paragraph separators) for preset names, labels and UMD texts in a
file, and strict JSON types in the request bodies, as in the preset file itself. Refusals store
nothing and send nothing to a device."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from presets.models import Preset
from tests.control.api.schema_check import check
from tests.presets.docs import as_bytes, spoil, valid_document

PRESETS = "/api/presets"
IMPORT = "/api/presets/import"
REFUSED_TEXTS = ["CAM\u0085 1", "CAM\u009b2J", "CAM\u2028 1", "\u202eCAM 1", "CAM\u200b1"]
# Where a text sits in a preset file, and its JSON path in the answer.
TEXT_PLACES = [
    ("name", "$.name"),
    ("multiviewers.0.label", "$.multiviewers[0].label"),
    ("multiviewers.0.windows.1.source.label", "$.multiviewers[0].windows[1].source.label"),
    ("multiviewers.0.windows.2.umd.0.text", "$.multiviewers[0].windows[2].umd[0].text"),
]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def device_traffic(rig) -> tuple[int, int]:
    return rig.nexx.stats()["requests"], rig.quartz.stats()["commands"]


# --- text in a preset file ---------------------------------------------------------------------

@pytest.mark.parametrize("text", REFUSED_TEXTS)
@pytest.mark.parametrize(("where", "path"), TEXT_PLACES)
@pytest.mark.parametrize("how", ["json", "file"])
def test_an_imported_file_with_a_refused_character_is_refused(operator_client_api, inventory,
                                                              text, where, path, how):
    data = as_bytes(spoil(valid_document(), where, text))
    response = (operator_client_api.generic("POST", IMPORT, data,
                                            content_type="application/json") if how == "json"
                else operator_client_api.post(IMPORT, {"file": SimpleUploadedFile(
                    "p.json", data, "application/json")}, format="multipart"))
    body = check(response, 400, method="POST", path=IMPORT)
    assert body["error"] == "invalid_preset_document"
    assert list(body["fields"]) == [path], body
    assert "control characters" in body["fields"][path][0]
    assert f"U+{ord(next(c for c in text if not c.isprintable())):04X}" in \
        body["fields"][path][0]
    assert not Preset.objects.exists()


def test_an_import_name_with_a_refused_character_is_refused(operator_client_api, inventory):
    response = operator_client_api.generic(
        "POST", IMPORT + "?name=Morning%E2%80%A8news", as_bytes(valid_document()),
        content_type="application/json")
    body = check(response, 400, method="POST", path=IMPORT)
    assert list(body["fields"]) == ["name"] and "U+2028" in body["fields"]["name"][0]
    assert not Preset.objects.exists()


def test_printable_text_of_any_script_is_kept(operator_client_api, inventory):
    doc = spoil(valid_document(), "multiviewers.0.windows.0.umd.0.text", "Caméra 1 カメラ")
    doc = spoil(doc, "name", "Soirée\u00a0news")
    body = check(operator_client_api.generic("POST", IMPORT, as_bytes(doc),
                                             content_type="application/json"), 201)
    assert body["name"] == "Soirée\u00a0news"
    assert body["document"]["multiviewers"][0]["windows"][0]["umd"][0]["text"] == \
        "Caméra 1 カメラ"


# --- saving and applying: the text rule and strict JSON types ---------------------------------

@pytest.mark.parametrize("name", REFUSED_TEXTS)
def test_a_saved_preset_name_with_a_refused_character_is_refused(rig, name):
    before = device_traffic(rig)
    body = check(rig.client(rig.operator).post(
        PRESETS, {"name": name, "multiviewers": [rig.mv(0).pk]}, format="json"), 400)
    assert body["error"] == "validation_error" and list(body["fields"]) == ["name"]
    assert "U+" in body["fields"]["name"][0]
    assert not Preset.objects.exists()
    assert device_traffic(rig) == before


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": 5}, "name"),
    ({"name": ["Show"]}, "name"),
    ({"multiviewers": ["MV"]}, "multiviewers"),
    ({"multiviewers": ["1"]}, "multiviewers"),
    ({"multiviewers": [1.0]}, "multiviewers"),
    ({"multiviewers": [True]}, "multiviewers"),
])
def test_save_takes_strict_json_types(rig, payload, field):
    body = {"name": "Show", "multiviewers": [rig.mv(0).pk], **payload}
    if body["multiviewers"] == ["MV"]:
        body["multiviewers"] = [str(rig.mv(0).pk)]
    answer = check(rig.client(rig.operator).post(PRESETS, body, format="json"), 400)
    assert answer["error"] == "validation_error" and list(answer["fields"]) == [field]
    assert not Preset.objects.exists()


@pytest.mark.parametrize("spoilt", ["MV", "MV as float", True])
def test_apply_takes_strict_json_types_and_sends_nothing(rig, spoilt):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    preset = check(client.post(PRESETS, {"name": "Show", "multiviewers": [mv.pk]},
                               format="json"), 201)
    before = device_traffic(rig)
    value = {"MV": str(mv.pk), "MV as float": float(mv.pk)}.get(spoilt, spoilt)
    body = check(client.post(f"{PRESETS}/{preset['id']}/apply", {"multiviewers": [value]},
                             format="json"), 400)
    assert body["error"] == "validation_error" and list(body["fields"]) == ["multiviewers"]
    assert device_traffic(rig) == before
