"""The client address the per-IP login limit counts (settings.RATELIMIT_IP_META_KEY).

Without CLIENT_IP_HEADER it is the peer address (REMOTE_ADDR). Behind a reverse proxy that is
the proxy for everyone, so the proxy's header is read instead: the last address in it, the one
the proxy itself added (earlier entries come from the client and can be forged). A request
without a usable header (one that bypassed the proxy) counts under its peer address.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# Requests whose peer address is unknown (e.g. a Unix socket without a proxy header) share one
# bucket rather than failing.
UNKNOWN = "0.0.0.0"  # noqa: S104 - a rate-limit bucket name, not a listen address


def _valid(candidate: str) -> str | None:
    candidate = candidate.strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if header:
        raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        if raw and (address := _valid(raw.split(",")[-1])):
            return address
    return _valid(request.META.get("REMOTE_ADDR", "") or "") or UNKNOWN
