"""Two first-admin setups at once, in two real processes: exactly one admin, the other 409."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.db import connection, transaction

from accounts.models import Role, User
from accounts.services import AuthService
from mvcontrol.errors import Conflict
from tests.fixtures.accounts import UserFactory
from tests.support import BASE_DIR, subprocess_env

CHILD = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings

with override_settings(PASSWORD_HASHERS=["tests.support.FastArgon2PasswordHasher"]):
    response = Client(HTTP_HOST="localhost").post(
        "/api/auth/setup", {"login": sys.argv[1], "password": "a-long-enough-passphrase"},
        content_type="application/json")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""




def waiting_on_user_table() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE relation = %s::regclass "
                       "AND NOT granted", [User._meta.db_table])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_setups_make_exactly_one_admin():
    children = []
    try:
        # Hold the user table while both processes start, so both reach the critical section
        # before either can finish: without the service's own lock both would insert.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {User._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
            for login in ("first", "second"):
                children.append(subprocess.Popen(
                    [sys.executable, "-c", CHILD, login], cwd=BASE_DIR, env=subprocess_env(),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                ))
            deadline = time.monotonic() + 120
            while waiting_on_user_table() < 2:
                assert all(child.poll() is None for child in children), \
                    [child.communicate() for child in children]
                assert time.monotonic() < deadline, "the setups never reached the database"
                time.sleep(0.1)
        results = []
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert sorted(r["status"] for r in results) == [201, 409]
    refused = next(r for r in results if r["status"] == 409)
    assert refused["body"]["error"] == "setup_done"
    admin = User.objects.get()
    assert admin.role == Role.ADMIN
    assert admin.login == next(r for r in results if r["status"] == 201)["body"]["login"]


@pytest.mark.django_db
def test_create_first_admin_refuses_once_any_user_exists():
    UserFactory(login="operator")
    assert not AuthService.setup_needed()
    with pytest.raises(Conflict):
        AuthService.create_first_admin(login="chief", password="a-long-enough-passphrase")
    assert User.objects.count() == 1
