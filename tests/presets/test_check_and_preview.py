"""POST /api/presets/check (before saving: what the saver could not apply later) and POST
/api/presets/{id}/preview (before applying: what apply would send), against the emulators. Neither
stores anything, asks a device, counts against the write rate or takes a lease; a preview's
counts are what the apply that follows actually sends."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.models import EditLease, Multiviewer
from presets.models import Preset
from state.services import StateService
from tests.control.api.schema_check import check
from tests.presets.test_apply import change_the_devices, reset_counters, save, sent

CHECK = "/api/presets/check"


def preview_url(preset_id: int) -> str:
    return f"/api/presets/{preset_id}/preview"


def route(rig, mv, window: int, quartz_input: int) -> None:
    output = mv.output_for_window(window)
    rig.quartz.set_route(output, quartz_input)
    StateService.record_route(output, quartz_input)


# --- check --------------------------------------------------------------------------------------

def test_check_lists_the_routed_sources_the_saver_may_not_route(rig):
    mv = rig.mv(0)  # layout 1: 4 windows; the operator routes sources 1..8
    for window, quartz_input in ((1, 20), (2, 3), (3, 25), (4, 8)):
        route(rig, mv, window, quartz_input)
    client = rig.client(rig.operator)
    reset_counters(rig)
    body = check(client.post(CHECK, {"multiviewers": [mv.pk]}, format="json"), 200)
    assert body == {"not_applicable": {"sources": [f"MV 1 window 1: {rig.source(20)}",
                                                   f"MV 1 window 3: {rig.source(25)}"]}}
    assert body["not_applicable"]["sources"][0] == "MV 1 window 1: 20: SRC 20"
    # Without the sources group, or for someone who may route them: nothing to warn about.
    body = check(client.post(CHECK, {"multiviewers": [mv.pk], "groups": ["layout", "umd"]},
                             format="json"), 200)
    assert body == {"not_applicable": {}}
    assert check(rig.client(rig.other).post(CHECK, {"multiviewers": [mv.pk]}, format="json"),
                 200) == {"not_applicable": {}}
    assert check(rig.client(rig.admin).post(CHECK, {"multiviewers": [mv.pk, rig.mv(1).pk]},
                                            format="json"), 200) == {"not_applicable": {}}
    assert sent(rig) == (0, 0) and not Preset.objects.exists()


def test_check_refuses_what_save_refuses(rig):
    client = rig.client(rig.operator)
    mv = rig.mv(0)
    assert check(client.post(CHECK, {"multiviewers": [rig.mv(1).pk]}, format="json"),
                 403)["error"] == "not_granted"
    body = check(client.post(CHECK, {"multiviewers": [mv.pk], "groups": ["colours"]},
                             format="json"), 400)
    assert list(body["fields"]) == ["groups"]
    body = check(client.post(CHECK, {"multiviewers": [999999]}, format="json"), 400)
    assert body["fields"] == {"multiviewers": ["Unknown multiviewer ids: 999999."]}
    Multiviewer.objects.filter(pk=mv.pk).update(enabled=False)
    for path, payload in ((CHECK, {"multiviewers": [mv.pk]}),
                          ("/api/presets", {"name": "Off", "multiviewers": [mv.pk]})):
        body = check(client.post(path, payload, format="json"), 409)
        assert body["error"] == "multiviewer_off"
        assert body["fields"] == {"multiviewers": ["multiviewer 1 (MV 1) is off on the frame."]}


# --- preview ------------------------------------------------------------------------------------

def test_preview_counts_are_what_apply_then_sends(rig, settings):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    saved = save(client, "Show", [mv])
    change_the_devices(rig, mv)  # 7 values now differ (output_format does not)
    settings.WRITE_RATE = "1/m"  # a preview must not spend it
    reset_counters(rig)
    for _ in range(2):
        preview = check(client.post(preview_url(saved["id"]), {}, format="json"), 200)
    assert preview == {
        "preset": {"id": saved["id"], "name": "Show"},
        "parameters": 7,
        "background": False,
        "multiviewers": [{
            "multiviewer": {"id": mv.pk, "number": 1, "label": "MV 1"},
            "parameters": 7,
            "groups": {"layout": 1, "font": 1, "borders": 1, "output_format": 0, "pcm": 1,
                       "umd": 2, "sources": 1}}],
        "refused": {"multiviewers": [], "sources": []},
    }
    assert sent(rig) == (0, 0) and not EditLease.objects.exists()

    result = check(client.post(f"/api/presets/{saved['id']}/apply", {}, format="json"), 200)
    assert result["status"] == "done"
    nexx_parameters = rig.nexx.stats()["parameters"]
    switches = rig.quartz.stats()["commands"]
    assert nexx_parameters + switches == preview["parameters"]
    assert switches == preview["multiviewers"][0]["groups"]["sources"]
    applied = {g["group"]: g["applied"] for g in result["multiviewers"][0]["groups"]}
    assert {group: len(items) for group, items in applied.items()} == {
        "layout": 1, "font": 1, "borders": 1, "output_format": 0, "pcm": 1,
        "umd": 2,  # two layers of one parameter each
        "sources": 1}

    # Applied: nothing differs any more.
    after = check(client.post(preview_url(saved["id"]), {}, format="json"), 200)
    assert after["parameters"] == 0
    assert set(after["multiviewers"][0]["groups"].values()) == {0}


def test_preview_of_a_choice_and_of_a_large_apply(rig, settings):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    saved = save(client, "Show", [mv])
    change_the_devices(rig, mv)
    body = check(client.post(preview_url(saved["id"]), {"groups": ["umd", "pcm"]},
                             format="json"), 200)
    assert body["parameters"] == 3
    assert body["multiviewers"][0]["groups"] == {"pcm": 1, "umd": 2}
    settings.MAX_PARAMS_PER_REQUEST = 5
    body = check(client.post(preview_url(saved["id"]), {}, format="json"), 200)
    assert body["parameters"] == 7 and body["background"] is True
    assert check(client.post(preview_url(saved["id"]), {"groups": ["colours"]},
                             format="json"), 400)["error"] == "validation_error"
    assert check(client.post(preview_url(saved["id"]), {"multiviewers": [rig.mv(1).pk]},
                             format="json"), 400)["fields"]["multiviewers"]
    assert check(rig.client(rig.other).post(preview_url(saved["id"]), {}, format="json"),
                 404)["error"] == "not_found"


def test_preview_lists_what_apply_would_refuse_instead_of_refusing(rig):
    mv = rig.mv(0)
    route(rig, mv, 2, 20)  # not one of the operator's sources: saved all the same
    client = rig.client(rig.operator)
    saved = save(client, "Show", [mv])
    route(rig, mv, 2, 1)  # so that it differs
    body = check(client.post(preview_url(saved["id"]), {}, format="json"), 200)
    assert body["refused"] == {"multiviewers": [], "sources": ["source 20 (SRC 20)"]}
    assert body["multiviewers"][0]["groups"]["sources"] == 1
    refused = check(client.post(f"/api/presets/{saved['id']}/apply", {}, format="json"), 403)
    assert refused["fields"]["sources"] == body["refused"]["sources"]

    Multiviewer.objects.filter(pk=mv.pk).update(enabled=False)
    body = check(client.post(preview_url(saved["id"]), {"groups": ["layout"]},
                             format="json"), 200)
    assert body["refused"] == {"multiviewers": ["multiviewer 1 (MV 1): off on the frame"],
                               "sources": []}
    assert check(client.post(f"/api/presets/{saved['id']}/apply", {"groups": ["layout"]},
                             format="json"), 409)["error"] == "multiviewer_off"
    rig.operator.multiviewers.set([])
    body = check(client.post(preview_url(saved["id"]), {"groups": ["layout"]},
                             format="json"), 200)
    assert body["refused"]["multiviewers"] == ["multiviewer 1 (MV 1)"]


@pytest.mark.parametrize("path", [CHECK, "/api/presets/1/preview"])
def test_strangers_are_not_let_in(db, path):
    body = check(APIClient().post(path, {}, format="json"), 401)
    assert body["error"] == "not_authenticated"
