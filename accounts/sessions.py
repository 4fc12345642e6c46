"""Django's database sessions, stored as accounts.Session rows.

The row carries the logged-in user's id in a column of its own, set from the session's data on
every save, so that an admin ending a user's sessions (deactivation, password reset) finds them
with one indexed query instead of decoding every session. The signed session data stays what
decides who the user is.

Sessions slide (SESSION_SAVE_EVERY_REQUEST): each request pushes the expiry forward. An
unchanged session is written again only when that moves its stored expiry by more than
REFRESH_AFTER, so a page reading every few seconds does not turn every read into a write; a
session whose data changed is always saved at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import auth
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError

REFRESH_AFTER = timedelta(seconds=60)


class SessionStore(db.SessionStore):
    _stored_expiry: datetime | None = None

    @classmethod
    def get_model_class(cls):
        from accounts.models import Session

        return Session

    def create_model_instance(self, data: dict):
        session = super().create_model_instance(data)
        session.user_id = _user_id(data)
        return session

    def _get_session_from_db(self):
        stored = super()._get_session_from_db()
        self._stored_expiry = stored.expire_date if stored is not None else None
        return stored

    def save(self, must_create: bool = False) -> None:
        if (not must_create and not self.modified and self._stored_expiry is not None
                and self.session_key is not None
                and self.get_expiry_date() - self._stored_expiry < REFRESH_AFTER):
            return
        super().save(must_create=must_create)
        self._stored_expiry = self.get_expiry_date()


def _user_id(data: dict) -> int | None:
    """The logged-in user's id the session's data names (None: nobody, or not an id)."""
    from accounts.models import User

    try:
        return User._meta.pk.to_python(data.get(auth.SESSION_KEY))
    except ValidationError:
        return None
