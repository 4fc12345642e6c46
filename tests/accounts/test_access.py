"""AccessService (who may use which source, multiviewer, router output) and the grants API."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.services import AccessService
from devices.models import Multiviewer, Source
from mvcontrol.errors import Conflict, Forbidden
from tests.fixtures.accounts import AdminFactory, BrowserLikeClient, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def inventory():
    cam = Source.objects.create(quartz_input=1, label="CAM 1")
    vt = Source.objects.create(quartz_input=2)
    studio = Multiviewer.objects.create(nexx_index=0, label="Studio A")  # outputs 1..16
    gallery = Multiviewer.objects.create(nexx_index=1)                   # outputs 17..32
    patched = Multiviewer.objects.create(nexx_index=2, quartz_output_base=201)  # 201..216
    return cam, vt, studio, gallery, patched


def test_a_user_sees_and_uses_only_what_was_granted(inventory):
    cam, vt, studio, gallery, patched = inventory
    user = UserFactory()
    user.sources.set([cam])
    user.multiviewers.set([studio, patched])
    assert list(AccessService.visible_sources(user)) == [cam]
    assert list(AccessService.visible_multiviewers(user)) == [studio, patched]
    assert AccessService.can_use_source(user, cam) and AccessService.can_use_source(user, cam.pk)
    assert not AccessService.can_use_source(user, vt)
    assert AccessService.can_use_multiviewer(user, studio)
    assert not AccessService.can_use_multiviewer(user, gallery.pk)


@pytest.mark.parametrize("output, usable", [
    (1, True), (16, True), (17, False), (32, False), (200, False), (201, True), (216, True),
    (217, False), (0, False),
])
def test_outputs_are_the_window_outputs_of_granted_multiviewers(inventory, output, usable):
    _cam, _vt, studio, _gallery, patched = inventory
    user = UserFactory()
    user.multiviewers.set([studio, patched])
    assert AccessService.can_use_output(user, output) is usable


def test_admins_may_use_everything(inventory):
    cam, vt, studio, gallery, patched = inventory
    admin = AdminFactory()
    assert set(AccessService.visible_sources(admin)) == {cam, vt}
    assert set(AccessService.visible_multiviewers(admin)) == {studio, gallery, patched}
    assert AccessService.can_use_source(admin, vt)
    assert AccessService.can_use_multiviewer(admin, gallery)
    assert AccessService.can_use_output(admin, 17)
    AccessService.require_output(admin, 9999)


@pytest.mark.parametrize("who", ["anonymous", "inactive user", "inactive admin"])
def test_nobody_else_may_use_anything(inventory, who):
    cam, _vt, studio, _gallery, _patched = inventory
    user = {"anonymous": AnonymousUser,
            "inactive user": lambda: UserFactory(is_active=False),
            "inactive admin": lambda: AdminFactory(is_active=False)}[who]()
    if who == "inactive user":
        user.sources.set([cam])
        user.multiviewers.set([studio])
    assert not AccessService.visible_sources(user).exists()
    assert not AccessService.visible_multiviewers(user).exists()
    assert not AccessService.can_use_source(user, cam)
    assert not AccessService.can_use_multiviewer(user, studio)
    assert not AccessService.can_use_output(user, 1)


def test_require_names_what_is_not_granted(inventory):
    cam, vt, studio, gallery, _patched = inventory
    user = UserFactory()
    with pytest.raises(Forbidden, match=r"source 1 \(CAM 1\)"):
        AccessService.require_source(user, cam)
    with pytest.raises(Forbidden, match=r"source 2\."):
        AccessService.require_source(user, vt.pk)
    with pytest.raises(Forbidden, match=r"multiviewer 1 \(Studio A\)"):
        AccessService.require_multiviewer(user, studio)
    with pytest.raises(Forbidden, match=r"multiviewer 2\."):
        AccessService.require_multiviewer(user, gallery)
    with pytest.raises(Forbidden, match="router output 17"):
        AccessService.require_output(user, 17)
    user.sources.set([cam])
    AccessService.require_source(user, cam)


def test_a_multiviewer_switched_off_is_not_offered_to_users(inventory):
    cam, _vt, studio, gallery, _patched = inventory
    user = UserFactory()
    user.multiviewers.set([studio, gallery])
    Multiviewer.objects.filter(pk=gallery.pk).update(enabled=False)
    assert list(AccessService.visible_multiviewers(user)) == [studio]
    assert not AccessService.can_use_multiviewer(user, gallery)
    assert not AccessService.can_use_output(user, 17)  # a window output of the switched-off one
    assert AccessService.can_use_output(user, 1)
    # Listed, so that it does not vanish without a note; using it is a conflict, not a refusal.
    assert list(AccessService.listed_multiviewers(user)) == [studio, gallery]
    assert AccessService.multiviewer_off(user, gallery)
    assert not AccessService.multiviewer_off(user, studio)
    with pytest.raises(Conflict, match=r"^MV 2 is off on the frame: it cannot be shown or "
                                       r"changed until it is switched on there and the state "
                                       r"is refreshed\.$") as refused:
        AccessService.require_multiviewer(user, gallery)
    assert refused.value.code == "multiviewer_off" and refused.value.http_status == 409
    with pytest.raises(Conflict, match="MV 2 is off on the frame") as refused:
        AccessService.require_output(user, 17)
    assert refused.value.code == "multiviewer_off"
    # Not granted at all stays a refusal, switched off or not.
    assert not AccessService.multiviewer_off(UserFactory(), gallery)
    with pytest.raises(Forbidden):
        AccessService.require_multiviewer(UserFactory(), gallery)
    # The grant stays: switched on again, it is usable again.
    assert AccessService.grants(user)["multiviewers"] == sorted([studio.pk, gallery.pk])
    Multiviewer.objects.filter(pk=gallery.pk).update(enabled=True)
    assert AccessService.can_use_multiviewer(user, gallery)


def test_admins_still_see_a_multiviewer_switched_off(inventory):
    _cam, _vt, studio, gallery, patched = inventory
    Multiviewer.objects.filter(pk=gallery.pk).update(enabled=False)
    admin = AdminFactory()
    assert set(AccessService.visible_multiviewers(admin)) == {studio, gallery, patched}
    assert set(AccessService.listed_multiviewers(admin)) == {studio, gallery, patched}
    assert AccessService.can_use_multiviewer(admin, gallery)
    assert not AccessService.multiviewer_off(admin, gallery)
    AccessService.require_multiviewer(admin, gallery)


def test_me_lists_only_multiviewers_switched_on(inventory):
    _cam, _vt, studio, gallery, _patched = inventory
    user = UserFactory(login="operator")
    user.multiviewers.set([studio, gallery])
    Multiviewer.objects.filter(pk=gallery.pk).update(enabled=False)
    client = BrowserLikeClient()
    client.api_login("operator")
    assert client.get("/api/auth/me").json()["grants"]["multiviewers"] == [studio.pk]


# --- grants API -----------------------------------------------------------------------------------

def test_put_replaces_the_grants_and_get_reads_them(admin_client_api, inventory):
    cam, vt, studio, gallery, _patched = inventory
    user = UserFactory()
    user.sources.set([vt])
    url = f"/api/users/{user.pk}/access"
    response = admin_client_api.put(url, {"sources": [cam.pk], "multiviewers":
                                          [gallery.pk, studio.pk]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"sources": [cam.pk], "multiviewers": sorted([studio.pk,
                                                                            gallery.pk])}
    assert admin_client_api.get(url).json() == response.json()
    assert list(AccessService.visible_sources(user)) == [cam]


def test_grants_take_effect_on_the_users_next_request(admin_client_api, inventory):
    cam, *_ = inventory
    user = UserFactory(login="operator")
    client = BrowserLikeClient()
    client.api_login("operator")
    admin_client_api.put(f"/api/users/{user.pk}/access", {"sources": [cam.pk],
                                                          "multiviewers": []}, format="json")
    assert client.get("/api/auth/me").json()["grants"]["sources"] == [cam.pk]


def test_unknown_ids_are_refused_and_nothing_changes(admin_client_api, inventory):
    cam, vt, studio, *_ = inventory
    user = UserFactory()
    user.sources.set([vt])
    response = admin_client_api.put(f"/api/users/{user.pk}/access",
                                    {"sources": [cam.pk, 999], "multiviewers": [studio.pk, 998]},
                                    format="json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "999" in fields["sources"][0] and "998" in fields["multiviewers"][0]
    assert AccessService.grants(user) == {"sources": [vt.pk], "multiviewers": []}


@pytest.mark.parametrize("payload", [{"sources": []}, {"multiviewers": []},
                                     {"sources": ["x"], "multiviewers": []},
                                     {"sources": [0], "multiviewers": []}])
def test_put_needs_both_lists_of_ids(admin_client_api, payload):
    user = UserFactory()
    response = admin_client_api.put(f"/api/users/{user.pk}/access", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
