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

A window write's two records (PCM bars, route) and the read it answers from go in one round
trip (record_then_read): BEGIN, the records, COMMIT and the read in one query string, which
needs psycopg's client-side binding (Django's default, kept by the settings).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.db import connections
from psycopg.pq import TransactionStatus

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


@dataclass(frozen=True)
class Statement:
    """One statement with named parameters (%(name)s), to be sent with others."""

    sql: str
    params: dict


@lru_cache(maxsize=64)
def _numbered(sql: str, n: int) -> str:
    # Each statement's parameters get its number, so two statements may use the same names.
    return _PARAMETER.sub(lambda m: f"%(s{n}_{m[1]})s", sql)


_PARAMETER = re.compile(r"%\((\w+)\)s")


def record_then_read(cursor, records: Sequence[Statement],
                     read: Statement | None = None) -> list[tuple | None]:
    """Lossable `records` in one transaction committed asynchronously, then `read` after that
    commit: all in one round trip. Returns each statement's first row (None when it gave none),
    the records' in order, then the read's.

    A failing record raises and leaves nothing recorded (the later statements are not run); a
    failing read raises with the records committed. Inside a caller's transaction the
    statements run as given and that transaction's commit decides. Every statement must return
    rows (RETURNING for the records)."""
    statements = [*records, *([read] if read is not None else [])]
    if not statements:
        return []
    parts, params = [], {}
    for n, statement in enumerate(statements):
        parts.append(_numbered(statement.sql, n))
        params.update({f"s{n}_{name}": value for name, value in statement.params.items()})
    if records and not cursor.db.in_atomic_block:
        # BEGIN … COMMIT inside one query string: the read runs after the records' commit, in
        # a transaction of its own, so its failure cannot undo them.
        texts = ["BEGIN", _OFF, *parts[:len(records)], "COMMIT", *parts[len(records):]]
        ours = [False, False, *[True] * len(records), False, *[True] * (len(parts) -
                                                                        len(records))]
    else:
        texts, ours = parts, [True] * len(parts)
    try:
        cursor.execute("; ".join(texts), params)
    except Exception:
        _end_failed_block(cursor.db)
        raise
    found: list[tuple | None] = []
    for position, mine in enumerate(ours):
        if position:
            cursor.nextset()
        if mine:
            found.append(cursor.fetchone())
    return found


def _end_failed_block(db) -> None:
    """A statement that fails between BEGIN and COMMIT of a query string leaves that
    transaction open and aborted (an implicit one would have rolled back by itself): roll it
    back, so the connection serves the next request."""
    raw = db.connection
    if (raw is not None and not db.in_atomic_block
            and raw.info.transaction_status == TransactionStatus.INERROR):
        raw.rollback()
