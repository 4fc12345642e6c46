"""GET /api/sources with categories and the user's favourites; PUT and DELETE
/api/sources/{id}/favourite. No device is configured here: none may be asked."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from devices.models import Source
from tests.control.api.schema_check import check
from tests.fixtures.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sources():
    return {n: Source.objects.create(quartz_input=n, label=f"SRC {n}",
                                     category="Cameras" if n <= 2 else "")
            for n in (3, 1, 2, 4)}


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def favourite_url(source: Source | int) -> str:
    return f"/api/sources/{getattr(source, 'pk', source)}/favourite"


def test_sources_carry_their_category_and_the_users_favourites(sources):
    user = UserFactory()
    user.sources.set([sources[1], sources[2], sources[4]])
    client = client_for(user)
    assert check(client.put(favourite_url(sources[4])), 204) is None
    body = check(client.get("/api/sources"), 200)
    assert body == [
        {"id": sources[1].pk, "quartz_input": 1, "label": "SRC 1", "category": "Cameras",
         "favourite": False},
        {"id": sources[2].pk, "quartz_input": 2, "label": "SRC 2", "category": "Cameras",
         "favourite": False},
        {"id": sources[4].pk, "quartz_input": 4, "label": "SRC 4", "category": "",
         "favourite": True},
    ]
    # Another user's favourites are theirs.
    other = UserFactory()
    other.sources.set([sources[4]])
    assert [s["favourite"] for s in check(client_for(other).get("/api/sources"), 200)] == [False]


def test_put_and_delete_are_idempotent(sources):
    user = UserFactory()
    user.sources.set([sources[3]])
    client = client_for(user)
    for _ in range(2):
        check(client.put(favourite_url(sources[3])), 204)
    assert [s["favourite"] for s in client.get("/api/sources").json()] == [True]
    for _ in range(2):
        check(client.delete(favourite_url(sources[3])), 204)
    assert [s["favourite"] for s in client.get("/api/sources").json()] == [False]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_source_the_user_may_not_see_is_not_found(sources, method):
    user = UserFactory()
    user.sources.set([sources[1]])
    client = client_for(user)
    for target in (sources[2], 987654):
        body = check(getattr(client, method)(favourite_url(target)), 404)
        assert body["error"] == "not_found"
    assert not user.favourite_sources.exists()


def test_admins_mark_any_source_and_strangers_nothing(sources):
    admin = AdminFactory()
    check(client_for(admin).put(favourite_url(sources[2])), 204)
    rows = check(client_for(admin).get("/api/sources"), 200)
    assert [(s["quartz_input"], s["favourite"]) for s in rows] == [
        (1, False), (2, True), (3, False), (4, False)]
    assert check(APIClient().put(favourite_url(sources[2])), 401)["error"] == "not_authenticated"


def test_a_category_reaches_the_sources_of_the_multiviewer_document(rig):
    cam = rig.source(7)
    Source.objects.filter(pk=cam.pk).update(category="Studio cameras")
    mv = rig.mv(0)
    check(rig.client(rig.operator).post(f"/api/multiviewers/{mv.pk}/windows/2",
                                        {"source": cam.pk}, format="json"), 200)
    body = check(rig.client(rig.operator).get(f"/api/multiviewers/{mv.pk}"), 200)
    assert body["windows"][1]["source"] == {"id": cam.pk, "quartz_input": 7,
                                            "label": cam.label, "category": "Studio cameras"}
    routes = check(rig.client(rig.operator).get("/api/routing"), 200)
    assert [r["source"]["category"] for r in routes
            if r["output"] == mv.output_for_window(2)] == ["Studio cameras"]
