"""Favourite sources: each user's own, kept server-side, only among the sources they may see."""

from __future__ import annotations

import pytest

from accounts.services import AccessService
from devices.models import Source
from mvcontrol.errors import NotFound
from tests.fixtures.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sources():
    return [Source.objects.create(quartz_input=n, label=f"CAM {n}") for n in (1, 2, 3)]


def favourites(user) -> dict[int, bool]:
    return {s.quartz_input: s.favourite for s in AccessService.sources_with_favourites(user)}


def test_marking_and_unmarking_is_idempotent_and_per_user(sources):
    cam1, cam2, _cam3 = sources
    user, colleague = UserFactory(), UserFactory()
    for person in (user, colleague):
        person.sources.set([cam1, cam2])
    for _ in range(2):
        AccessService.set_favourite(user=user, source_id=cam2.pk, favourite=True)
    assert favourites(user) == {1: False, 2: True}
    assert list(user.favourite_sources.all()) == [cam2]
    assert favourites(colleague) == {1: False, 2: False}  # someone else's choice
    for _ in range(2):
        AccessService.set_favourite(user=user, source_id=cam2.pk, favourite=False)
    assert favourites(user) == {1: False, 2: False}


def test_a_source_the_user_may_not_see_is_not_found(sources):
    cam1, _cam2, cam3 = sources
    user = UserFactory()
    user.sources.set([cam1])
    for favourite in (True, False):
        with pytest.raises(NotFound):
            AccessService.set_favourite(user=user, source_id=cam3.pk, favourite=favourite)
        with pytest.raises(NotFound):
            AccessService.set_favourite(user=user, source_id=999999, favourite=favourite)
    assert not user.favourite_sources.exists()


def test_a_favourite_whose_grant_was_revoked_is_no_longer_offered(sources):
    cam1, cam2, _cam3 = sources
    user = UserFactory()
    user.sources.set([cam1, cam2])
    AccessService.set_favourite(user=user, source_id=cam2.pk, favourite=True)
    user.sources.set([cam1])
    assert favourites(user) == {1: False}
    user.sources.set([cam1, cam2])  # granted again: still a favourite, as the user left it
    assert favourites(user) == {1: False, 2: True}


def test_admins_may_mark_any_source(sources):
    admin = AdminFactory()
    AccessService.set_favourite(user=admin, source_id=sources[2].pk, favourite=True)
    assert favourites(admin) == {1: False, 2: False, 3: True}
