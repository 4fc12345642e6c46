"""Statements built once per process from a model's own fields, and instances made from their
rows as the ORM makes them (Model.from_db).

For the reads every request or write makes (the session's user, a multiviewer or source with
its grant, the state a change is planned from, the device settings), the ORM took longer to
compile the query than PostgreSQL took to answer it. Only for models whose fields need no
conversion from what psycopg returns (no from_db_value).
"""

from __future__ import annotations

from functools import cache

from django.db import connections


def columns(model, table: str = "", *, using: str = "default") -> str:
    """Every concrete column of `model` in field order, quoted, prefixed by `table.` if given."""
    quote = connections[using].ops.quote_name
    prefix = f"{table}." if table else ""
    return ", ".join(prefix + quote(f.column) for f in model._meta.concrete_fields)


def table(model, *, using: str = "default") -> str:
    return connections[using].ops.quote_name(model._meta.db_table)


def width(model) -> int:
    """How many values columns(model) gives."""
    return len(model._meta.concrete_fields)


@cache
def _attnames(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def instance(model, values, *, using: str = "default"):
    """A saved `model` instance from the values of columns(model), in that order."""
    return model.from_db(using, _attnames(model), values)
