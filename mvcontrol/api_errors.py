"""The one error shape of the API: {"error": code, "detail": sentence, "fields": {...}}.

Every failure reaching a client of /api — validation, permissions, rate limits, device errors,
a body too big or not readable, an unavailable database, an unexpected crash — leaves through
here. So does the plain 503 page the HTML pages answer while the database is down.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse, UnreadablePostError
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.template.loader import render_to_string
from django.views.csrf import csrf_failure as django_csrf_failure
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.response import Response

from devices.errors import DeviceError
from mvcontrol.errors import DomainError

logger = logging.getLogger("mvcontrol.api")

# The errors a lost connection to PostgreSQL raises (refused, dropped, timed out): 503, not 500.
DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_DOWN_DETAIL = "The database is not reachable; try again in a moment."
DATABASE_RETRY_AFTER = "5"


def error_body(code: str, detail: str, fields: dict | None = None, **extra) -> dict:
    body = {"error": code, "detail": detail, "fields": fields or {}}
    body.update(extra)
    return body


def _flatten_detail(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten_detail(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten_detail(v)}" for k, v in detail.items())
    return str(detail)


def _fields(detail) -> dict:
    """DRF validation detail → {field: [messages]} (nested serializers keep their nesting)."""
    if isinstance(detail, dict):
        return {
            str(k): _fields(v) if isinstance(v, dict) else
            [_flatten_detail(x) if not isinstance(x, dict) else _fields(x) for x in v]
            if isinstance(v, list) else [str(v)]
            for k, v in detail.items()
        }
    return {"non_field_errors": [_flatten_detail(detail)]}


_DRF_CODES = {
    drf.NotAuthenticated: ("not_authenticated", 401),
    drf.AuthenticationFailed: ("not_authenticated", 401),
    drf.PermissionDenied: ("forbidden", 403),
    drf.NotFound: ("not_found", 404),
    drf.MethodNotAllowed: ("method_not_allowed", 405),
    drf.NotAcceptable: ("not_acceptable", 406),
    drf.UnsupportedMediaType: ("unsupported_media_type", 415),
    drf.ParseError: ("malformed_request", 400),
    drf.Throttled: ("rate_limited", 429),
}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.detail, exc.fields, **exc.extra),
                        status=exc.http_status, headers=exc.headers)
    if isinstance(exc, DeviceError):
        return Response(error_body(exc.code, exc.detail, {}, device=exc.device),
                        status=exc.http_status)
    if isinstance(exc, Ratelimited):
        return Response(error_body("rate_limited", "Too many requests; try again shortly."),
                        status=429, headers={"Retry-After": "60"})
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, RequestDataTooBig):
        # Raised when a view (or the CSRF check, which parses a POST) reads a body over
        # DATA_UPLOAD_MAX_MEMORY_SIZE; mvcontrol/parsers.py raises it for multipart bodies too.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(error_body("request_too_large",
                                   f"The request body is over {limit / 1048576:g} MiB ({limit} "
                                   "bytes), the most the API reads.", limit=limit), status=413)
    if isinstance(exc, (SuspiciousOperation, UnreadablePostError)):
        # A form with too many fields or files, a malformed multipart envelope, a body cut short
        # by the client: Django answers such requests 400 outside DRF; so does the API.
        return Response(error_body("malformed_request", f"The request body cannot be read: {exc}"),
                        status=400)
    if isinstance(exc, drf.ValidationError):
        fields = _fields(exc.detail)
        return Response(error_body("validation_error", "The request has invalid fields: "
                                   + ", ".join(sorted(fields)) + ".", fields), status=400)
    if isinstance(exc, drf.APIException):
        code, status = next(
            ((c, s) for cls, (c, s) in _DRF_CODES.items() if isinstance(exc, cls)),
            (exc.default_code, exc.status_code),
        )
        headers = {}
        if isinstance(exc, drf.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        return Response(error_body(code, _flatten_detail(exc.detail)), status=status,
                        headers=headers)
    if isinstance(exc, DATABASE_DOWN):
        logger.error("database unavailable: %s", exc.__class__.__name__)
        return Response(error_body("database_unavailable", DATABASE_DOWN_DETAIL),
                        status=503, headers={"Retry-After": DATABASE_RETRY_AFTER})
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(error_body("internal_error", "The server failed to store the change."),
                        status=500)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("internal_error", "The server failed; the error was logged."),
                    status=500)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def csrf_failure_detail(request, reason: str) -> str:
    """Why a request failed the CSRF check, in words that say what helps. Reloading helps only
    when the token is stale; a cookie the browser never sends (an HTTPS-only cookie on a page
    opened over plain HTTP) fails the same way on every reload."""
    if reason == REASON_NO_CSRF_COOKIE:
        if settings.CSRF_COOKIE_SECURE and not request.is_secure():
            return ("The browser sent no security cookie: this server sends its cookies over "
                    "HTTPS only and the page was opened over plain HTTP. Open it with https://; "
                    "reloading will not help.")
        return ("The browser sent no security cookie: allow cookies for this site, then "
                "reload the page.")
    return "The security token is missing or out of date; reload the page."


def csrf_failure(request, reason: str = ""):
    if _is_api(request):
        return JsonResponse(error_body("csrf_failed", csrf_failure_detail(request, reason)),
                            status=403)
    return django_csrf_failure(request, reason=reason)


def json_404(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def database_unavailable(request) -> HttpResponse:
    """The answer while PostgreSQL does not answer: 503 with Retry-After, in the error shape
    under /api, a plain page (templates/503.html, rendered without the request: no context
    processor may touch the session or the user) for everything else."""
    if _is_api(request):
        response = JsonResponse(error_body("database_unavailable", DATABASE_DOWN_DETAIL),
                                status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = DATABASE_RETRY_AFTER
    return response


def json_500(request):
    # Django calls the 500 handler inside its `except` block, so the failure is at hand: the
    # pages and Django admin read the session and the user outside any DRF view, and with the
    # database down that is a 503, not a crash.
    if isinstance(sys.exc_info()[1], DATABASE_DOWN):
        return database_unavailable(request)
    if _is_api(request):
        return JsonResponse(
            error_body("internal_error", "The server failed; the error was logged."), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)
