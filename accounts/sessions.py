"""Database sessions whose sliding lifetime costs a write at most once a minute, read through
Redis when REDIS_URL is set.

SESSION_SAVE_EVERY_REQUEST pushes a session's expiry forward on every request: with the plain
database engine that is an UPDATE and a commit on every read of the control page, the largest
part of a GET's database work. Here an unchanged session is written again only when its expiry
would move by more than REFRESH_AFTER; a session with changed data is always saved at once.
The lifetime therefore slides in steps of a minute at most (12 hours by default).

With REDIS_URL set, sessions are also kept in the shared cache (as Django's cached_db engine
does): a request reads its session from Redis and the database stays the record. Without Redis
the cache is per process, where a logout in one gunicorn worker would not end the session in
the others, so then every read goes to the database. A deleted session leaves a tombstone in the
cache for its lifetime, so a request that read it from the database just before the delete
cannot put it back into the cache afterwards.

Sessions are rows of accounts.Session, which holds the session's user id in a column of its own,
set from the session's data on every save: the busiest API views read the session and its user
in their own statement (accounts/session_reads.py) and prime the session with what they read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import auth
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import session_users

REFRESH_AFTER = timedelta(seconds=60)
CACHE_PREFIX = "mvcontrol.session:"
_DELETED = "deleted"


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

    def prime(self, data: dict, expiry: datetime) -> None:
        """This session as a view's own statement read it (accounts/session_reads.py): no load
        follows, and the sliding expiry is saved as after any load."""
        self._session_cache = data
        self._stored_expiry = expiry

    @property
    def cache_key(self) -> str:
        return CACHE_PREFIX + self._get_or_create_session_key()

    def load(self) -> dict:
        cache = session_users.shared_cache()
        session_users.offer()  # nothing for this request's user unless found below
        if cache is not None and self.session_key is not None:
            # The session, and its user kept beside it (accounts/session_users.py): one MGET.
            found = cache.get_many([self.cache_key, *session_users.keys_for(self.session_key)])
            cached = found.get(self.cache_key)
            if cached == _DELETED:
                self._session_key = None
                self._stored_expiry = None
                return {}
            session_users.offer(self.session_key, found)
            if isinstance(cached, dict) and cached["expiry"] > timezone.now():
                self._stored_expiry = cached["expiry"]
                return dict(cached["data"])
        stored = self._get_session_from_db()
        if stored is None:
            self._stored_expiry = None
            return {}
        self._stored_expiry = stored.expire_date
        data = self.decode(stored.session_data)
        if cache is not None:
            # add, not set: a delete's tombstone in between wins.
            cache.add(self.cache_key, {"data": data, "expiry": stored.expire_date},
                      self._cache_seconds(stored.expire_date))
        return data

    def save(self, must_create: bool = False) -> None:
        if (not must_create and not self.modified and self._stored_expiry is not None
                and self.session_key is not None
                and self.get_expiry_date() - self._stored_expiry < REFRESH_AFTER):
            return
        super().save(must_create=must_create)
        self._stored_expiry = self.get_expiry_date()
        cache = session_users.shared_cache()
        if cache is not None:
            cache.set(self.cache_key, {"data": dict(self._session), "expiry": self._stored_expiry},
                      self._cache_seconds(self._stored_expiry))

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        super().delete(session_key)
        cache = session_users.shared_cache()
        if cache is not None and key is not None:
            cache.set(CACHE_PREFIX + key, _DELETED, settings.SESSION_COOKIE_AGE)

    @staticmethod
    def _cache_seconds(expiry: datetime) -> int:
        return max(1, int((expiry - timezone.now()).total_seconds()))


def _user_id(data: dict) -> int | None:
    """The logged-in user's id the session's data names (None: nobody, or not an id)."""
    from accounts.models import User

    try:
        return User._meta.pk.to_python(data.get(auth.SESSION_KEY))
    except ValidationError:
        return None
