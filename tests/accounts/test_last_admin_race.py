"""Two admins demoting each other at the same moment: one succeeds, one admin remains."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from accounts.models import Role, User
from accounts.services import UserService
from mvcontrol.errors import Conflict
from tests.fixtures.accounts import AdminFactory


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        # Activity statistics are snapshotted once per transaction unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", [{"role": Role.USER}, {"is_active": False}])
def test_concurrent_demotions_leave_one_active_admin(change):
    first, second = AdminFactory(login="first"), AdminFactory(login="second")
    outcomes: dict[str, str] = {}

    def demote(admin: User) -> None:
        try:
            UserService.update_user(user=admin, **change)
            outcomes[admin.login] = "done"
        except Conflict:
            outcomes[admin.login] = "refused"
        except Exception as exc:
            outcomes[admin.login] = repr(exc)
            raise
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote, args=(admin,)) for admin in (first, second)]
    # Hold both rows while the two demotions start, so both are inside their transaction before
    # either can finish.
    with transaction.atomic():
        list(User.objects.select_for_update().all())
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while lock_waiters() < 2:
            assert time.monotonic() < deadline, ("the demotions never reached the database",
                                                 outcomes)
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert sorted(outcomes.values()) == ["done", "refused"]
    assert User.objects.filter(role=Role.ADMIN, is_active=True).count() == 1
