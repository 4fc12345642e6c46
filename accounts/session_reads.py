"""The session and its user read in the statement of the view that needs them.

Every API request reads its session and its user before its view starts (from Redis when
REDIS_URL is set, else from PostgreSQL), and the view then reads what it needs from PostgreSQL:
two round trips, each a wait for a sleeping process to wake on a paced request. The control
page's two busiest requests (reading a multiviewer, writing a window) instead read the session
row and its user with their own first statement: mvcontrol_session_user (accounts migration
0003) joined with what the view reads for that user (devices/api/views.py).

What that row says is used only when Django's own session authentication would accept exactly
the same: the session exists and has not expired, its signed data names this user and the
project's backend, the user is active, and the session hash the data carries is the user's
current one. The request's user and session are then set from the row, and nothing else is read
for them. In every other case (no session, expired, tampered, a password changed, a secret
rotated through SECRET_KEY_FALLBACKS…) nothing is set and the request authenticates as every
other request does; the view then reads again for whoever that is. CSRF, the permission checks
and their order (401, 403, then the view's 404 and 403) are DRF's, as for every view.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.db import connection
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.backends import SessionUserBackend
from accounts.models import Session, User
from mvcontrol.postgresql import rows

# The function in a FROM clause; a view joins what it reads for `su.u_id`, the session's user.
SESSION_USER = "mvcontrol_session_user(%(session_key)s) AS su"
SESSION_FIELDS = ("session_data", "expire_date", "user_id")
# The backend whose get_user this replaces: a row read, then user_can_authenticate (is_active).
_BACKEND = SessionUserBackend.PATH


def width() -> int:
    """How many of a view's columns are the session's and its user's."""
    return len(SESSION_FIELDS) + rows.width(User)


def read_with_session(sql: str, params: dict, session_key: str) -> tuple[tuple, tuple]:
    """Run a view's statement `sql`, which selects SESSION_USER's columns first, for the session
    `session_key`: the session's and user's part of its row (for authenticate), and the rest."""
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "session_key": session_key})
        row = cursor.fetchone()
    split = width()
    return row[:split], row[split:]


def session_user_columns() -> list[str]:
    """The names mvcontrol_session_user's columns must have, as the models' fields make them."""
    fields = {f.name: f.column for f in Session._meta.concrete_fields}
    return ([f"s_{fields[name]}" for name in SESSION_FIELDS]
            + [f"u_{f.column}" for f in User._meta.concrete_fields])


def session_key(request) -> str | None:
    """The session key the request's cookie names (None: none, or not a key)."""
    session = getattr(request, "session", None)
    return None if session is None else session.session_key


def authenticate(request, part: tuple) -> User | None:
    """The request's user from `part`, the session's and user's columns of the view's row, when
    it is who Django would authenticate; the request's user and session are then set. None:
    nothing set, the request authenticates as usual."""
    data_text, expire_date, user_id = part[:3]
    if data_text is None or part[3] is None or expire_date <= timezone.now():
        return None
    if _BACKEND not in settings.AUTHENTICATION_BACKENDS:
        return None
    http_request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    store = http_request.session
    data = store.decode(data_text)
    if (data.get(auth.BACKEND_SESSION_KEY) != _BACKEND
            or str(data.get(auth.SESSION_KEY)) != str(user_id)):
        return None
    user = rows.instance(User, part[3:])
    session_hash = data.get(auth.HASH_SESSION_KEY)
    if (not user.is_active or not session_hash
            or not constant_time_compare(session_hash, user.get_session_auth_hash())):
        return None
    store.prime(data, expire_date)
    http_request.user = user
    return user
