"""gunicorn's sync worker, woken one at a time for a new connection.

Every idle sync worker waits in select() on the one listening socket, so each new connection
wakes all of them: one accepts it and the others go back to sleep. On a small machine those
wake-ups are not free. On the 2-core virtual machines mvcontrol was measured on, waking a
sleeping process cost 0.1–0.4 ms, and with gunicorn's default of 2 × cores + 1 workers the
extra wake-ups added about 0.3 ms to every paced request (bench/api_load.py, side by side with
one worker). Here idle workers wait in epoll with EPOLLEXCLUSIVE on the listening sockets, so
the kernel wakes one of them (occasionally more) for a connection. Unlike SO_REUSEPORT
(gunicorn's --reuse-port), which hashes each connection to one worker whether or not it is
busy and doubled the p99 of reads under load, a connection still goes to whichever worker is
idle, and a busy worker picks up what queued meanwhile before it waits again (gunicorn's own
loop).

Where epoll or EPOLLEXCLUSIVE is missing (not Linux, Linux before 4.5), this is gunicorn's sync
worker unchanged. gunicorn.conf.py makes it the project's default worker class.
"""

from __future__ import annotations

import os
import select

from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

_EXCLUSIVE = getattr(select, "EPOLLEXCLUSIVE", None)


class SyncWorker(GunicornSyncWorker):
    _poller = None

    def wait(self, timeout):
        if _EXCLUSIVE is None or not hasattr(select, "epoll"):
            return super().wait(timeout)
        if self._poller is None:
            self._poller = select.epoll()
            for listener in self.sockets:
                self._poller.register(listener.fileno(), select.EPOLLIN | _EXCLUSIVE)
            # The signal pipe wakes this worker alone: not exclusive.
            self._poller.register(self.PIPE[0], select.EPOLLIN)
        self.notify()
        # EINTR is retried by Python; a listener closed at shutdown leaves the set by itself.
        events = self._poller.poll(timeout)
        ready_fds = {fd for fd, _mask in events}
        ready = [s for s in self.sockets if s.fileno() in ready_fds]
        if self.PIPE[0] in ready_fds:
            os.read(self.PIPE[0], 1)
            ready.append(self.PIPE[0])
        return ready or None
