"""Session authentication whose CSRF failures answer in the API's error shape.

DRF checks CSRF only for requests that carry a logged-in session; `enforce_csrf` is also called
by the anonymous views that must not be forged (login, first-admin setup).
"""

from __future__ import annotations

from drf_spectacular.authentication import SessionScheme as OpenApiSessionScheme
from rest_framework import authentication, exceptions, status

from mvcontrol.api_errors import csrf_failure_detail


class CsrfFailed(exceptions.APIException):
    # Deliberately not a PermissionDenied: the error handler would then call it "forbidden".
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "csrf_failed"
    default_detail = "The CSRF token is missing or wrong; reload the page."


def enforce_csrf(request) -> None:
    """Raise CsrfFailed unless the request carries the csrftoken cookie's token in the
    X-CSRFToken header (or a csrfmiddlewaretoken form field)."""
    check = authentication.CSRFCheck(lambda _request: None)
    check.process_request(request)  # reads the csrftoken cookie into request.META
    # DRF's CSRFCheck answers the reason instead of a response.
    reason = check.process_view(request, None, (), {})
    if reason is not None:
        raise CsrfFailed(csrf_failure_detail(request, reason))


class SessionAuthentication(authentication.SessionAuthentication):
    def enforce_csrf(self, request) -> None:
        enforce_csrf(request)


class SessionScheme(OpenApiSessionScheme):
    """OpenAPI: the same cookie authentication as DRF's."""

    target_class = "accounts.api.authentication.SessionAuthentication"
