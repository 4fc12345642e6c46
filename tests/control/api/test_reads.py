"""GET /api/sources, /api/multiviewers, /api/multiviewers/{id}, /api/routing: what each user
sees."""

from __future__ import annotations

from rest_framework.test import APIClient

from control import leases
from devices.models import Multiviewer, Source
from state.models import RoutingState, WindowState
from tests.control.api.schema_check import check
from tests.fixtures.control import OPERATOR_SOURCES


def test_sources_are_the_granted_ones(rig):
    body = check(rig.client(rig.operator).get("/api/sources"), 200)
    assert [s["quartz_input"] for s in body] == list(OPERATOR_SOURCES)
    first = Source.objects.get(quartz_input=1)
    assert body[0] == {"id": first.pk, "quartz_input": 1, "label": first.label, "category": "",
                       "favourite": False}
    assert len(check(rig.client(rig.admin).get("/api/sources"), 200)) == 32


def test_multiviewers_are_the_granted_ones(rig):
    body = check(rig.client(rig.operator).get("/api/multiviewers"), 200)
    mv = rig.mv(0)
    assert len(body) == 1
    row = body[0]
    assert (row["id"], row["number"], row["nexx_index"], row["layout"]) == (mv.pk, 1, 0, 1)
    assert row["updated_at"] is not None
    admin_rows = check(rig.client(rig.admin).get("/api/multiviewers"), 200)
    assert [r["layout"] for r in admin_rows] == [1, 2, 36, 3]


def test_one_multiviewer_has_everything_the_control_page_needs(rig):
    mv = rig.mv(0)
    rig.quartz.set_route(mv.output_for_window(2), 7)
    RoutingState.objects.filter(output=mv.output_for_window(2)).update(input=7)
    RoutingState.objects.filter(output=mv.output_for_window(3)).update(input=None)
    leases.acquire(multiviewer=mv, user=rig.operator)
    body = check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 200)

    assert (body["id"], body["number"], body["layout"], body["window_count"]) == (mv.pk, 1, 1, 4)
    assert body["font"] is not None and body["outer_border"] == 2 and body["inner_border"] == 1
    assert body["lease"]["login"] == "operator" and body["lease"]["mine"] is True
    assert [g["window"] for g in body["geometry"]] == [1, 2, 3, 4]
    assert [w["window"] for w in body["windows"]] == [1, 2, 3, 4]
    w2 = body["windows"][1]
    source = Source.objects.get(quartz_input=7)
    assert w2["output"] == mv.output_for_window(2) and w2["input"] == 7
    assert w2["source"] == {"id": source.pk, "quartz_input": 7, "label": source.label,
                            "category": ""}
    assert body["windows"][2]["source"] is None and body["windows"][2]["input"] is None
    row = WindowState.objects.get(multiviewer=mv, window_index=1)
    assert w2["pcm_bars"] == row.pcm_bars
    assert [layer["layer"] for layer in w2["umd"]] == [1, 2, 3]
    assert w2["umd"][0]["text"] == row.umd[0]["text"] and len(w2["umd"][0]) == 11
    assert w2["updated_at"] and w2["route_updated_at"]

    other_view = check(rig.client(rig.other).get(f"/api/multiviewers/{mv.pk}"), 200)
    assert other_view["lease"]["mine"] is False


def test_an_ungranted_or_unknown_multiviewer(rig):
    client = rig.client(rig.operator)
    body = check(client.get(f"/api/multiviewers/{rig.mv(1).pk}"), 403)
    assert body["error"] == "not_granted" and "multiviewer 2" in body["detail"]
    missing = Multiviewer.objects.order_by("-pk").first().pk + 100
    assert check(client.get(f"/api/multiviewers/{missing}"), 404)["error"] == "not_found"
    assert check(APIClient().get(f"/api/multiviewers/{rig.mv(0).pk}"), 401)["error"] == (
        "not_authenticated")


def test_routing_shows_the_outputs_of_granted_multiviewers(rig):
    body = check(rig.client(rig.operator).get("/api/routing"), 200)
    mv = rig.mv(0)
    assert [r["output"] for r in body] == [mv.output_for_window(w) for w in (1, 2, 3, 4)]
    assert {r["multiviewer"] for r in body} == {mv.pk}
    assert [r["window"] for r in body] == [1, 2, 3, 4]
    route = RoutingState.objects.get(output=1)
    assert body[0]["input"] == route.input
    assert body[0]["source"]["quartz_input"] == route.input
    admin_rows = check(rig.client(rig.admin).get("/api/routing"), 200)
    # Every cached route (4 x 16 outputs), windows named where the current layout shows them.
    assert len(admin_rows) == 64
    assert sum(1 for r in admin_rows if r["window"] is not None) == 4 + 16 + 9 + 13


def test_catalog_and_layout_views_still_answer(rig):
    client = rig.client(rig.operator)
    assert client.get("/api/catalog").status_code == 200
    assert len(client.get("/api/layouts").json()["layouts"]) == 43
    assert client.get("/api/layouts/36").json()["window_count"] == 9
