import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from devices.models import NexxSettings, QuartzSettings

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("set_integration", *args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


def test_sets_every_quartz_field():
    run("quartz", "--host", "10.0.0.5", "--port", "23", "--connect-timeout", "1.5",
        "--read-timeout", "3", "--source-count", "256", "--output-count", "512",
        "--commands-per-second", "50", "--max-outstanding", "16",
        "--connection-style", "per_command")
    q = QuartzSettings.load()
    assert (q.host, q.port, q.connect_timeout, q.read_timeout) == ("10.0.0.5", 23, 1.5, 3.0)
    assert (q.source_count, q.output_count, q.commands_per_second, q.max_outstanding) == (
        256, 512, 50.0, 16)
    assert q.connection_style == "per_command"


def test_sets_nexx_fields_and_never_prints_the_secret():
    out = run("nexx", "--base-url", "https://10.0.0.20/v.api/apis/", "--auth-mode", "jwt",
              "--jwt-username", "operator", "--jwt-password", "-", "--verify-tls", "false",
              "--requests-per-second", "5", stdin="pa55word-very-secret\n")
    n = NexxSettings.load()
    assert n.jwt_password == "pa55word-very-secret"
    assert n.verify_tls is False and n.requests_per_second == 5
    assert "pa55word-very-secret" not in out
    assert "jwt_password: set" in out


@pytest.mark.parametrize(
    ("args", "fields"),
    [
        (["quartz", "--host", "10.0.0.300", "--port", "70000"], ["--host", "--port"]),
        (["quartz", "--host", "router one"], ["--host"]),
        (["quartz", "--host", "http://router"], ["--host"]),
        (["quartz", "--read-timeout", "0"], ["--read-timeout"]),
        (["quartz", "--commands-per-second", "abc"], ["--commands-per-second"]),
        (["nexx", "--base-url", "not a url"], ["--base-url"]),
        (["nexx", "--base-url", "ftp://10.0.0.1/"], ["--base-url"]),
        (["nexx", "--base-url", "http://10.0.0.1/v.api/apis/", "--auth-mode", "api_key"],
         ["--api-key"]),
        (["nexx", "--requests-per-second", "-3"], ["--requests-per-second"]),
    ],
)
def test_invalid_values_are_refused_field_by_field_and_nothing_is_saved(args, fields):
    before_q = QuartzSettings.load().__dict__.copy()
    before_n = NexxSettings.load().__dict__.copy()
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    message = str(excinfo.value)
    assert message.startswith("Nothing saved")
    for field in fields:
        assert field in message
    for model, before in ((QuartzSettings, before_q), (NexxSettings, before_n)):
        after = model.load().__dict__
        assert {k: after[k] for k in before if not k.startswith("_")} == {
            k: v for k, v in before.items() if not k.startswith("_")}


def test_invalid_choice_is_a_usage_error():
    with pytest.raises(CommandError):
        run("quartz", "--connection-style", "sometimes")


def test_show_prints_settings_without_secrets():
    n = NexxSettings.load()
    n.api_key = "k-123456789"
    n.save()
    out = run("nexx", "--show")
    assert "api_key: set" in out and "k-123456789" not in out
