"""A Quartz router in a thread: the router of `make run` and of the test suite.

It implements /shared/reference/quartz.md with names, routes and locks in memory, speaks through
the same codec as the client, and can misbehave on demand (faults) so the client's handling of
every field variant is tested over real sockets.

One selector loop serves every connection, so thousands of short connections (the
one-command-per-connection style) cost no threads. Replies are scheduled rather than written
inline: latency delays each reply by the same amount after its command arrived, as a network
or a busy router would, without serialising the pipeline.

Fault switches, settable at run time from any thread:
    latency_ms          delay of every reply
    drop_after          close a connection after it has sent this many commands (None: never)
    fragment            write every reply in small pieces
    garbage             send a garbage line before every reply
    refuse              refuse new connections (the listening socket is closed)
    mute                never answer anything (commands are counted, not executed; with
                        drop_after, the connection still closes after that many)
    list_unsupported    answer `.E` to `.L` (a router without the list command)
    silent_interrogate  never answer `.I` (seen on MAGNUM)
    interrogate_unsupported  answer `.E` to `.I` (a router without the interrogate command)
    unreadable_outputs  outputs whose route the router does not report (a MAGNUM-controlled
                        frame that does not answer for them): `.L` starting at one answers `.E`,
                        a `.L` list stops before the first one, `.I` for one is not answered
                        (`.E` with interrogate_unsupported). Routes still switch and `.U` is
                        still sent for them.
    unreadable_routes   (property) a router that answers neither `.L` nor `.I`, as some
                        MAGNUM-controlled frames do: list_unsupported and silent_interrogate
    reset_mid_reply     write the first half of a reply, then reset the connection (TCP RST),
                        as a router rebooting or a flapping link does
    lock_refusal        "report" (`.BA{out},{state}`) or "error" (`.E`) for a switch on a
                        locked output
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import queue
import random
import selectors
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.quartz.codec import (
    BadCommand,
    CommandParser,
    Error,
    FireSalvo,
    Garbage,
    Interrogate,
    ListRoutes,
    LockCommand,
    LockState,
    NameReply,
    PowerUp,
    ReadName,
    Route,
    Routes,
    RouteUpdate,
    SetRoute,
)

logger = logging.getLogger(__name__)

STYLES = ("persistent", "per_command")
LOCK_REFUSALS = ("report", "error")
MAX_SIZE = 65535  # sources or outputs: the integration settings allow no more
GARBAGE_LINES = (b"\x00\x01\xfe\xff", b"garbage", b".Q?", b"..", b"\x1b[2J", b"RAS1,x")
_FRAGMENT_GAP = 0.0005  # seconds between the pieces of a fragmented reply
_MAX_SECONDS_KEPT = 3600  # per-second command counts kept for stats()

_LISTENER = object()
_WAKE = object()


@dataclass
class _Conn:
    sock: socket.socket
    parser: CommandParser = field(default_factory=CommandParser)
    outbuf: bytearray = field(default_factory=bytearray)
    commands: int = 0
    done: bool = False  # no more commands are taken (per-command answered, or being dropped)
    close_when_flushed: bool = False
    last_due: float = 0.0
    writing: bool = False
    in_flight: int = 0  # commands received whose answer is not written yet
    reset: bool = False  # close with a TCP reset instead of an orderly shutdown


def load_seed(seed: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """A seed is a dict, or a JSON file, of:
    {"sources": {"1": "CAM 1", ...}, "outputs": {"1": "MV1 IN1", ...},
     "routes": {"1": 5, ...}, "locks": {"3": 255, ...}, "salvos": {"1": [[out, src], ...]}}
    Every key is optional. A file that is not JSON, or not of this shape, raises ValueError
    naming the first problem."""
    if seed is None:
        return {}
    if isinstance(seed, dict):
        data: object = seed
    else:
        try:
            with open(seed, encoding="utf-8") as fh:
                data = json.load(fh)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{seed}: not a JSON file ({exc})") from None
    where = "the seed" if isinstance(seed, dict) else str(seed)
    if not isinstance(data, dict):
        raise ValueError(f"{where}: the seed must be a JSON object")
    unknown = set(data) - {"sources", "outputs", "routes", "locks", "salvos"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    for key, value in data.items():
        if not isinstance(value, dict):
            raise ValueError(f"{where}: {key!r} must be an object keyed by number")
        for number, item in value.items():
            _seed_number(number, f"{where}: {key} key {number!r}")
            if key in ("sources", "outputs"):
                if not isinstance(item, str) or "\r" in item or "\n" in item:
                    raise ValueError(f"{where}: {key}[{number}] must be a one-line name")
            elif key == "salvos":
                if not isinstance(item, list) or not all(
                        isinstance(pair, list) and len(pair) == 2 for pair in item):
                    raise ValueError(f"{where}: salvos[{number}] must be a list of "
                                     "[output, source] pairs")
                for output, source in item:
                    _seed_number(output, f"{where}: salvos[{number}] output")
                    _seed_number(source, f"{where}: salvos[{number}] source")
            else:
                _seed_number(item, f"{where}: {key}[{number}]", low=0 if key == "locks" else 1)
                if key == "locks" and int(item) > 255:
                    raise ValueError(f"{where}: locks[{number}] must be 0 to 255")
    return data


def parse_outputs(text: str) -> frozenset[int]:
    """Router numbers from "65-128,200" (ranges and single numbers, comma-separated).
    Raises ValueError naming the first item that is not one."""
    numbers: set[int] = set()
    for item in (part.strip() for part in text.split(",")):
        low, dash, high = item.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise ValueError(f"{item!r} is not a number or a range like 65-128") from None
        if not 1 <= first <= last <= MAX_SIZE:
            raise ValueError(f"{item!r} is not a range of numbers 1 to {MAX_SIZE}")
        numbers.update(range(first, last + 1))
    return frozenset(numbers)


def _seed_number(value: object, what: str, low: int = 1) -> int:
    """A router number of a seed: an int, or its decimal text as JSON object keys are."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{what} must be a whole number of at least {low}, got {value!r}")
    return value


class QuartzEmulator:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        sources: int = 16,
        outputs: int = 16,
        style: str = "persistent",
        latency_ms: float = 0.0,
        seed: dict[str, Any] | str | Path | None = None,
        *,
        eol: bytes = b"\r",
        number_width: int = 0,
        lock_refusal: str = "report",
        random_seed: int = 0,
    ) -> None:
        style = style.replace("-", "_")
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, not {style!r}")
        if not (1 <= sources <= MAX_SIZE and 1 <= outputs <= MAX_SIZE):
            raise ValueError(f"the router has 1 to {MAX_SIZE} sources and outputs")
        if lock_refusal not in LOCK_REFUSALS:
            raise ValueError(f"lock_refusal must be one of {LOCK_REFUSALS}, not {lock_refusal!r}")
        self.host = host
        self.port = port
        self.sources = sources
        self.outputs = outputs
        self.style = style
        self.eol = eol
        self.number_width = number_width

        # Fault switches (see the module docstring); read at the moment they apply.
        self.latency_ms = float(latency_ms)
        self.drop_after: int | None = None
        self.fragment = False
        self.garbage = False
        self.mute = False
        self.list_unsupported = False
        self.silent_interrogate = False
        self.interrogate_unsupported = False
        self.unreadable_outputs: frozenset[int] = frozenset()
        self.reset_mid_reply = False
        self.lock_refusal = lock_refusal
        self._refuse = False

        data = load_seed(seed)
        self._state = threading.Lock()
        self._source_names = {n: f"SRC {n}" for n in range(1, sources + 1)}
        self._output_names = {n: f"DST {n}" for n in range(1, outputs + 1)}
        self._source_names.update({int(k): str(v) for k, v in data.get("sources", {}).items()})
        self._output_names.update({int(k): str(v) for k, v in data.get("outputs", {}).items()})
        self._routes: dict[tuple[str, int], int] = {
            ("V", int(k)): int(v) for k, v in data.get("routes", {}).items()
        }
        self._locks = {int(k): int(v) for k, v in data.get("locks", {}).items()}
        self._salvos = {
            int(k): [(int(o), int(s)) for o, s in v] for k, v in data.get("salvos", {}).items()
        }

        self._random = random.Random(random_seed)
        self._selector: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        # (due, sequence, connection, bytes to write or None to close, answers a command)
        self._timers: list[tuple[float, int, _Conn, bytes | None, bool]] = []
        self._seq = itertools.count()
        self._conns: dict[int, _Conn] = {}

        self._stats_lock = threading.Lock()
        self._per_second: dict[int, int] = {}
        self._totals: Counter[str] = Counter()
        self._recent: deque[float] = deque()  # monotonic arrival times of the last second

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> QuartzEmulator:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._open_listener()
        self._sync_listener()
        self._thread = threading.Thread(
            target=self._run, name=f"quartz-emulator:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wake()
        thread.join(timeout=10)
        self._thread = None
        for conn in list(self._conns.values()):
            self._close(conn)
        self._close_listener()
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        self._timers.clear()

    def __enter__(self) -> QuartzEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # --- run-time controls (any thread) --------------------------------------------------

    @property
    def refuse(self) -> bool:
        return self._refuse

    @property
    def unreadable_routes(self) -> bool:
        """Answers neither `.L` (`.E`) nor `.I` (silence, as MAGNUM; `.E` too with
        interrogate_unsupported)."""
        return self.list_unsupported and (self.silent_interrogate
                                          or self.interrogate_unsupported)

    @unreadable_routes.setter
    def unreadable_routes(self, value: bool) -> None:
        self.list_unsupported = self.silent_interrogate = bool(value)

    @refuse.setter
    def refuse(self, value: bool) -> None:
        """Takes effect before the setter returns, so a test can connect right after."""
        self._refuse = bool(value)
        if self._thread is not None:
            self._call_and_wait(self._sync_listener)

    def set_route(self, output: int, source: int, level: str = "V") -> None:
        """A take from a panel: changes the route and pushes `.U` to every client."""
        def take() -> None:
            with self._state:
                self._routes[(level, output)] = source
            self._broadcast(RouteUpdate(level, output, source), time.monotonic(), exclude=None)

        self._call_and_wait(take)

    def set_lock(self, output: int, state: int) -> None:
        with self._state:
            self._locks[output] = state

    def set_name(self, target: str, number: int, name: str) -> None:
        with self._state:
            (self._source_names if target == "source" else self._output_names)[number] = name

    def route(self, output: int, level: str = "V") -> int:
        with self._state:
            return self._route(level, output)

    def lock_state(self, output: int) -> int:
        with self._state:
            return self._locks.get(output, 0)

    def power_up(self) -> None:
        """Send `.P` to every client, as a router does after a restart."""
        self._call_and_wait(
            lambda: self._broadcast(PowerUp(), time.monotonic(), exclude=None)
        )

    def inject(self, data: bytes) -> None:
        """Raw bytes to every connected client (unsolicited messages, odd encodings)."""
        def send() -> None:
            now = time.monotonic()
            for conn in list(self._conns.values()):
                self._schedule(conn, data, now)

        self._call_and_wait(send)

    def stats(self) -> dict[str, Any]:
        """Commands seen: per epoch-aligned second, the highest such count, and totals."""
        with self._stats_lock:
            per_second = dict(self._per_second)
            totals = dict(self._totals)
        return {
            "commands": totals.get("commands", 0),
            "per_second": per_second,
            "max_per_second": max(per_second.values(), default=0),
            "connections": totals.get("connections", 0),
            "open_connections": len(self._conns),
            "by_command": {k[4:]: v for k, v in totals.items() if k.startswith("cmd:")},
            # The most commands one client had waiting for an answer at once (its window).
            "max_in_flight": totals.get("max_in_flight", 0),
            # The most commands seen in any sliding one-second window (max_per_second counts
            # calendar seconds, which a burst straddling two of them halves).
            "peak_1s_window": totals.get("peak_1s_window", 0),
        }

    def reset_stats(self) -> None:
        with self._stats_lock:
            self._per_second.clear()
            self._totals.clear()
            self._recent.clear()

    # --- loop ----------------------------------------------------------------------------

    def _call_and_wait(self, fn: Callable[[], None]) -> None:
        if self._thread is None or threading.current_thread() is self._thread:
            fn()
            return
        done = threading.Event()

        def call() -> None:
            try:
                fn()
            finally:
                done.set()

        self._calls.put(call)
        self._wake()
        if not done.wait(timeout=10):
            raise RuntimeError("the emulator loop did not respond within 10 s")

    def _wake(self) -> None:
        if self._wake_w is not None:
            # A full wake pipe already guarantees a wake-up.
            with contextlib.suppress(BlockingIOError, OSError):
                self._wake_w.send(b"x")

    def _open_listener(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        assert self._selector is not None
        self._selector.register(sock, selectors.EVENT_READ, _LISTENER)

    def _close_listener(self) -> None:
        if self._listener is not None:
            if self._selector is not None:
                self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None

    def _sync_listener(self) -> None:
        if self._refuse and self._listener is not None:
            self._close_listener()
        elif not self._refuse and self._listener is None:
            self._open_listener()

    def _run(self) -> None:
        assert self._selector is not None
        while not self._stopping.is_set():
            timeout = 0.5
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
            for key, mask in self._selector.select(timeout):
                if key.data is _LISTENER:
                    self._accept()
                elif key.data is _WAKE:
                    self._drain_wake()
                else:
                    conn: _Conn = key.data
                    if mask & selectors.EVENT_READ:
                        self._read(conn)
                    if mask & selectors.EVENT_WRITE and conn.sock.fileno() != -1:
                        self._flush(conn)
            while True:
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
                call()
            self._run_timers()

    def _drain_wake(self) -> None:
        assert self._wake_r is not None
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                continue

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.warning("Quartz emulator %s: accept failed: %s", self.address, exc)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)
            with self._stats_lock:
                self._totals["connections"] += 1

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        now = time.monotonic()
        items = conn.parser.feed(data)
        if items:
            self._count(items)
        for item in items:
            if conn.done:
                break  # a per-command connection takes one command; a dropped one, none
            self._handle(conn, item, now)

    def _count(self, items: list) -> None:
        second = int(time.time())
        now = time.monotonic()
        with self._stats_lock:
            self._per_second[second] = self._per_second.get(second, 0) + len(items)
            self._recent.extend([now] * len(items))
            while self._recent and self._recent[0] <= now - 1:
                self._recent.popleft()
            if len(self._recent) > self._totals["peak_1s_window"]:
                self._totals["peak_1s_window"] = len(self._recent)
            if len(self._per_second) > _MAX_SECONDS_KEPT:
                del self._per_second[min(self._per_second)]
            self._totals["commands"] += len(items)
            for item in items:
                self._totals["cmd:" + type(item).__name__] += 1

    # --- the router ----------------------------------------------------------------------

    def _route(self, level: str, output: int) -> int:
        return self._routes.get((level, output), (output - 1) % self.sources + 1)

    def _handle(self, conn: _Conn, item: object, now: float) -> None:
        conn.commands += 1
        if self.mute:
            # Silent, but still hangs up after `drop_after` commands if asked to.
            if self.drop_after is not None and conn.commands >= self.drop_after:
                conn.done = True
                self._schedule(conn, None, now)
            return
        replies: list = []
        changes: list[RouteUpdate] = []
        with self._state:
            self._execute(item, replies, changes)
        for message in replies:
            self._reply(conn, message, now)
        per_command = self.style == "per_command"
        for update in changes:
            self._broadcast(update, now, exclude=conn if per_command else None)
        if replies or (changes and not per_command):
            conn.in_flight += 1
            with self._stats_lock:
                if conn.in_flight > self._totals["max_in_flight"]:
                    self._totals["max_in_flight"] = conn.in_flight
            # An empty write after the answer marks the moment it has left.
            heapq.heappush(self._timers, (conn.last_due, next(self._seq), conn, b"", True))
        if per_command or (self.drop_after is not None and conn.commands >= self.drop_after):
            conn.done = True
            self._schedule(conn, None, now)

    def _execute(self, item: object, replies: list, changes: list[RouteUpdate]) -> None:
        """Runs one command against the state (caller holds the state lock)."""
        n_src, n_out = self.sources, self.outputs
        if isinstance(item, (BadCommand, Garbage)):
            replies.append(Error())
        elif isinstance(item, ReadName):
            limit, names = (
                (n_src, self._source_names) if item.target == "source"
                else (n_out, self._output_names)
            )
            if item.number > limit:
                replies.append(Error())
                return
            width = 10 if item.long else 8
            name = names.get(item.number, "")[:width].ljust(width)
            replies.append(NameReply(item.target, item.number, name, item.long))
        elif isinstance(item, Interrogate):
            if item.output > n_out or self.interrogate_unsupported:
                replies.append(Error())
            elif not self.silent_interrogate and item.output not in self.unreadable_outputs:
                source = self._route(item.level, item.output)
                replies.append(Routes((Route(item.level, item.output, source),)))
        elif isinstance(item, ListRoutes):
            unreadable = self.unreadable_outputs
            if self.list_unsupported or item.output > n_out or item.output in unreadable:
                replies.append(Error())
                return
            listed = []
            for output in range(item.output, min(item.output + 7, n_out) + 1):
                if output in unreadable:
                    break  # the list stops before an output the router does not report
                listed.append(Route(item.level, output, self._route(item.level, output)))
            replies.append(Routes(tuple(listed)))
        elif isinstance(item, SetRoute):
            if item.output > n_out or item.source > n_src:
                replies.append(Error())
                return
            state = self._locks.get(item.output, 0)
            if state:
                refusal = Error() if self.lock_refusal == "error" else LockState(item.output, state)
                replies.append(refusal)
                return
            for level in item.levels:
                self._routes[(level, item.output)] = item.source
            changes.append(RouteUpdate(item.levels, item.output, item.source))
        elif isinstance(item, LockCommand):
            if item.output > n_out:
                replies.append(Error())
                return
            if item.action == "L":
                self._locks[item.output] = 255
            elif item.action == "U":
                self._locks[item.output] = 0
            replies.append(LockState(item.output, self._locks.get(item.output, 0)))
        elif isinstance(item, FireSalvo):
            salvo = self._salvos.get(item.number)
            if salvo is None:
                replies.append(Error())
                return
            for output, source in salvo:
                if self._locks.get(output, 0):
                    continue
                self._routes[("V", output)] = source
                changes.append(RouteUpdate("V", output, source))

    def _reply(self, conn: _Conn, message: object, now: float) -> None:
        data = message.encode(self.eol, self.number_width)  # type: ignore[attr-defined]
        if self.garbage:
            data = self._random.choice(GARBAGE_LINES) + self.eol + data
        if self.reset_mid_reply:
            conn.done = conn.reset = True
            self._schedule(conn, data[:max(1, len(data) // 2)], now)
            self._schedule(conn, None, now)
            return
        self._schedule(conn, data, now)

    def _broadcast(self, message: RouteUpdate | PowerUp, now: float,
                   exclude: _Conn | None) -> None:
        for conn in list(self._conns.values()):
            if conn is not exclude and not conn.done:
                self._reply(conn, message, now)

    # --- timed writes --------------------------------------------------------------------

    def _schedule(self, conn: _Conn, data: bytes | None, now: float) -> None:
        """Queue bytes (or, with None, the close) for `latency_ms` after `now`, in order."""
        due = max(now + self.latency_ms / 1000.0, conn.last_due)
        if data is not None and self.fragment:
            pieces = []
            i = 0
            while i < len(data):
                size = self._random.randint(1, 4)
                pieces.append(data[i:i + size])
                i += size
            for k, piece in enumerate(pieces):
                heapq.heappush(self._timers, (due + k * _FRAGMENT_GAP, next(self._seq), conn,
                                              piece, False))
            due += (len(pieces) - 1) * _FRAGMENT_GAP
        else:
            heapq.heappush(self._timers, (due, next(self._seq), conn, data, False))
        conn.last_due = due

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, conn, data, answers = heapq.heappop(self._timers)
            if conn.sock.fileno() == -1:
                continue
            if answers:
                conn.in_flight -= 1
            if data is None:
                conn.close_when_flushed = True
            else:
                conn.outbuf += data
            self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        assert self._selector is not None
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._close(conn)
                return
        if conn.outbuf and not conn.writing:
            self._selector.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
            conn.writing = True
        elif not conn.outbuf:
            if conn.writing:
                self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
                conn.writing = False
            if conn.close_when_flushed:
                self._close(conn)

    def _close(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if fd == -1:
            return
        self._conns.pop(fd, None)
        if self._selector is not None:
            # Already gone from the selector: closing is all that is left.
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.sock)
        conn.done = True
        if conn.reset:
            with contextlib.suppress(OSError):
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sock.close()
