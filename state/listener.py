"""Live routing: keep a connection to the Quartz router and apply every `.U` to state_routing.

    listener = RouteListener()
    listener.run()            # blocks; listener.request_stop() from a signal handler ends it

The router pushes `.U{levels}{output},{source}` to every connected client whenever a route
changes, whoever changed it (our control API, another panel, a salvo). The reading thread only
notes each update; a writer thread stores them (the latest per output) within a fraction of a
second, in one short transaction per batch. After every (re)connection and after the router
says it restarted (`.P`), the routes of the multiviewers' outputs are read again, since updates
may have been missed meanwhile.

Nothing here crashes on an outage: the router down means reconnecting with backoff (logged once
per outage, by the client); the integration settings missing means waiting for them; the database
down means keeping the updates and trying again. Changed integration settings are picked up
within `settings_poll` seconds.
"""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, close_old_connections, connection

from devices.errors import DeviceError, DeviceNotConfigured
from devices.quartz.codec import PowerUp, RouteUpdate
from state import snapshot

logger = logging.getLogger(__name__)


class RouteListener:
    def __init__(self, *, settings_poll: float = 10.0, retry: float = 1.0) -> None:
        self.settings_poll = settings_poll
        self.retry = retry
        self._stop = threading.Event()
        self._session = threading.Event()  # ends the current connection's listen()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending: dict[int, int | None] = {}
        self._resync = False
        self._service = None
        self._db_down = False
        self._not_configured_logged = False
        #: Updates stored and resyncs done since start (diagnostics and tests).
        self.stored = 0
        self.resyncs = 0

    # --- control -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Safe from a signal handler: ends run() within a fraction of a second."""
        self._stop.set()
        self._session.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        writer = threading.Thread(target=self._writer, name="quartz-listen-writer", daemon=True)
        writer.start()
        try:
            while not self._stop.is_set():
                service = self._connect_service()
                if service is None:
                    continue
                self._session = threading.Event()
                if self._stop.is_set():
                    break
                watcher = threading.Thread(target=self._watch_settings, args=(service,),
                                           name="quartz-listen-settings", daemon=True)
                watcher.start()
                try:
                    service.listen(self._on_message, self._session,
                                   on_connect=self._request_resync)
                except Exception:
                    # The client handles the router's outages itself; this is a bug somewhere.
                    # Listening must go on: log it and start over.
                    logger.exception("Quartz listener: listening failed; starting over")
                    self._stop.wait(self.retry)
                finally:
                    self._session.set()
                    watcher.join()
        finally:
            self._wake.set()
            writer.join()
            close_old_connections()
            connection.close()

    # --- the router ----------------------------------------------------------------------

    def _connect_service(self):
        from devices.quartz.service import QuartzService

        try:
            service = QuartzService.from_settings()
        except DeviceNotConfigured as exc:
            if not self._not_configured_logged:
                logger.warning("Quartz listener: %s Waiting for the settings.", exc.detail)
                self._not_configured_logged = True
            self._stop.wait(self.settings_poll)
            return None
        except DatabaseError as exc:
            self._database_down(exc)
            self._stop.wait(self.retry)
            return None
        self._not_configured_logged = False
        self._service = service
        return service

    def _watch_settings(self, service) -> None:
        from devices.models import QuartzSettings
        from devices.quartz.service import QuartzConfig

        try:
            while not self._session.wait(self.settings_poll):
                try:
                    current = QuartzSettings.load()
                    if not current.configured or QuartzConfig.from_model(current) != service.config:
                        self._session.set()
                except DatabaseError as exc:
                    self._database_down(exc)
        finally:
            connection.close()

    def _on_message(self, message) -> None:
        # Runs on the thread reading the router: note it and let the writer store it.
        if isinstance(message, RouteUpdate):
            if "V" not in message.levels:
                return
            with self._lock:
                self._pending[message.output] = message.source or None
            self._wake.set()
        elif isinstance(message, PowerUp):
            self._request_resync()

    def _request_resync(self) -> None:
        with self._lock:
            self._resync = True
        self._wake.set()

    # --- the writer ----------------------------------------------------------------------

    def _writer(self) -> None:
        try:
            while True:
                self._wake.wait(self.retry)
                self._wake.clear()
                stopping = self._stop.is_set()
                with self._lock:
                    resync, self._resync = self._resync, False
                if resync and not stopping:
                    self._do_resync()
                if not self._flush() and not stopping:
                    self._stop.wait(self.retry)
                    self._wake.set()
                if stopping:
                    return
        finally:
            connection.close()

    def _flush(self) -> bool:
        """Store the pending updates; False (updates kept) when the database failed."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return True
        try:
            snapshot.apply_route_updates(batch)
        except DatabaseError as exc:
            self._database_down(exc)
            with self._lock:
                # Updates that arrived meanwhile are newer: they win.
                self._pending = {**batch, **self._pending}
            return False
        if self._db_down:
            logger.warning("Quartz listener: the database is back; route updates are stored "
                           "again")
            self._db_down = False
        self.stored += len(batch)
        return True

    def _do_resync(self) -> None:
        service = self._service
        if service is None:
            return
        try:
            maximum = service.config.output_count
            outputs = [o for o in snapshot.mapped_outputs() if o <= maximum]
            if not outputs:
                return
            routes = service.routes(outputs)
        except DatabaseError as exc:
            self._database_down(exc)
            self._request_resync_later()
            return
        except (DeviceError, RuntimeError) as exc:
            # The listening loop reconnects and asks again; nothing to do until then.
            logger.info("Quartz listener: re-reading the routes failed: %s", exc)
            return
        # A route the router did not give is no news: the known one stays (as in a refresh).
        routes = {output: source for output, source in routes.items() if source is not None}
        with self._lock:
            # `.U`s that came while reading are newer than what was read.
            self._pending = {**routes, **self._pending}
        self.resyncs += 1

    def _request_resync_later(self) -> None:
        with self._lock:
            self._resync = True

    def _database_down(self, exc: Exception) -> None:
        if not self._db_down:
            logger.error("Quartz listener: the database is unavailable (%s); route updates are "
                         "kept and stored when it is back", exc.__class__.__name__)
            self._db_down = True
