import logging

import pytest

from mvcontrol.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /v.api/apis/EV/GET/parameter/2700 webeasy-api-key: s3cr3t-key", "s3cr3t-key"),
        ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
        ("login failed password=abcdef123456", "abcdef123456"),
        ("GET /v.api/apis/BT/JWTCREATE/eyJ1c2VybmFtZSI6ImEifQ==", "eyJ1c2VybmFtZSI6ImEifQ=="),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl rejected",
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"),
    ],
)
def test_secrets_are_redacted(line, secret):
    assert secret not in redact(line)


def test_filter_redacts_formatted_args_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "auth failed: %s",
                               ("api_key=abc123secret",), None)
    try:
        raise RuntimeError("jwt=eyJhbGciOi.eyJzdWIiOi.sig")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactSecretsFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "abc123secret" not in text
    assert "eyJhbGciOi.eyJzdWIiOi" not in text
    assert "auth failed" in text
