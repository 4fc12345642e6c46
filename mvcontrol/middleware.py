"""Session middleware that lets a 5xx answer leave untouched.

Django's SessionMiddleware reads the session again after the view (expiry, with
SESSION_SAVE_EVERY_REQUEST) before deciding not to save it on a 5xx. With the database down that
read raises, and the API's 503 "database_unavailable" becomes a crash. A failed request saves
nothing anyway, so on a 5xx whose session cannot be read the answer goes out as it is.
"""

from __future__ import annotations

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import DatabaseError
from django.utils.cache import patch_vary_headers


class SessionMiddleware(DjangoSessionMiddleware):
    def process_response(self, request, response):
        if response.status_code < 500:
            return super().process_response(request, response)
        try:
            return super().process_response(request, response)
        except DatabaseError:
            patch_vary_headers(response, ("Cookie",))
            return response
