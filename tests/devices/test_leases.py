import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from devices.control import leases
from devices.models import EditLease, Multiviewer
from mvcontrol.errors import Conflict
from tests.devices.lease_reads import seen_alone
from tests.fixtures.accounts import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mv():
    return Multiviewer.objects.create(nexx_index=1, label="Studio B")


def test_first_writer_takes_the_lease_and_extends_it(mv, settings):
    settings.EDIT_LEASE_SECONDS = 60
    alice = UserFactory(login="alice")
    first = leases.take(multiviewer=mv, user=alice)
    second = leases.take(multiviewer=mv, user=alice)
    assert second >= first
    assert leases.current(multiviewer=mv).login == "alice"


def test_other_user_is_refused_with_holder_and_end(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.take(multiviewer=mv, user=alice)
    with pytest.raises(Conflict) as excinfo:
        leases.take(multiviewer=mv, user=bob)
    error = excinfo.value
    assert error.http_status == 409 and error.code == "edit_lease_held"
    assert "alice" in error.detail and "Studio B" in error.detail
    assert error.extra["lease"]["login"] == "alice"


def test_expired_lease_passes_to_the_next_writer(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.take(multiviewer=mv, user=alice)
    EditLease.objects.filter(multiviewer=mv).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert leases.current(multiviewer=mv) is None
    leases.take(multiviewer=mv, user=bob)
    assert leases.current(multiviewer=mv).login == "bob"


def test_admin_breaks_a_lease(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.take(multiviewer=mv, user=alice)
    assert leases.break_lease(multiviewer=mv) is True
    leases.take(multiviewer=mv, user=bob)
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
            leases.take(multiviewer=mv, user=user)
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


def test_a_lease_is_written_for_a_quarter_more_than_it_must_last(mv, settings):
    settings.EDIT_LEASE_SECONDS = 60
    until = leases.take(multiviewer=mv, user=UserFactory(login="alice"))
    with connection.cursor() as cursor:  # the database's clock, as the lease's
        cursor.execute("SELECT %s - now()", [until])
        assert cursor.fetchone()[0] == timedelta(seconds=75)
    settings.EDIT_LEASE_SECONDS = 8
    assert leases.extension() == 2  # a quarter, never more than 15 s


def test_a_lease_seen_with_long_enough_left_is_not_written_again(mv, settings):
    from django.test.utils import CaptureQueriesContext

    settings.EDIT_LEASE_SECONDS = 60
    alice = UserFactory(login="alice")
    until = leases.take(multiviewer=mv, user=alice)
    seen = seen_alone(mv)
    assert seen == leases.SeenLease(alice.pk, until, True)
    with CaptureQueriesContext(connection) as queries:
        assert leases.take(multiviewer=mv, user=alice, seen=seen) == until
    assert len(queries) == 0


def test_a_lease_seen_with_less_left_is_extended(mv, settings):
    settings.EDIT_LEASE_SECONDS = 60
    alice = UserFactory(login="alice")
    leases.take(multiviewer=mv, user=alice)
    EditLease.objects.filter(multiviewer=mv).update(
        expires_at=timezone.now() + timedelta(seconds=59))
    seen = seen_alone(mv)
    assert seen.user_id == alice.pk and not seen.lasts
    until = leases.take(multiviewer=mv, user=alice, seen=seen)
    assert until >= timezone.now() + timedelta(seconds=74)
    assert EditLease.objects.get(multiviewer=mv).expires_at == until


def test_a_lease_seen_held_by_another_user_is_refused(mv):
    alice, bob = UserFactory(login="alice"), UserFactory(login="bob")
    leases.take(multiviewer=mv, user=alice)
    with pytest.raises(Conflict):
        leases.take(multiviewer=mv, user=bob, seen=seen_alone(mv))
    assert seen_alone(mv).user_id == alice.pk
