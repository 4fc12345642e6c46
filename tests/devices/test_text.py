"""The one text rule (devices/text.py) and where it applies in devices: the NEXX catalog's text
parameters, the labels an admin sets (Source, Multiviewer), and router names made storable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from devices.models import Multiviewer, NexxEnumLabel, Source
from devices.nexx.catalog import InvalidParameterValue, validate_value
from devices.text import clean_device_text, refused_character
from devices.validation import validate_device_text

REFUSED = [
    ("CAM\u0085 5", "a control character (U+0085)"),       # C1: next line
    ("CAM\u009b2J", "a control character (U+009B)"),       # C1: control sequence introducer
    ("CAM\x1b[2J", "a control character (U+001B)"),        # C0: escape
    ("CAM\x7f", "a control character (U+007F)"),
    ("two\nlines", "a control character (U+000A)"),
    ("CAM\u2028 5", "a line separator (U+2028)"),
    ("CAM\u2029 5", "a paragraph separator (U+2029)"),
    ("\u202eCAM 5", "an invisible formatting character (U+202E)"),  # right-to-left override
    ("CAM\u2066 5\u2069", "an invisible formatting character (U+2066)"),  # isolate
    ("CAM\u200b5", "an invisible formatting character (U+200B)"),  # zero-width space
    ("CAM\u200d5", "an invisible formatting character (U+200D)"),  # zero-width joiner
    ("CAM\u00ad5", "an invisible formatting character (U+00AD)"),  # soft hyphen
    ("\ufeffCAM", "an invisible formatting character (U+FEFF)"),   # byte-order mark
    ("CAM\U000e0041", "an invisible formatting character (U+E0041)"),  # tag
    ("CAM\ud800", "a lone surrogate (U+D800)"),
]
ALLOWED = ["CAM 5", "", "Caméra 5 — ÜBER", "カメラ 5", "CAM\u00a05", "CAM\u3000 5", "📷 5",
           "\u05de\u05e6\u05dc\u05de\u05d4 5", "\ue000 private use", "100% ü, ¿?"]


@pytest.mark.parametrize(("text", "found"), REFUSED)
def test_refused_characters_are_named(text, found):
    assert refused_character(text) == found


@pytest.mark.parametrize("text", ALLOWED)
def test_printable_text_of_any_script_passes(text):
    assert refused_character(text) is None
    validate_device_text(text)
    assert clean_device_text(text) == text


@pytest.mark.parametrize(("text", "cleaned"), [
    ("CAM\u0085 5", "CAM 5"),
    ("CAM\u00855", "CAM 5"),
    ("CAM\u2028\u20295", "CAM 5"),
    ("\u202eCAM 7", "CAM 7"),
    ("CAM 8\x00\x00", "CAM 8"),
    ("\u200b", ""),
])
def test_device_text_is_cleaned_with_words_kept_apart(text, cleaned):
    assert clean_device_text(text) == cleaned
    assert refused_character(clean_device_text(text)) is None


@pytest.mark.parametrize(("text", "found"), REFUSED)
def test_the_catalog_refuses_them_in_umd_text(text, found):
    with pytest.raises(InvalidParameterValue) as info:
        validate_value("2709.0.0.0", text)
    assert f"text contains {found}" in info.value.detail
    assert "without control characters" in info.value.detail
    assert "2709.0.0.0" in info.value.fields


@pytest.mark.parametrize(("text", "found"), REFUSED)
def test_the_model_validator_refuses_them(text, found):
    with pytest.raises(ValidationError) as info:
        validate_device_text(text)
    assert found in info.value.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Source, Multiviewer, NexxEnumLabel])
def test_labels_follow_the_rule(model):
    rows = {Source: Source(quartz_input=5, label="CAM\u2028 5"),
            Multiviewer: Multiviewer(nexx_index=0, label="Studio\u0085A", quartz_output_base=1),
            NexxEnumLabel: None}
    row = rows[model]
    if row is None:  # a stored label (the catalog's defaults are rows), corrected by an admin
        row = NexxEnumLabel.objects.first() or NexxEnumLabel(varid=2714, value=6)
        row.label = "Whi\u200bte"
    with pytest.raises(ValidationError) as info:
        row.full_clean()
    assert list(info.value.message_dict) == ["label"]


@pytest.mark.django_db
def test_django_admin_refuses_a_label_with_a_refused_character(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:devices_multiviewer_add"),
                           {"nexx_index": "3", "label": "Studio\u202eA", "enabled": "on",
                            "quartz_output_base": ""})
    assert response.status_code == 200
    assert "label" in response.context["adminform"].form.errors
    response = client.post(reverse("admin:devices_source_add"),
                           {"quartz_input": "9", "label": "CAM\u009b9"})
    assert response.status_code == 200
    assert "label" in response.context["adminform"].form.errors
    assert not Multiviewer.objects.exists() and not Source.objects.exists()


@pytest.mark.django_db
def test_router_names_are_stored_cleaned():
    from state.snapshot import write_sources

    assert write_sources({1: "CAM\u0085 1", 2: "CAM\u20282", 3: "plain"}) == 3
    assert dict(Source.objects.values_list("quartz_input", "label")) == {
        1: "CAM 1", 2: "CAM 2", 3: "plain"}
