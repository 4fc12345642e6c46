"""The authentication backend sessions name: Django's ModelBackend, with a cheaper user read.

Every API request loads its user from the session's user id. Django builds that query through
the ORM each time (`User.objects.get(pk=...)`), and compiling it costs several times what
PostgreSQL spends answering it: the largest single share of the control page's most frequent
read (bench/api_load.py). The statement never changes, so it is built once per process from the
model's own fields (mvcontrol/postgresql/rows.py).
With Redis, the user usually comes with the session instead (accounts/session_users.py).
Everything else (credentials, permissions, `user_can_authenticate`) is ModelBackend's.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from accounts import session_users
from mvcontrol.postgresql import rows


@cache
def _user_query() -> str:
    """SELECT of every concrete column by primary key."""
    model = get_user_model()
    alias = router.db_for_read(model)
    pk = connections[alias].ops.quote_name(model._meta.pk.column)
    # Only the model's own (quoted) names go into the text; the id is a parameter.
    return (f"SELECT {rows.columns(model, using=alias)} "  # noqa: S608
            f"FROM {rows.table(model, using=alias)} WHERE {pk} = %s")


def user_by_id(user_id):
    """The user with this primary key, or None: what `User.objects.get(pk=...)` gives, read
    with a statement built once."""
    model = get_user_model()
    try:
        pk = model._meta.pk.to_python(user_id)
    except ValidationError:  # a session naming an id this model cannot hold names no user
        return None
    alias = router.db_for_read(model)
    with connections[alias].cursor() as cursor:
        cursor.execute(_user_query(), [pk])
        row = cursor.fetchone()
    return None if row is None else rows.instance(model, row, using=alias)


class SessionUserBackend(ModelBackend):
    # Sessions name a backend by its dotted path; this is the one logins name.
    PATH = "accounts.backends.SessionUserBackend"

    def get_user(self, user_id):
        # With Redis, the user kept beside the session, read with it (accounts/session_users.py).
        loaded = session_users.take()
        user = session_users.user_from(loaded, user_id, get_user_model()) if loaded else None
        if user is None:
            user = user_by_id(user_id)
            if user is not None and loaded is not None:
                session_users.keep(loaded, user)
        return user if user is not None and self.user_can_authenticate(user) else None
