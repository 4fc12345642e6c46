"""Live multiviewer state: follow the NEXX frame's change notifications (`manage.py nexx_listen`).

    listener = NexxListener(bind=("0.0.0.0", 18081), advertise="10.0.0.9")
    listener.run()            # blocks; listener.request_stop() from a signal handler ends it

The frame pushes every change of the parameters a receiver subscribed to as a UDP datagram
(devices/nexx/notify.py), whoever made it: the frame's own panel, another control system, our
control API. The listener

1. binds a UDP socket, reads EV/SERVERSTATUS and reuses its registration (found by name) or
   registers (EV/SERVERADD);
2. subscribes, one EV/NOTIFYADD each, to every parameter the snapshot holds for the enabled
   multiviewers (their own parameters, and for each window of their layout the PCM bars and the
   3 × 10 UMD values), adding only those the frame does not list yet. Each request yields to
   everyone else's (NexxService.background): it takes a throttle slot only when one is free right
   now, so operators' writes and refreshes go first and the frame's rate is never exceeded.
   Progress (n of m, about how long is left) goes to the status row and to `on_progress`;
3. applies what arrives: each datagram parsed and checked against the catalog, compared with the
   snapshot (a value it already holds changes nothing), stored through StateService in one short
   transaction per multiviewer. A layout change (2704) re-plans the multiviewer: windows that
   appear are subscribed, then read once;
4. heals: UDP drops, duplicates and reorders. A parameter whose value changed again within
   `settle` seconds (reordered datagrams look like that) is read once it is quiet. Every
   `check_seconds` (integration settings, default 180) one EV/SERVERSTATUS says whether the frame
   still sends to us — a frame that forgot us is registered with again and everything
   re-subscribed — and one read of 40 followed parameters (those of windows that changed lately
   first, then in turn through all) catches a datagram that never came. After a gap (the listener
   started, the frame forgot it, was unreachable, or dropped subscriptions) the affected
   multiviewers are re-read one at a time, each once its subscriptions are in place. The nightly
   full refresh stays the safety net.

Device requests happen on the calling thread only, one at a time; a receiver thread notes the
datagrams and a writer thread stores them (and the status row), so no transaction is ever held
while the frame is waited on. The writer also stores what the device thread read, after the
datagrams that came before it and without the values a datagram changed while they were read:
one thread writes, so a read never overwrites a newer notification.

Nothing here crashes on an outage: the frame down means retrying with backoff (logged once per
outage), the database down means keeping the changes and trying again, missing or changed
settings are picked up within `settings_poll` seconds.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from devices.errors import DeviceBusy, DeviceError, DeviceRefused
from devices.nexx import notify
from devices.nexx.catalog import (
    LAYERS_PER_WINDOW,
    MAX_PARAMETERS_PER_REQUEST,
    OperatorValue,
    Scope,
    param_id,
    parse_param_id,
)
from devices.throttle import HEADROOM
from state.planning import (
    MULTIVIEWER_KEYS,
    UMD_KEYS,
    MultiviewerProblem,
    MultiviewerValues,
    NexxReadPlan,
    PlanError,
)

if TYPE_CHECKING:
    from devices.nexx.service import NexxService

logger = logging.getLogger(__name__)

DEFAULT_NAME = "mvcontrol"
ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - the wildcard addresses, to recognise them
SETTLE = 1.0  # seconds a parameter that changed twice must stay quiet before it is read again
STATUS_EVERY = 2.0  # seconds between writes of the status row (its heartbeat)
PROGRESS_EVERY = 60.0  # seconds between progress lines while subscribing (and every tenth)
MAX_BACKOFF = 60.0


def window_ids(mv: int, window: int) -> list[str]:
    """A window's parameters the snapshot holds: PCM bars, then the 3 × 10 UMD values."""
    return [param_id("pcm_bars", mv, window)] + [
        param_id(key, mv, window, layer) for layer in range(LAYERS_PER_WINDOW) for key in UMD_KEYS]


def followed_ids(mv: int, windows: int) -> list[str]:
    """Every parameter the snapshot holds for multiviewer `mv` (0-based) with `windows` windows
    in its layout: its own (layout, font, borders, output format), then each window's."""
    ids = [param_id(key, mv) for key in MULTIVIEWER_KEYS]
    for window in range(windows):
        ids += window_ids(mv, window)
    return ids


class ListenerSettingsError(Exception):
    """The settings do not say where the frame should send (e.g. 0.0.0.0 and no advertised
    address)."""


@dataclass(frozen=True)
class Endpoint:
    bind_host: str
    bind_port: int
    advertise: str | None  # as configured: an address or a name, None to use the bind host


@dataclass
class _ReadResult:
    """Values the device thread read, handed to the writer; `start` is the number of the last
    datagram change noted when the read began."""

    values: Mapping[str, OperatorValue]
    start: int
    done: threading.Event = field(default_factory=threading.Event)
    changed: int = 0
    layouts: set[int] = field(default_factory=set)
    error: Exception | None = None


@dataclass
class _Session:
    """One frame and one socket; ends when the settings change or the listener stops."""

    service: NexxService
    key: tuple
    sock: socket.socket
    advertise_ip: str
    port: int
    frame_addresses: frozenset[str] | None
    check_seconds: float
    ended: threading.Event = field(default_factory=threading.Event)
    receiver: notify.Receiver | None = None
    live: set[str] = field(default_factory=set)
    window_counts: dict[int, int] = field(default_factory=dict)  # layout → windows
    windows: dict[int, int] = field(default_factory=dict)  # followed mv → windows of its layout
    planned: dict[int, list[str]] = field(default_factory=dict)
    planned_set: set[str] = field(default_factory=set)
    planned_live: int = 0
    missing: deque[str] = field(default_factory=deque)
    reread: dict[int, None] = field(default_factory=dict)  # ordered set of mvs
    read_windows: dict[int, set[int]] = field(default_factory=dict)
    paused: bool = False  # the frame refused a subscription
    refusal: str = ""
    refusal_reported: bool = False
    outage: bool = False
    check_reason: str = "first"  # why the next check comes: first, periodic, refusal, outage
    check_due: float = 0.0
    settings_due: float = 0.0
    audit_cursor: int = 0
    subscribe_started: float | None = None
    subscribe_from: int = 0  # live when subscribing started
    progress_at: float = 0.0
    progress_step: int = 0
    last_refresh: object = None
    thread: threading.Thread | None = None

    @property
    def planned_total(self) -> int:
        return len(self.planned_set)

    def close(self) -> None:
        self.ended.set()
        self.sock.close()
        if self.thread is not None:
            self.thread.join(5)


class NexxListener:
    def __init__(self, *, bind: tuple[str, int] | None = None, advertise: str | None = None,
                 name: str = DEFAULT_NAME, check_seconds: float | None = None,
                 settings_poll: float = 10.0, retry: float = 1.0, settle: float = SETTLE,
                 max_backoff: float = MAX_BACKOFF,
                 on_progress: Callable[[str], None] | None = None) -> None:
        """`bind` (host, port) and `advertise` override the integration settings (port 0: a
        free one); `check_seconds` overrides the settings' period of the registration check."""
        self.bind = bind
        self.advertise = advertise
        self.name = name
        self.check_seconds = check_seconds
        self.settings_poll = settings_poll
        self.retry = retry
        self.settle = settle
        self.max_backoff = max_backoff
        self.on_progress = on_progress
        self._stop = threading.Event()
        self._wake = threading.Event()  # the writer: changes to store
        self._work = threading.Event()  # the device thread: something to do
        self._lock = threading.Lock()
        self._session: _Session | None = None
        # Noted by the receiver thread, taken by the writer (the latest value per parameter).
        self._pending: dict[str, OperatorValue] = {}
        self._reads: deque[_ReadResult] = deque()  # read by the device thread, to store
        self._writer_thread: threading.Thread | None = None
        self._seq = 0  # datagram changes received; `_notified[pid]` is the last one's number
        self._notified: dict[str, int] = {}
        self._recent: dict[str, tuple[float, OperatorValue]] = {}
        self._confirm: dict[str, float] = {}  # parameter → when to read it (quiet by then)
        self._replan: set[int] = set()
        self._active: dict[int, set[int | None]] = {}  # mv → windows lately changed (None: own)
        self._status: dict[str, object] = {"state": "starting"}
        self._status_dirty = True
        self._status_saved = 0.0
        self._db_down = False
        self._logged: set[str] = set()  # one-time log lines already written
        self._foreign: set[str] = set()
        #: Diagnostics and tests.
        self.datagrams = 0
        self.junk_datagrams = 0
        self.changes_applied = 0
        self.subscribed = 0  # NOTIFYADD accepted (or "already") since start
        self.checks = 0
        self.rereads = 0
        self.audits = 0
        self.confirmations = 0

    # --- control -------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Safe from a signal handler: run() returns within a fraction of a second (or the
        frame's timeout, when a request is in flight)."""
        self._stop.set()
        session = self._session
        if session is not None:
            session.ended.set()
        self._wake.set()
        self._work.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def session(self) -> _Session | None:
        """The current session (tests and diagnostics read its plan and registration)."""
        return self._session

    def run(self) -> None:
        writer = threading.Thread(target=self._writer, name="nexx-listen-writer", daemon=True)
        self._writer_thread = writer
        self._set_status(state="starting", started_at=timezone.now(), problem="")
        writer.start()
        try:
            while not self._stop.is_set():
                session = self._open_session()
                if session is None:
                    continue
                self._session = session
                try:
                    self._serve(session)
                except Exception:
                    # Outages are handled inside; this is a bug somewhere. Following the frame
                    # must go on: log it and start a new session.
                    logger.exception("NEXX listener: the session failed; starting over")
                    self._stop.wait(self.retry)
                finally:
                    session.close()
                    self._session = None
        finally:
            self._wake.set()
            writer.join()
            self._set_status(state="stopped", registered=False, eta_seconds=None)
            self._save_status(force=True)
            close_old_connections()
            connection.close()

    # --- a session: settings, socket ---------------------------------------------------------

    def _open_session(self) -> _Session | None:
        from devices.models import NexxSettings
        from devices.nexx.service import NexxService

        try:
            settings = NexxSettings.load()
            close_old_connections()
        except DatabaseError as exc:
            self._database_down(exc)
            self._stop.wait(self.retry)
            return None
        if not settings.configured:
            self._wait_for_settings("not configured", "The NEXX frame is not configured (no "
                                    "base URL); waiting for the settings.")
            return None
        if not settings.listen_enabled:
            self._wait_for_settings("turned off", "Change notifications are turned off in the "
                                    "NEXX settings (listen_enabled); waiting.")
            return None
        try:
            endpoint = self.endpoint(settings)
            advertise_ip = _resolve(endpoint.advertise or endpoint.bind_host)
        except ListenerSettingsError as exc:
            self._wait_for_settings("waiting for settings", str(exc))
            return None
        sock = socket.socket(socket.AF_INET6 if ":" in endpoint.bind_host else socket.AF_INET,
                             socket.SOCK_DGRAM)
        try:
            sock.bind((endpoint.bind_host, endpoint.bind_port))
        except OSError as exc:
            sock.close()
            reason = exc.strerror or str(exc)
            self._wait_for_settings("cannot listen", f"Cannot receive on UDP "
                                    f"{endpoint.bind_host}:{endpoint.bind_port} ({reason}); is "
                                    "another nexx_listen running?")
            return None
        sock.settimeout(0.5)
        service = NexxService.from_settings(settings)
        session = _Session(
            service=service, key=self._settings_key(settings), sock=sock,
            advertise_ip=advertise_ip, port=sock.getsockname()[1],
            frame_addresses=_frame_addresses(settings.base_url),
            check_seconds=float(self.check_seconds or settings.listen_check_seconds),
        )
        session.settings_due = time.monotonic() + self.settings_poll
        session.last_refresh = self._last_refresh()
        self._logged.discard("settings")
        self._set_status(state="registering", frame=settings.base_url, problem="",
                         receiver=f"{self.name} → {advertise_ip}:{session.port}/udp",
                         registered=False)
        session.thread = threading.Thread(target=self._receive, args=(session,),
                                          name="nexx-listen-receiver", daemon=True)
        session.thread.start()
        return session

    def endpoint(self, settings) -> Endpoint:
        """Where to bind and what to advertise, from the options over the settings."""
        host, port = self.bind if self.bind is not None else ("0.0.0.0",  # noqa: S104
                                                               settings.listen_port)
        advertise = self.advertise or settings.listen_advertise or None
        if advertise is None and host in ANY_ADDRESS:
            raise ListenerSettingsError(
                f"nexx_listen binds {host or 'every address'}, so the frame needs to be told which "
                "address to send to: pass --advertise or set listen_advertise in the NEXX "
                "settings.")
        return Endpoint(host, port, advertise)

    def _settings_key(self, settings) -> tuple:
        from devices.nexx.client import NexxConfig

        return (NexxConfig.from_model(settings), settings.listen_enabled, self.endpoint(settings))

    def _wait_for_settings(self, state: str, message: str) -> None:
        if "settings" not in self._logged:
            logger.warning("NEXX listener: %s", message)
            self._logged.add("settings")
        self._set_status(state=state, problem=message, registered=False)
        self._stop.wait(self.settings_poll)

    def _poll_settings(self, session: _Session) -> None:
        from devices.models import NexxSettings

        session.settings_due = time.monotonic() + self.settings_poll
        current = NexxSettings.load()
        try:
            changed = (not current.configured or not current.listen_enabled
                       or self._settings_key(current) != session.key)
        except ListenerSettingsError:
            changed = True
        if changed:
            logger.info("NEXX listener: the settings changed; starting over")
            session.ended.set()
            return
        session.check_seconds = float(self.check_seconds or current.listen_check_seconds)
        latest = self._last_refresh()
        if latest != session.last_refresh:
            # A refresh may have found other multiviewers or layouts: plan again (no request).
            session.last_refresh = latest
            self._update_plan(session, self._load_plan(session), gap=set())

    @staticmethod
    def _last_refresh():
        from state.models import RefreshRun

        return (RefreshRun.objects.exclude(status=RefreshRun.Status.RUNNING)
                .order_by("-started_at").values_list("pk", "finished_at").first())

    # --- the device thread -------------------------------------------------------------------

    def _serve(self, session: _Session) -> None:
        backoff = self.retry
        with session.service.background(cancel=session.ended):
            while not session.ended.is_set():
                now = time.monotonic()
                try:
                    if now >= session.settings_due:
                        self._poll_settings(session)
                        continue
                    if session.receiver is None or now >= session.check_due:
                        reason, session.check_reason = session.check_reason, "periodic"
                        self._check(session, reason)
                        session.check_due = time.monotonic() + session.check_seconds
                    elif not self._step(session):
                        self._idle(session)
                    backoff = self.retry
                    self._back_from_database()
                except DeviceBusy:
                    # No free slot for a while (a long refresh), stopping, or the frame itself
                    # said it is overloaded: nothing is wrong with us; try again in a moment.
                    session.ended.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                except DeviceError as exc:
                    self._frame_down(session, exc)
                    session.ended.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    session.check_due = 0.0  # start again with the registration
                    if session.receiver is not None:
                        session.check_reason = "outage"
                except DatabaseError as exc:
                    self._database_down(exc)
                    session.ended.wait(self.retry)
                self._note_progress(session)

    def _idle(self, session: _Session) -> None:
        now = time.monotonic()
        until = min(session.check_due, session.settings_due, now + 1.0)
        with self._lock:
            if self._confirm:
                until = min(until, min(self._confirm.values()))
        self._work.wait(max(0.0, until - now))
        self._work.clear()

    def _frame_down(self, session: _Session, exc: DeviceError) -> None:
        if not session.outage:
            logger.warning("NEXX listener: %s; retrying with backoff. Changes on the frame are "
                           "not followed meanwhile; the multiviewers are read again once it "
                           "answers.", exc.detail)
            session.outage = True
        self._set_status(state="frame unreachable", problem=exc.detail)

    def _check(self, session: _Session, reason: str) -> None:
        """One EV/SERVERSTATUS: our registration (made or found again), the subscriptions the
        frame still holds, the plan; on a periodic check also one audit read."""
        service = session.service
        first = session.receiver is None
        plan = self._load_plan(session)  # the database first: a failure there changes nothing
        receivers = service.server_status()
        self.checks += 1
        ours = [r for r in receivers if r.name == self.name]
        found = next((r for r in ours if r.sends_to(session.advertise_ip, session.port)), None)
        for stale in ours:
            if stale is not found:
                # Ours, at an address we no longer listen on (changed settings): the frame
                # would keep sending there.
                try:
                    service.server_del(stale.id)
                except DeviceRefused as exc:
                    logger.info("NEXX listener: could not remove the old registration %s: %s",
                                stale.id, exc.detail)
        lost = found is None and not first
        registered_now = found is None
        if found is None:
            found = service.server_add(session.advertise_ip, self.name, session.port)
        dropped = (session.live - found.parameters) if not first and not lost else set()
        session.receiver = found
        session.live = set(found.parameters)
        outage, session.outage = session.outage, False
        if first or lost or outage:
            gap = set(plan)
        else:
            gap = {parse_param_id(pid).mv for pid in dropped if _is_followed(pid)}
        self._update_plan(session, plan, gap)
        if lost or registered_now:
            session.paused, session.refusal, session.refusal_reported = False, "", False
            self._set_status(refused="")
        notes = [self._registration_note(first, lost, registered_now, found)]
        if outage:
            logger.warning("NEXX listener: the frame answers again; re-reading the %d "
                           "multiviewers followed", len(gap))
            notes.append(f"the frame answers again after an outage: {len(gap)} multiviewers to "
                         "re-read")
        if dropped:
            logger.warning("NEXX listener: the frame no longer lists %d of our subscriptions; "
                           "subscribing them again", len(dropped))
            notes.append(f"{len(dropped)} subscriptions had gone: subscribing again, "
                         f"{len(gap)} multiviewers to re-read")
        if session.paused:
            if not session.refusal_reported:
                self._report_refusal(session)
            elif reason == "periodic":
                session.paused = False  # one more try per check: the frame may take them now
        if reason == "periodic" and not first and not lost and not outage:
            notes.append(self._audit(session))
        self._set_status(state=self._state(session), problem="", registered=True,
                         receiver=_describe_receiver(found), last_heal_at=timezone.now(),
                         last_heal="; ".join(n for n in notes if n))

    def _registration_note(self, first: bool, lost: bool, registered_now: bool,
                           receiver: notify.Receiver) -> str:
        if lost:
            logger.warning("NEXX listener: the frame had forgotten this receiver (restarted?); "
                           "registered again as %s, subscribing and re-reading everything",
                           receiver.id)
            return (f"the frame had forgotten this receiver: registered again (id "
                    f"{receiver.id}); subscribing and re-reading everything")
        if registered_now:
            return f"registered as {self.name} (id {receiver.id})"
        if first:
            return (f"registration {self.name} (id {receiver.id}) found with "
                    f"{len(receiver.parameters)} subscriptions")
        return "registration found"

    def _audit(self, session: _Session) -> str:
        """One read of up to 40 followed parameters: of windows changed lately first (a burst
        of changes that lost a datagram), then in turn through all of them."""
        with self._lock:
            active, self._active = self._active, {}
        ids: dict[str, None] = {}
        for mv, windows in active.items():
            if mv not in session.windows:
                continue
            for window in sorted(windows, key=lambda w: -1 if w is None else w):
                group = ([param_id(k, mv) for k in MULTIVIEWER_KEYS] if window is None
                         else window_ids(mv, window) if window < session.windows[mv] else [])
                ids.update(dict.fromkeys(group))
        order = [pid for mv in sorted(session.planned) for pid in session.planned[mv]]
        if order:
            start = session.audit_cursor % len(order)
            for pid in order[start:] + order[:start]:
                if len(ids) >= MAX_PARAMETERS_PER_REQUEST:
                    break
                if pid not in ids:
                    ids[pid] = None
                    session.audit_cursor += 1
        batch = list(ids)[:MAX_PARAMETERS_PER_REQUEST]
        if not batch:
            return "nothing to re-read"
        changed = self._read_and_apply(session, batch, replan=True)
        self.audits += 1
        if changed:
            logger.info("NEXX listener: the periodic check found %d values the notifications "
                        "had missed", changed)
        return f"{len(batch)} parameters re-read, {changed} differed"

    def _step(self, session: _Session) -> bool:
        """The next piece of work, most urgent first; False when there is none."""
        with self._lock:
            replan, self._replan = self._replan, set()
        if replan:
            self._replan_now(session, replan)
            return True
        now = time.monotonic()
        with self._lock:
            due = [pid for pid, when in self._confirm.items() if when <= now]
            due = due[:MAX_PARAMETERS_PER_REQUEST]
            for pid in due:
                del self._confirm[pid]
        if due:
            self.confirmations += 1
            self._read_and_apply(session, due, replan=True)
            return True
        for mv in list(session.reread):
            if self._subscribed(session, session.planned.get(mv, [])):
                self._reread(session, mv)
                return True
        for mv, windows in list(session.read_windows.items()):
            ids = [pid for w in sorted(windows) for pid in window_ids(mv, w)]
            if self._subscribed(session, ids):
                self._read_and_apply(session, ids, replan=False)
                session.read_windows.pop(mv, None)  # done (a failed read stays to do)
                return True
        if session.missing and not session.paused:
            self._subscribe_next(session)
            return True
        return False

    def _subscribed(self, session: _Session, ids: Iterable[str]) -> bool:
        """Whether a read of `ids` can close their gap now: every one is followed already (a
        change after the read arrives as a datagram), or subscribing has stopped."""
        return session.paused or all(pid in session.live for pid in ids)

    def _subscribe_next(self, session: _Session) -> None:
        pid = session.missing[0]
        if pid in session.live:
            session.missing.popleft()
            return
        if session.subscribe_started is None:
            session.subscribe_started = time.monotonic()
            session.subscribe_from = session.planned_live
            session.progress_at = session.subscribe_started
            session.progress_step = 0
            self._set_status(state="subscribing")
            rate = session.service.config.requests_per_second * HEADROOM
            self._progress(f"subscribing {len(session.missing)} parameters ("
                           f"{session.planned_live} of {session.planned_total} live already), "
                           f"about {_duration(len(session.missing) / rate)} at "
                           f"{session.service.config.requests_per_second:g} requests/s")
        assert session.receiver is not None
        try:
            session.service.notify_add(session.receiver.id, pid)
        except DeviceRefused as exc:
            # Maybe the frame forgot us since the last check ("server not found"): the check
            # tells, and registers again if so. Otherwise it is a real refusal, reported there.
            session.paused = True
            session.refusal = f"the frame refused to subscribe {pid}: {exc.detail}"
            session.check_due = 0.0
            session.check_reason = "refusal"
            return
        session.missing.popleft()
        session.live.add(pid)
        self.subscribed += 1
        if pid in session.planned_set:
            session.planned_live += 1

    def _report_refusal(self, session: _Session) -> None:
        summary = _live_summary(session)
        text = (f"{session.refusal}. {session.planned_live} of {session.planned_total} "
                f"parameters are live ({summary}); the others are not followed: the periodic "
                "check re-reads them in turn and the nightly refresh reads them all. Subscribing "
                "is tried again at each check.")
        logger.warning("NEXX listener: %s", text)
        session.refusal_reported = True
        self._set_status(refused=text, state="listening")

    def _reread(self, session: _Session, mv: int) -> None:
        """Read one multiviewer as a refresh would (its layout first, then the windows of that
        layout) and store what differs."""
        plan = NexxReadPlan(session.window_counts, only=mv)
        start = self._seq
        values: dict[str, OperatorValue] = {}
        try:
            while True:
                batch = plan.next_batch()
                if not batch:
                    break
                plan.receive(session.service.read_values(batch))
                for item in plan.completed():
                    if isinstance(item, MultiviewerValues):
                        values.update(_values_by_id(item))
                    elif isinstance(item, MultiviewerProblem):
                        logger.info("NEXX listener: MV %d %s; not stored", mv + 1, item.reason)
        except PlanError as exc:
            logger.info("NEXX listener: re-reading MV %d failed: %s", mv + 1, exc)
        self._apply_read(values, start)
        session.reread.pop(mv, None)  # done (a failed read stays to do)
        session.read_windows.pop(mv, None)
        self.rereads += 1
        self._replan_now(session, {mv})

    def _read_and_apply(self, session: _Session, ids: list[str], *, replan: bool) -> int:
        start = self._seq
        values = session.service.read_values(ids)
        changed, layouts = self._apply_read(values, start)
        if replan and layouts:
            self._replan_now(session, layouts)
        return changed

    def _apply_read(self, values: Mapping[str, OperatorValue], start: int
                    ) -> tuple[int, set[int]]:
        """Have the writer store what a read found (see `_store_read`) and wait for it."""
        result = _ReadResult(values, start)
        with self._lock:
            self._reads.append(result)
        self._wake.set()
        while not result.done.wait(0.1):
            writer = self._writer_thread
            if writer is None or not writer.is_alive():
                self._store_read(result)  # stopping: nobody else will
        if result.error is not None:
            raise result.error
        return result.changed, result.layouts

    def _store_read(self, result: _ReadResult) -> None:
        """Store a read's values, except those a datagram changed since the read began (the
        datagram is newer); on the writer thread, after the datagrams noted before."""
        if result.done.is_set():
            return
        with self._lock:
            fresh = {pid: v for pid, v in result.values.items()
                     if self._notified.get(pid, 0) <= result.start}
        try:
            result.changed, result.layouts = apply_values(fresh)
        except DatabaseError as exc:
            result.error = exc
        else:
            with self._lock:
                self.changes_applied += result.changed
                self._status_dirty = True
        result.done.set()

    # --- the plan ------------------------------------------------------------------------------

    def _load_plan(self, session: _Session) -> dict[int, int]:
        """Followed multiviewers (the enabled ones) and the windows of their snapshot layout."""
        from devices.layouts import layout_catalog
        from devices.models import Multiviewer

        session.window_counts = {n: g.window_count for n, g in layout_catalog().items()}
        plan = {}
        for mv in Multiviewer.objects.filter(enabled=True).select_related("state"):
            layout = getattr(getattr(mv, "state", None), "layout", None)
            plan[mv.nexx_index] = session.window_counts.get(layout, 0) if layout else 0
        return plan

    def _update_plan(self, session: _Session, plan: dict[int, int], gap: set[int]) -> None:
        for mv, windows in plan.items():
            before = session.windows.get(mv)
            if mv in gap or before is None:
                session.reread[mv] = None  # never followed, or a gap: read once subscribed
            elif windows > before and mv not in session.reread:
                session.read_windows.setdefault(mv, set()).update(range(before, windows))
        for mv in set(session.reread) - set(plan):
            del session.reread[mv]
        for mv in set(session.read_windows) - set(plan):
            del session.read_windows[mv]
        session.windows = dict(plan)
        session.planned = {mv: followed_ids(mv, w) for mv, w in sorted(plan.items())}
        self._rebuild(session)

    def _replan_now(self, session: _Session, mvs: set[int]) -> None:
        """Multiviewers whose layout may have changed: follow the windows of the new one.
        Windows that appear are subscribed, then read once (changes until they were subscribed
        may have been missed)."""
        from devices.models import Multiviewer

        counts = session.window_counts
        rows = Multiviewer.objects.filter(nexx_index__in=mvs, enabled=True).select_related("state")
        changed = False
        for row in rows:
            mv = row.nexx_index
            layout = getattr(getattr(row, "state", None), "layout", None)
            windows = counts.get(layout, 0) if layout else 0
            before = session.windows.get(mv)
            if before == windows:
                continue
            changed = True
            session.windows[mv] = windows
            session.planned[mv] = followed_ids(mv, windows)
            if before is None:
                session.reread[mv] = None
            elif windows > before and mv not in session.reread:
                session.read_windows.setdefault(mv, set()).update(range(before, windows))
        if changed:
            self._rebuild(session)

    def _rebuild(self, session: _Session) -> None:
        """The subscriptions still missing, in order: multiviewers waiting for a read first."""
        first = list(session.reread) + [mv for mv in session.read_windows
                                        if mv not in session.reread]
        order = first + [mv for mv in sorted(session.planned) if mv not in set(first)]
        session.planned_set = {pid for ids in session.planned.values() for pid in ids}
        session.planned_live = len(session.planned_set & session.live)
        session.missing = deque(pid for mv in order for pid in session.planned.get(mv, [])
                                if pid not in session.live)
        if not session.missing:
            session.subscribe_started = None
            if not session.paused:
                self._set_status(refused="")
        self._set_status(parameters_planned=session.planned_total,
                         parameters_live=session.planned_live)

    # --- progress ------------------------------------------------------------------------------

    def _state(self, session: _Session) -> str:
        if session.outage:
            return "frame unreachable"
        if session.missing and not session.paused:
            return "subscribing"
        return "listening"

    def _note_progress(self, session: _Session) -> None:
        planned, live = session.planned_total, session.planned_live
        rate = session.service.config.requests_per_second * HEADROOM
        left = len(session.missing) if not session.paused else 0
        eta = round(left / rate, 1) if left else None
        self._set_status(parameters_planned=planned, parameters_live=live, eta_seconds=eta,
                         state=self._state(session), **({} if session.outage else
                                                        {"problem": ""}))
        if session.subscribe_started is None:
            return
        now = time.monotonic()
        total = planned - session.subscribe_from
        done = live - session.subscribe_from
        step = int(10 * done / total) if total > 0 else 10
        if not session.missing:
            took = now - session.subscribe_started
            self._progress(f"all {planned} parameters live; subscribing {max(done, 0)} took "
                           f"{_duration(took)}")
            session.subscribe_started = None
        elif step > session.progress_step or now - session.progress_at >= PROGRESS_EVERY:
            session.progress_step, session.progress_at = step, now
            if session.paused:
                return
            self._progress(f"subscribing: {live} of {planned} parameters live, about "
                           f"{_duration(eta or 0)} left")

    def _progress(self, line: str) -> None:
        logger.info("NEXX listener: %s", line)
        if self.on_progress is not None:
            self.on_progress(line)

    # --- the receiver thread -------------------------------------------------------------------

    def _receive(self, session: _Session) -> None:
        sock = session.sock
        while not session.ended.is_set():
            try:
                data, address = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                if session.ended.is_set():
                    return
                session.ended.wait(0.1)
                continue
            sender = address[0]
            if session.frame_addresses is not None and sender not in session.frame_addresses:
                if sender not in self._foreign:
                    self._foreign.add(sender)
                    logger.warning("NEXX listener: ignored a datagram from %s, which is not the "
                                   "frame (%s)", sender, ", ".join(sorted(session.frame_addresses)))
                continue
            self._note(notify.parse_datagram(data), sender)

    def _note(self, datagram: notify.Datagram, sender: str) -> None:
        now = time.monotonic()
        confirm = False
        with self._lock:
            self.datagrams += 1
            self._status["last_datagram_at"] = timezone.now()
            if datagram.junk:
                self.junk_datagrams += 1
            for change in datagram.changes:
                pid, value = change.param_id, change.value
                self._seq += 1
                self._notified[pid] = self._seq
                self._pending.pop(pid, None)
                self._pending[pid] = value
                seen = self._recent.get(pid)
                if pid in self._confirm or (seen is not None and now - seen[0] <= self.settle
                                            and seen[1] != value):
                    # Two values in quick succession: datagrams may have come out of order.
                    # Read it once it has been quiet for `settle` seconds.
                    self._confirm[pid] = now + self.settle
                    confirm = True
                self._recent[pid] = (now, value)
                ref = parse_param_id(pid)
                if ref.mv is not None:
                    self._active.setdefault(ref.mv, set()).add(ref.window)
            if len(self._recent) > 20000:
                self._recent = {p: s for p, s in self._recent.items() if now - s[0] <= self.settle}
            self._status_dirty = True
        if datagram.junk:
            level = logging.INFO if "junk" in self._logged else logging.WARNING
            self._logged.add("junk")
            logger.log(level, "NEXX listener: ignored %d part(s) of a datagram from %s: %s",
                       datagram.ignored_count, sender, "; ".join(datagram.ignored))
        self._wake.set()
        if confirm:
            self._work.set()

    # --- the writer thread ---------------------------------------------------------------------

    def _writer(self) -> None:
        try:
            while True:
                self._wake.wait(min(self.retry, STATUS_EVERY))
                self._wake.clear()
                stopping = self._stop.is_set()
                if not self._flush() and not stopping:
                    self._stop.wait(self.retry)
                    self._wake.set()
                self._save_status(force=stopping)
                if stopping:
                    return
        finally:
            connection.close()

    def _flush(self) -> bool:
        """Store the pending changes, then the reads handed over; False (changes kept) when the
        database failed."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            self._store_reads()
            return True
        try:
            changed, layouts = apply_values(batch)
        except DatabaseError as exc:
            self._database_down(exc)
            with self._lock:
                self._pending = {**batch, **self._pending}  # newer ones win
                reads, self._reads = self._reads, deque()
            for result in reads:  # the device thread waits for them: tell it at once
                result.error = exc
                result.done.set()
            return False
        self._back_from_database()
        with self._lock:
            self.changes_applied += changed
            self._replan |= layouts
            self._status_dirty = True
        if layouts:
            self._work.set()
        self._store_reads()
        return True

    def _store_reads(self) -> None:
        while True:
            with self._lock:
                if not self._reads:
                    return
                result = self._reads.popleft()
            self._store_read(result)

    # --- status --------------------------------------------------------------------------------

    def _set_status(self, **fields) -> None:
        with self._lock:
            for name, value in fields.items():
                if self._status.get(name) != value:
                    self._status[name] = value
                    self._status_dirty = True

    def _save_status(self, *, force: bool = False) -> None:
        from state.models import NexxListenerStatus

        now = time.monotonic()
        if not force and now - self._status_saved < STATUS_EVERY:
            return
        with self._lock:
            values = dict(self._status)
            values.update(datagrams=self.datagrams, junk_datagrams=self.junk_datagrams,
                          changes_applied=self.changes_applied)
            self._status_dirty = False
        values["heartbeat_at"] = timezone.now()
        try:
            NexxListenerStatus.objects.update_or_create(pk=1, defaults=values)
        except DatabaseError as exc:
            self._database_down(exc)
            return
        self._status_saved = now

    def _database_down(self, exc: Exception) -> None:
        with self._lock:
            first = not self._db_down
            self._db_down = True
        if first:
            logger.error("NEXX listener: the database is unavailable (%s); changes are kept and "
                         "stored when it is back", exc.__class__.__name__)

    def _back_from_database(self) -> None:
        with self._lock:
            was, self._db_down = self._db_down, False
        if was:
            logger.warning("NEXX listener: the database is back; changes are stored again")


# --- storing values --------------------------------------------------------------------------


def apply_values(values: Mapping[str, OperatorValue]) -> tuple[int, set[int]]:
    """Store the values the frame reported (operator values by parameter id) where they differ
    from the snapshot; one short transaction per multiviewer. Values the snapshot does not hold
    (frame-wide ones, sources, labels) and multiviewers not in the inventory are left out.
    Returns (values changed, multiviewers whose layout was reported)."""
    from devices.models import Multiviewer

    groups: dict[int, _Group] = {}
    for pid, value in values.items():
        ref = parse_param_id(pid)
        key = ref.parameter.key
        if ref.mv is None:
            continue
        group = groups.setdefault(ref.mv, _Group())
        if ref.parameter.scope is Scope.MULTIVIEWER and key in MULTIVIEWER_KEYS:
            group.params[key] = value
        elif ref.parameter.scope is Scope.WINDOW and key == "pcm_bars":
            group.window(ref.window)["pcm_bars"] = value
        elif ref.parameter.scope is Scope.LAYER and key in UMD_KEYS:
            group.window(ref.window).setdefault("umd", {}).setdefault(ref.layer, {})[key] = value
    groups = {mv: g for mv, g in groups.items() if g.params or g.windows}
    if not groups:
        return 0, set()
    rows = {m.nexx_index: m for m in Multiviewer.objects.filter(nexx_index__in=list(groups))}
    changed = 0
    layouts: set[int] = set()
    for mv, group in sorted(groups.items()):
        row = rows.get(mv)
        if row is None:
            continue  # not in the inventory yet: a refresh discovers it
        if "layout" in group.params:
            layouts.add(mv)
        with transaction.atomic():
            changed += _apply_group(row, group)
    return changed, layouts


@dataclass
class _Group:
    params: dict[str, OperatorValue] = field(default_factory=dict)
    windows: dict[int, dict] = field(default_factory=dict)

    def window(self, index: int | None) -> dict:
        assert index is not None
        return self.windows.setdefault(index, {})


_MISSING = object()


def _apply_group(row, group: _Group) -> int:
    from state.models import MultiviewerState, WindowState
    from state.services import StateService

    changed = 0
    if group.params:
        state = MultiviewerState.objects.select_for_update().filter(multiviewer=row).first()
        differ = {k: v for k, v in group.params.items()
                  if state is None or getattr(state, k) != v}
        if differ:
            StateService.record_multiviewer_params(row, **differ)
            changed += len(differ)
    if group.windows:
        stored = {w.window_index: w for w in WindowState.objects.select_for_update().filter(
            multiviewer=row, window_index__in=list(group.windows))}
        for index, change in sorted(group.windows.items()):
            current = stored.get(index)
            pcm = change.get("pcm_bars")
            if pcm is not None and current is not None and current.pcm_bars == pcm:
                pcm = None
            layers = list(current.umd or []) if current is not None else []
            umd: dict[int, dict[str, OperatorValue]] = {}
            for layer, values in change.get("umd", {}).items():
                held = layers[layer] if layer < len(layers) and isinstance(layers[layer],
                                                                           dict) else {}
                differ = {k: v for k, v in values.items() if held.get(k, _MISSING) != v}
                if differ:
                    umd[layer] = differ
            if pcm is None and not umd:
                continue
            StateService.record_window(row, index, pcm_bars=pcm, umd_layers=umd or None)
            changed += (pcm is not None) + sum(len(v) for v in umd.values())
    return changed


def _values_by_id(values: MultiviewerValues) -> dict[str, OperatorValue]:
    """A re-read multiviewer's values keyed by parameter id, as notifications carry them."""
    mv = values.index
    out = {param_id(key, mv): value for key, value in values.params.items()
           if key in MULTIVIEWER_KEYS}
    for window in values.windows:
        out[param_id("pcm_bars", mv, window.index)] = window.pcm_bars
        for layer, layer_values in enumerate(window.umd):
            for key, value in layer_values.items():
                out[param_id(key, mv, window.index, layer)] = value
    return out


# --- helpers -------------------------------------------------------------------------------------


def _is_followed(pid: str) -> bool:
    try:
        return parse_param_id(pid).mv is not None
    except ValueError:
        return False


def _resolve(host: str) -> str:
    """The IP address the frame is told to send to."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.gethostbyname(host)
    except OSError as exc:
        raise ListenerSettingsError(f"The advertised address {host!r} does not resolve "
                                    f"({exc}).") from exc


def _frame_addresses(base_url: str) -> frozenset[str] | None:
    """The frame's addresses: datagrams from elsewhere are not the frame's. None (take every
    datagram) when its name does not resolve here."""
    host = urlsplit(base_url).hostname
    if not host:
        return None
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return None
    addresses = {info[4][0] for info in infos}
    # An IPv4 frame seen through an IPv6 socket arrives as ::ffff:a.b.c.d.
    addresses |= {f"::ffff:{a}" for a in addresses if ":" not in a}
    return frozenset(addresses)


def _describe_receiver(receiver: notify.Receiver) -> str:
    return (f"{receiver.name} (id {receiver.id}) → {receiver.ip}:{receiver.port}/"
            f"{receiver.protocol or 'udp'}")


def _live_summary(session: _Session) -> str:
    """Which multiviewers are followed completely, in part, or not at all ("MV 1–3 complete,
    MV 4: 120 of 501, MV 5–21 none")."""
    parts: list[str] = []
    run: list[tuple[int, str]] = []  # consecutive multiviewers with the same word

    def close_run() -> None:
        if run:
            first, last = run[0][0] + 1, run[-1][0] + 1
            parts.append(f"MV {first}{'–' + str(last) if last != first else ''} {run[0][1]}")
            run.clear()

    for mv, ids in sorted(session.planned.items()):
        live = sum(1 for pid in ids if pid in session.live)
        word = "complete" if live == len(ids) else "none" if live == 0 else ""
        if not word:
            close_run()
            parts.append(f"MV {mv + 1}: {live} of {len(ids)}")
        elif run and run[-1][1] == word and run[-1][0] == mv - 1:
            run.append((mv, word))
        else:
            close_run()
            run.append((mv, word))
    close_run()
    return ", ".join(parts) or "no multiviewer followed"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
