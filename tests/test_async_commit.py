"""Asynchronous commit is used for the lossable writes only (mvcontrol/postgresql/commits.py):
cached device state and edit leases, each in a transaction of its own; never for a caller's
transaction that may hold other writes. A write's records and its answer's read share one round
trip (record_then_read)."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from mvcontrol.postgresql.commits import (
    Statement,
    commit_lossable,
    execute_lossable,
    record_then_read,
)

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
    with pytest.raises(DataError), connection.cursor() as cursor:
        execute_lossable(cursor, "SELECT 1 / %s", [0])
    assert setting_now() == "on"


# record_then_read: a write's records and its answer's read in one round trip.

def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1")  # noqa: S608 - the test's own table
        return cursor.fetchall()


@pytest.fixture
def scratch():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_records (id int PRIMARY KEY, value text)")
    yield "scratch_records"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE scratch_records")


def _insert(pk: int, value: str) -> Statement:
    # Both statements name their parameters alike: each keeps its own values.
    return Statement("INSERT INTO scratch_records VALUES (%(id)s, %(value)s) RETURNING id, "
                     "current_setting('synchronous_commit')", {"id": pk, "value": value})


def test_records_then_a_read_in_one_round_trip_after_an_asynchronous_commit(scratch):
    read = Statement("SELECT count(*), string_agg(value, ',' ORDER BY id), "
                     "current_setting('synchronous_commit') FROM scratch_records WHERE id > %(id)s",
                     {"id": 0})
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        found = record_then_read(cursor, [_insert(1, "a"), _insert(2, "b")], read)
    assert len(queries) == 1
    assert found == [(1, "off"), (2, "off"), (2, "a,b", "on")]  # the read: after the commit
    assert not connection.in_atomic_block and setting_now() == "on"


def test_a_failing_record_records_nothing_and_skips_the_read(scratch):
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        record_then_read(cursor, [_insert(1, "a"), _insert(1, "again")],
                         Statement("SELECT 1 / %(zero)s", {"zero": 0}))
    assert _rows(scratch) == []
    assert setting_now() == "on"


def test_a_failing_read_leaves_the_records_committed(scratch):
    with pytest.raises(DataError), connection.cursor() as cursor:
        record_then_read(cursor, [_insert(1, "a")], Statement("SELECT 1 / %(zero)s",
                                                              {"zero": 0}))
    assert _rows(scratch) == [(1, "a")]


def test_inside_a_callers_transaction_the_records_wait_for_its_commit(scratch):
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            found = record_then_read(cursor, [_insert(1, "a")],
                                     Statement("SELECT count(*) FROM scratch_records", {}))
        assert found == [(1, "on"), (1,)]
        raise RuntimeError("the caller's transaction rolls back")
    assert _rows(scratch) == []


def test_a_read_alone_and_nothing_at_all():
    with connection.cursor() as cursor:
        assert record_then_read(cursor, [], Statement("SELECT %(n)s::int", {"n": 7})) == [(7,)]
        assert record_then_read(cursor, []) == []
