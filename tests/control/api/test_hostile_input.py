"""Issue 20 through the control API: strict JSON types ("8", 1.0, true and a number for a text are
refused, with the field named) and the one text rule (no C0/C1 control characters, invisible
formatting characters or line/paragraph separators in a UMD text). Every refusal is a 400 in the
API's error shape, and nothing reaches a device or the snapshot."""

from __future__ import annotations

import pytest

from devices.models import Source
from tests.control.api.schema_check import check
from tests.fixtures.control import refresh_now, state_of

# Each reached the frame before: C1 controls (NEL, CSI), the Unicode line and paragraph
# separators, and invisible formatting characters (a right-to-left override, a zero-width space,
# a soft hyphen, a byte-order mark), besides the C0 controls already refused.
REFUSED_TEXTS = [
    "CAM\u0085 5",
    "CAM\u009b2J",
    "CAM\u2028 5",
    "CAM\u2029 5",
    "\u202eCAM 5",
    "CAM\u200b5",
    "CAM\u00ad5",
    "\ufeffCAM 5",
    "CAM\x1b[2J",
    "CAM\t5",
]


def device_traffic(rig) -> tuple[int, int]:
    """Every request the frame saw and every command the router saw, so far."""
    return rig.nexx.stats()["requests"], rig.quartz.stats()["commands"]


def assert_refused(response, status: int = 400) -> dict:
    body = check(response, status)
    assert set(body) >= {"error", "detail", "fields"}
    assert body["error"] == "validation_error"
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def quiet(rig):
    """Asserts that the test sent nothing to a device and changed nothing in the snapshot."""
    mv = rig.mv(0)
    before = (device_traffic(rig), state_of(mv))
    yield rig
    assert (device_traffic(rig), state_of(mv)) == before


# --- the text rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_a_umd_text_with_a_refused_character_is_refused(quiet, text):
    rig = quiet
    body = assert_refused(rig.client(rig.operator).post(
        f"/api/multiviewers/{rig.mv(0).pk}/windows/3",
        {"umd": [{"layer": 1, "text": text}]}, format="json"))
    messages = body["fields"]["windows.3.umd.1.text"]
    assert "U+" in messages[0] and "control characters" in messages[0]


def test_a_refused_text_stops_the_whole_change(quiet):
    """The valid parts of the same request are not sent either."""
    rig = quiet
    assert_refused(rig.client(rig.operator).post(
        f"/api/multiviewers/{rig.mv(0).pk}/windows/3",
        {"source": rig.source(6).pk, "pcm_bars": 6,
         "umd": [{"layer": 1, "text": "CAM 6"}, {"layer": 2, "text": "CAM\u0085 6"}]},
        format="json"))


@pytest.mark.parametrize("text", ["CAM 5", "Caméra 5 — ÜBER", "カメラ5", "CAM\u00a05", "📷 5",
                                  "\u05de\u05e6\u05dc\u05de\u05d4 5"])
def test_printable_text_of_any_script_still_reaches_the_frame(rig, text):
    from devices.nexx.catalog import param_id

    check(rig.client(rig.operator).post(f"/api/multiviewers/{rig.mv(0).pk}/windows/3",
                                        {"umd": [{"layer": 1, "text": text}]}, format="json"),
          200)
    assert rig.nexx.get(param_id("text", 0, 2, 0)) == text


def test_router_names_are_stored_without_refused_characters(rig):
    """Source names come from the router: cleaned (a space for each run of refused
    characters), not refused, so the refresh still succeeds."""
    rig.quartz.set_name("source", 5, "CAM\u0085 5")
    rig.quartz.set_name("source", 6, "CAM\u20286")
    rig.quartz.set_name("source", 7, "\u202eCAM 7")
    refresh_now()
    labels = {s["quartz_input"]: s["label"]
              for s in check(rig.client(rig.operator).get("/api/sources"), 200)}
    assert (labels[5], labels[6], labels[7]) == ("CAM 5", "CAM 6", "CAM 7")
    for source in Source.objects.filter(quartz_input__in=[5, 6, 7]):
        source.full_clean()  # what is stored passes the model's own validator


# --- strict JSON types -------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "field"), [
    ({"pcm_bars": "8"}, "pcm_bars"),
    ({"pcm_bars": 8.0}, "pcm_bars"),
    ({"pcm_bars": True}, "pcm_bars"),
    ({"source": 1.0}, "source"),
    ({"source": "1"}, "source"),
])
def test_window_changes_take_strict_json_types(quiet, payload, field):
    rig = quiet
    body = assert_refused(rig.client(rig.operator).post(
        f"/api/multiviewers/{rig.mv(0).pk}/windows/3", payload, format="json"))
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize(("layer", "key"), [
    ({"layer": 1, "text": 5}, "text"),
    ({"layer": 1, "text": True}, "text"),
    ({"layer": 1, "text": ["CAM 5"]}, "text"),
    ({"layer": "1", "type": 0}, "layer"),
    ({"layer": 1, "x": "10"}, "x"),
    ({"layer": 1, "box_colour": 1.0}, "box_colour"),
])
def test_umd_layers_take_strict_json_types(quiet, layer, key):
    rig = quiet
    body = assert_refused(rig.client(rig.operator).post(
        f"/api/multiviewers/{rig.mv(0).pk}/windows/3", {"umd": [layer]}, format="json"))
    assert list(body["fields"]) == ["umd"]
    assert list(body["fields"]["umd"]["0"]) == [key]  # the first layer given


def test_the_umd_text_as_a_number_names_the_text(quiet):
    rig = quiet
    body = assert_refused(rig.client(rig.operator).post(
        f"/api/multiviewers/{rig.mv(0).pk}/windows/3", {"umd": [{"layer": 1, "text": 5}]},
        format="json"))
    assert body["fields"] == {"umd": {"0": {"text": [
        'Must be text given as a JSON string (e.g. "5", not 5).']}}}


@pytest.mark.parametrize("layout", ["36", 36.0, True])
def test_a_layout_takes_a_json_number_only(quiet, layout):
    rig = quiet
    body = assert_refused(rig.client(rig.operator).post(
        f"/api/multiviewers/{rig.mv(0).pk}/layout", {"layout": layout}, format="json"))
    assert list(body["fields"]) == ["layout"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"font": "2"}, "font"),
    ({"outer_border": 1.0}, "outer_border"),
    ({"inner_border": False}, "inner_border"),
    ({"output_format": [1]}, "output_format"),
])
def test_multiviewer_parameters_take_json_numbers_only(quiet, payload, field):
    rig = quiet
    body = assert_refused(rig.client(rig.operator).patch(
        f"/api/multiviewers/{rig.mv(0).pk}", payload, format="json"))
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize(("spoilt", "field"), [
    ({"output": "1"}, "output"),
    ({"output": 1, "source": 1.0}, "source"),
    ({"multiviewer": True, "window": 1}, "multiviewer"),
    ({"multiviewer": "mine", "window": "1"}, "window"),
])
def test_a_routing_switch_takes_json_numbers_only(quiet, spoilt, field):
    rig = quiet
    payload = {"source": rig.source(1).pk, **spoilt}
    if payload.get("multiviewer") == "mine":
        payload["multiviewer"] = rig.mv(0).pk
    body = assert_refused(rig.client(rig.operator).post("/api/routing/switch", payload,
                                                        format="json"))
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize(("payload", "field"), [
    ({"multiviewer": "1"}, "multiviewer"),
    ({"multiviewer": 1.0}, "multiviewer"),
    ({"nexx": "false"}, "nexx"),
    ({"quartz": 0}, "quartz"),
])
def test_a_refresh_scope_takes_strict_json_types(quiet, payload, field):
    """POST /api/refresh (the state app): refused before any run is queued."""
    from state.models import RefreshRun

    rig = quiet
    runs = RefreshRun.objects.count()
    if payload.get("multiviewer") in ("1", 1.0):
        payload = {"multiviewer": type(payload["multiviewer"])(rig.mv(0).pk)}
    body = assert_refused(rig.client(rig.operator).post("/api/refresh", payload, format="json"))
    assert list(body["fields"]) == [field]
    assert RefreshRun.objects.count() == runs
