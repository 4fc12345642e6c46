"""Save from the cached state and apply back, against the emulators over real sockets: restoring
the devices, sending nothing when nothing differs, partial failures, the background job, grants,
edit leases and the write rate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import OrmQ

from control import leases
from devices.layouts import window_count
from devices.models import Multiviewer, Source
from devices.nexx.catalog import LAYERS_PER_WINDOW, from_device_value, param_id
from presets.models import ApplyJob, Preset
from presets.services import job_deadline_seconds
from state.planning import MULTIVIEWER_KEYS, UMD_KEYS
from state.services import StateService
from tests.control.api.schema_check import check
from tests.fixtures.control import refresh_now
from tests.presets.docs import as_bytes, valid_document

PRESETS = "/api/presets"


def device_view(rig, mv: Multiviewer) -> dict:
    """What the emulators hold for one multiviewer, in operator values, for the windows of the
    layout the frame has now."""
    idx = mv.nexx_index

    def value(pid: str):
        return from_device_value(pid, rig.nexx.get(pid))

    params = {key: value(param_id(key, idx)) for key in MULTIVIEWER_KEYS}
    windows, routes = {}, {}
    for w in range(window_count(params["layout"])):
        windows[w + 1] = {
            "pcm_bars": value(param_id("pcm_bars", idx, w)),
            "umd": [{key: value(param_id(key, idx, w, layer)) for key in UMD_KEYS}
                    for layer in range(LAYERS_PER_WINDOW)]}
        routes[w + 1] = rig.quartz.route(mv.output_for_window(w + 1))
    return {"params": params, "windows": windows, "routes": routes}


def cache_view(mv: Multiviewer) -> dict:
    """The same, from the cached state."""
    snapshot = StateService.multiviewer_snapshot(mv)
    params = {key: getattr(snapshot.state, key) for key in MULTIVIEWER_KEYS}
    rows = {row.window_index + 1: row for row in snapshot.windows}
    windows, routes = {}, {}
    for number in range(1, window_count(params["layout"]) + 1):
        row = rows.get(number)
        windows[number] = {"pcm_bars": row.pcm_bars if row else None,
                           "umd": row.umd if row else None}
        route = snapshot.routes.get(mv.output_for_window(number))
        routes[number] = route.input if route else None
    return {"params": params, "windows": windows, "routes": routes}


def save(client, name: str, mvs: list[Multiviewer], groups: list[str] | None = None) -> dict:
    payload = {"name": name, "multiviewers": [mv.pk for mv in mvs]}
    if groups is not None:
        payload["groups"] = groups
    return check(client.post(PRESETS, payload, format="json"), 201)


def apply(client, preset_id: int, **payload):
    return client.post(f"{PRESETS}/{preset_id}/apply", payload, format="json")


def groups_of(report: dict) -> dict[str, str]:
    return {g["group"]: g["status"] for g in report["groups"]}


def change_the_devices(rig, mv: Multiviewer) -> None:
    """What another panel or a colleague might do behind our back, then a refresh."""
    idx = mv.nexx_index
    rig.nexx.set(param_id("layout", idx), "1")  # layout 2: 16 windows
    rig.nexx.set(param_id("font", idx), "2")
    rig.nexx.set(param_id("outer_border", idx), "4")
    rig.nexx.set(param_id("pcm_bars", idx, 1), "0")
    rig.nexx.set(param_id("text", idx, 2, 0), "CHANGED")
    rig.nexx.set(param_id("box_colour", idx, 3, 2), "5")
    rig.quartz.set_route(mv.output_for_window(4), 7)
    refresh_now()


def reset_counters(rig) -> None:
    rig.nexx.reset_stats()
    rig.quartz.reset_stats()


def sent(rig) -> tuple[int, int]:
    return rig.nexx.stats()["requests"], rig.quartz.stats()["commands"]


def test_save_change_the_devices_apply_restores_them_and_again_sends_nothing(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    saved_devices = device_view(rig, mv)
    reset_counters(rig)
    body = save(client, "Show", [mv])
    assert sent(rig) == (0, 0)  # saved from the cache, not from the devices
    assert body["groups"] == ["layout", "font", "borders", "output_format", "pcm", "umd",
                              "sources"]
    assert body["warnings"] == []
    windows = body["document"]["multiviewers"][0]["windows"]
    assert [w["window"] for w in windows] == [1, 2, 3, 4]  # the windows of layout 1
    assert windows[3]["source"] == {"quartz_input": 4, "label": Source.objects.get(
        quartz_input=4).label}

    change_the_devices(rig, mv)
    assert device_view(rig, mv) != saved_devices

    response = apply(client, body["id"])
    result = check(response, 200)
    assert result["status"] == "done"
    (report,) = result["multiviewers"]
    assert report["multiviewer"] == {"id": mv.pk, "number": 1, "label": str(mv)}
    assert groups_of(report) == {"layout": "applied", "font": "applied", "borders": "applied",
                                 "output_format": "skipped", "pcm": "applied",
                                 "umd": "applied", "sources": "applied"}
    by_group = {g["group"]: g for g in report["groups"]}
    assert by_group["pcm"]["applied"] == ["window 2 pcm_bars"]
    assert by_group["umd"]["applied"] == ["window 3 umd layer 1", "window 4 umd layer 3"]
    assert by_group["borders"] == {"group": "borders", "status": "applied",
                                   "applied": ["outer_border"], "skipped": ["inner_border"],
                                   "failed": []}
    assert device_view(rig, mv) == saved_devices
    assert cache_view(mv) == saved_devices

    reset_counters(rig)
    again = check(apply(client, body["id"]), 200)
    assert again["status"] == "done" and again["requests"] == 0
    assert set(groups_of(again["multiviewers"][0]).values()) == {"skipped"}
    assert sent(rig) == (0, 0)


def test_a_partial_device_failure_is_reported_per_multiviewer(rig):
    mv1, mv2 = rig.mv(0), rig.mv(1)
    client = rig.client(rig.other)
    preset = save(client, "Both", [mv1, mv2], ["font", "sources"])
    rig.nexx.set(param_id("font", 0), "2")
    rig.quartz.set_route(mv2.output_for_window(2), 3)
    refresh_now()
    rig.nexx.set_fault("http_500")  # the frame fails every request: MV 1's font cannot go

    response = apply(client, preset["id"])
    body = check(response, 502, method="POST", path=f"{PRESETS}/{preset['id']}/apply")
    assert body["error"] == "device_refused" and body["device"].startswith("NEXX frame")
    assert "was applied in part" in body["detail"]
    result = body["result"]
    assert result["status"] == "partial"
    first, second = result["multiviewers"]
    assert first["status"] == "failed" and groups_of(first) == {"font": "failed",
                                                                "sources": "skipped"}
    (failure,) = next(g for g in first["groups"] if g["group"] == "font")["failed"]
    assert failure["item"] == "font" and failure["error"] == body["error"]
    assert second["status"] == "done" and groups_of(second) == {"font": "skipped",
                                                                "sources": "applied"}
    assert rig.quartz.route(mv2.output_for_window(2)) == mv2.output_for_window(2)
    rig.nexx.clear_faults()
    for mv in (mv1, mv2):
        assert cache_view(mv) == device_view(rig, mv)
    assert cache_view(mv1)["params"]["font"] == 2  # not applied, and the cache says so


def test_a_locked_router_output_fails_only_its_window(rig):
    mv = rig.mv(1)
    client = rig.client(rig.other)
    preset = save(client, "Routes", [mv], ["sources"])
    for window in (1, 2, 3):
        rig.quartz.set_route(mv.output_for_window(window), 30)
    refresh_now()
    rig.quartz.set_lock(mv.output_for_window(2), 255)

    response = apply(client, preset["id"])
    body = check(response, 409, method="POST", path=f"{PRESETS}/{preset['id']}/apply")
    assert body["error"] == "output_locked"
    (report,) = body["result"]["multiviewers"]
    assert report["status"] == "partial"
    (sources,) = report["groups"]
    assert sources["status"] == "partial"
    assert sources["applied"] == ["window 1 source", "window 3 source"]
    assert [(f["item"], f["error"]) for f in sources["failed"]] == [
        ("window 2 source", "output_locked")]
    assert cache_view(mv) == device_view(rig, mv)
    assert device_view(rig, mv)["routes"][2] == 30


def test_a_large_apply_runs_as_a_background_job(rig, settings):
    settings.MAX_PARAMS_PER_REQUEST = 5
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    saved_devices = device_view(rig, mv)
    preset = save(client, "Big", [mv])
    change_the_devices(rig, mv)

    response = apply(client, preset["id"])
    queued = check(response, 202)
    job = ApplyJob.objects.get()
    assert queued == {"job": job.pk, "status": "queued", "parameters": 7, "limit": 5,
                      "url": f"/api/presets/jobs/{job.pk}"}
    assert device_view(rig, mv) != saved_devices  # nothing sent yet
    (task,) = [q.task for q in OrmQ.objects.all()]
    assert (task["func"], task["args"]) == ("presets.tasks.run_apply_job", (job.pk,))

    waiting = check(client.get(queued["url"]), 200)
    assert waiting["status"] == "queued" and waiting["result"] is None
    assert waiting["progress"] == {"multiviewers_done": 0, "multiviewers_total": 1,
                                   "parameters_planned": 7, "current": None}

    assert import_string(task["func"])(*task["args"]) == "done"
    assert import_string(task["func"])(*task["args"]) == "not run"  # never twice
    finished = check(client.get(queued["url"]), 200)
    assert finished["status"] == "done"
    assert finished["progress"]["multiviewers_done"] == 1
    assert finished["started_at"] and finished["finished_at"]
    assert finished["result"]["status"] == "done"
    assert groups_of(finished["result"]["multiviewers"][0])["umd"] == "applied"
    assert device_view(rig, mv) == saved_devices == cache_view(mv)
    # Another user cannot follow it.
    assert rig.client(rig.other).get(queued["url"]).status_code == 404


def test_a_job_whose_device_fails_ends_failed_with_the_reason(rig, settings):
    settings.MAX_PARAMS_PER_REQUEST = 1
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    preset = save(client, "Big", [mv], ["font", "pcm"])
    rig.nexx.set(param_id("font", 0), "2")
    rig.nexx.set(param_id("pcm_bars", 0, 1), "0")  # window 2: 2 bars saved
    refresh_now()
    job_id = check(apply(client, preset["id"]), 202)["job"]
    rig.nexx.set_fault("http_500")
    (task,) = [q.task for q in OrmQ.objects.all()]
    assert import_string(task["func"])(*task["args"]) == "failed"
    rig.nexx.clear_faults()
    job = check(client.get(f"{PRESETS}/jobs/{job_id}"), 200)
    assert job["status"] == "failed"
    (report,) = job["result"]["multiviewers"]
    assert groups_of(report) == {"font": "failed", "pcm": "failed"}
    assert all(f["error"].startswith("device") for g in report["groups"] for f in g["failed"])
    assert cache_view(mv) == device_view(rig, mv)


def test_apply_names_every_multiviewer_and_source_not_granted(rig):
    client = rig.client(rig.operator)  # granted MV 1 and sources 1..8
    doc = valid_document()
    doc["multiviewers"][0]["windows"][2]["source"] = {"quartz_input": 20, "label": ""}
    doc["multiviewers"][0]["windows"][3]["source"] = {"quartz_input": 21, "label": ""}
    response = client.generic("POST", f"{PRESETS}/import", as_bytes(doc),
                              content_type="application/json")
    preset_id = check(response, 201)["id"]
    reset_counters(rig)
    response = apply(client, preset_id)
    body = check(response, 403, method="POST", path=f"{PRESETS}/{preset_id}/apply")
    assert body["error"] == "not_granted"
    assert body["fields"]["multiviewers"] == [f"multiviewer 2 ({rig.mv(1).label})"
                                              if rig.mv(1).label else "multiviewer 2"]
    assert [s.split(" (")[0] for s in body["fields"]["sources"]] == ["source 20", "source 21"]
    assert "multiviewer 2" in body["detail"] and "source 21" in body["detail"]
    assert sent(rig) == (0, 0)
    # Choosing what is granted works.
    response = apply(client, preset_id, multiviewers=[rig.mv(0).pk], groups=["font", "pcm"])
    assert check(response, 200)["status"] == "done"


def test_another_users_edit_lease_refuses_the_apply_before_anything_is_sent(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    preset = save(client, "Show", [mv], ["font"])
    rig.nexx.set(param_id("font", 0), "2")
    refresh_now()
    leases.acquire(multiviewer=mv, user=rig.other)
    reset_counters(rig)
    body = check(apply(client, preset["id"]), 409)
    assert body["error"] == "edit_lease_held" and body["lease"]["login"] == "other"
    assert sent(rig) == (0, 0)


def test_the_write_rate_counts_one_apply_once(rig, settings):
    settings.WRITE_RATE = "1/m"
    client = rig.client(rig.other)
    mvs = [rig.mv(0), rig.mv(1)]
    preset = save(client, "Both", mvs, ["font"])
    for mv in mvs:
        rig.nexx.set(param_id("font", mv.nexx_index), "2")
    refresh_now()
    assert check(apply(client, preset["id"]), 200)["status"] == "done"  # two multiviewers
    rig.nexx.set(param_id("font", 0), "1")
    refresh_now()
    response = apply(client, preset["id"])
    assert check(response, 429)["error"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1


def test_apply_a_chosen_multiviewer_and_group(rig):
    mv1, mv2 = rig.mv(0), rig.mv(1)
    client = rig.client(rig.other)
    preset = save(client, "Both", [mv1, mv2])
    rig.nexx.set(param_id("font", 0), "2")
    rig.nexx.set(param_id("font", 1), "2")
    rig.nexx.set(param_id("pcm_bars", 1, 0), "0")
    refresh_now()
    result = check(apply(client, preset["id"], multiviewers=[mv2.pk], groups=["font"]), 200)
    (report,) = result["multiviewers"]
    assert report["multiviewer"]["id"] == mv2.pk and groups_of(report) == {"font": "applied"}
    assert cache_view(mv1)["params"]["font"] == 2  # not chosen: untouched
    assert cache_view(mv2)["windows"][1]["pcm_bars"] == 0  # group not chosen: untouched
    assert cache_view(mv2)["params"]["font"] != 2

    for payload, field in (({"multiviewers": [rig.mv(2).pk]}, "multiviewers"),
                           ({"groups": ["colour"]}, "groups")):
        body = check(apply(client, preset["id"], **payload), 400)
        assert field in body["fields"]
    only_fonts = save(client, "Fonts", [mv1], ["font"])
    body = check(apply(client, only_fonts["id"], groups=["umd"]), 400)
    assert body["fields"]["groups"] == ["The preset holds no umd for the chosen multiviewers."]


def test_save_refuses_ungranted_multiviewers_and_unread_state(rig):
    body = check(rig.client(rig.operator).post(
        PRESETS, {"name": "x", "multiviewers": [rig.mv(1).pk]}, format="json"), 403)
    assert body["error"] == "not_granted" and body["fields"]["multiviewers"]
    new = Multiviewer.objects.create(nexx_index=40)
    body = check(rig.client(rig.admin).post(
        PRESETS, {"name": "x", "multiviewers": [new.pk], "groups": ["font"]}, format="json"),
        409)
    assert body["error"] == "state_incomplete"
    assert body["fields"] == {f"multiviewers.{new.pk}": [f"font of {new} has not been read yet"]}
    body = check(rig.client(rig.admin).post(
        PRESETS, {"name": "x", "multiviewers": [999999]}, format="json"), 400)
    assert body["fields"]["multiviewers"] == ["Unknown multiviewer ids: 999999."]
    assert not Preset.objects.exists()


def test_a_window_whose_input_is_not_a_source_is_saved_without_one(rig):
    mv = rig.mv(0)
    Source.objects.filter(quartz_input=2).delete()
    body = save(rig.client(rig.admin), "Show", [mv], ["sources"])
    assert body["warnings"] == [
        f"{mv} window 2: router input 2 is not a registered source; its source is not saved."]
    windows = body["document"]["multiviewers"][0]["windows"]
    assert [w["window"] for w in windows] == [1, 3, 4]


def test_a_saved_name_is_unique_per_owner(rig):
    client = rig.client(rig.operator)
    save(client, "Show", [rig.mv(0)], ["font"])
    body = check(client.post(PRESETS, {"name": " Show ", "multiviewers": [rig.mv(0).pk]},
                             format="json"), 409)
    assert body["error"] == "preset_name_taken"
    assert Preset.objects.count() == 1


def test_import_then_apply_restores_what_was_exported(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    saved_devices = device_view(rig, mv)
    preset = save(client, "Show", [mv])
    exported = client.get(f"{PRESETS}/{preset['id']}/export").content
    client.delete(f"{PRESETS}/{preset['id']}")
    change_the_devices(rig, mv)
    imported = check(client.generic("POST", f"{PRESETS}/import", exported,
                                    content_type="application/json"), 201)
    assert check(apply(client, imported["id"]), 200)["status"] == "done"
    assert device_view(rig, mv) == saved_devices


@pytest.mark.parametrize("groups", [["layout"], ["umd", "sources"]])
def test_saved_groups_are_the_only_fields(rig, groups):
    body = save(rig.client(rig.operator), "G", [rig.mv(0)], groups)
    assert body["groups"] == groups
    part = body["document"]["multiviewers"][0]
    present = {k for k in part if k not in ("nexx_index", "label")}
    if "layout" in groups:
        assert present == {"layout"}
    else:
        assert present == {"windows"}
        assert {k for w in part["windows"] for k in w} == {"window", "umd", "source"}


def test_restoring_a_whole_multiviewer_is_a_job_sent_in_batches_of_40(rig):
    mv = rig.mv(1)  # layout 2: 16 windows, 31 parameters each
    client = rig.client(rig.admin)
    saved_devices = device_view(rig, mv)
    preset = save(client, "Wall", [mv], ["umd"])
    for window in range(16):
        for layer in range(3):
            for key, value in (("text", f"X{window}.{layer}"), ("x", "1"), ("y", "2"),
                               ("box_colour", "7"), ("text_size", "3")):
                rig.nexx.set(param_id(key, 1, window, layer), value)
    refresh_now()
    queued = check(apply(client, preset["id"]), 202)
    assert queued["parameters"] == 16 * 3 * 5 > queued["limit"] == 200
    rig.nexx.reset_stats()
    (task,) = [q.task for q in OrmQ.objects.all()]
    assert import_string(task["func"])(*task["args"]) == "done"
    stats = rig.nexx.stats()
    assert stats["max_parameters_per_request"] == 40
    # 5 values per layer, a layer never split: 8 layers (40 values) per request.
    assert stats["parameters"] == 240 and stats["by_call"]["EV/SET"] == 6
    assert device_view(rig, mv) == saved_devices == cache_view(mv)


def test_a_job_no_worker_finished_is_closed_as_failed(rig, settings):
    settings.MAX_PARAMS_PER_REQUEST = 1
    client = rig.client(rig.operator)
    preset = save(client, "Big", [rig.mv(0)], ["font", "borders"])
    rig.nexx.set(param_id("font", 0), "2")
    rig.nexx.set(param_id("outer_border", 0), "4")
    refresh_now()
    job_id = check(apply(client, preset["id"]), 202)["job"]
    ApplyJob.objects.filter(pk=job_id).update(
        created_at=timezone.now() - timedelta(seconds=job_deadline_seconds() + 1))
    job = check(client.get(f"{PRESETS}/jobs/{job_id}"), 200)
    assert job["status"] == "failed"
    assert "No background worker picked the job up" in job["result"]["error"]
    (task,) = [q.task for q in OrmQ.objects.all()]
    assert import_string(task["func"])(*task["args"]) == "not run"  # too late: never sent
    assert cache_view(rig.mv(0))["params"]["font"] == 2


def test_sources_alone_cannot_be_saved_when_no_route_is_a_source(rig):
    mv = rig.mv(0)
    Source.objects.filter(quartz_input__in=[1, 2, 3, 4]).delete()
    body = check(rig.client(rig.admin).post(
        PRESETS, {"name": "x", "multiviewers": [mv.pk], "groups": ["sources"]}, format="json"),
        409)
    assert body["error"] == "state_incomplete"
    assert "no window has a known source" in body["fields"][f"multiviewers.{mv.pk}"][0]
    assert not Preset.objects.exists()
