"""Admin pages of the NEXX catalog: enum labels and layout geometry are editable."""

import pytest
from django.urls import reverse

import devices.admin_catalog  # noqa: F401 - registers the pages until devices/admin.py does
from devices.catalog import enum_labels
from devices.layouts import window_count
from devices.models import Layout, NexxEnumLabel

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("name", ["devices_nexxenumlabel_changelist", "devices_layout_changelist",
                                  "devices_nexxenumlabel_add", "devices_layout_add"])
def test_pages_load(admin_web, name):
    assert admin_web.get(reverse(f"admin:{name}")).status_code == 200


def test_change_pages_load(admin_web):
    label = NexxEnumLabel.objects.get(varid=2714, value=6)
    assert admin_web.get(reverse("admin:devices_nexxenumlabel_change",
                                 args=[label.pk])).status_code == 200
    response = admin_web.get(reverse("admin:devices_layout_change", args=[5]))
    assert response.status_code == 200
    assert b"<svg" in response.content


def test_operators_are_refused(client, operator_user):
    client.force_login(operator_user)
    response = client.get(reverse("admin:devices_nexxenumlabel_changelist"))
    assert response.status_code == 302


def test_admin_corrects_a_label(admin_web):
    label = NexxEnumLabel.objects.get(varid=2714, value=6)
    url = reverse("admin:devices_nexxenumlabel_change", args=[label.pk])
    response = admin_web.post(url, {"label": "Bright white"})
    assert response.status_code == 302
    assert enum_labels()[2714][6] == "Bright white"


def test_restore_shipped_labels(admin_web):
    NexxEnumLabel.objects.filter(varid=2714, value=6).update(label="Oops")
    rows = NexxEnumLabel.objects.filter(varid=2714)
    admin_web.post(reverse("admin:devices_nexxenumlabel_changelist"),
                   {"action": "restore_shipped_labels",
                    "_selected_action": [r.pk for r in rows]})
    assert enum_labels()[2714][6] == "White"


def test_a_label_for_an_unknown_value_is_refused(admin_web):
    response = admin_web.post(reverse("admin:devices_nexxenumlabel_add"),
                              {"varid": 2711, "value": 9, "label": "200%"})
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors


def _layout_form(windows):
    data = {"name": "Edited", "windows-TOTAL_FORMS": str(len(windows)),
            "windows-INITIAL_FORMS": "0", "windows-MIN_NUM_FORMS": "1",
            "windows-MAX_NUM_FORMS": "16"}
    for i, w in enumerate(windows):
        data.update({f"windows-{i}-{k}": str(v) for k, v in w.items()})
        data[f"windows-{i}-layout"] = "43"
    return data


def test_layout_windows_are_checked_together(admin_web):
    Layout.objects.get(number=43).windows.all().delete()
    url = reverse("admin:devices_layout_change", args=[43])
    bad = _layout_form([{"window": 1, "x": 0, "y": 0, "w": 1, "h": 1},
                        {"window": 3, "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5}])
    response = admin_web.post(url, bad)
    assert response.status_code == 200
    assert "window ids must be 1 to 2" in str(response.context["inline_admin_formsets"][0]
                                             .formset.non_form_errors())
    outside = _layout_form([{"window": 1, "x": 0.6, "y": 0, "w": 0.5, "h": 1}])
    assert admin_web.post(url, outside).status_code == 200
    good = _layout_form([{"window": 1, "x": 0, "y": 0, "w": 1, "h": 1},
                         {"window": 2, "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5},
                         {"window": 3, "x": 0, "y": 0.5, "w": 0.5, "h": 0.5}])
    assert admin_web.post(url, good).status_code == 302
    assert window_count(43) == 3


def test_restore_shipped_geometry(admin_web):
    Layout.objects.get(number=2).windows.filter(window__gt=4).delete()
    assert window_count(2) == 4
    admin_web.post(reverse("admin:devices_layout_changelist"),
                   {"action": "restore_shipped_geometry", "_selected_action": [2]})
    assert window_count(2) == 16
