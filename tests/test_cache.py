"""The Redis cache (mvcontrol/cache.py) keeps one Redis client per connection pool instead of
building one per call, and still behaves as Django's Redis cache."""

from __future__ import annotations

import threading

import pytest
from django.core.cache import caches

from mvcontrol.cache import RedisCache


@pytest.fixture
def redis_cache(settings, redis_server):
    settings.CACHES = {"default": {"BACKEND": "mvcontrol.cache.RedisCache",
                                   "LOCATION": redis_server}}
    cache = caches["default"]
    cache.clear()
    yield cache
    cache.clear()


def test_the_client_is_built_once_and_shared_by_threads(redis_cache):
    assert isinstance(redis_cache, RedisCache)
    first = redis_cache._cache.get_client()
    assert redis_cache._cache.get_client(write=True) is first
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(redis_cache._cache.get_client()))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(client is first for client in seen)


def test_it_is_still_djangos_redis_cache(redis_cache):
    assert redis_cache.add("slot", {"a": 1}, 30)
    assert not redis_cache.add("slot", {"a": 2}, 30)
    assert redis_cache.get("slot") == {"a": 1}
    redis_cache.set("count", 1)
    assert redis_cache.incr("count", 2) == 3
    redis_cache.set_many({"x": 1, "y": 2})
    assert redis_cache.get_many(["x", "y", "z"]) == {"x": 1, "y": 2}
    redis_cache.delete("slot")
    assert redis_cache.get("slot", "gone") == "gone"
