"""The API's body parsers: DRF's JSON and multipart parsers, with bounds a hostile body meets.

- Nesting. Python's json module parses nested arrays and objects recursively: a body such as
  `[[[[…]]]]` a thousand levels deep raised RecursionError, which nothing expects (a 500 on every
  JSON endpoint, anonymous ones included). No body this API takes nests deeper than a few levels
  (a preset document: 7), so one deeper than MAX_DEPTH is refused like any other body that is
  not JSON: 400 malformed_request. The bound also keeps what the views, serializers and error
  handler later walk shallow.
- Size. Django reads at most DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB) of a JSON body and raises
  RequestDataTooBig beyond (413 request_too_large, mvcontrol/api_errors.py), but streams a
  multipart form's files to disk whatever their size. Nothing in this API takes a file that
  big (a preset file is at most 1 MiB), so a multipart body is held to the same limit, from its
  Content-Length, before a byte of it is read.

Registered in settings (REST_FRAMEWORK DEFAULT_PARSER_CLASSES); a view naming its own parser
classes names these.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, parsers

MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if nested_deeper_than(data, MAX_DEPTH):
            raise _too_deep()
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # None: no limit
        if request is not None and limit is not None and content_length(request.META) > limit:
            raise RequestDataTooBig("The multipart body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE.")
        return super().parse(stream, media_type, parser_context)


def content_length(meta: dict) -> int:
    """The request's Content-Length (0 when missing or not a number)."""
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether parsed JSON nests arrays and objects more than `limit` levels (`[]` is one).
    Walked with a list, not recursion, so a deep value cannot exhaust the stack here either."""
    if not isinstance(value, (dict, list)):
        return False
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children
                       if isinstance(child, (dict, list)))
    return False


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        f"JSON parse error - arrays and objects nested more than {MAX_DEPTH} levels deep.")

