"""The multiviewer document is cached under the version stamp of the rows it is built from
(devices/control/documents.py). These fail if a cached document outlives any change to those
rows, whoever makes it (API, StateService, refresh, a bulk update, the admin), or if one user's
lease view leaks to another."""

from __future__ import annotations

from django.db import transaction

from devices.control import documents
from devices.models import Layout, LayoutWindow, Multiviewer, Source
from state.models import RoutingState, WindowState
from state.services import StateService
from tests.fixtures.control import refresh_now


def read(rig, user=None) -> dict:
    answer = rig.client(user or rig.admin).get(f"/api/multiviewers/{rig.mv(0).pk}")
    assert answer.status_code == 200, answer.content
    return answer.json()


def window(document: dict, number: int) -> dict:
    return next(w for w in document["windows"] if w["window"] == number)


def test_a_second_read_is_answered_from_the_cache(rig, builds):
    first = read(rig)
    assert read(rig) == first
    assert builds == [rig.mv(0).pk]


def test_state_service_writes_are_seen_at_once(rig, builds):
    mv = rig.mv(0)
    read(rig)
    assert window(read(rig), 1)["pcm_bars"] != 12
    StateService.record_window(mv, 0, pcm_bars=12)
    assert window(read(rig), 1)["pcm_bars"] == 12
    StateService.record_window(mv, 1, umd_layers={0: {"text": "CAM 9"}})
    assert window(read(rig), 2)["umd"][0]["text"] == "CAM 9"
    routed = 7 if window(read(rig), 3)["input"] != 7 else 8
    StateService.record_route(mv.output_for_window(3), routed)
    assert window(read(rig), 3)["input"] == routed
    StateService.record_multiviewer_params(mv, layout=2)
    document = read(rig)
    assert document["layout"] == 2 and document["window_count"] == 16
    assert len(builds) == 5  # one per change, none served stale


def test_bulk_updates_and_deletes_without_signals_are_seen(rig):
    mv = rig.mv(0)
    bars = 4 if window(read(rig), 1)["pcm_bars"] != 4 else 8
    WindowState.objects.filter(multiviewer=mv, window_index=0).update(pcm_bars=bars)
    assert window(read(rig), 1)["pcm_bars"] == bars
    assert window(read(rig), 2)["input"] != 5
    RoutingState.objects.filter(output=mv.output_for_window(2)).update(input=5)
    assert window(read(rig), 2)["input"] == 5
    Source.objects.filter(quartz_input=5).update(label="Studio 5")
    assert window(read(rig), 2)["source"]["label"] == "Studio 5"
    Multiviewer.objects.filter(pk=mv.pk).update(label="Gallery A")
    assert read(rig)["label"] == "Gallery A"
    WindowState.objects.filter(multiviewer=mv, window_index=0).delete()
    assert window(read(rig), 1)["pcm_bars"] is None


def test_a_source_created_for_a_routed_input_is_seen(rig):
    mv = rig.mv(0)
    Source.objects.filter(quartz_input=9).delete()
    StateService.record_route(mv.output_for_window(1), 9)
    assert window(read(rig), 1)["source"] is None
    Source.objects.create(quartz_input=9, label="Late arrival")
    assert window(read(rig), 1)["source"]["label"] == "Late arrival"


def test_a_layout_catalog_change_is_seen(rig):
    layout = read(rig)["layout"]
    stored = Layout.objects.update_or_create(number=layout, defaults={"name": "custom"})[0]
    LayoutWindow.objects.filter(layout=stored).delete()
    for number, x in ((1, 0.0), (2, 0.5)):
        LayoutWindow.objects.create(layout=stored, window=number, x=x, y=0.0, w=0.5, h=1.0)
    document = read(rig)
    assert document["window_count"] == 2
    assert [g["x"] for g in document["geometry"]] == [0.0, 0.5]


def test_a_refresh_is_seen(rig):
    mv = rig.mv(0)
    output = mv.output_for_window(1)
    before = window(read(rig), 1)["input"]
    changed = 11 if before != 11 else 12
    rig.quartz.set_route(output, changed)
    refresh_now()
    assert window(read(rig), 1)["input"] == changed


def test_changes_inside_one_transaction_are_seen_by_it(rig):
    # Every row version written by one transaction has the same xmin: the stamp's ctid tells
    # them apart.
    mv = rig.mv(0)
    with transaction.atomic():
        assert window(read(rig), 1)["pcm_bars"] != 8
        WindowState.objects.filter(multiviewer=mv, window_index=0).update(pcm_bars=8)
        assert window(read(rig), 1)["pcm_bars"] == 8
        WindowState.objects.filter(multiviewer=mv, window_index=0).update(pcm_bars=2)
        assert window(read(rig), 1)["pcm_bars"] == 2


def test_the_lease_is_each_users_own_view(rig, builds):
    mv = rig.mv(0)
    assert read(rig, rig.operator)["lease"] is None
    wrote = rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/1",
                                          {"pcm_bars": 4}, format="json")
    assert wrote.status_code == 200
    assert wrote.json()["lease"]["mine"] is True
    built = len(builds)
    mine, theirs = read(rig, rig.operator)["lease"], read(rig, rig.other)["lease"]
    assert mine["mine"] is True and mine["login"] == "operator"
    assert theirs["mine"] is False and theirs["login"] == "operator"
    assert len(builds) == built  # the lease is not part of what is cached
    assert rig.client(rig.admin).delete(f"/api/multiviewers/{mv.pk}/lease").status_code == 204
    assert read(rig, rig.operator)["lease"] is None
    assert read(rig, rig.other)["lease"] is None


def test_the_answer_is_rendered_once_per_stamp_and_lease_view(rig, monkeypatch):
    mv = rig.mv(0)
    renders: list[int] = []

    class CountingRenderer(documents.JSONRenderer):
        def render(self, data, *args, **kwargs):
            renders.append(data["id"])
            return super().render(data, *args, **kwargs)

    monkeypatch.setattr(documents, "JSONRenderer", CountingRenderer)
    first = rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}")
    assert first["Content-Type"] == "application/json"
    assert first.content == documents.JSONRenderer().render(
        documents.multiviewer_document(mv, rig.operator))
    assert read(rig, rig.operator) == read(rig, rig.other) == first.json()
    assert len(renders) == 2  # the check above, and the one answer everyone got
    StateService.record_window(mv, 0, pcm_bars=12)
    assert window(read(rig, rig.operator), 1)["pcm_bars"] == 12
    rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 4},
                                  format="json")
    mine, theirs = read(rig, rig.operator), read(rig, rig.other)
    assert mine["lease"]["mine"] is True and theirs["lease"]["mine"] is False
    assert len(renders) == 5
