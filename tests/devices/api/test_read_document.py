"""GET /api/multiviewers/{id} answers the document as built, without a serializer pass (it is the
control page's most frequent read; bench/api_load.py). These keep that honest: the document must
be exactly what MultiviewerSerializer, the documented shape, would make of it."""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer

from devices.api.serializers import MultiviewerSerializer
from devices.control.documents import multiviewer_document
from state.models import MultiviewerState


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
