"""StateService read side (what later endpoints show) and write side (after a device accepted)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.utils import timezone

from devices.models import Multiviewer
from state.models import MultiviewerState, RoutingState, WindowState
from state.services import StateService

pytestmark = pytest.mark.django_db


@pytest.fixture
def mv():
    return Multiviewer.objects.create(nexx_index=1, label="Studio B")  # outputs 17..32


def test_record_multiviewer_params_keeps_the_others(mv):
    StateService.record_multiviewer_params(mv, layout=5, font=1)
    StateService.record_multiviewer_params(mv, outer_border=3)
    state = MultiviewerState.objects.get(multiviewer=mv)
    assert (state.layout, state.font, state.outer_border, state.inner_border) == (5, 1, 3, None)
    with pytest.raises(ValueError, match="not multiviewer parameters: colour"):
        StateService.record_multiviewer_params(mv, colour=1)


def test_record_window_merges_umd_layers(mv):
    StateService.record_window(mv, 2, pcm_bars=8)
    StateService.record_window(mv, 2, umd_layers={0: {"text": "CAM 1", "type": 1}})
    StateService.record_window(mv, 2, umd_layers={0: {"text": "CAM 2"}, 2: {"x": 10}})
    window = WindowState.objects.get(multiviewer=mv, window_index=2)
    assert window.pcm_bars == 8
    assert window.umd == [{"text": "CAM 2", "type": 1}, {}, {"x": 10}]
    with pytest.raises(ValueError):
        StateService.record_window(mv, 16, pcm_bars=2)
    with pytest.raises(ValueError):
        StateService.record_window(mv, 0, umd_layers={3: {"text": "x"}})
    with pytest.raises(ValueError):
        StateService.record_window(mv, 0, umd_layers={0: {"colour": 1}})


def test_record_route_keeps_the_output_name():
    RoutingState.objects.create(output=17, input=1, output_label="MV2 W1",
                                updated_at=timezone.now())
    StateService.record_route(17, 9)
    StateService.record_route(18, None)
    assert StateService.routes([17, 18, 19]) == {17: 9, 18: None, 19: None}
    assert RoutingState.objects.get(output=17).output_label == "MV2 W1"


def test_pcm_bars_alone_keep_the_umd(mv):
    StateService.record_window(mv, 4, pcm_bars=6)
    created = WindowState.objects.get(multiviewer=mv, window_index=4)
    assert (created.pcm_bars, created.umd) == (6, [{}, {}, {}])
    StateService.record_window(mv, 4, umd_layers={1: {"text": "CAM 7"}})
    before = WindowState.objects.get(multiviewer=mv, window_index=4).updated_at
    StateService.record_window(mv, 4, pcm_bars=12)
    stored = WindowState.objects.get(multiviewer=mv, window_index=4)
    assert (stored.pcm_bars, stored.umd) == (12, [{}, {"text": "CAM 7"}, {}])
    assert stored.updated_at > before
    StateService.record_window(mv, 4)  # nothing new: kept, only the time moves
    assert WindowState.objects.get(pk=stored.pk).pcm_bars == 12


def test_a_route_keeps_its_output_name_and_its_row():
    created = RoutingState.objects.create(output=20, input=1, output_label="MV2 W4",
                                          updated_at=timezone.now())
    StateService.record_route(20, 6)
    stored = RoutingState.objects.get(output=20)
    assert (stored.pk, stored.input, stored.output_label) == (created.pk, 6, "MV2 W4")
    assert stored.updated_at > created.updated_at
    with pytest.raises(IntegrityError):
        StateService.record_route(0, 5)  # the table's own checks still hold


def test_multiviewer_snapshot_with_windows_and_routes(mv):
    StateService.record_multiviewer_params(mv, layout=1)  # 4 windows
    StateService.record_window(mv, 0, pcm_bars=4, umd_layers={0: {"text": "CAM 1"}})
    StateService.record_window(mv, 5, pcm_bars=2)  # beyond the layout: not shown
    StateService.record_route(17, 3)
    snapshot = StateService.multiviewer_snapshot(mv)
    assert snapshot.window_count == 4
    data = snapshot.as_dict()
    assert data["multiviewer"] == 2 and data["label"] == "Studio B"
    assert data["params"]["layout"] == 1
    assert [w["window"] for w in data["windows"]] == [1, 2, 3, 4]
    first = data["windows"][0]
    assert (first["pcm_bars"], first["output"], first["input"]) == (4, 17, 3)
    assert first["umd"][0] == {"text": "CAM 1"}
    assert data["windows"][1]["pcm_bars"] is None and data["windows"][1]["output"] == 18


def test_snapshot_of_a_multiviewer_never_read(mv):
    snapshot = StateService.multiviewer_snapshot(mv)
    assert snapshot.state is None and snapshot.window_count is None
    assert snapshot.as_dict()["windows"] == []
