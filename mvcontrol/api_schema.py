"""OpenAPI documentation of the API's one error shape (see mvcontrol/api_errors.py).

    @extend_schema(responses={200: ThingSerializer, **error_responses(400, 403, 404)})
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    """{"error": code, "detail": sentence, "fields": {...}} and, depending on the error, a few
    more keys."""

    error = serializers.CharField(help_text="Machine-readable code, e.g. validation_error, "
                                            "not_granted, edit_lease_held, device_timeout")
    detail = serializers.CharField(help_text="A sentence for a person")
    fields = serializers.DictField(
        help_text="Per input field, the messages (nested for nested input); empty otherwise")
    device = serializers.CharField(required=False,
                                   help_text="Device errors: the device that failed")
    retry_after = serializers.IntegerField(required=False,
                                           help_text="429: seconds to wait (also Retry-After)")
    lease = serializers.DictField(required=False,
                                  help_text="edit_lease_held: {login, expires_at} of the holder")
    count = serializers.IntegerField(required=False,
                                     help_text="413: parameters the request would set")
    limit = serializers.IntegerField(required=False,
                                     help_text="413: the most one request may set")
    result = serializers.DictField(
        required=False,
        help_text="A change partly applied before a device failed: {ok, partial, applied, "
                  "skipped, failed: [{item, error, detail}], requests}")


_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each problem.",
    401: "Not logged in.",
    403: "Not allowed: not granted (not_granted), admins only (forbidden), password change "
         "required or CSRF token missing.",
    404: "No such object.",
    409: "Conflict: another user holds the edit lease (edit_lease_held), the layout is not "
         "known yet (layout_unknown), or the router output is locked (output_locked).",
    413: "Too many parameters in one request (`count`, `limit`).",
    415: "The body is not JSON.",
    429: "Too many requests: see Retry-After.",
    502: "The device answered with an error or could not be reached (`device`).",
    503: "The device integration is not configured, or the device or its throttle is busy.",
    504: "The device did not answer in time (`device`).",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
            for status in statuses}
