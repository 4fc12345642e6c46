"""Validation shared by admin forms, commands and the API: host names, the text rule as a
Django validator, and the API's strict JSON field types. No database use."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError
from rest_framework import serializers

from devices.text import refused_character

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


def validate_device_text(value: str) -> None:
    """The text rule of devices/text.py for a model field (labels an admin or the router sets):
    no control characters, invisible formatting characters or line/paragraph separators."""
    found = refused_character(value)
    if found is not None:
        raise ValidationError(
            f"Control characters (tabs, line breaks, invisible formatting characters, line and "
            f"paragraph separators) are not allowed; this text contains {found}.",
            code="control_character",
        )


# --- API fields: strict JSON types ---------------------------------------------------------------
# DRF's own fields coerce: IntegerField takes "8", 1.0 and true, CharField takes 5, BooleanField
# takes "yes" and 1. A preset file refuses "5" where 5 belongs; the API refuses the same things
# with these, so a JSON value means one thing wherever it is sent. Every value that reaches a
# device, a label or a stored record comes in through one of them.


class StrictIntegerField(serializers.IntegerField):
    """A whole number given as a JSON number: "5", 5.0 and true are refused."""

    default_error_messages = {
        "invalid": 'Must be a whole number given as a JSON number (5, not "5", 5.0 or true).',
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text given as a JSON string: numbers, true/false, lists and objects are refused."""

    default_error_messages = {
        "invalid": 'Must be text given as a JSON string (e.g. "5", not 5).',
    }

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false as JSON booleans: "true", 1 and "yes" are refused."""

    default_error_messages = {
        "invalid": 'Must be true or false given as a JSON boolean (not "true" or 1).',
    }

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
