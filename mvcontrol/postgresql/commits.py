"""Asynchronous commit for the writes the system can afford to lose in a database crash.

The cached device state is what the devices reported. Every refresh reads it again, and the
router listener follows every switch. An edit lease lasts a minute. Waiting for the
write-ahead log to reach the disk on each of their commits cost a window write about 1.5 ms
per commit under load, three commits per write, on the development machine (bench/api_load.py;
py-spy showed them as most of the write's database time).

With synchronous_commit off for those transactions only, a crash of PostgreSQL itself (not of
the application) can lose their last few hundred milliseconds (at most three times
wal_writer_delay); it never corrupts anything, and what a transaction wrote is visible to the
others at once, exactly as before. Every other transaction (users, grants, presets, refresh
runs, settings) still waits for the disk. See PostgreSQL's "Asynchronous Commit".
"""

from __future__ import annotations

from django.db import connections

_OFF = "SET LOCAL synchronous_commit TO off"


def execute_lossable(cursor, sql: str, params) -> None:
    """Execute one statement writing lossable data (cached state, edit leases). When it is its
    own transaction (autocommit, outside any atomic block) it commits asynchronously, in the
    same round trip: a query string of several statements runs as one transaction. Inside a
    caller's transaction it runs as given: that transaction's commit decides. Leaves `cursor`
    on the statement's own result."""
    if cursor.db.in_atomic_block:
        cursor.execute(sql, params)
        return
    cursor.execute(_OFF + "; " + sql, params)
    cursor.nextset()


def commit_lossable(using: str = "default") -> None:
    """Called first inside an atomic block that writes only lossable data: when that block is
    the outermost (its own transaction), the transaction commits asynchronously. Nested in a
    caller's transaction, nothing changes."""
    connection = connections[using]
    if len(connection.atomic_blocks) != 1:
        return
    with connection.cursor() as cursor:
        cursor.execute(_OFF)
