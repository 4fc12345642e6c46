"""The one error shape of the API: {"error": code, "detail": sentence, "fields": {...}}.

Every failure reaching a client of /api — validation, permissions, rate limits, device errors,
an unavailable database, an unexpected crash — leaves through here.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views.csrf import csrf_failure as django_csrf_failure
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf
from rest_framework.response import Response

from devices.errors import DeviceError
from mvcontrol.errors import DomainError

logger = logging.getLogger("mvcontrol.api")


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
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", exc.__class__.__name__)
        return Response(error_body("database_unavailable",
                                   "The database is not reachable; try again in a moment."),
                        status=503, headers={"Retry-After": "5"})
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(error_body("internal_error", "The server failed to store the change."),
                        status=500)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("internal_error", "The server failed; the error was logged."),
                    status=500)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def csrf_failure(request, reason: str = ""):
    if _is_api(request):
        return JsonResponse(error_body("csrf_failed",
                                       "The CSRF token is missing or wrong; reload the page."),
                            status=403)
    return django_csrf_failure(request, reason=reason)


def json_404(request, exception=None):
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_500(request):
    if _is_api(request):
        return JsonResponse(
            error_body("internal_error", "The server failed; the error was logged."), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)
