"""GET /api/multiviewers/{id} answers the document as built, without a serializer pass (it is the
control page's most frequent read; bench/api_load.py). These keep that honest: the document must
be exactly what MultiviewerSerializer, the documented shape, would make of it."""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer

from devices.api.serializers import MultiviewerSerializer
from devices.control.documents import multiviewer_document
from devices.models import Layout, LayoutWindow, Source
from state.models import MultiviewerState, RoutingState, WindowState
from state.planning import MULTIVIEWER_KEYS
from state.services import StateService


def as_json(data) -> object:
    return json.loads(JSONRenderer().render(data))


def test_every_multiviewer_document_is_its_serializers_shape(rig):
    rig.client(rig.operator).post(f"/api/multiviewers/{rig.mv(0).pk}/windows/1",
                                  {"pcm_bars": 4}, format="json")  # a lease, held
    for index in range(4):
        mv = rig.mv(index)
        for user in (rig.admin, rig.operator):
            document = multiviewer_document(mv, user)
            assert as_json(document) == as_json(MultiviewerSerializer(document).data)
    answer = rig.client(rig.admin).get(f"/api/multiviewers/{rig.mv(0).pk}")
    document = multiviewer_document(rig.mv(0), rig.admin)
    assert answer.json() == as_json(MultiviewerSerializer(document).data)
    assert answer.json()["lease"]["login"] == "operator"


def test_a_multiviewer_not_read_yet_is_its_serializers_shape_too(rig):
    MultiviewerState.objects.filter(multiviewer=rig.mv(2)).delete()
    document = multiviewer_document(rig.mv(2), rig.admin)
    assert document["layout"] is None and document["windows"] == []
    assert as_json(document) == as_json(MultiviewerSerializer(document).data)


def test_the_document_holds_what_the_cached_rows_hold(rig):
    """The document is read in one statement (JSON aggregates); checked here against the same
    rows read through the ORM: values, timestamps, sources, stored geometry."""
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
    assert document["updated_at"] == state.updated_at
    assert [document[key] for key in MULTIVIEWER_KEYS] == [getattr(state, key)
                                                          for key in MULTIVIEWER_KEYS]
    rows = {w.window_index: w for w in WindowState.objects.filter(multiviewer=mv)}
    routes = {r.output: r for r in RoutingState.objects.all()}
    for entry in document["windows"]:
        row = rows.get(entry["window"] - 1)
        route = routes.get(entry["output"])
        assert entry["pcm_bars"] == (row.pcm_bars if row else None)
        assert entry["updated_at"] == (row.updated_at if row else None)
        assert entry["route_updated_at"] == (route.updated_at if route else None)
        assert entry["input"] == (route.input if route else None)
        source = Source.objects.filter(quartz_input=entry["input"]).first()
        assert entry["source"] == (None if source is None else {
            "id": source.pk, "quartz_input": source.quartz_input, "label": source.label})
    first, second, third = document["windows"]
    assert first["umd"][1]["text"] == "CAM «1»" and first["pcm_bars"] == 6
    assert second["input"] == 9 and second["source"] is None
    assert third["updated_at"] is None and third["umd"][0]["text"] is None
    assert as_json(document) == as_json(MultiviewerSerializer(document).data)
