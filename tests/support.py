"""Helpers shared by the test suite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
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
    """DATABASE_URL of the database the current test uses (the test database), in the form
    django-environ reads back — including a unix socket directory as host, which is how the
    embedded PostgreSQL listens."""
    from django.db import connection

    sd = connection.settings_dict
    host = sd.get("HOST") or ""
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    auth = quote(sd.get("USER") or "", safe="")
    if sd.get("PASSWORD"):
        auth += ":" + quote(sd["PASSWORD"], safe="")
    if host.startswith("/"):
        # postgres://user@:port//socket/dir/NAME: django-environ takes a path-like host as-is.
        return f"postgres://{auth}@{port}/{host}/{sd['NAME']}"
    if auth:
        auth += "@"
    return f"postgres://{auth}{quote(host, safe='')}{port}/{sd['NAME']}"


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


class RedisUnavailable(RuntimeError):
    """No redis-server binary here, or it did not start."""


def start_redis_server() -> tuple[subprocess.Popen, str]:
    """A throw-away redis-server on a free loopback port that keeps nothing on disk: (process,
    URL). The caller stops the process."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                client.ping()
                return process, url
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    raise RedisUnavailable("redis-server did not start") from None
                time.sleep(0.05)
    finally:
        client.close()


class InThread:
    """A listener (anything with run() and request_stop()) in a thread, stopped, and its
    database connections closed, after the `with` block."""

    def __init__(self, listener, *, wait: float) -> None:
        self.listener = listener
        self.wait = wait
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connections

        try:
            self.listener.run()
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        return self.listener

    def __exit__(self, *exc) -> None:
        self.listener.request_stop()
        self.thread.join(timeout=self.wait)
        assert not self.thread.is_alive(), "the listener did not stop"

