"""GET /api/multiviewers/{id}: the document MultiviewerSerializer renders from the cached rows,
read in a bounded number of queries whatever the layout."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.fields import DateTimeField
from rest_framework.renderers import JSONRenderer

from control.api.serializers import MultiviewerSerializer
from control.documents import multiviewer_view, multiviewer_with_state
from devices.models import Layout, LayoutWindow, Source
from state.models import MultiviewerState, RoutingState, WindowState
from state.planning import MULTIVIEWER_KEYS
from state.services import StateService

# The multiviewer with its state and lease, the layout's stored geometry, its windows, their
# routes and the routed sources.
DOCUMENT_QUERIES = 5


def iso(value):
    return None if value is None else DateTimeField().to_representation(value)


def multiviewer_document(mv, user) -> dict:
    return MultiviewerSerializer(multiviewer_view(multiviewer_with_state(mv.pk), user)).data


def test_the_api_answers_the_serializers_document_with_the_lease(rig):
    rig.client(rig.operator).post(f"/api/multiviewers/{rig.mv(0).pk}/windows/1",
                                  {"pcm_bars": 4}, format="json")  # a lease, held
    answer = rig.client(rig.admin).get(f"/api/multiviewers/{rig.mv(0).pk}")
    assert answer.json() == json.loads(JSONRenderer().render(
        multiviewer_document(rig.mv(0), rig.admin)))
    assert answer.json()["lease"]["login"] == "operator"
    assert answer.json()["lease"]["mine"] is False
    mine = rig.client(rig.operator).get(f"/api/multiviewers/{rig.mv(0).pk}").json()["lease"]
    assert mine["mine"] is True


def test_the_document_is_read_in_a_bounded_number_of_queries(rig):
    for index in range(4):  # 4, 16, 9 and 13 windows
        mv = rig.mv(index)
        with CaptureQueriesContext(connection) as queries:
            document = multiviewer_document(mv, rig.admin)
        assert len(document["windows"]) == document["window_count"]
        assert len(queries) <= DOCUMENT_QUERIES, [q["sql"] for q in queries]


def test_a_multiviewer_not_read_yet_has_no_layout_and_no_windows(rig):
    MultiviewerState.objects.filter(multiviewer=rig.mv(2)).delete()
    document = multiviewer_document(rig.mv(2), rig.admin)
    assert document["layout"] is None and document["windows"] == []
    assert document["window_count"] is None and document["updated_at"] is None


def test_the_document_holds_what_the_cached_rows_hold(rig):
    """Values, timestamps, sources and stored geometry, as the rows hold them."""
    mv = rig.mv(1)
    layout = MultiviewerState.objects.get(multiviewer=mv).layout
    stored = Layout.objects.update_or_create(number=layout, defaults={"name": "custom"})[0]
    LayoutWindow.objects.filter(layout=stored).delete()
    for number, x in ((1, 0.0), (2, 0.5), (3, 0.25)):
        LayoutWindow.objects.create(layout=stored, window=number, x=x, y=0.0, w=0.25, h=1.0)
    StateService.record_window(mv, 0, pcm_bars=6, umd_layers={1: {"text": "CAM «1»"}})
    Source.objects.filter(quartz_input=9).delete()
    StateService.record_route(mv.output_for_window(2), 9)  # an input no source names
    WindowState.objects.filter(multiviewer=mv, window_index=2).delete()  # never read

    document = multiviewer_document(mv, rig.admin)
    rendered = JSONRenderer().render(document).decode()
    assert '"x":0.0' in rendered.replace(" ", "")  # floats stay floats, as the serializer's
    assert [(g["window"], g["x"], g["w"]) for g in document["geometry"]] == [
        (1, 0.0, 0.25), (2, 0.5, 0.25), (3, 0.25, 0.25)]
    assert document["window_count"] == 3
    state = MultiviewerState.objects.get(multiviewer=mv)
    assert document["updated_at"] == iso(state.updated_at)
    assert [document[key] for key in MULTIVIEWER_KEYS] == [getattr(state, key)
                                                          for key in MULTIVIEWER_KEYS]
    rows = {w.window_index: w for w in WindowState.objects.filter(multiviewer=mv)}
    routes = {r.output: r for r in RoutingState.objects.all()}
    for entry in document["windows"]:
        row = rows.get(entry["window"] - 1)
        route = routes.get(entry["output"])
        assert entry["pcm_bars"] == (row.pcm_bars if row else None)
        assert entry["updated_at"] == iso(row.updated_at if row else None)
        assert entry["route_updated_at"] == iso(route.updated_at if route else None)
        assert entry["input"] == (route.input if route else None)
        source = Source.objects.filter(quartz_input=entry["input"]).first()
        assert entry["source"] == (None if source is None else {
            "id": source.pk, "quartz_input": source.quartz_input, "label": source.label,
            "category": source.category})
    first, second, third = document["windows"]
    assert first["umd"][1]["text"] == "CAM «1»" and first["pcm_bars"] == 6
    assert second["input"] == 9 and second["source"] is None
    assert third["updated_at"] is None and third["umd"][0]["text"] is None
