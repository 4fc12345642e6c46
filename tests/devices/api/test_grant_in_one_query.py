"""The multiviewer read checks the grant in the same query as the document's stamp, and the
control writes with the multiviewer's own query (devices/control/documents.py, devices/api/
views.py). These fail if that shortcut answers differently from AccessService's own check."""

from __future__ import annotations

from devices.models import Multiviewer, Source
from tests.devices.api.schema_check import check
from tests.fixtures.control import OPERATOR_SOURCES


def _switch_off(mv: Multiviewer) -> None:
    Multiviewer.objects.filter(pk=mv.pk).update(enabled=False)


def test_granted_reads_and_writes_pass(rig):
    client = rig.client(rig.operator)
    mv = rig.mv(0)
    assert check(client.get(f"/api/multiviewers/{mv.pk}"), 200)["id"] == mv.pk
    answer = client.post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 6}, format="json")
    assert check(answer, 200)["windows"][0]["pcm_bars"] == 6


def test_a_grant_taken_away_is_refused_on_the_next_request(rig):
    client = rig.client(rig.operator)
    mv = rig.mv(0)
    check(client.get(f"/api/multiviewers/{mv.pk}"), 200)  # the document is now kept
    rig.operator.multiviewers.clear()
    body = check(client.get(f"/api/multiviewers/{mv.pk}"), 403)
    assert body["error"] == "not_granted"
    answer = client.post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 6}, format="json")
    assert check(answer, 403)["error"] == "not_granted"


def test_a_granted_multiviewer_switched_off_is_refused_to_users_not_admins(rig):
    mv = rig.mv(0)
    check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 200)
    _switch_off(mv)
    body = check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 403)
    assert body["error"] == "not_granted" and "switched off" in body["detail"]
    answer = rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/1",
                                           {"pcm_bars": 6}, format="json")
    assert "switched off" in check(answer, 403)["detail"]
    document = check(rig.client(rig.admin).get(f"/api/multiviewers/{mv.pk}"), 200)
    assert document["enabled"] is False


def test_an_admin_reads_a_multiviewer_granted_to_nobody(rig):
    mv = rig.mv(2)
    assert not mv.granted_users.exists()
    assert check(rig.client(rig.admin).get(f"/api/multiviewers/{mv.pk}"), 200)["id"] == mv.pk
    body = check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 403)
    assert body["error"] == "not_granted"


def test_an_inactive_user_is_not_let_through_by_a_grant(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    rig.operator.is_active = False
    rig.operator.save()
    assert client.get(f"/api/multiviewers/{mv.pk}").status_code in (401, 403)


def test_a_source_not_granted_is_refused_and_nothing_is_sent(rig):
    mv = rig.mv(0)
    refused = next(s for s in Source.objects.all() if s.quartz_input not in OPERATOR_SOURCES)
    output = mv.output_for_window(1)
    routed = rig.quartz.route(output)
    answer = rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/1",
                                           {"source": refused.pk}, format="json")
    body = check(answer, 403)
    assert body["error"] == "not_granted" and "windows.1.source" in body["fields"]
    assert rig.quartz.route(output) == routed != refused.quartz_input  # nothing was sent
    granted = rig.source(OPERATOR_SOURCES[0])
    answer = rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/1",
                                           {"source": granted.pk}, format="json")
    assert check(answer, 200)["windows"][0]["input"] == granted.quartz_input
