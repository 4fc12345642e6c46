"""Django's database sessions, stored as accounts.Session rows.

The row carries the logged-in user's id in a column of its own, set from the session's data on
every save, so that an admin ending a user's sessions (deactivation, password reset) finds them
with one indexed query instead of decoding every session. The signed session data stays what
decides who the user is.
"""

from __future__ import annotations

from django.contrib import auth
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError


class SessionStore(db.SessionStore):
    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def create_model_instance(self, data: dict):
        session = super().create_model_instance(data)
        session.user_id = _user_id(data)
        return session


def _user_id(data: dict) -> int | None:
    """The logged-in user's id the session's data names (None: nobody, or not an id)."""
    from accounts.models import User

    try:
        return User._meta.pk.to_python(data.get(auth.SESSION_KEY))
    except ValidationError:
        return None
