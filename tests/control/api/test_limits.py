"""The write limits over HTTP: per-user rate (429 + Retry-After), request size (413), edit leases
(409, broken by an admin through the API or the admin action)."""

from __future__ import annotations

from devices.models import EditLease
from devices.nexx.catalog import param_id
from tests.control.api.schema_check import check
from tests.fixtures.control import state_of


def test_writes_over_the_rate_get_429_with_retry_after(rig, settings):
    settings.WRITE_RATE = "3/m"
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    for font in (0, 1, 2):
        check(client.patch(f"/api/multiviewers/{mv.pk}", {"font": font}, format="json"), 200)
    response = client.patch(f"/api/multiviewers/{mv.pk}", {"font": 0}, format="json")
    body = check(response, 429)
    assert body["error"] == "rate_limited" and "at most 3 per minute" in body["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60 and body["retry_after"] == int(
        response["Retry-After"])
    assert rig.nexx.get(param_id("font", 0)) == "2"
    # Reads are not writes; another user has their own count.
    check(client.get(f"/api/multiviewers/{mv.pk}"), 200)
    EditLease.objects.all().delete()
    check(rig.client(rig.other).patch(f"/api/multiviewers/{mv.pk}", {"font": 1}, format="json"),
          200)


def test_more_parameters_than_allowed_get_413(rig, settings):
    settings.MAX_PARAMS_PER_REQUEST = 20
    mv = rig.mv(0)
    before = state_of(mv)
    umd = [{"layer": layer, "text": f"L{layer}", "type": 1, "box_colour": 1, "box_alpha": 1,
            "x": 1, "y": 1, "text_colour": 1, "text_alpha": 1, "text_size": 1, "padding": 1}
           for layer in (1, 2, 3)]
    body = check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/1",
                                               {"pcm_bars": 2, "umd": umd}, format="json"), 413)
    assert body["error"] == "too_many_parameters"
    assert (body["count"], body["limit"]) == (31, 20)
    assert "31" in body["detail"] and "20" in body["detail"]
    assert rig.nexx.stats()["by_call"].get("EV/SET", 0) == 0
    assert state_of(mv) == before


def test_a_second_editor_gets_409_until_an_admin_breaks_the_lease(rig):
    mv = rig.mv(0)
    check(rig.client(rig.operator).patch(f"/api/multiviewers/{mv.pk}", {"font": 1},
                                         format="json"), 200)
    other = rig.client(rig.other)
    before = state_of(mv)
    body = check(other.patch(f"/api/multiviewers/{mv.pk}", {"font": 2}, format="json"), 409)
    assert body["error"] == "edit_lease_held" and "operator" in body["detail"]
    assert body["lease"]["login"] == "operator" and body["lease"]["expires_at"]
    assert state_of(mv) == before and rig.nexx.get(param_id("font", 0)) == "1"
    # Reads stay open; the lease shows who edits.
    view = check(other.get(f"/api/multiviewers/{mv.pk}"), 200)
    assert view["lease"]["login"] == "operator" and view["lease"]["mine"] is False

    assert check(rig.client(rig.operator).delete(f"/api/multiviewers/{mv.pk}/lease"),
                 403)["error"] == "forbidden"
    check(rig.client(rig.admin).delete(f"/api/multiviewers/{mv.pk}/lease"), 204)
    assert not EditLease.objects.filter(multiviewer=mv).exists()
    check(other.patch(f"/api/multiviewers/{mv.pk}", {"font": 2}, format="json"), 200)
    assert rig.nexx.get(param_id("font", 0)) == "2"
    # Now the first operator is the one kept out.
    check(rig.client(rig.operator).patch(f"/api/multiviewers/{mv.pk}", {"font": 0},
                                         format="json"), 409)


def test_the_admin_action_breaks_leases(rig):
    mv = rig.mv(0)
    check(rig.client(rig.operator).patch(f"/api/multiviewers/{mv.pk}", {"font": 1},
                                         format="json"), 200)
    client = rig.client(rig.admin)
    listing = client.get("/admin/devices/multiviewer/")
    assert listing.status_code == 200 and b"operator until" in listing.content
    response = client.post("/admin/devices/multiviewer/",
                           {"action": "break_edit_lease", "_selected_action": [mv.pk]},
                           follow=True)
    assert response.status_code == 200
    assert b"Edit lease broken on MV 1" in response.content
    assert not EditLease.objects.filter(multiviewer=mv).exists()
