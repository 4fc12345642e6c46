import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from control import leases
from devices.models import EditLease, Multiviewer
from mvcontrol.errors import Conflict
from tests.fixtures.accounts import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mv():
    return Multiviewer.objects.create(nexx_index=1, label="Studio B")


def test_first_writer_takes_the_lease_and_extends_it(mv, settings):
    settings.EDIT_LEASE_SECONDS = 60
    alice = UserFactory(login="alice")
    first = leases.acquire(multiviewer=mv, user=alice)
    second = leases.acquire(multiviewer=mv, user=alice)
    assert second >= first
    assert leases.current(multiviewer=mv).login == "alice"


def test_other_user_is_refused_with_holder_and_end(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.acquire(multiviewer=mv, user=alice)
    with pytest.raises(Conflict) as excinfo:
        leases.acquire(multiviewer=mv, user=bob)
    error = excinfo.value
    assert error.http_status == 409 and error.code == "edit_lease_held"
    assert "alice" in error.detail and "Studio B" in error.detail
    assert error.extra["lease"]["login"] == "alice"


def test_expired_lease_passes_to_the_next_writer(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.acquire(multiviewer=mv, user=alice)
    EditLease.objects.filter(multiviewer=mv).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert leases.current(multiviewer=mv) is None
    leases.acquire(multiviewer=mv, user=bob)
    assert leases.current(multiviewer=mv).login == "bob"


def test_admin_breaks_a_lease(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.acquire(multiviewer=mv, user=alice)
    assert leases.break_lease(multiviewer=mv) is True
    leases.acquire(multiviewer=mv, user=bob)
    assert leases.break_lease(multiviewer=mv) is True
    assert leases.break_lease(multiviewer=mv) is False


@pytest.mark.django_db(transaction=True)
def test_two_users_at_the_same_instant_one_wins():
    mv = Multiviewer.objects.create(nexx_index=2)
    users = [UserFactory(login=f"u{i}") for i in range(6)]
    barrier = threading.Barrier(len(users))
    winners, refused = [], []

    def attempt(user):
        try:
            barrier.wait()
            leases.acquire(multiviewer=mv, user=user)
            winners.append(user.login)
        except Conflict:
            refused.append(user.login)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1 and len(refused) == len(users) - 1
    assert leases.current(multiviewer=mv).login == winners[0]


def test_a_lease_lasts_edit_lease_seconds_from_the_last_write(mv, settings):
    settings.EDIT_LEASE_SECONDS = 60
    until = leases.acquire(multiviewer=mv, user=UserFactory(login="alice"))
    with connection.cursor() as cursor:  # the database's clock, as the lease's
        cursor.execute("SELECT %s - now()", [until])
        assert cursor.fetchone()[0] == timedelta(seconds=60)
    assert EditLease.objects.get(multiviewer=mv).expires_at == until
