"""Asynchronous commit is used for the lossable writes only (mvcontrol/postgresql/commits.py):
cached device state and edit leases, each in a transaction of its own; never for a caller's
transaction that may hold other writes."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from mvcontrol.postgresql.commits import commit_lossable, execute_lossable

pytestmark = pytest.mark.django_db(transaction=True)

SETTING = "SELECT current_setting('synchronous_commit')"


def setting_now() -> str:
    with connection.cursor() as cursor:
        cursor.execute(SETTING)
        return cursor.fetchone()[0]


def lossable_setting() -> str:
    with connection.cursor() as cursor:
        execute_lossable(cursor, SETTING, [])
        return cursor.fetchone()[0]


def test_a_statement_of_its_own_commits_asynchronously_and_only_it():
    assert setting_now() == "on"
    assert lossable_setting() == "off"
    assert setting_now() == "on"  # SET LOCAL ended with that statement's transaction


def test_inside_a_callers_transaction_nothing_changes():
    with transaction.atomic():
        assert lossable_setting() == "on"
        with connection.cursor() as cursor:
            execute_lossable(cursor, "SELECT %s::int + 1", [41])
            assert cursor.fetchone() == (42,)  # the statement's own result, parameters bound


def test_an_outermost_block_commits_asynchronously_a_nested_one_does_not():
    with transaction.atomic():
        commit_lossable()
        assert setting_now() == "off"
    assert setting_now() == "on"
    with transaction.atomic():
        with transaction.atomic():
            commit_lossable()
            assert setting_now() == "on"


def test_a_failing_statement_raises_and_leaves_the_connection_usable():
    from django.db import DataError

    with pytest.raises(DataError), connection.cursor() as cursor:
        execute_lossable(cursor, "SELECT 1 / %s", [0])
    assert setting_now() == "on"
