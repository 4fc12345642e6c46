"""A multiviewer switched off on the frame (Multiviewer.enabled false, as a refresh finds it): an
operator holding a grant sees it listed ("enabled": false) instead of losing it without a note,
and reading or changing it answers 409 multiviewer_off, sending nothing. Admins still use it.
Nothing else an operator sees changes: its routes and live events stay out of their view."""

from __future__ import annotations

import pytest

from devices.models import Multiviewer
from tests.control.api.schema_check import check
from tests.fixtures.control import state_of

OFF_DETAIL = ("MV 1 is off on the frame: it cannot be shown or changed until it is switched on "
              "there and the state is refreshed.")


@pytest.fixture
def off(rig):
    """MV 1 (granted to the operator) switched off on the frame, as a refresh records it."""
    Multiviewer.objects.filter(pk=rig.mv(0).pk).update(enabled=False)
    return rig


def traffic(rig) -> tuple[int, int]:
    return rig.nexx.stats()["requests"], rig.quartz.stats()["commands"]


def test_an_operator_sees_it_listed_as_off(off):
    rig = off
    rows = check(rig.client(rig.operator).get("/api/multiviewers"), 200)
    assert [(r["id"], r["number"], r["enabled"], r["layout"]) for r in rows] == [
        (rig.mv(0).pk, 1, False, 1)]
    # Granted MV 1 and 2; MV 1 is off: listed, with MV 2 as before.
    rows = check(rig.client(rig.other).get("/api/multiviewers"), 200)
    assert [(r["number"], r["enabled"]) for r in rows] == [(1, False), (2, True)]
    rows = check(rig.client(rig.admin).get("/api/multiviewers"), 200)
    assert [(r["number"], r["enabled"]) for r in rows] == [(1, False), (2, True), (3, True),
                                                           (4, True)]


def test_reading_it_is_a_conflict_for_an_operator_and_fine_for_an_admin(off):
    rig = off
    mv = rig.mv(0)
    body = check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 409)
    assert body["error"] == "multiviewer_off" and body["detail"] == OFF_DETAIL
    document = check(rig.client(rig.admin).get(f"/api/multiviewers/{mv.pk}"), 200)
    assert document["enabled"] is False and document["window_count"] == 4


def test_an_operator_without_a_grant_is_still_refused(off):
    rig = off
    Multiviewer.objects.filter(pk=rig.mv(1).pk).update(enabled=False)
    body = check(rig.client(rig.operator).get(f"/api/multiviewers/{rig.mv(1).pk}"), 403)
    assert body["error"] == "not_granted"


@pytest.mark.parametrize(("method", "path", "payload"), [
    ("patch", "/api/multiviewers/{mv}", {"font": 1}),
    ("post", "/api/multiviewers/{mv}/layout", {"layout": 2}),
    ("post", "/api/multiviewers/{mv}/windows/2", {"pcm_bars": 4}),
    ("post", "/api/multiviewers/{mv}/undo", None),
    ("post", "/api/routing/switch", {"multiviewer": "{mv}", "window": 2, "source": "{cam}"}),
    ("post", "/api/routing/switch", {"output": 2, "source": "{cam}"}),
])
def test_every_write_is_a_conflict_and_sends_nothing(off, method, path, payload):
    rig = off
    mv, cam = rig.mv(0), rig.source(3)

    def filled(value):
        return {"{mv}": mv.pk, "{cam}": cam.pk}.get(value, value)

    before = (traffic(rig), state_of(mv))
    body = {k: filled(v) for k, v in payload.items()} if payload is not None else None
    response = getattr(rig.client(rig.operator), method)(path.format(mv=mv.pk), body,
                                                          format="json")
    answer = check(response, 409)
    assert answer["error"] == "multiviewer_off" and answer["detail"] == OFF_DETAIL
    assert (traffic(rig), state_of(mv)) == before


def test_an_admin_still_changes_it(off):
    rig = off
    mv = rig.mv(0)
    body = check(rig.client(rig.admin).post(f"/api/multiviewers/{mv.pk}/windows/2",
                                            {"pcm_bars": 4}, format="json"), 200)
    assert body["enabled"] is False and body["windows"][1]["pcm_bars"] == 4


def test_nothing_else_an_operator_sees_changes(off):
    rig = off
    mv = rig.mv(0)
    routes = check(rig.client(rig.operator).get("/api/routing"), 200)
    assert routes == []  # its window outputs are no longer the operator's
    me = rig.client(rig.operator).get("/api/auth/me").json()
    assert me["grants"]["multiviewers"] == []
    # Switched on again (the next refresh): usable again, the grant was kept.
    Multiviewer.objects.filter(pk=mv.pk).update(enabled=True)
    check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 200)
