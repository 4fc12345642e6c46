"""Domain errors raised by services; mapped to HTTP in one place (mvcontrol/api_errors.py)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the system said no. `detail` is a sentence for a person."""

    code = "error"
    http_status = 400

    def __init__(self, detail: str, *, fields: dict | None = None, code: str | None = None,
                 http_status: int | None = None, headers: dict | None = None,
                 extra: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}
        if code:
            self.code = code
        if http_status:
            self.http_status = http_status
        self.headers = headers or {}
        self.extra = extra or {}


class InvalidInput(DomainError):
    code = "validation_error"
    http_status = 400


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class TooLarge(DomainError):
    code = "too_many_parameters"
    http_status = 413


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, detail: str, *, retry_after: int, **kwargs) -> None:
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        super().__init__(detail, headers=headers, extra={"retry_after": max(1, int(retry_after))},
                         **kwargs)
