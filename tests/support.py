"""Helpers shared by the test suite."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import quote

from django.contrib.auth.hashers import Argon2PasswordHasher

BASE_DIR = Path(__file__).resolve().parent.parent


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 still, with a small memory cost so hundreds of test users stay quick."""

    algorithm = "argon2"
    time_cost = 1
    memory_cost = 1024
    parallelism = 1


def database_url() -> str:
    """DATABASE_URL of the database the current test uses (the test database)."""
    from django.db import connection

    sd = connection.settings_dict
    user = quote(sd.get("USER") or "", safe="")
    password = quote(sd.get("PASSWORD") or "", safe="")
    host = quote(sd.get("HOST") or "", safe="")
    port = sd.get("PORT") or ""
    auth = f"{user}:{password}@" if user else ""
    return f"postgres://{auth}{host}{':' + str(port) if port else ''}/{sd['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process (manage.py, a worker script) that must use the same test
    database as the calling test."""
    env = os.environ.copy()
    env["DATABASE_URL"] = database_url()
    env["DJANGO_SETTINGS_MODULE"] = "mvcontrol.settings"
    env["PYTHONPATH"] = str(BASE_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
