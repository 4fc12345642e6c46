"""Django's Redis cache, keeping its Redis client instead of building one per cache call.

Django's RedisCacheClient makes a new redis.Redis for every get/set. With redis-py 8 that
constructor fills a table of about 170 reply callbacks, which costs more CPU than the round
trip to Redis itself; every request reads its session from this cache, so the cost was paid on
every API call. A redis.Redis is safe to share between threads (connections come from its
pool, which also notices a fork and starts afresh in the child), so one per pool is kept.
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            # A race between threads builds two clients on the same pool: harmless.
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
