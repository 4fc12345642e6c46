"""The authentication backend sessions name: Django's ModelBackend, with a cheaper user read.

Every API request loads its user from the session's user id. Django builds that query through
the ORM each time (`User.objects.get(pk=...)`), and compiling it costs several times what
PostgreSQL spends answering it: the largest single share of the control page's most frequent
read (bench/api_load.py). The statement never changes, so it is built once per process from the
model's own fields and the row is turned into a User by `Model.from_db`, as the ORM does.
Everything else (credentials, permissions, `user_can_authenticate`) is ModelBackend's.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router


@cache
def _user_query() -> tuple[str, list[str]]:
    """(SELECT of every concrete column by primary key, the matching attribute names)."""
    model = get_user_model()
    quote = connections[router.db_for_read(model)].ops.quote_name
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(f.column) for f in fields)
    # Only the model's own (quoted) names go into the text; the id is a parameter.
    sql = (f"SELECT {columns} FROM {quote(model._meta.db_table)} "  # noqa: S608
           f"WHERE {quote(model._meta.pk.column)} = %s")
    return sql, [f.attname for f in fields]


def user_by_id(user_id):
    """The user with this primary key, or None: what `User.objects.get(pk=...)` gives, read
    with a statement built once."""
    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(user_id)
    except ValidationError:  # a session naming an id this model cannot hold names no user
        return None
    alias = router.db_for_read(model)
    sql, attnames = _user_query()
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return None if row is None else model.from_db(alias, attnames, row)


class SessionUserBackend(ModelBackend):
    def get_user(self, user_id):
        user = user_by_id(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
