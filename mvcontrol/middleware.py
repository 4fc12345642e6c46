"""Session middleware that keeps working while the database is down.

Django's SessionMiddleware reads the session again after the view (its expiry, with
SESSION_SAVE_EVERY_REQUEST) and saves it on any answer under 500. With the database down that
read raises, so any request carrying a session cookie — a made-up one will do — became a 500,
even for a view that never looked at the session. Here:

- a view marked @sessionless (the health probes) leaves without the session being read or
  saved: liveness needs no database, and a probe sending a cookie must not turn it into one;
- a 5xx saves nothing anyway: when its session cannot be read, the answer goes out as it is (the
  API's 503 "database_unavailable" stays that);
- any other answer whose session cannot be saved because the database is not reachable becomes
  the 503 of mvcontrol.api_errors.database_unavailable (the error shape under /api, a plain page
  elsewhere): the client is told the truth rather than a success whose session was not kept.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import DatabaseError
from django.utils.cache import patch_vary_headers

from mvcontrol.api_errors import DATABASE_DOWN, database_unavailable

_SESSIONLESS = "sessionless"


def sessionless(view: Callable) -> Callable:
    """Mark a view that never uses the session or the user: its answers leave untouched by the
    session machinery (no read, no save, no database)."""
    setattr(view, _SESSIONLESS, True)
    return view


class SessionMiddleware(DjangoSessionMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, _SESSIONLESS, False):
            request.sessionless_view = True
        return None

    def process_response(self, request, response):
        if getattr(request, "sessionless_view", False):
            return response
        try:
            return super().process_response(request, response)
        except DatabaseError as exc:
            if response.status_code >= 500:
                patch_vary_headers(response, ("Cookie",))
                return response
            if isinstance(exc, DATABASE_DOWN):
                return database_unavailable(request)
            raise
