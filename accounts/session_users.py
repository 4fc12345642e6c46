"""The session's user kept beside the session in Redis, read in the session's round trip.

Every API request reads its session (from Redis when REDIS_URL is set) and then its user from
PostgreSQL: two round trips before the view starts, on every read of the control page and every
write. With Redis, the user's row is kept for SNAPSHOT_SECONDS under the session's key and read
with the session in one MGET, so the database is asked once every half minute per session
instead of on every request. (The busiest views read the session and its user from PostgreSQL
in their own first statement instead: accounts/session_reads.py.)

A snapshot is used only while it is certainly current:
- every save or delete of a user (role, active flag, password, anything) replaces the users'
  generation in Redis, at once and again when the transaction commits; a snapshot names the
  generation it was read under and is ignored under any other. A snapshot read from a row that
  was about to change is therefore never used after the change commits;
- what changes a user without saving the model (SQL by hand, a queryset update) is seen at the
  latest when the snapshot expires, SNAPSHOT_SECONDS after it was read;
- it belongs to one session and one user id, and to the SECRET_KEY it was made under.

The password hash is never copied to Redis: the snapshot holds the session hash (the HMAC the
session already carries) and the user is made with the password deferred, so anything that needs
the password (checking it, changing it) reads it from the database.
Without Redis nothing is kept: a per-process copy could not be told of a change made in another
process.
"""

from __future__ import annotations

import logging
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.cache import caches
from django.db import router, transaction
from django.utils.crypto import salted_hmac
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

GENERATION_KEY = "mvcontrol.users-generation"
SNAPSHOT_PREFIX = "mvcontrol.session-user:"
SNAPSHOT_SECONDS = 30


@dataclass(frozen=True)
class LoadedSession:
    """What a session's load found beside it: the users' generation and the user snapshot."""

    session_key: str
    generation: str | None
    snapshot: dict | None


# Set by every session load (None when there is nothing to offer) and taken by the backend's
# get_user, which Django calls after the load in the same request.
_loaded: ContextVar[LoadedSession | None] = ContextVar("mvcontrol_loaded_session", default=None)


def shared_cache():
    """The cache sessions and their users are kept in: only a cache every process shares
    (Redis)."""
    return caches[settings.SESSION_CACHE_ALIAS] if settings.REDIS_URL else None


def keys_for(session_key: str) -> list[str]:
    """What a session's load asks Redis for besides the session itself."""
    return [SNAPSHOT_PREFIX + session_key, GENERATION_KEY]


def offer(session_key: str | None = None, found: dict | None = None) -> None:
    """Called by every session load: what it found under keys_for(session_key); without them,
    nothing to offer (no Redis, no session, a deleted session)."""
    _loaded.set(None if session_key is None or found is None else LoadedSession(
        session_key, found.get(GENERATION_KEY), found.get(SNAPSHOT_PREFIX + session_key)))


def take() -> LoadedSession | None:
    loaded = _loaded.get()
    _loaded.set(None)
    return loaded


@cache
def _key_id(secret: str) -> str:
    return salted_hmac("mvcontrol.session-user", "", secret=secret).hexdigest()[:16]


def user_from(loaded: LoadedSession, user_id, model):
    """The user of the snapshot `loaded` found, when it is current and is user `user_id`."""
    snapshot = loaded.snapshot
    if (not isinstance(snapshot, dict) or loaded.generation is None
            or snapshot.get("generation") != loaded.generation
            or snapshot.get("key") != _key_id(settings.SECRET_KEY)
            or str(snapshot.get("id")) != str(user_id)):
        return None
    fields = snapshot["fields"]
    names = [f.attname for f in model._meta.concrete_fields if f.attname in fields]
    user = model.from_db(router.db_for_read(model), names, [fields[name] for name in names])
    user.session_hash_known = snapshot["session_hash"]
    return user


def keep(loaded: LoadedSession, user) -> None:
    """Keep `user`, just read from the database, beside the session `loaded` came from."""
    cache_ = shared_cache()
    if cache_ is None:
        return
    if loaded.generation is None:
        # No generation yet (a new Redis): start one; the session's next request keeps it.
        cache_.add(GENERATION_KEY, secrets.token_hex(8), None)
        return
    fields = {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields
              if f.attname != "password"}
    cache_.set(SNAPSHOT_PREFIX + loaded.session_key, {
        "generation": loaded.generation, "key": _key_id(settings.SECRET_KEY), "id": user.pk,
        "fields": fields, "session_hash": user.get_session_auth_hash(),
    }, SNAPSHOT_SECONDS)


def users_changed(**kwargs) -> None:
    """post_save / post_delete of a user: no snapshot read before this is used again."""
    if shared_cache() is None:
        return
    _new_generation()
    # Again once committed: a request that read the row before the commit, under the
    # generation set just now, must not have its snapshot used afterwards.
    transaction.on_commit(_new_generation, robust=True)


def _new_generation() -> None:
    cache_ = shared_cache()
    if cache_ is None:
        return
    try:
        cache_.set(GENERATION_KEY, secrets.token_hex(8), None)
    except RedisError as exc:
        # Redis unreachable: no snapshot can be read either; one kept before the outage is
        # used again for at most SNAPSHOT_SECONDS after it was read.
        logger.warning("Could not mark the users as changed in Redis (%s): a session may see "
                       "its user as it was for up to %s s.", type(exc).__name__,
                       SNAPSHOT_SECONDS)
