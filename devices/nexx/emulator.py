"""A NEXX frame in a thread: the frame of `make run` and of the test suite.

It serves the EV API of /shared/reference/nexx-ev-api.md over HTTP — GET/SET in path and query
forms, the BT JWT calls, every varid of the catalog — with state in memory, speaking through the
same codec and catalog as the client. Device errors (too many parameters, unknown ids, values
outside the catalog) come as `{"error": …}` with HTTP `error_status` (200 by default, as many
frames do); credentials failures with HTTP `auth_error_status` (401).

    with NexxEmulator(auth="jwt", reply_format="list", max_rps=9) as frame:
        frame.base_url                  # http://127.0.0.1:PORT/v.api/apis/
        frame.get("2704.0")             # raw device value, "0"
        frame.set_fault("http_500", times=2)
        frame.stats()["max_per_second"]

Fault switches, settable at run time from any thread (`set_fault(name, times=None)`;
times None = every request until `clear_faults()`):
    http_500         answer HTTP 500 with an HTML body
    timeout          hold the request `hang_seconds`, then close without answering
    malformed_json   answer HTTP 200 with a truncated JSON document
    drop_connection  close the connection without answering
    too_many_parameters  refuse with the frame's 40-parameter error (whatever the request held)
    rate_limited     answer HTTP 503 "Too many requests", as the frame does over its limit
Over HTTP: GET /_emulator/stats, GET /_emulator/faults?http_500=2 (0 clears, -1 always),
GET /_emulator/reset (stats).

Change notifications (devices/nexx/notify.py): EV/SERVERSTATUS, EV/SERVERADD, EV/NOTIFYADD and
EV/SERVERDEL keep receivers and their subscriptions (in `state_file` too, when given, so they
outlive a restart of the emulator as they outlive a restart of the frame); every change of a
subscribed parameter — through EV/SET, or "on the frame" through `set()` / `panel()` or
GET /_emulator/panel?2709.0.0.0=HELLO, as the frame's own panel would — goes to each receiver
subscribed to it as a UDP datagram. Their faults, settable at run time (attributes, or
GET /_emulator/notify?drop=0.5&duplicate=0&reorder=0&delay_ms=0&max_subscriptions=none):
    notify_drop       share of datagrams never sent (0..1)
    notify_duplicate  share sent twice
    notify_reorder    share held back and sent after the next one to the same receiver
    notify_delay_ms   delay of every datagram
    max_subscriptions NOTIFYADD refused once the frame holds this many subscriptions
    reboot()          forget every receiver (GET /_emulator/reboot), as a frame restart may
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import itertools
import json
import logging
import os
import random
import secrets
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote

from devices.nexx import codec, notify
from devices.nexx.catalog import (
    LAYERS_PER_WINDOW,
    MAX_MULTIVIEWERS,
    MAX_PARAMETERS_PER_REQUEST,
    PARAMETERS,
    WINDOWS_PER_MULTIVIEWER,
    InvalidParameterId,
    InvalidParameterValue,
    Scope,
    param_id,
    parse_param_id,
)
from devices.nexx.layouts import default_layouts

logger = logging.getLogger(__name__)

API_BASE = "/v.api/apis/"
CONTROL_BASE = "/_emulator/"
AUTH_MODES = ("none", "api-key", "jwt")
FAULTS = ("http_500", "timeout", "malformed_json", "drop_connection", "too_many_parameters",
          "rate_limited")
DEFAULT_API_KEY = "emulator-api-key"  # noqa: S105 - the emulator's own demo credential
_SECONDS_KEPT = 600

_STATE_SAVE_EVERY = 0.5  # seconds: subscriptions come one request each, the file is written less
_REORDER_HOLD = 1.0  # seconds a datagram held back for reordering waits for the next one
_NOTIFY_CALLS = {codec.ServerStatus: "EV/SERVERSTATUS", codec.ServerAdd: "EV/SERVERADD",
                 codec.NotifyAdd: "EV/NOTIFYADD", codec.ServerDel: "EV/SERVERDEL"}


@dataclass
class _Receiver:
    """A receiver registered with the emulated frame; `parameters` in subscription order."""

    id: str
    name: str
    ip: str
    port: int
    protocol: str
    parameters: dict[str, None] = field(default_factory=dict)

    def public(self) -> notify.Receiver:
        return notify.Receiver(self.id, self.name, self.ip, self.port, self.protocol,
                               frozenset(self.parameters))


# Operator layouts (1..43) given to multiviewers in turn: a frame in use has a mix.
_DEMO_LAYOUTS = (1, 2, 36, 3, 5, 12, 41, 37, 43, 4, 28, 20, 11, 42, 31, 16)
_DEMO_LABELS = ("CAM 1", "CAM 2", "CAM 3", "CAM 4", "CAM 5", "CAM 6", "JIB", "STEADI",
                "VT 1", "VT 2", "GFX", "PGM", "PVW", "REPLAY", "SAT 1", "CLEAN FEED")


class NexxEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, multiviewers: int = 24, *,
                 auth: str = "none", reply_format: str = "keyed", latency_ms: float = 0,
                 max_rps: float | None = None, api_key: str = DEFAULT_API_KEY,
                 jwt_user: str = "admin", jwt_password: str = "admin",  # noqa: S107
                 jwt_lifespan: float = 4500, jwt_role: str = "administrator",
                 error_status: int = 200, auth_error_status: int = 401,
                 hang_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 tls_certfile: str | None = None, tls_keyfile: str | None = None,
                 state_file: str | Path | None = None, max_subscriptions: int | None = None,
                 notify_drop: float = 0.0, notify_duplicate: float = 0.0,
                 notify_reorder: float = 0.0, notify_delay_ms: float = 0.0,
                 notify_seed: int | None = None, notify_method: str = "notify") -> None:
        """`clock` (monotonic seconds) drives JWT expiry and the max_rps window; with
        `tls_certfile`/`tls_keyfile` the frame speaks HTTPS, as installations with self-signed
        certificates do. `state_file` keeps the receivers and their subscriptions across
        restarts; the notify_* options and `max_subscriptions` are the notification faults (see
        the module's docstring), `notify_seed` makes their choices repeatable."""
        if not 1 <= multiviewers <= MAX_MULTIVIEWERS:
            raise ValueError(f"multiviewers must be 1..{MAX_MULTIVIEWERS}")
        auth = auth.replace("_", "-")
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}")
        if reply_format not in codec.REPLY_FORMATS:
            raise ValueError(f"reply_format must be one of {', '.join(codec.REPLY_FORMATS)}")
        if max_rps is not None and max_rps <= 0:
            raise ValueError("max_rps must be positive")
        self.host = host
        self._requested_port = port
        self.multiviewers = multiviewers
        self.auth = auth
        self.reply_format = reply_format
        self.latency_ms = latency_ms
        self.max_rps = max_rps
        self.api_key = api_key
        self.jwt_user = jwt_user
        self.jwt_password = jwt_password
        self.jwt_lifespan = jwt_lifespan
        self.jwt_role = jwt_role
        self.error_status = error_status
        self.auth_error_status = auth_error_status
        self.hang_seconds = hang_seconds
        self.clock = clock
        self.tls_certfile = tls_certfile
        self.tls_keyfile = tls_keyfile
        self._lock = threading.RLock()
        self._state: dict[str, str] = {}
        self._tokens: dict[str, float] = {}  # token → expiry (clock seconds)
        self._faults: dict[str, int | None] = {}
        self._arrivals: deque[float] = deque()  # clock times of the last second's requests
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.recent_requests: deque[str] = deque(maxlen=1000)  # request targets, newest last
        # Change notifications.
        self.state_file = Path(state_file) if state_file else None
        self.max_subscriptions = max_subscriptions
        self.notify_drop = notify_drop
        self.notify_duplicate = notify_duplicate
        self.notify_reorder = notify_reorder
        self.notify_delay_ms = notify_delay_ms
        self.notify_method = notify_method
        self._receivers: dict[str, _Receiver] = {}
        self._next_receiver = 1
        self._rng = random.Random(notify_seed)
        self._out = threading.Condition()  # guards what follows (after self._lock, never before)
        self._outbox: list[tuple[float, int, tuple[str, int], bytes]] = []  # heap by due time
        self._out_seq = itertools.count()
        self._held: dict[tuple[str, int], tuple[bytes, int, float]] = {}
        self._notify_counts: Counter[str] = Counter()
        self._udp: socket.socket | None = None
        self._sender: threading.Thread | None = None
        self._state_dirty = False
        self._reset_state()
        self._load_receivers()
        self.reset_stats()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> NexxEmulator:
        emulator = self

        class Handler(_Handler):
            frame = emulator

        server = _Server((self.host, self._requested_port), Handler)
        if self.tls_certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls_certfile, self.tls_keyfile)
            # The handshake runs in the connection's thread, not in the accept loop.
            server.socket = context.wrap_socket(server.socket, server_side=True,
                                                do_handshake_on_connect=False)
        self._server = server
        # Datagrams leave from the frame's own address, as a frame's do.
        udp = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                            socket.SOCK_DGRAM)
        udp.bind((self.host, 0))
        self._udp = udp
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"nexx-emulator-{self.port}", daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send_datagrams,
                                        name=f"nexx-emulator-{self.port}-notify", daemon=True)
        self._sender.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for sock in connections:  # keep-alive connections would otherwise outlive the server
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)
        with self._out:
            self._out.notify_all()
        if self._sender is not None:
            self._sender.join(5)
        if self._udp is not None:
            self._udp.close()
        self.save_state()

    def __enter__(self) -> NexxEmulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return self._server.server_address[1]

    @property
    def scheme(self) -> str:
        return "https" if self.tls_certfile else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{API_BASE}"

    @property
    def stats_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{CONTROL_BASE}stats"

    # --- state -----------------------------------------------------------------------------

    def get(self, pid: str) -> str:
        """The raw device value of a parameter id (KeyError for unknown ones)."""
        with self._lock:
            return self._state[pid]

    def set(self, pid: str, value: str | int) -> None:
        """Set a raw device value directly (no validation), as the frame's own panel would:
        receivers subscribed to it are told."""
        with self._lock:
            if pid not in self._state:
                raise KeyError(pid)
            changed = self._state[pid] != str(value)
            self._state[pid] = str(value)
            self._recount_enabled()
            if changed:
                self._notify([(pid, str(value))])

    def panel(self, values: dict[str, str]) -> dict[str, str]:
        """Change values "on the frame" (raw device values, checked as the frame's panel would
        check them: layout 0..42, PCM index 0..6, text); ValueError naming every problem and
        nothing changed. Subscribed receivers are told. The values set."""
        problems: list[str] = []
        checked: dict[str, str] = {}
        for pid, value in values.items():
            problem = self._resolve(pid)
            if problem is None and not parse_param_id(pid).parameter.readable:
                problem = f"{pid} is write-only"
            if problem is not None:
                problems.append(problem)
                continue
            try:
                checked[parse_param_id(pid).id] = parse_param_id(pid).parameter.check_device(
                    value, name=pid)
            except InvalidParameterValue as exc:
                problems.append(exc.detail)
        if problems:
            raise ValueError("; ".join(problems))
        with self._lock:
            changed = [(pid, v) for pid, v in checked.items() if self._state.get(pid) != v]
            self._state.update(checked)
            self._recount_enabled()
            self._notify(changed)
        return checked

    def values(self) -> dict[str, str]:
        with self._lock:
            return dict(self._state)

    def expire_tokens(self) -> None:
        """Make every JWT issued so far expire now."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = self.clock() - 1

    def _reset_state(self) -> None:
        state: dict[str, str] = {}
        layouts = default_layouts()
        for p in PARAMETERS:
            if p.scope is Scope.FRAME and p.readable:
                state[param_id(p)] = "0"
        state["2700"] = str(MAX_MULTIVIEWERS)
        state["2701"] = str(self.multiviewers)
        state[param_id("timecode_source")] = "1"
        for n in (1, 2, 3, 4):
            state[param_id(f"global_atc_{n}_source")] = str(n - 1)
        for mv in range(self.multiviewers):
            layout = _DEMO_LAYOUTS[mv % len(_DEMO_LAYOUTS)]
            geometry = layouts[layout].windows
            mvs = {
                "enable": "0" if mv % 8 == 7 else "1",  # a few heads switched off
                "layout": str(layout - 1),
                "font": str(mv % 3),
                "output_format": "1" if mv % 5 == 4 else "0",
                "outer_border": "2",
                "inner_border": "1",
            }
            for key, value in mvs.items():
                state[param_id(key, mv)] = value
            for window in range(WINDOWS_PER_MULTIVIEWER):
                label = _DEMO_LABELS[(window + mv) % len(_DEMO_LABELS)]
                state[param_id("source", mv, window)] = str(mv * WINDOWS_PER_MULTIVIEWER
                                                            + window + 1)
                state[param_id("source_label", mv, window)] = label
                state[param_id("pcm_bars", mv, window)] = str((mv + window) % 7)
                rect = geometry[window] if window < len(geometry) else None
                for layer in range(LAYERS_PER_WINDOW):
                    x, y = _umd_position(rect, layer)
                    layer_values = {
                        "type": ("1", "2" if window % 3 == 0 else "0",
                                 "3" if window == 0 else "0")[layer],
                        "text": label if layer == 0 else "",
                        "box_colour": "0",
                        "box_alpha": "2",
                        "x": str(x),
                        "y": str(y),
                        "text_colour": "6",
                        "text_alpha": "3",
                        "text_size": "1",
                        "padding": "1",
                    }
                    for key, value in layer_values.items():
                        state[param_id(key, mv, window, layer)] = value
        with self._lock:
            self._state = state
            self._recount_enabled()

    def _recount_enabled(self) -> None:
        enabled = sum(self._state.get(param_id("enable", mv)) == "1"
                      for mv in range(self.multiviewers))
        self._state["2702"] = str(enabled)

    # --- faults ----------------------------------------------------------------------------

    def set_fault(self, name: str, times: int | None = None) -> None:
        """Misbehave on the next `times` requests (None: every request until cleared)."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; faults are {', '.join(FAULTS)}")
        with self._lock:
            if times == 0:
                self._faults.pop(name, None)
            else:
                self._faults[name] = times

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> dict[str, int | None]:
        with self._lock:
            return dict(self._faults)

    def _take_fault(self) -> str | None:
        with self._lock:
            for name in FAULTS:
                if name in self._faults:
                    remaining = self._faults[name]
                    if remaining is not None:
                        if remaining <= 1:
                            del self._faults[name]
                        else:
                            self._faults[name] = remaining - 1
                    self._served["faults"] += 1
                    return name
        return None

    # --- stats -----------------------------------------------------------------------------

    def reset_stats(self) -> None:
        with self._lock:
            self._per_second: Counter[int] = Counter()
            self._served: Counter[str] = Counter()
            self._by_call: Counter[str] = Counter()
            self._params_per_request: Counter[int] = Counter()
            with self._out:
                self._notify_counts.clear()

    def stats(self) -> dict:
        """Requests seen (all of them, refused ones included) and what they carried; the same
        JSON-ready dict as GET /_emulator/stats (keys of the histograms are strings)."""
        with self._lock:
            now = self.clock()
            while self._arrivals and self._arrivals[0] <= now - 1:
                self._arrivals.popleft()
            histogram = dict(sorted(self._params_per_request.items()))
            ev_requests = sum(histogram.values())
            parameters = sum(k * v for k, v in histogram.items())
            return {
                "requests": self._served["requests"],
                "rejected_rate_limit": self._served["rate_limited"],
                "faults_served": self._served["faults"],
                "by_call": dict(self._by_call),
                "per_second": {str(k): v for k, v in sorted(self._per_second.items())},
                "max_per_second": max(self._per_second.values(), default=0),
                "current_rps": len(self._arrivals),
                # The most requests seen in any sliding one-second window (max_per_second counts
                # calendar seconds, which a burst straddling two of them halves).
                "peak_1s_window": self._served["peak_1s_window"],
                "parameters": parameters,
                "parameters_per_request": {str(k): v for k, v in histogram.items()},
                "max_parameters_per_request": max(histogram, default=0),
                "mean_parameters_per_request": parameters / ev_requests if ev_requests else 0.0,
                "jwt_created": self._served["jwt_created"],
                "jwt_refreshed": self._served["jwt_refreshed"],
                "preview_updates": self._served["preview_updates"],
                **self._notify_stats(),
            }

    def _arrive(self, target: str) -> bool:
        """Count a request (and what it carries, whatever happens to it next); False when it
        exceeds max_rps in the last second."""
        try:
            parsed: codec.ParsedRequest | None = codec.parse_request(target, API_BASE)
        except codec.BadRequest:
            parsed = None
        with self._lock:
            if parsed is not None:
                self._count_call(parsed.call, parsed.parameter_count)
            now = self.clock()
            second = int(time.time())
            self._served["requests"] += 1
            self._per_second[second] += 1
            if len(self._per_second) > _SECONDS_KEPT:
                for old in sorted(self._per_second)[:-_SECONDS_KEPT]:
                    del self._per_second[old]
            while self._arrivals and self._arrivals[0] <= now - 1:
                self._arrivals.popleft()
            self._arrivals.append(now)
            self._served["peak_1s_window"] = max(self._served["peak_1s_window"],
                                                 len(self._arrivals))
            if self.max_rps is not None and len(self._arrivals) > self.max_rps:
                self._served["rate_limited"] += 1
                return False
            return True

    # --- the API ---------------------------------------------------------------------------

    def respond(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, JSON body) for an API request that got past rate limit and faults."""
        try:
            request = codec.parse_request(target, API_BASE)
        except codec.BadRequest as exc:
            return 400, codec.encode_error(f"Bad request: {exc}")
        call = request.call
        if isinstance(call, codec.JwtCreate):
            return self._jwt_create(call)
        if isinstance(call, codec.JwtRefresh | codec.JwtVerify):
            return self._jwt_check(call)
        refused = self._check_credentials(headers, request.credentials)
        if refused is not None:
            return refused
        count = request.parameter_count
        if count > MAX_PARAMETERS_PER_REQUEST:
            return self.error_status, codec.encode_error(
                f"Error: {codec.TOO_MANY_PARAMETERS_TEXT} (got {count})")
        if isinstance(call, codec.EvGet):
            return self._get(call)
        if isinstance(call, codec.EvSet):
            return self._set(call)
        return self._receiver_call(call)

    def _count_call(self, call: codec.ApiRequest, parameters: int) -> None:
        names = {codec.EvGet: "EV/GET", codec.EvSet: "EV/SET", codec.JwtCreate: "BT/JWTCREATE",
                 codec.JwtRefresh: "BT/JWTREFRESH", codec.JwtVerify: "BT/JWTVERIFY",
                 **_NOTIFY_CALLS}
        with self._lock:
            self._by_call[names[type(call)]] += 1
            if isinstance(call, codec.EvGet | codec.EvSet):
                self._params_per_request[parameters] += 1

    def _check_credentials(self, headers: dict[str, str],
                           query: dict[str, str]) -> tuple[int, bytes] | None:
        if self.auth == "api-key":
            key = headers.get(codec.API_KEY_HEADER) or query.get(codec.API_KEY_HEADER)
            if key is None or not _same(key, self.api_key):
                return self.auth_error_status, codec.encode_error(
                    "Unauthorized: missing or invalid webeasy-api-key")
        elif self.auth == "jwt":
            token = headers.get(codec.JWT_HEADER) or query.get(codec.JWT_HEADER)
            problem = self._token_problem(token)
            if problem:
                return self.auth_error_status, codec.encode_error(f"Unauthorized: {problem}")
        return None

    def _token_problem(self, token: str | None) -> str | None:
        if not token:
            return "no jwt"
        with self._lock:
            expires = self._tokens.get(token)
            if expires is None:
                return "invalid jwt"
            if self.clock() >= expires:
                return "jwt expired"
        return None

    def _issue_token(self) -> str:
        header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
        payload = base64.urlsafe_b64encode(json.dumps(
            {"username": self.jwt_user, "role": self.jwt_role, "jti": secrets.token_hex(8)}
        ).encode()).rstrip(b"=")
        token = f"{header.decode()}.{payload.decode()}.{secrets.token_urlsafe(24)}"
        with self._lock:
            now = self.clock()
            # Long-expired tokens are forgotten, so a week-long demo does not grow without end.
            for old in [t for t, expiry in self._tokens.items() if expiry < now - 3600]:
                del self._tokens[old]
            self._tokens[token] = now + self.jwt_lifespan
        return token

    def _jwt_reply(self, token: str) -> bytes:
        return codec.encode_jwt(token, username=self.jwt_user, role=self.jwt_role,
                                lifespan=self.jwt_lifespan)

    def _jwt_create(self, call: codec.JwtCreate) -> tuple[int, bytes]:
        if not (_same(call.username, self.jwt_user) and _same(call.password, self.jwt_password)):
            return self.auth_error_status, codec.encode_json(
                {"status": "fail", "message": "Invalid username or password"})
        with self._lock:
            self._served["jwt_created"] += 1
        return 200, self._jwt_reply(self._issue_token())

    def _jwt_check(self, call: codec.JwtRefresh | codec.JwtVerify) -> tuple[int, bytes]:
        problem = self._token_problem(call.token)
        if problem:
            return self.auth_error_status, codec.encode_json(
                {"status": "fail", "message": f"Unauthorized: {problem}"})
        if isinstance(call, codec.JwtVerify):
            return 200, codec.encode_json(
                {"status": "success", "message": "OK",
                 "brief": {"username": self.jwt_user, "userrole": self.jwt_role}})
        with self._lock:
            self._served["jwt_refreshed"] += 1
        return 200, self._jwt_reply(self._issue_token())

    def _resolve(self, pid: str) -> str | None:
        """Why a parameter id cannot be used on this frame, or None."""
        try:
            ref = parse_param_id(pid)
        except InvalidParameterId:
            return f"unknown parameter {pid}"
        if ref.mv is not None and ref.mv >= self.multiviewers:
            return f"multiviewer {ref.mv} is not licensed ({pid})"
        return None

    def _get(self, call: codec.EvGet) -> tuple[int, bytes]:
        problems: list[str] = []
        for pid in call.param_ids:
            problem = self._resolve(pid)
            if problem is None and not parse_param_id(pid).parameter.readable:
                problem = f"{pid} is write-only"
            if problem:
                problems.append(problem)
        if problems:
            return self.error_status, codec.encode_error("Error: " + "; ".join(problems))
        with self._lock:
            values = [(pid, self._state[pid]) for pid in call.param_ids]
        return 200, codec.encode_values(values, self.reply_format,
                                        single=len(call.param_ids) == 1)

    def _set(self, call: codec.EvSet) -> tuple[int, bytes]:
        if self.auth == "jwt" and self.jwt_role == "ro-user":
            return 403, codec.encode_error("Forbidden: permission denied for ro-user")
        problems: list[str] = []
        checked: list[tuple[str, str]] = []
        for pid, value in call.pairs:
            problem = self._resolve(pid)
            if problem:
                problems.append(problem)
                continue
            p = parse_param_id(pid).parameter
            if not p.writable:
                problems.append(f"{pid} is read-only")
                continue
            try:
                checked.append((pid, p.check_device(value, name=pid)))
            except InvalidParameterValue as exc:
                problems.append(f"invalid value for {pid}: {exc.detail}")
        if problems:
            return self.error_status, codec.encode_error("Error: " + "; ".join(problems))
        with self._lock:
            changed: list[tuple[str, str]] = []
            for pid, value in checked:
                if parse_param_id(pid).parameter.readable:
                    if self._state[pid] != value:
                        changed.append((pid, value))
                    self._state[pid] = value
                else:
                    self._served["preview_updates"] += 1
            self._recount_enabled()
            self._notify(changed)
        echo = [(pid, value) for pid, value in checked]
        return 200, codec.encode_values(echo, self.reply_format, single=len(echo) == 1)

    def control(self, target: str) -> tuple[int, bytes]:
        """The emulator's own endpoints (no auth, no rate limit, not counted)."""
        path, _, query = target.partition("?")
        name = path[len(CONTROL_BASE):]
        if name == "stats":
            return 200, json.dumps(self.stats()).encode()
        if name == "reset":
            self.reset_stats()
            return 200, b'{"status": "success"}'
        if name == "faults":
            try:
                for fault, times in parse_qsl(query):
                    count = int(times)
                    self.set_fault(fault, None if count < 0 else count)
            except ValueError as exc:
                return 400, codec.encode_error(str(exc))
            return 200, json.dumps(self.faults).encode()
        if name == "panel":
            try:
                # Raw values, percent-decoded once: "2709.0.0.0=CAM%203" is "CAM 3".
                values = {unquote(k): unquote(v) for k, _, v in
                          (pair.partition("=") for pair in query.split("&") if pair)}
                if not values:
                    raise ValueError("name at least one parameter: ?2709.0.0.0=HELLO")
                return 200, codec.encode_json(self.panel(values))
            except ValueError as exc:
                return 400, codec.encode_error(str(exc))
        if name == "reboot":
            self.reboot()
            return 200, b'{"status": "success"}'
        if name == "receivers":
            return 200, notify.encode_server_status(self.receivers())
        if name == "notify":
            try:
                self._set_notify_faults(parse_qsl(query))
            except ValueError as exc:
                return 400, codec.encode_error(str(exc))
            return 200, json.dumps(self.notify_faults()).encode()
        return 404, codec.encode_error("not found")

    # --- change notifications ------------------------------------------------------------------

    def receivers(self) -> list[notify.Receiver]:
        with self._lock:
            return [r.public() for r in self._receivers.values()]

    def reboot(self) -> None:
        """Forget every receiver and what is on its way to them, as a frame restart may."""
        with self._lock:
            self._receivers.clear()
            self._state_dirty = True
            with self._out:
                self._outbox.clear()
                self._held.clear()
                self._notify_counts["reboots"] += 1

    def notify_faults(self) -> dict:
        return {"drop": self.notify_drop, "duplicate": self.notify_duplicate,
                "reorder": self.notify_reorder, "delay_ms": self.notify_delay_ms,
                "max_subscriptions": self.max_subscriptions}

    def _set_notify_faults(self, pairs: list[tuple[str, str]]) -> None:
        shares = {"drop": "notify_drop", "duplicate": "notify_duplicate",
                  "reorder": "notify_reorder"}
        updates: dict[str, object] = {}
        for key, value in pairs:
            if key in shares:
                share = float(value)
                if not 0 <= share <= 1:
                    raise ValueError(f"{key} is a share from 0 to 1")
                updates[shares[key]] = share
            elif key == "delay_ms":
                updates["notify_delay_ms"] = max(0.0, float(value))
            elif key == "max_subscriptions":
                updates["max_subscriptions"] = (None if value.lower() in ("", "none", "-1")
                                                else int(value))
            else:
                raise ValueError(f"unknown notification fault {key!r}")
        for attribute, value in updates.items():
            setattr(self, attribute, value)

    def _receiver_call(self, call: codec.ApiRequest) -> tuple[int, bytes]:
        with self._lock:
            if isinstance(call, codec.ServerStatus):
                return 200, notify.encode_server_status(self.receivers())
            if isinstance(call, codec.ServerAdd):
                if call.protocol != "udp":
                    return self.error_status, codec.encode_error(
                        f"Error: protocol {call.protocol} is not supported")
                receiver = _Receiver(str(self._next_receiver), call.name, call.ip, call.port,
                                     call.protocol)
                self._next_receiver += 1
                self._receivers[receiver.id] = receiver
                self._state_dirty = True
                return 200, notify.encode_server(receiver.public())
            if isinstance(call, codec.ServerDel):
                if self._receivers.pop(call.server_id, None) is None:
                    return self.error_status, codec.encode_error(
                        f"Error: server {call.server_id} not found")
                self._state_dirty = True
                return 200, b'{"status": "success"}'
            assert isinstance(call, codec.NotifyAdd)
            receiver = self._receivers.get(call.server_id)
            if receiver is None:
                return self.error_status, codec.encode_error(
                    f"Error: server {call.server_id} not found")
            problem = self._resolve(call.param_id)
            if problem is None and not parse_param_id(call.param_id).parameter.readable:
                problem = f"{call.param_id} is write-only"
            if problem is not None:
                return self.error_status, codec.encode_error(f"Error: {problem}")
            pid = parse_param_id(call.param_id).id
            if pid in receiver.parameters:
                return self.error_status, codec.encode_error("Variable exists")
            held = sum(len(r.parameters) for r in self._receivers.values())
            if self.max_subscriptions is not None and held >= self.max_subscriptions:
                return self.error_status, codec.encode_error(
                    f"Error: notification limit reached ({self.max_subscriptions} parameters)")
            receiver.parameters[pid] = None
            self._state_dirty = True
            return 200, b'{"status": "success"}'

    def _notify(self, changed: Iterable[tuple[str, str]]) -> None:
        """Queue datagrams for the receivers subscribed to the changed parameters (called with
        self._lock held, so the datagrams go out in the order of the changes)."""
        changed = list(changed)
        if not changed:
            return
        for receiver in self._receivers.values():
            entries = [(pid, value) for pid, value in changed if pid in receiver.parameters]
            for start in range(0, len(entries), notify.ENTRIES_PER_DATAGRAM):
                self._post((receiver.ip, receiver.port), notify.encode_datagram(
                    entries[start:start + notify.ENTRIES_PER_DATAGRAM],
                    method=self.notify_method))

    def _post(self, address: tuple[str, int], data: bytes) -> None:
        with self._out:
            counts = self._notify_counts
            counts["queued"] += 1
            if self._rng.random() < self.notify_drop:
                counts["dropped"] += 1
                return
            copies = 1
            if self._rng.random() < self.notify_duplicate:
                copies = 2
                counts["duplicated"] += 1
            now = time.monotonic()
            due = now + self.notify_delay_ms / 1000
            held = self._held.pop(address, None)
            if held is None and self._rng.random() < self.notify_reorder:
                self._held[address] = (data, copies, now)  # goes out after the next one
                counts["reordered"] += 1
                return
            for _ in range(copies):
                heapq.heappush(self._outbox, (due, next(self._out_seq), address, data))
            if held is not None:
                for _ in range(held[1]):
                    heapq.heappush(self._outbox, (due, next(self._out_seq), address, held[0]))
            self._out.notify()

    def _send_datagrams(self) -> None:
        last_save = 0.0
        while not self._stopping.is_set():
            due: list[tuple[tuple[str, int], bytes]] = []
            with self._out:
                now = time.monotonic()
                for address, (data, copies, since) in list(self._held.items()):
                    if now - since >= _REORDER_HOLD:  # nothing came after it: let it go
                        del self._held[address]
                        due += [(address, data)] * copies
                while self._outbox and self._outbox[0][0] <= now:
                    _, _, address, data = heapq.heappop(self._outbox)
                    due.append((address, data))
                if not due:
                    wait = 0.1 if not self._outbox else min(0.1, self._outbox[0][0] - now)
                    self._out.wait(max(wait, 0.001))
            for address, data in due:
                try:
                    assert self._udp is not None
                    self._udp.sendto(data, address)
                    sent = "sent"
                except OSError:
                    sent = "failed"  # nobody there, or an address this host cannot reach
                with self._out:
                    self._notify_counts[sent] += 1
            if self._state_dirty and time.monotonic() - last_save >= _STATE_SAVE_EVERY:
                last_save = time.monotonic()
                self.save_state()

    def _notify_stats(self) -> dict:
        with self._out:
            counts = dict(self._notify_counts)
        return {
            "receivers": len(self._receivers),
            "subscriptions": sum(len(r.parameters) for r in self._receivers.values()),
            "datagrams_sent": counts.get("sent", 0),
            "datagrams_dropped": counts.get("dropped", 0),
            "datagrams_duplicated": counts.get("duplicated", 0),
            "datagrams_reordered": counts.get("reordered", 0),
            "datagrams_failed": counts.get("failed", 0),
            "reboots": counts.get("reboots", 0),
        }

    # --- the state file ----------------------------------------------------------------------

    def save_state(self) -> None:
        """Write the receivers and their subscriptions to `state_file` (if any)."""
        if self.state_file is None:
            return
        with self._lock:
            if not self._state_dirty and self.state_file.exists():
                return
            doc = {"next_receiver": self._next_receiver,
                   "receivers": [notify.server_document(r.public()) | {
                       "notify": {"ip": r.ip, "port": r.port, "protocol": r.protocol,
                                  "parameters": list(r.parameters)}}
                       for r in self._receivers.values()]}
            self._state_dirty = False
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        temporary.write_text(json.dumps(doc))
        os.replace(temporary, self.state_file)

    def _load_receivers(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            doc = json.loads(self.state_file.read_text())
            receivers = notify.parse_server_status({"servers": doc["receivers"]})
            order = {str(item["id"]): item["notify"]["parameters"] for item in doc["receivers"]}
            next_receiver = int(doc["next_receiver"])
        except (OSError, ValueError, KeyError, TypeError, codec.ReplyError) as exc:
            raise ValueError(f"the state file {self.state_file} cannot be read: {exc}") from exc
        for r in receivers:
            self._receivers[r.id] = _Receiver(
                r.id, r.name, r.ip, r.port or 0, r.protocol,
                {notify.canonical_id(p): None for p in order.get(r.id, [])})
        self._next_receiver = max(next_receiver, 1 + max(
            (int(i) for i in self._receivers if i.isdigit()), default=0))


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also takes non-ASCII text."""
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _umd_position(rect, layer: int) -> tuple[int, int]:
    """Pixel position of UMD layer boxes: stacked upwards from the bottom left of the window."""
    if rect is None:
        return 0, 0
    x = int(rect.x * 1920) + 8
    y = int((rect.y + rect.h) * 1080) - 36 * (layer + 1)
    return min(max(x, 0), 1919), min(max(y, 0), 1079)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that went away or failed the TLS handshake: its business, not the frame's.
        logger.debug("NEXX emulator connection from %s ended with an error", client_address,
                     exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    frame: NexxEmulator
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's pool expects
    # Headers and body go out in separate writes; with Nagle on, the client's delayed ACK stalls
    # every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    server_version = "NEXX-emulator/1"
    timeout = 60  # an idle keep-alive connection is closed after a minute

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()  # a failed handshake ends this connection only
        super().setup()
        with self.frame._lock:
            self.frame._connections.add(self.connection)

    def finish(self) -> None:
        with self.frame._lock:
            self.frame._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        # Request lines would carry JWTs and user activity; the emulator logs neither.
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        frame = self.frame
        target = self.path
        if target.startswith(CONTROL_BASE):
            self._send(*frame.control(target))
            return
        frame.recent_requests.append(target)
        if not frame._arrive(target):
            self._send(503, codec.encode_error(
                f"Too many requests: the frame accepts at most {frame.max_rps:g} per second"))
            return
        fault = frame._take_fault()
        if fault == "drop_connection":
            self._drop()
            return
        if fault == "timeout":
            frame._stopping.wait(frame.hang_seconds)
            self._drop()
            return
        if frame.latency_ms:
            time.sleep(frame.latency_ms / 1000)
        if fault == "http_500":
            self._send(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                       content_type="text/html")
            return
        if fault == "malformed_json":
            self._send(200, b'{"2700": "120", "2701": ')
            return
        if fault == "too_many_parameters":
            self._send(frame.error_status, codec.encode_error(
                f"Error: {codec.TOO_MANY_PARAMETERS_TEXT} (got {MAX_PARAMETERS_PER_REQUEST + 1})"))
            return
        if fault == "rate_limited":
            self._send(503, codec.encode_error("Too many requests: the frame is over its limit"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, body = frame.respond(target, headers)
        except Exception:
            logger.exception("NEXX emulator failed on a request")
            status, body = 500, codec.encode_error("Internal error")
        self._send(status, body)

    def do_POST(self) -> None:  # noqa: N802
        self._send(405, codec.encode_error("Every EV API call is a GET"))

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
