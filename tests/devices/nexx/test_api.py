"""GET /api/catalog and GET /api/layouts: for logged-in users, labels and geometry in force."""

import pytest

from devices.layouts import import_layouts
from devices.models import NexxEnumLabel

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/catalog", "/api/layouts", "/api/layouts/1"])
def test_anonymous_is_refused(api_client, url):
    response = api_client.get(url)
    assert response.status_code in (401, 403)
    assert response.json()["error"] in ("not_authenticated", "forbidden")


def test_catalog_for_an_operator(operator_client_api):
    NexxEnumLabel.objects.update_or_create(varid=2710, value=1, defaults={"label": "Navy"})
    response = operator_client_api.get("/api/catalog")
    assert response.status_code == 200
    doc = response.json()
    by_key = {p["key"]: p for p in doc["parameters"]}
    assert by_key["box_colour"]["choices"][1] == {"value": 1, "device_value": 1, "label": "Navy"}
    assert by_key["layout"]["min"] == 1 and by_key["layout"]["max"] == 43
    assert by_key["text"]["scope"] == "layer"
    assert doc["limits"]["parameters_per_request"] == 40


def test_layouts_for_an_operator(operator_client_api):
    doc = operator_client_api.get("/api/layouts").json()
    assert [entry["layout"] for entry in doc["layouts"]] == list(range(1, 44))
    assert doc["layouts"][1]["window_count"] == 16
    window = doc["layouts"][0]["windows"][3]
    assert window == {"id": 4, "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5}


def test_one_layout(admin_client_api):
    import_layouts({"partial": True, "layouts": [
        {"layout": 43, "windows": [{"id": 1, "x": 0, "y": 0, "w": 0.5, "h": 1},
                                   {"id": 2, "x": 0.5, "y": 0, "w": 0.5, "h": 1}]}]})
    doc = admin_client_api.get("/api/layouts/43").json()
    assert doc["window_count"] == 2 and doc["windows"][1]["x"] == 0.5
    missing = admin_client_api.get("/api/layouts/44")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
