"""Django's PostgreSQL backend, with a health check that needs no round trip while the
connection is quiet.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request, so that
a connection the server dropped (a restart, a failover, an administrator's kill) is replaced
instead of failing the request. A server that drops a connection says so on its socket: it sends
its last message and closes, and the socket becomes readable. A healthy idle connection has
nothing to read. So the check first polls the socket without waiting: quiet means usable;
anything readable means the real `SELECT 1`, which fails on a dropped connection as before.
What the poll cannot see, a peer gone without a word (a cable pulled), `SELECT 1` would only
have found after the TCP timeout too; the query fails and the request answers 503.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (self.connection is not None and self.health_check_enabled
                and not self.health_check_done and not self.pool and self._quiet()):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _quiet(self) -> bool:
        """True when the connection looks alive and the server has sent nothing since."""
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
