"""Log filter that keeps secrets out of every log line."""

from __future__ import annotations

import logging
import re

# key=value, "key": "value", header: value — for every name a secret travels under.
_SECRET_NAMES = "|".join(  # names to redact, not secrets themselves
    ["password", "passwd", r"api[_-]?key", "webeasy-api-key", "jwt", "token", "secret",
     "sessionid", "csrftoken"]
)
_SECRET_NAMES = f"(?:{_SECRET_NAMES})"
_PATTERNS = [
    re.compile(rf"(?i)({_SECRET_NAMES}\"?\s*[:=]\s*\"?)([^\s\"&,;]+)"),
    re.compile(r"(?i)(/BT/JWT(?:CREATE|REFRESH|VERIFY)/)([^\s/?\"]+)"),
    re.compile(r"(eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(r"\1***", text)
        else:
            text = pattern.sub("***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
