"""The `<id:…>` path converter: every id or number in an API path.

Django's `<int:…>` matches any run of digits, so /api/multiviewers/9223372036854775808 (2**63)
reached the views and the database with a value no bigint column holds, and whether that was
a 404 or a crash depended on each view and query (it was a 500, even with a made-up session
cookie). `<id:…>` matches only what a bigint holds, 0 to 2**63 - 1: anything larger does not
match the URL at all, and the resolver answers 404 in the API's error shape
(mvcontrol.api_errors.json_404) before a view, the session or the database is involved.

Importing this module registers the converter; each URLconf that uses it imports it.
"""

from __future__ import annotations

from django.urls import register_converter

BIGINT_MAX = 2**63 - 1


class IdConverter:
    # At most 19 digits; the largest 19-digit numbers are then refused in to_python.
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > BIGINT_MAX:
            raise ValueError(f"{value} is past the largest bigint")  # Django: no match, 404
        return number

    def to_url(self, value: int) -> str:
        return str(value)


# The OpenAPI schema states the same bounds (settings: SPECTACULAR_SETTINGS
# PATH_CONVERTER_OVERRIDES).
register_converter(IdConverter, "id")
