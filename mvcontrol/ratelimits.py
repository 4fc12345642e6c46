"""Per-user (or per-anything) rate limits on top of django-ratelimit, for services.

Services call `enforce(group=..., key=..., rate=...)` with the rule's own name and key; over the
limit it raises RateLimited carrying the seconds until the window ends (the API's Retry-After).
Counts live in the default cache: shared across processes when REDIS_URL is set.
"""

from __future__ import annotations

from django_ratelimit.core import get_usage

from mvcontrol.errors import RateLimited


def enforce(*, group: str, key: str, rate: str, what: str = "requests") -> None:
    """Count one hit for `key` in `group`; raise RateLimited when over `rate` (e.g. "10/10s")."""
    usage = get_usage(None, group=group, key=lambda _group, _request: key, rate=rate,
                      increment=True)
    if usage is None or not usage["should_limit"]:
        return
    retry_after = max(1, int(usage["time_left"]))
    raise RateLimited(
        f"Too many {what}: at most {usage['limit']} per {_period(rate)}; "
        f"try again in {retry_after} s.",
        retry_after=retry_after,
    )


def _period(rate: str) -> str:
    from django_ratelimit.core import _split_rate

    _count, seconds = _split_rate(rate)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h" if seconds != 3600 else "hour"
    if seconds % 60 == 0:
        return f"{seconds // 60} min" if seconds != 60 else "minute"
    return f"{seconds} s"
