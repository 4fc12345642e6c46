"""Liveness and readiness probes for load balancers and supervisors (no login needed).

Neither reads or saves a session, even when the probe sends a session cookie: /healthz must
answer without the database, and /readyz must answer about the database, not fail on it.
"""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mvcontrol.middleware import sessionless


@sessionless
@never_cache
@require_GET
def healthz(request):
    """The process is alive and answers HTTP."""
    return JsonResponse({"status": "ok"})


@sessionless
@never_cache
@require_GET
def readyz(request):
    """The process can serve requests: its database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse(
            {"status": "unavailable", "database": "unreachable",
             "detail": "The database did not answer."},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok"})
