import io
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Role, User
from tests.fixtures.accounts import UserFactory
from tests.support import BASE_DIR, subprocess_env

pytestmark = pytest.mark.django_db


def run_with_stdin(text: str, *args: str) -> str:
    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        call_command("create_first_admin", *args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


def test_creates_the_first_admin_from_stdin():
    out = run_with_stdin("a-strong-passphrase\n", "--login", "chief", "--password-stdin")
    user = User.objects.get()
    assert user.login == "chief" and user.role == Role.ADMIN and user.is_staff
    assert user.check_password("a-strong-passphrase")
    assert "a-strong-passphrase" not in out


def test_refuses_once_a_user_exists():
    UserFactory()
    with pytest.raises(CommandError, match="users already exist"):
        run_with_stdin("a-strong-passphrase\n", "--login", "chief", "--password-stdin")
    assert User.objects.count() == 1


def test_rejects_a_weak_password_and_creates_nothing():
    with pytest.raises(CommandError):
        run_with_stdin("short\n", "--login", "chief", "--password-stdin")
    assert not User.objects.exists()


def test_rejects_an_invalid_login():
    with pytest.raises(CommandError):
        run_with_stdin("a-strong-passphrase\n", "--login", "bad login!", "--password-stdin")
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_exit_code_is_1_when_refused():
    UserFactory()
    result = subprocess.run(
        [sys.executable, "manage.py", "create_first_admin", "--login", "x", "--password-stdin"],
        input="a-strong-passphrase\n", cwd=BASE_DIR, env=subprocess_env(),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "users already exist" in result.stderr


def test_without_a_terminal_asks_for_password_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("create_first_admin", "--login", "chief")
