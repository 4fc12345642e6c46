"""Database sessions whose sliding lifetime costs a write at most once a minute.

SESSION_SAVE_EVERY_REQUEST pushes a session's expiry forward on every request: with the plain
database engine that is an UPDATE and a commit on every read of the control page, the largest
part of a GET's database work. Here an unchanged session is written again only when its expiry
would move by more than REFRESH_AFTER; a session with changed data is always saved at once.
The lifetime therefore slides in steps of a minute at most (12 hours by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.sessions.backends import db

REFRESH_AFTER = timedelta(seconds=60)


class SessionStore(db.SessionStore):
    _stored_expiry: datetime | None = None

    def load(self) -> dict:
        stored = self._get_session_from_db()
        if stored is None:
            self._stored_expiry = None
            return {}
        self._stored_expiry = stored.expire_date
        return self.decode(stored.session_data)

    def save(self, must_create: bool = False) -> None:
        if (not must_create and not self.modified and self._stored_expiry is not None
                and self.session_key is not None
                and self.get_expiry_date() - self._stored_expiry < REFRESH_AFTER):
            return
        super().save(must_create=must_create)
        self._stored_expiry = self.get_expiry_date()
