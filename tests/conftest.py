import time
import types

import pytest
from django.core.cache import cache
from django.test import override_settings

pytest_plugins = [
    "tests.fixtures.accounts",
    "tests.fixtures.quartz",
    "tests.fixtures.nexx",
    "tests.fixtures.redis",
    "tests.fixtures.live",
]


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    with override_settings(PASSWORD_HASHERS=["tests.support.FastArgon2PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters live in the cache: no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _one_rate_window(monkeypatch):
    """django-ratelimit counts in fixed windows: a test whose hits straddled a window's end saw
    its counter start again half way and failed at random. Its clock stands still in a test."""
    import django_ratelimit.core

    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: now))


@pytest.fixture(autouse=True)
def _fresh_throttle_connection():
    yield
    from devices.throttle import reset_shared_schedule

    reset_shared_schedule()
