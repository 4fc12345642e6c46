"""The parameter catalog: every varid of the reference, ids, conversions, validation, labels."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.nexx import catalog
from devices.nexx.catalog import (
    Access,
    InvalidParameterId,
    InvalidParameterValue,
    MalformedValue,
    Scope,
    ValueType,
    catalog_document,
    from_device_value,
    multiviewer_param_ids,
    param_id,
    parse_param_id,
    to_device_value,
    validate_value,
)

# varid → (scope, access, type), transcribed from /shared/reference/nexx-ev-api.md.
REFERENCE = {
    2700: ("frame", "R", "int"), 2701: ("frame", "R", "int"), 2702: ("frame", "R", "int"),
    2721: ("frame", "RW", "enum"), 2722: ("frame", "RW", "enum"),
    2723: ("frame", "RW", "enum"), 2724: ("frame", "RW", "int"), 2725: ("frame", "RW", "int"),
    2729: ("frame", "RW", "int"), 2730: ("frame", "RW", "int"), 2731: ("frame", "RW", "int"),
    2732: ("frame", "RW", "int"), 2734: ("frame", "RW", "enum"),
    2703: ("multiviewer", "RW", "enum"), 2704: ("multiviewer", "RW", "int"),
    2716: ("multiviewer", "RW", "enum"), 2720: ("multiviewer", "RW", "enum"),
    2726: ("multiviewer", "RW", "int"), 2727: ("multiviewer", "RW", "int"),
    2735: ("multiviewer", "W", "int"),
    2707: ("window", "RW", "int"), 2718: ("window", "RW", "string"),
    2719: ("window", "RW", "enum"),
    2708: ("layer", "RW", "enum"), 2709: ("layer", "RW", "string"),
    2710: ("layer", "RW", "enum"), 2711: ("layer", "RW", "enum"), 2712: ("layer", "RW", "int"),
    2713: ("layer", "RW", "int"), 2714: ("layer", "RW", "enum"), 2715: ("layer", "RW", "enum"),
    2717: ("layer", "RW", "enum"), 2733: ("layer", "RW", "enum"),
}

OPERATOR_KEYS = {
    "type": 2708, "text": 2709, "box_colour": 2710, "box_alpha": 2711, "x": 2712, "y": 2713,
    "text_colour": 2714, "text_alpha": 2715, "text_size": 2717, "padding": 2733,
    "layout": 2704, "font": 2716, "output_format": 2720, "outer_border": 2726,
    "inner_border": 2727, "enable": 2703, "source": 2707, "source_label": 2718,
    "pcm_bars": 2719,
}


def test_every_varid_of_the_reference_with_scope_access_and_type():
    assert {p.varid for p in catalog.PARAMETERS} == set(REFERENCE)
    for varid, (scope, access, kind) in REFERENCE.items():
        p = catalog.BY_VARID[varid]
        assert (str(p.scope), str(p.access), str(p.type)) == (scope, access, kind), varid


@pytest.mark.parametrize(("key", "varid"), list(OPERATOR_KEYS.items()))
def test_operator_keys(key, varid):
    assert catalog.parameter(key).varid == varid
    assert catalog.parameter(varid).key == key
    assert catalog.parameter(str(varid)).key == key


def test_enum_tables_are_the_references():
    labels = catalog.default_enum_labels()
    assert labels[2710] == dict(enumerate(
        ["Black", "Blue", "Green", "Cyan", "Red", "Magenta", "Yellow", "White"]))
    assert labels[2714] == dict(enumerate(
        ["Blue", "Green", "Cyan", "Red", "Magenta", "Yellow", "White", "Black"]))
    assert labels[2711] == {0: "0%", 1: "25%", 2: "50%", 3: "75%", 4: "100%"}
    assert labels[2715] == {0: "0%", 1: "25%", 2: "50%", 3: "100%"}
    assert labels[2708][4] == "NTP Time with Offset"
    assert labels[2722] == dict(enumerate(["Local ATC", "NTP", "NTP with offset", "Global ATC 1",
                                           "Global ATC 2", "Global ATC 3", "Global ATC 4"]))
    assert labels[2720] == dict(enumerate(["1080p59", "1080p50", "1080i59", "1080i50"]))
    assert set(labels[2719]) == set(range(7))


@pytest.mark.parametrize(("args", "expected"), [
    ((2700,), "2700"),
    ((2704, 3), "2704.3"),
    ((2719, 0, 15), "2719.0.15"),
    ((2708, 0, 1, 2), "2708.0.1.2"),
    (("text", 119, 15, 2), "2709.119.15.2"),
])
def test_param_id(args, expected):
    assert param_id(*args) == expected
    ref = parse_param_id(expected)
    assert ref.id == expected


@pytest.mark.parametrize("args", [
    (2704,),                 # multiviewer parameter without its index
    (2700, 1),               # frame parameter with one
    (2708, 0, 1),            # layer parameter without the layer
    (2704, 120),             # multiviewer out of range
    (2719, 0, 16),           # window out of range
    (2708, 0, 0, 3),         # layer out of range
    (2704, -1),
    (2704, True),
])
def test_param_id_refuses_wrong_indexes(args):
    with pytest.raises(InvalidParameterId):
        param_id(*args)


@pytest.mark.parametrize("pid", ["9999", "2704", "2704.x", "2704.3.1", "", "2708.0.0.0.0",
                                 "2700.1", "2704.120"])
def test_parse_param_id_refuses(pid):
    with pytest.raises(InvalidParameterId):
        parse_param_id(pid)


def test_parse_param_id_strips_the_reply_type_suffix():
    ref = parse_param_id("2708.0.1.2@i")
    assert (ref.varid, ref.mv, ref.window, ref.layer) == (2708, 0, 1, 2)


def test_layout_conversion_both_ways():
    assert to_device_value("2704.0", 1) == "0"
    assert to_device_value("2704.0", 43) == "42"
    assert from_device_value("2704.0", "0") == 1
    assert from_device_value("2704.0", 42) == 43
    assert catalog.layout_to_device(12) == 11
    assert catalog.layout_from_device("11") == 12


@pytest.mark.parametrize(("index", "bars"), list(enumerate([0, 2, 4, 6, 8, 12, 16])))
def test_pcm_index_to_bars(index, bars):
    assert catalog.bars_from_device(index) == bars
    assert catalog.bars_to_device(bars) == index
    assert to_device_value("2719.2.3", bars) == str(index)


def test_global_atc_source_is_sdi_input_one_based():
    assert to_device_value("2729", 1) == "0"
    assert to_device_value("2732", 960) == "959"
    with pytest.raises(InvalidParameterValue):
        to_device_value("2729", 0)


def test_enum_values_are_device_indexes():
    assert to_device_value("2710.0.0.0", 7) == "7"
    assert from_device_value("2714.0.0.0", "6") == 6


@pytest.mark.parametrize(("pid", "value", "allowed"), [
    ("2704.3", 44, "from 1 to 43"),
    ("2704.3", 0, "from 1 to 43"),
    ("2719.0.1", 5, "0, 2, 4, 6, 8, 12, 16"),
    ("2710.0.0.0", 8, "7 (White)"),
    ("2715.0.0.0", 4, "3 (100%)"),
    ("2726.0", 5, "from 0 to 4"),
    ("2712.0.0.0", -1, "from 0 to 1919"),
    ("2704.3", "five", "from 1 to 43"),
    ("2704.3", 2.5, "from 1 to 43"),
    ("2704.3", True, "from 1 to 43"),
    ("2709.0.0.0", "x" * 65, "at most 64 characters"),
    ("2709.0.0.0", "line\nbreak", "without control characters"),
    ("2718.0.0", 5, "at most 64 characters"),
])
def test_refused_values_name_the_parameter_and_the_allowed_values(pid, value, allowed):
    with pytest.raises(InvalidParameterValue) as info:
        validate_value(pid, value)
    assert pid in info.value.detail
    assert allowed in info.value.detail
    assert pid in info.value.fields


@pytest.mark.parametrize(("key", "value", "sentence"), [
    ("text", "x" * 70,
     "Text is 70 characters long; at most 64 characters, without control characters."),
    ("text", "CAM\u20285",
     "Text contains a line separator (U+2028); at most 64 characters, without control "
     "characters."),
    ("text", 5, "5 is not text; at most 64 characters, without control characters."),
    ("pcm_bars", 5, "5 is not one of the choices: 0, 2, 4, 6, 8, 12 or 16."),
    ("font", 7, "7 is not one of the choices: 0 (Sans), 1 (Sans Mono) or 2 (D Din)."),
    ("text_alpha", "half", '"half" is not one of the choices: 0 (0%), 1 (25%), 2 (50%) or '
                           "3 (100%)."),
    ("layout", 44, "44 is out of range; allowed: 1 to 43."),
    ("x", 2000, "2000 is out of range; allowed: 0 to 1919 pixels."),
    ("outer_border", True, "true is not a whole number; allowed: 0 to 4 pixels."),
    ("global_atc_1_source", 0, "0 is out of range; allowed: 1 to 960 (SDI input)."),
])
def test_a_refused_value_has_a_sentence_for_an_operator(key, value, sentence):
    with pytest.raises(InvalidParameterValue) as info:
        catalog.parameter(key).validate(value, name=f"windows.5.umd.1.{key}")
    assert info.value.sentence() == sentence
    assert info.value.problem == sentence.split(";")[0].split(":")[0]
    # The engineer's detail still names the parameter and its varid.
    assert f"windows.5.umd.1.{key} ({catalog.parameter(key).varid}," in info.value.detail


def test_the_sentence_shows_the_labels_in_force():
    with pytest.raises(InvalidParameterValue) as info:
        catalog.parameter("font").validate(9)
    assert info.value.sentence({1: "Sans Mono Bold"}) == (
        "9 is not one of the choices: 0 (Sans), 1 (Sans Mono Bold) or 2 (D Din).")


def test_validation_normalises_numbers_given_as_text():
    assert validate_value("2704.3", "12") == 12
    assert validate_value("2704.3", 12.0) == 12
    assert validate_value("2709.0.0.0", "CAM 3, 100% ü") == "CAM 3, 100% ü"


def test_device_values_are_checked_in_device_terms():
    p = catalog.parameter("layout")
    assert p.check_device("42") == "42"
    with pytest.raises(InvalidParameterValue, match="0..42"):
        p.check_device(43)
    with pytest.raises(InvalidParameterValue, match="0, 1, 2, 3, 4, 5, 6"):
        catalog.parameter("pcm_bars").check_device(7)


@pytest.mark.parametrize(("pid", "raw"), [
    ("2704.0", "abc"), ("2704.0", None), ("2704.0", True), ("2719.0.0", "7"),
    ("2710.0.0.0", "9"), ("2709.0.0.0", None), ("2709.0.0.0", ["x"]), ("2704.0", "1.5"),
])
def test_malformed_device_values(pid, raw):
    with pytest.raises(MalformedValue):
        from_device_value(pid, raw)


def test_device_numbers_may_come_as_numbers_or_decimal_text():
    assert from_device_value("2704.0", 4) == 5
    assert from_device_value("2704.0", "4.0") == 5
    assert from_device_value("2704.0", 4.0) == 5
    assert from_device_value("2709.0.0.0", 12) == "12"


def test_multiviewer_param_ids_cover_its_windows_and_layers():
    ids = multiviewer_param_ids(2, window_count=4)
    assert "2704.2" in ids and "2735.2" not in ids
    assert "2719.2.3" in ids and "2719.2.4" not in ids
    assert "2708.2.3.2" in ids
    assert len(ids) == 6 + 4 * (3 + 3 * 10)
    assert len(set(ids)) == len(ids)
    assert "2735.2" in multiviewer_param_ids(2, window_count=1, readable=False)


def test_scopes_and_access_helpers():
    assert {p.key for p in catalog.scope_parameters(Scope.WINDOW)} == {
        "source", "source_label", "pcm_bars"}
    assert catalog.parameter("update_preview").access is Access.W
    assert not catalog.parameter("update_preview").readable
    assert not catalog.parameter("chassis_total").writable
    assert catalog.parameter("text").type is ValueType.STRING


def test_catalog_document_for_the_control_page():
    doc = catalog_document(labels=catalog.default_enum_labels())
    assert doc["limits"]["parameters_per_request"] == 40
    assert doc["scopes"]["layer"] == ["type", "text", "box_colour", "box_alpha", "x", "y",
                                      "text_colour", "text_alpha", "text_size", "padding"]
    by_key = {p["key"]: p for p in doc["parameters"]}
    assert by_key["layout"]["min"] == 1 and by_key["layout"]["max"] == 43
    assert by_key["layout"]["device_min"] == 0 and by_key["layout"]["device_max"] == 42
    assert by_key["layout"]["conversion"] == "offset"
    assert [c["value"] for c in by_key["pcm_bars"]["choices"]] == [0, 2, 4, 6, 8, 12, 16]
    assert by_key["pcm_bars"]["choices"][6] == {"value": 16, "device_value": 6,
                                                "label": "16 bars"}
    assert by_key["box_colour"]["choices"][7]["label"] == "White"
    assert by_key["text"]["max_length"] == 64
    assert by_key["update_preview"]["readable"] is False


@pytest.mark.django_db
def test_admin_labels_override_the_shipped_ones():
    from devices import catalog as catalog_in_force
    from devices.models import NexxEnumLabel

    NexxEnumLabel.objects.update_or_create(varid=2714, value=6, defaults={"label": "Bright white"})
    NexxEnumLabel.objects.filter(varid=2714, value=0).delete()  # falls back to the shipped one
    labels = catalog_in_force.enum_labels()
    assert labels[2714][6] == "Bright white"
    assert labels[2714][0] == "Blue"
    by_key = {p["key"]: p for p in catalog_in_force.catalog_document()["parameters"]}
    assert by_key["text_colour"]["choices"][6]["label"] == "Bright white"
    # The protocol's own document never reads the database: the shipped labels, or those given.
    by_key = {p["key"]: p for p in catalog_document()["parameters"]}
    assert by_key["text_colour"]["choices"][6]["label"] == "White"
    by_key = {p["key"]: p for p in catalog_document(labels)["parameters"]}
    assert by_key["text_colour"]["choices"][6]["label"] == "Bright white"


@pytest.mark.django_db
def test_migration_seeds_every_shipped_label():
    from devices.models import NexxEnumLabel

    rows = {(r.varid, r.value): r.label for r in NexxEnumLabel.objects.all()}
    expected = {(varid, value): label
                for varid, labels in catalog.default_enum_labels().items()
                for value, label in labels.items()}
    assert rows == expected


@pytest.mark.django_db
def test_a_label_for_a_value_outside_the_catalog_is_refused():
    from django.core.exceptions import ValidationError

    from devices.models import NexxEnumLabel

    with pytest.raises(ValidationError, match="device values"):
        NexxEnumLabel(varid=2711, value=5, label="120%").full_clean(validate_unique=False)


@st.composite
def operator_values(draw):
    p = draw(st.sampled_from(catalog.PARAMETERS))
    if p.type is ValueType.STRING:
        # Every character the one text rule lets through (devices/text.py).
        value = draw(st.text(alphabet=st.characters(min_codepoint=32, blacklist_categories=(
            "Cs", "Cc", "Cf", "Zl", "Zp")), max_size=p.max_length))
    elif p.type is ValueType.ENUM:
        value = draw(st.sampled_from(p.operator_choices()))
    else:
        low, high = p.operator_range()
        value = draw(st.integers(low, high))
    return p, value


@given(operator_values())
def test_every_allowed_value_survives_the_trip_to_the_device_and_back(case):
    p, value = case
    raw = p.to_device(value)
    assert p.check_device(raw) == raw
    assert p.from_device(raw) == value


def test_the_emulators_defaults_are_all_valid_device_values():
    from devices.nexx.emulator import NexxEmulator

    frame = NexxEmulator(multiviewers=3)
    for pid, raw in frame.values().items():
        p = parse_param_id(pid).parameter
        from_device_value(pid, raw)
        if p.writable:
            assert p.check_device(raw) == raw
