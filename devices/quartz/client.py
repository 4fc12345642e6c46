"""Socket client of a Quartz router: pipelining, a window, reconnects, both connection styles.

`QuartzClient.execute(commands)` sends a batch and returns one outcome per command, in order:
the matching reply (NameReply, Routes, LockState, RouteUpdate for a switch), the router's
Error, or NoAnswer. Failures of the conversation itself raise typed DeviceErrors.

Replies are matched to commands in order, by content: a `.RAS5,...` answers `.RT5`/`.RS5`, an
`.A` whose first group is output 9 answers `.IV9`/`.LV9,-`, a `.U` with the same output and source
confirms a switch, and `.E` answers whatever command is oldest. Only `.I` may go unanswered (MAGNUM
ignores it): a reply that matches a later command settles the skipped `.I`s as NoAnswer. Route
updates and power-up notices go to the subscribers; a `.U` that confirms a switch goes there too,
since it is also a broadcast of the new route.

Styles:
- persistent: one connection is kept and reused; a batch keeps at most `window` commands
  outstanding; when the router closes the connection the unanswered commands are sent again on
  a new one (all Quartz commands the project sends are idempotent), as long as the previous
  connection answered something, so a router that always hangs up fails instead of looping.
- per_command: one connection per command (a MAGNUM installation closes after each reply; a
  successful switch closes without any reply).

Every command takes a slot of the global Throttle before it is written; slots are reserved for
at most the free part of the window, so each can be used on time.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from devices.errors import DeviceError, DeviceProtocolError, DeviceTimeout, DeviceUnreachable
from devices.quartz.codec import (
    Command,
    Error,
    FireSalvo,
    Garbage,
    Interrogate,
    ListRoutes,
    LockCommand,
    LockState,
    Message,
    NameReply,
    PowerUp,
    QuartzParser,
    ReadName,
    Routes,
    RouteUpdate,
    SetRoute,
)
from devices.throttle import Reservation, Throttle

logger = logging.getLogger(__name__)

Style = Literal["persistent", "per_command"]
Subscriber = Callable[[Message], None]


@dataclass(frozen=True)
class NoAnswer:
    """The router said nothing for this command.

    reason: "silence" (nothing within the read timeout), "skipped" (a later command was
    answered first) or "closed" (per-command style: the connection closed without a reply,
    which is how such a router confirms a switch).
    """

    reason: Literal["silence", "skipped", "closed"]


Outcome = NameReply | Routes | LockState | RouteUpdate | Error | NoAnswer


def accepts(command: Command, message: Message) -> bool:
    """Whether `message` is the reply to `command` (`.E` aside, which answers the oldest)."""
    if isinstance(command, ReadName):
        return (isinstance(message, NameReply) and message.target == command.target
                and message.number == command.number)
    if isinstance(command, (Interrogate, ListRoutes)):
        return (isinstance(message, Routes) and message.first_output == command.output
                and message.routes[0].level == command.level)
    if isinstance(command, SetRoute):
        if isinstance(message, RouteUpdate):
            return (message.output == command.output and message.source == command.source
                    and bool(set(message.levels) & set(command.levels)))
        return isinstance(message, LockState) and message.output == command.output
    if isinstance(command, LockCommand):
        return isinstance(message, LockState) and message.output == command.output
    return False


def may_go_unanswered(command: Command) -> bool:
    return isinstance(command, Interrogate)


@dataclass
class _Pending:
    index: int
    command: Command
    deadline: float


class _PeerClosed(Exception):
    """The router closed the connection (EOF, reset, broken pipe)."""


class QuartzClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 2.0,
        style: Style = "persistent",
        window: int = 32,
        throttle: Throttle | None = None,
        on_message: Subscriber | None = None,
        device: str | None = None,
    ) -> None:
        style = style.replace("-", "_")  # type: ignore[assignment]
        if style not in ("persistent", "per_command"):
            raise ValueError(f"style must be 'persistent' or 'per_command', not {style!r}")
        if window < 1:
            raise ValueError("window must be at least 1")
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.style: Style = style
        self.window = window
        self.throttle = throttle
        self.device = device or f"Quartz router {host}:{port}"
        self._subscribers: tuple[Subscriber, ...] = (on_message,) if on_message else ()
        self._subscribers_lock = threading.Lock()
        # One conversation at a time on the connection; _owner catches a subscriber calling
        # back into the client, which would interleave with the conversation in progress.
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._sock: socket.socket | None = None
        self._sock_pid = 0
        self._parser = QuartzParser()
        self._garbage_logged = False
        self._closed = False
        #: Since this client was made: commands written, writes (each a round trip's start),
        #: connections opened. For bench/ and diagnostics.
        self.counters = {"commands": 0, "writes": 0, "connections": 0}

    # --- public --------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """Receive every unsolicited message (`.U`, `.P`) seen on any connection. Callbacks run
        on the thread reading the router: keep them short, and do not call the client from
        them."""
        with self._subscribers_lock:
            self._subscribers = (*self._subscribers, callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with self._subscribers_lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not callback)

    @contextlib.contextmanager
    def _conversation(self) -> Iterator[None]:
        if self._owner == threading.get_ident():
            raise RuntimeError("the Quartz client was called from one of its own callbacks")
        with self._lock:
            self._owner = threading.get_ident()
            try:
                yield
            finally:
                self._owner = None

    def execute(self, commands: Sequence[Command], *,
                busy_timeout: float | None = None) -> list[Outcome]:
        """Send the commands and return one outcome per command, in order.

        Raises DeviceUnreachable, DeviceTimeout (a reply other than to `.I` missing),
        DeviceProtocolError (replies came, none the one expected) or DeviceBusy (no throttle
        slot within `busy_timeout`, default the read timeout)."""
        for command in commands:
            if isinstance(command, FireSalvo):
                raise ValueError("a salvo has no reply to wait for; it cannot be executed here")
        if not commands:
            return []
        busy = self.read_timeout if busy_timeout is None else busy_timeout
        with self._conversation():
            if self._closed:
                raise RuntimeError("the Quartz client is closed")
            if self.style == "per_command":
                return [self._one_per_connection(c, busy) for c in commands]
            return self._pipelined(list(commands), busy)

    def listen(self, on_message: Subscriber, stop: threading.Event, *,
               on_connect: Callable[[], None] | None = None, poll: float = 0.25) -> None:
        """Block until `stop` is set, keeping the connection open and handing every
        unsolicited message to `on_message`. Reconnects with backoff after the router closes or
        cannot be reached; `on_connect` runs after each (re)connection, when a snapshot should
        be re-read because updates may have been missed. Other threads may `execute()` on this
        client meanwhile: their `.U`s reach `on_message` too."""
        self.subscribe(on_message)
        backoff = 0.5
        outage_logged = False
        connected_at = time.monotonic()
        try:
            while not stop.is_set():
                connected_now = False
                try:
                    with self._conversation():
                        if self._closed:
                            return
                        if self._current_socket() is None:
                            self._connect_persistent()
                            connected_now = True
                            connected_at = time.monotonic()
                        sock = self._sock
                    if connected_now:
                        backoff, outage_logged = 0.5, False
                        if on_connect is not None:
                            on_connect()
                    assert sock is not None
                    try:
                        readable, _, _ = select.select([sock], [], [], poll)
                    except (OSError, ValueError):
                        continue  # another thread replaced the socket: look again
                    if readable:
                        with self._conversation():
                            if self._sock is sock:
                                self._read_available(deque(), [], None, timeout=0)
                except _PeerClosed:
                    with self._conversation():
                        self._drop_connection()
                    if time.monotonic() - connected_at < 1.0:
                        # A router that hangs up at once must not be redialled in a tight loop.
                        stop.wait(backoff)
                        backoff = min(backoff * 2, 10.0)
                except DeviceError as exc:
                    if not outage_logged:
                        logger.warning("Listening to %s: %s; retrying", self.device, exc)
                        outage_logged = True
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
        finally:
            self.unsubscribe(on_message)

    def close(self) -> None:
        with self._conversation():
            self._closed = True
            self._drop_connection()

    # --- persistent style ----------------------------------------------------------------

    def _current_socket(self) -> socket.socket | None:
        if self._sock is not None and self._sock_pid != os.getpid():
            # A forked worker inherited the parent's socket: closing our copy leaves the
            # parent's connection alone.
            self._sock.close()
            self._sock = None
        return self._sock

    def _connect_persistent(self) -> None:
        self._sock = self._open()
        self._sock_pid = os.getpid()
        self._parser = QuartzParser()
        self._garbage_logged = False

    def _drop_connection(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _pipelined(self, commands: list[Command], busy: float) -> list[Outcome]:
        results: list[Outcome | None] = [None] * len(commands)
        remaining = list(range(len(commands)))
        while remaining:
            remaining = self._attempt(commands, remaining, results, busy)
        return results  # type: ignore[return-value]

    def _attempt(self, commands: list[Command], indices: list[int],
                 results: list[Outcome | None], busy: float) -> list[int]:
        """Work through `indices` on one connection. Returns the indices still unanswered when
        the router hung up after answering something (to send again), else []."""
        to_send: deque[int] = deque(indices)
        pending: deque[_Pending] = deque()
        unexpected: list[Message] = []
        reservation: Reservation | None = None
        used = 0
        fresh = False  # the connection was opened by this attempt
        answered = False  # the current connection settled at least one command
        try:
            while to_send or pending:
                if self._current_socket() is None:
                    self._connect_persistent()
                    fresh, answered = True, False
                elif not fresh and not pending:
                    # Before writing on a connection kept from an earlier call: collect what
                    # arrived meanwhile, and find out whether the router has hung up.
                    self._read_available(pending, results, unexpected, timeout=0)

                now = time.monotonic()
                batch: list[int] = []
                free = self.window - len(pending)
                if self.throttle is not None and to_send and (
                    reservation is None or used >= reservation.count
                ):
                    # Refill once a quarter of the window (or the rest of the batch) is free:
                    # fewer database round trips than one per reply, and since no more slots
                    # are reserved than the window has room for, each is used on time.
                    if free >= min(max(1, self.window // 4), len(to_send)):
                        reservation = self.throttle.reserve(
                            min(free, len(to_send)), timeout=busy,
                            command=str(commands[to_send[0]]),
                        )
                        used = 0
                while to_send and len(batch) < free:
                    if self.throttle is not None:
                        if reservation is None or used >= reservation.count:
                            break
                        if reservation.slot_time(used) > now:
                            break
                        used += 1
                    batch.append(to_send.popleft())
                if batch:
                    self._send(b"".join(commands[i].encode() for i in batch))
                    self.counters["commands"] += len(batch)
                    sent_at = time.monotonic()
                    for i in batch:
                        pending.append(_Pending(i, commands[i], sent_at + self.read_timeout))

                wake = pending[0].deadline if pending else math.inf
                if (to_send and reservation is not None and used < reservation.count
                        and len(pending) < self.window):
                    wake = min(wake, reservation.slot_time(used))
                if wake == math.inf:
                    continue  # nothing outstanding and nothing reserved: reserve next round
                if self._read_available(pending, results, unexpected,
                                        timeout=max(0.0, wake - time.monotonic())):
                    answered = True
                self._expire(pending, results, unexpected)
        except _PeerClosed:
            self._drop_connection()
            if fresh and not answered:
                head = pending[0].command if pending else commands[indices[0]]
                raise DeviceUnreachable(
                    f"{self.device} closed the connection before answering {head}",
                    device=self.device, command=str(head),
                ) from None
            return [p.index for p in pending] + list(to_send)
        except BaseException:
            # A half-read conversation cannot be resumed: stale replies would be taken for
            # answers to the next call's commands.
            if pending:
                self._drop_connection()
            raise
        return []

    def _expire(self, pending: deque[_Pending], results: list[Outcome | None],
                unexpected: list[Message]) -> None:
        now = time.monotonic()
        while pending and pending[0].deadline <= now:
            head = pending[0]
            if not may_go_unanswered(head.command):
                self._drop_connection()
                raise self._missing_reply(head.command, unexpected)
            pending.popleft()
            results[head.index] = NoAnswer("silence")

    def _missing_reply(self, command: Command, unexpected: list[Message]) -> DeviceError:
        if unexpected:
            return DeviceProtocolError(
                f"{self.device} answered {command} with something else "
                f"({_describe(unexpected[0])})",
                device=self.device, command=str(command),
            )
        return DeviceTimeout(
            f"{self.device} did not answer {command} within {self.read_timeout:g} s",
            device=self.device, command=str(command),
        )

    def _send(self, data: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(data)
            self.counters["writes"] += 1
        except TimeoutError:
            self._drop_connection()
            raise DeviceTimeout(
                f"{self.device} did not accept commands within {self.read_timeout:g} s",
                device=self.device, command=None,
            ) from None
        except OSError:
            raise _PeerClosed() from None

    def _read_available(self, pending: deque[_Pending], results: list[Outcome | None],
                        unexpected: list[Message] | None, *, timeout: float) -> bool:
        """Wait up to `timeout` for data, read what is there and dispatch it. True when a
        pending command was settled."""
        assert self._sock is not None
        readable, _, _ = select.select([self._sock], [], [], timeout)
        if not readable:
            return False
        try:
            data = self._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            raise _PeerClosed() from None
        if not data:
            raise _PeerClosed()
        return self._dispatch(self._parser.feed(data), pending, results, unexpected)

    def _dispatch(self, messages: list[Message], pending: deque[_Pending],
                  results: list[Outcome | None], unexpected: list[Message] | None) -> bool:
        settled = False
        for message in messages:
            if isinstance(message, Garbage):
                self._log_garbage(message)
                continue
            if isinstance(message, (RouteUpdate, PowerUp)):
                self._notify(message)
                if isinstance(message, PowerUp):
                    continue
            if isinstance(message, Error):
                if pending:
                    head = pending.popleft()
                    results[head.index] = message
                    settled = True
                else:
                    logger.warning("%s sent an error nobody asked for: %s", self.device,
                                   _describe(message))
                continue
            position = _match(pending, message)
            if position is None:
                if not isinstance(message, RouteUpdate) and unexpected is not None:
                    unexpected.append(message)
                continue
            for _ in range(position):
                skipped = pending.popleft()
                results[skipped.index] = NoAnswer("skipped")
            head = pending.popleft()
            results[head.index] = message  # type: ignore[assignment]
            settled = True
        return settled

    # --- one command per connection ------------------------------------------------------

    def _one_per_connection(self, command: Command, busy: float) -> Outcome:
        if self.throttle is not None:
            self.throttle.reserve(1, timeout=busy, command=str(command)).wait(0)
        sock = self._open()
        parser = QuartzParser()
        unexpected: list[Message] = []
        pending = deque([_Pending(0, command, 0.0)])
        results: list[Outcome | None] = [None]
        try:
            try:
                sock.sendall(command.encode())
                self.counters["commands"] += 1
                self.counters["writes"] += 1
            except TimeoutError:
                raise DeviceTimeout(
                    f"{self.device} did not accept {command} within {self.read_timeout:g} s",
                    device=self.device, command=str(command),
                ) from None
            except OSError:
                raise self._closed_early(command) from None
            deadline = time.monotonic() + self.read_timeout
            while results[0] is None:
                wait = deadline - time.monotonic()
                readable, _, _ = select.select([sock], [], [], max(0.0, wait))
                if not readable:
                    if may_go_unanswered(command):
                        return NoAnswer("silence")
                    raise self._missing_reply(command, unexpected)
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    if isinstance(command, SetRoute) or may_go_unanswered(command):
                        return NoAnswer("closed")
                    if unexpected:
                        raise self._missing_reply(command, unexpected)
                    raise self._closed_early(command)
                self._dispatch(parser.feed(data), pending, results, unexpected)
            return results[0]
        finally:
            sock.close()

    def _closed_early(self, command: Command) -> DeviceUnreachable:
        return DeviceUnreachable(
            f"{self.device} closed the connection before answering {command}",
            device=self.device, command=str(command),
        )

    # --- shared --------------------------------------------------------------------------

    def _open(self) -> socket.socket:
        try:
            sock = socket.create_connection((self.host, self.port),
                                            timeout=self.connect_timeout)
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.device} did not accept a connection within {self.connect_timeout:g} s",
                device=self.device, command=None,
            ) from None
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise DeviceUnreachable(
                f"{self.device} is unreachable: {reason}", device=self.device, command=None
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.read_timeout)
        self.counters["connections"] += 1
        return sock

    def _notify(self, message: Message) -> None:
        for callback in self._subscribers:
            try:
                callback(message)
            except Exception:
                # A subscriber's bug must not break the conversation with the router.
                logger.exception("Quartz message subscriber failed on %s", message)

    def _log_garbage(self, message: Garbage) -> None:
        if not self._garbage_logged:
            logger.warning("%s sent an unreadable line (%s): %r; further ones are ignored "
                           "quietly on this connection", self.device, message.reason,
                           message.data[:80])
            self._garbage_logged = True
        else:
            logger.debug("%s: ignored %r (%s)", self.device, message.data[:80], message.reason)


def _match(pending: deque[_Pending], message: Message) -> int | None:
    """Position of the pending command `message` answers; only `.I`s may be skipped over."""
    for position, item in enumerate(pending):
        if accepts(item.command, message):
            return position
        if not may_go_unanswered(item.command):
            return None
    return None


def _describe(message: Message) -> str:
    try:
        return repr(message.encode().rstrip(b"\r").decode("utf-8", "replace"))  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return repr(message)
