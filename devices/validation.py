"""Validation shared by admin forms, commands and the API."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError

_HOSTNAME_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_host(value: str) -> None:
    """An IPv4/IPv6 address or a DNS name; nothing else (no scheme, port or path)."""
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253 or not all(_HOSTNAME_LABEL.match(p) for p in name.split(".")):
        raise ValidationError(
            f"'{value}' is not a valid IP address or host name.", code="invalid_host"
        )
    if name.replace(".", "").isdigit():
        raise ValidationError(f"'{value}' is not a valid IP address.", code="invalid_host")
