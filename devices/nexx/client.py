"""HTTP client of the NEXX frame's EV API: batching, auth, retries, typed errors.

    client = NexxClient(NexxConfig(base_url="http://10.0.0.20/v.api/apis/", ...),
                        throttle=Throttle(...))
    client.read(["2704.0", "2709.0.0.0"])        # {"2704.0": "4", "2709.0.0.0": "CAM 1"}
    client.write({"2704.0": "5"})

Synchronous, one httpx connection pool per client (the service keeps one client per process).
Every HTTP request, JWT calls included, first takes a slot of the frame's global throttle.
Lists are split into requests of at most 40 parameters. Only reads are retried (a write that
timed out may have been applied; sending it again is the caller's decision). Secrets travel in
headers (API key, JWT) or, for the JWT calls the device defines that way, in the path; they
never appear in an error message.

Background work (the change-notification listener subscribing thousands of parameters) runs
inside `with client.background():` — its requests then yield to everyone else's: each takes a
throttle slot only when the frame's schedule is free right now, so an operator's write that
arrives meanwhile is never queued behind it. The total stays under the configured rate either way.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from devices.errors import (
    DeviceAuthError,
    DeviceBusy,
    DeviceError,
    DeviceProtocolError,
    DeviceRefused,
    DeviceTimeout,
    DeviceUnreachable,
    TooManyParameters,
)
from devices.nexx import codec, notify
from devices.nexx.catalog import (
    MAX_PARAMETERS_PER_REQUEST,
    InvalidParameterId,
    InvalidParameterValue,
    describe,
    parse_param_id,
)

if TYPE_CHECKING:
    # The service hands the client the frame's global throttle (it keeps its schedule in
    # PostgreSQL or Redis); the client itself never reads the database.
    from devices.throttle import Throttle

DEFAULT_JWT_LIFESPAN = 4500.0  # seconds, as seen on the installation's frames
AUTH_MODES = ("none", "api_key", "jwt")


class DeviceOverloaded(DeviceBusy):
    """The frame answered HTTP 503/429: it is overloaded. Reads retry after a pause."""


class DeviceServerError(DeviceRefused):
    """The frame answered an HTTP 5xx without saying why. Reads retry after a pause."""


_RETRYABLE = (DeviceUnreachable, DeviceTimeout, DeviceProtocolError, DeviceOverloaded,
              DeviceServerError)


@dataclass(frozen=True)
class NexxConfig:
    """How to reach the frame (compared by value to notice changed settings)."""

    base_url: str
    auth_mode: str = "none"
    api_key: str = field(default="", repr=False)
    jwt_username: str = ""
    jwt_password: str = field(default="", repr=False)
    verify_tls: bool = True
    requests_per_second: float = 8.0
    timeout: float = 5.0

    def __post_init__(self) -> None:
        mode = self.auth_mode.replace("-", "_")
        if mode not in AUTH_MODES:
            raise ValueError(f"unknown NEXX auth mode {self.auth_mode!r}")
        object.__setattr__(self, "auth_mode", mode)

    @classmethod
    def from_model(cls, settings) -> NexxConfig:
        return cls(base_url=settings.base_url, auth_mode=settings.auth_mode,
                   api_key=settings.api_key, jwt_username=settings.jwt_username,
                   jwt_password=settings.jwt_password, verify_tls=settings.verify_tls,
                   requests_per_second=settings.requests_per_second, timeout=settings.timeout)

    @property
    def device_name(self) -> str:
        return f"NEXX frame {self.base_url}"

    @property
    def api_base(self) -> str:
        return self.base_url if self.base_url.endswith("/") else self.base_url + "/"


@dataclass
class RequestCount:
    """HTTP requests sent while a `count_requests()` block ran (in this thread)."""

    requests: int = 0


@dataclass(frozen=True)
class _Background:
    """How this thread's requests take their slots inside `background()`."""

    cancel: threading.Event | None
    pause: float
    max_wait: float


class NexxClient:
    def __init__(self, config: NexxConfig, *, throttle: Throttle | None,
                 retries: int = 2, backoff: float = 0.2, busy_timeout: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None) -> None:
        """`throttle` None sends unthrottled (unit tests of the client only). `busy_timeout` is
        how long one request may wait for its throttle slot (default: the request timeout).
        `clock` drives JWT renewal (monotonic seconds)."""
        self.config = config
        self.device = config.device_name
        self.throttle = throttle
        self.retries = retries
        self.backoff = backoff
        self.busy_timeout = config.timeout if busy_timeout is None else busy_timeout
        self.clock = clock
        self.http = httpx.Client(
            verify=config.verify_tls,
            timeout=httpx.Timeout(config.timeout),
            headers={"Accept": "application/json"},
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
            follow_redirects=False,
            transport=transport,
        )
        self._count_lock = threading.Lock()
        self._local = threading.local()
        self.requests_sent = 0  # every HTTP request of this client, all threads
        self._jwt_lock = threading.Lock()
        self._jwt: str | None = None
        self._jwt_renew_at = 0.0
        self._jwt_expires_at = 0.0

    # --- public calls --------------------------------------------------------------------

    def read(self, param_ids: Sequence[str]) -> dict[str, str]:
        """Raw device values keyed by parameter id, in requests of at most 40."""
        ids = _unique(param_ids)
        for pid in ids:
            ref = parse_param_id(pid)
            if not ref.parameter.readable:
                raise InvalidParameterId(f"{pid}: {ref.parameter.name} is write-only",
                                         param_id=pid)
        values: dict[str, str] = {}
        for batch in codec.batches(ids):
            command = _command("EV/GET", batch)
            values.update(self._request(
                codec.read_path(batch), command, idempotent=True,
                parse=lambda doc, batch=batch, command=command:
                    self._values(doc, batch, command),
            ))
        return values

    def write(self, values: Mapping[str, str | int]) -> None:
        """Write raw device values, in requests of at most 40. Every id and value is checked
        against the catalog before the first request is sent."""
        pairs: list[tuple[str, str]] = []
        for pid, value in values.items():
            ref = parse_param_id(pid)
            if not ref.parameter.writable:
                raise InvalidParameterId(f"{pid}: {ref.parameter.name} is read-only",
                                         param_id=pid)
            pairs.append((pid, ref.parameter.check_device(value, name=pid)))
        written = 0
        for batch in codec.batches(pairs):
            command = _command("EV/SET", [pid for pid, _ in batch])
            try:
                self._request(codec.write_path(batch), command, idempotent=False,
                              parse=lambda doc, command=command: self._written(doc, command))
            except DeviceError as exc:
                if written:
                    exc.detail += f" ({written} earlier parameters of this write were applied)"
                    exc.args = (exc.detail,)
                raise
            written += len(batch)

    # --- change notifications (devices/nexx/notify.py) ----------------------------------------

    def server_status(self) -> list[notify.Receiver]:
        """The receivers registered with the frame and what each is subscribed to."""
        command = "EV/SERVERSTATUS"
        return self._request(codec.server_status_path(), command, idempotent=True,
                             parse=lambda doc: self._notify_reply(
                                 doc, command, notify.parse_server_status))

    def server_add(self, ip: str, name: str, port: int) -> notify.Receiver:
        """Register a UDP receiver at ip:port under `name`. Not retried: a lost answer may hide
        a registration made, which the caller finds by name in server_status()."""
        command = f"EV/SERVERADD {name} {ip}:{port}/udp"
        return self._request(codec.server_add_path(ip, name, port), command, idempotent=False,
                             parse=lambda doc: self._notify_reply(
                                 doc, command, notify.parse_server_add))

    def notify_add(self, server_id: str, param_id: str) -> bool:
        """Subscribe receiver `server_id` to one parameter instance. True: subscribed now;
        False: it was already ("Variable exists"). Any other refusal is DeviceRefused with the
        frame's text. Retried like a read: asking twice is harmless."""
        ref = parse_param_id(param_id)
        if not ref.parameter.readable:
            raise InvalidParameterId(f"{param_id}: {ref.parameter.name} is write-only",
                                     param_id=param_id)
        command = f"EV/NOTIFYADD {ref.id}"
        return self._request(codec.notify_add_path(server_id, ref.id), command, idempotent=True,
                             parse=lambda doc: self._notify_reply(
                                 doc, command, notify.parse_notify_add))

    def server_del(self, server_id: str) -> None:
        """Remove a receiver and its subscriptions from the frame."""
        command = f"EV/SERVERDEL {server_id}"
        self._request(codec.server_del_path(server_id), command, idempotent=False,
                      parse=lambda doc: self._written(doc, command))

    @contextlib.contextmanager
    def background(self, *, cancel: threading.Event | None = None, pause: float | None = None,
                   max_wait: float = 60.0) -> Iterator[None]:
        """Inside the block this thread's requests yield to everyone else's: each takes a
        throttle slot only when one is free right now, else waits `pause` seconds (default a
        quarter of the slot interval) and asks again. DeviceBusy after `max_wait` seconds
        without a free slot, or at once when `cancel` is set."""
        previous = getattr(self._local, "background", None)
        interval = self.throttle.interval if self.throttle is not None else 0.01
        self._local.background = _Background(
            cancel, max(0.001, interval / 4 if pause is None else pause), max_wait)
        try:
            yield
        finally:
            self._local.background = previous

    def verify_jwt(self) -> bool:
        """Ask the frame whether the current JWT is still valid (False without one)."""
        token = self._jwt
        if self.config.auth_mode != "jwt" or token is None:
            return False
        try:
            self._request(codec.jwt_verify_path(token), "BT/JWTVERIFY", idempotent=True,
                          authenticated=False,
                          parse=lambda doc: self._written(doc, "BT/JWTVERIFY"))
        except (DeviceAuthError, DeviceRefused):
            return False
        return True

    @contextlib.contextmanager
    def count_requests(self) -> Iterator[RequestCount]:
        """Count the HTTP requests this thread sends inside the block (JWT calls included)."""
        counter = RequestCount()
        stack = self._counters()
        stack.append(counter)
        try:
            yield counter
        finally:
            stack.remove(counter)

    def close(self) -> None:
        self.http.close()

    # --- one call: auth, retries ---------------------------------------------------------

    def _request(self, path: str, command: str, *, idempotent: bool,
                 parse: Callable[[object], object], authenticated: bool = True):
        attempts = 1 + (self.retries if idempotent else 0)
        renewed_after_auth_failure = False
        attempt = 0
        while True:
            headers = self._auth_headers(command) if authenticated else {}
            try:
                return parse(self._exchange(path, headers, command))
            except DeviceAuthError:
                if (authenticated and self.config.auth_mode == "jwt"
                        and not renewed_after_auth_failure):
                    renewed_after_auth_failure = True
                    self._forget_jwt(headers.get(codec.JWT_HEADER))
                    continue
                raise
            except _RETRYABLE:
                attempt += 1
                if attempt >= attempts:
                    raise
                time.sleep(self.backoff * 2 ** (attempt - 1))

    def _exchange(self, path: str, headers: dict[str, str], command: str) -> object:
        """One throttled HTTP GET; the parsed JSON document (None for an empty 2xx body)."""
        if self.throttle is not None:
            background = getattr(self._local, "background", None)
            if background is None:
                self.throttle.acquire(1, timeout=self.busy_timeout, command=command)
            else:
                self._acquire_when_free(background, command)
        url = self.config.api_base + path
        self._count()
        try:
            response = self.http.get(url, headers=headers)
        except httpx.ConnectTimeout:
            raise self._error(DeviceUnreachable, f"could not connect for {command} within "
                              f"{self.config.timeout:g} s", command)
        except httpx.TimeoutException:
            raise self._error(DeviceTimeout, f"did not answer {command} within "
                              f"{self.config.timeout:g} s", command)
        except httpx.RemoteProtocolError:
            raise self._error(DeviceUnreachable, f"closed the connection before answering "
                              f"{command}", command)
        except httpx.TransportError as exc:
            reason = _reason(exc)
            if "CERTIFICATE_VERIFY_FAILED" in reason:
                reason = ("its TLS certificate is not trusted; turn off TLS verification in the "
                          "integration settings for a self-signed certificate")
            raise self._error(DeviceUnreachable, f"is unreachable for {command} ({reason})",
                              command)
        return self._interpret(response, command)

    def _acquire_when_free(self, background: _Background, command: str) -> None:
        """A slot only when the schedule is free now (timeout 0: nothing reserved otherwise).
        Whoever else asks meanwhile (an operator's write, a refresh) reserves ahead of us."""
        assert self.throttle is not None
        deadline = time.monotonic() + background.max_wait
        while True:
            if background.cancel is not None and background.cancel.is_set():
                raise self._error(DeviceBusy, f"was not asked {command}: the work was stopped",
                                  command)
            try:
                self.throttle.acquire(1, timeout=0.0, command=command)
                return
            except DeviceBusy:
                if time.monotonic() >= deadline:
                    raise self._error(DeviceBusy, f"is busy: no free slot for background work "
                                      f"({command}) within {background.max_wait:g} s", command)
            if background.cancel is not None:
                background.cancel.wait(background.pause)
            else:
                time.sleep(background.pause)

    def _interpret(self, response: httpx.Response, command: str) -> object:
        status = response.status_code
        body = response.content
        doc: object = None
        malformed: str | None = None
        if body.strip():
            try:
                doc = codec.decode_json(body)
            except codec.MalformedReply as exc:
                malformed = str(exc)
        if 200 <= status < 300:
            if malformed:
                raise self._error(DeviceProtocolError, f"answered {command} with a malformed "
                                  f"reply: {malformed}", command)
            return doc
        text = ""
        try:
            codec.raise_for_error(doc)
        except codec.ErrorReply as exc:
            text = self._scrub(exc.text)
        suffix = f": {text}" if text else ""
        if status in (401, 403):
            raise self._error(DeviceAuthError, f"rejected the credentials for {command} "
                              f"(HTTP {status}){suffix}", command)
        if text and codec.ErrorReply(text).too_many_parameters:
            raise self._error(TooManyParameters, f"refused {command}: more than "
                              f"{MAX_PARAMETERS_PER_REQUEST} parameters in one request", command)
        if status in (429, 503):
            raise self._error(DeviceOverloaded, f"is overloaded (HTTP {status}) and refused "
                              f"{command}{suffix}", command)
        if status >= 500:
            raise self._error(DeviceServerError, f"failed on {command} (HTTP {status})"
                              f"{suffix}", command)
        raise self._error(DeviceRefused, f"refused {command} (HTTP {status}){suffix}", command)

    # --- replies ---------------------------------------------------------------------------

    def _values(self, doc: object, batch: Sequence[str], command: str) -> dict[str, str]:
        try:
            return codec.parse_values(doc, batch)
        except codec.ErrorReply as exc:
            raise self._device_error(exc, command)
        except codec.MalformedReply as exc:
            raise self._error(DeviceProtocolError, f"answered {command} with a malformed "
                              f"reply: {exc}", command)

    def _written(self, doc: object, command: str) -> None:
        try:
            codec.raise_for_error(doc)
        except codec.ErrorReply as exc:
            raise self._device_error(exc, command)

    def _notify_reply(self, doc: object, command: str, parse: Callable[[object], object]):
        try:
            return parse(doc)
        except codec.ErrorReply as exc:
            raise self._device_error(exc, command)
        except codec.MalformedReply as exc:
            raise self._error(DeviceProtocolError, f"answered {command} with a malformed "
                              f"reply: {exc}", command)

    def _device_error(self, exc: codec.ErrorReply, command: str) -> DeviceError:
        text = self._scrub(exc.text)
        if exc.too_many_parameters:
            return self._error(TooManyParameters, f"refused {command}: more than "
                               f"{MAX_PARAMETERS_PER_REQUEST} parameters in one request", command)
        if exc.auth_failure:
            return self._error(DeviceAuthError, f"rejected the credentials for {command}: "
                               f"{text}", command)
        return self._error(DeviceRefused, f"refused {command}: {text}", command)

    # --- auth ------------------------------------------------------------------------------

    def _auth_headers(self, command: str) -> dict[str, str]:
        mode = self.config.auth_mode
        if mode == "api_key":
            return {codec.API_KEY_HEADER: self.config.api_key}
        if mode == "jwt":
            return {codec.JWT_HEADER: self._current_jwt()}
        return {}

    def _current_jwt(self) -> str:
        with self._jwt_lock:
            now = self.clock()
            if self._jwt is not None and now < self._jwt_renew_at:
                return self._jwt
            if self._jwt is not None and now < self._jwt_expires_at:
                try:
                    self._store_jwt(self._request(
                        codec.jwt_refresh_path(self._jwt), "BT/JWTREFRESH", idempotent=True,
                        authenticated=False, parse=self._jwt_reply("BT/JWTREFRESH")))
                    return self._jwt
                except (DeviceAuthError, DeviceRefused, DeviceProtocolError):
                    self._jwt = None  # refresh refused: create a new one below
            self._store_jwt(self._request(
                codec.jwt_create_path(self.config.jwt_username, self.config.jwt_password),
                "BT/JWTCREATE", idempotent=True, authenticated=False,
                parse=self._jwt_reply("BT/JWTCREATE")))
            return self._jwt  # type: ignore[return-value]

    def _jwt_reply(self, command: str) -> Callable[[object], tuple[str, float | None]]:
        def parse(doc: object) -> tuple[str, float | None]:
            try:
                return codec.parse_jwt(doc)
            except codec.ErrorReply as exc:
                raise self._error(DeviceAuthError, f"refused {command} for user "
                                  f"{self.config.jwt_username!r}: {self._scrub(exc.text)}",
                                  command)
            except codec.MalformedReply as exc:
                raise self._error(DeviceProtocolError, f"answered {command} with a malformed "
                                  f"reply: {exc}", command)
        return parse

    def _store_jwt(self, reply: tuple[str, float | None]) -> None:
        token, lifespan = reply
        lifespan = lifespan or DEFAULT_JWT_LIFESPAN
        now = self.clock()
        self._jwt = token
        self._jwt_expires_at = now + lifespan
        # Renew well before the end so a slow, throttled request still carries a valid token.
        self._jwt_renew_at = now + lifespan - min(60.0, lifespan / 5)

    def _forget_jwt(self, token: str | None) -> None:
        with self._jwt_lock:
            if token is None or self._jwt == token:
                self._jwt = None

    # --- helpers -----------------------------------------------------------------------------

    def _error(self, kind: type[DeviceError], what: str, command: str) -> DeviceError:
        return kind(f"{self.device} {what}", device=self.device, command=command)

    def _scrub(self, text: str) -> str:
        for secret in (self.config.api_key, self.config.jwt_password, self._jwt):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    def _counters(self) -> list[RequestCount]:
        stack = getattr(self._local, "counters", None)
        if stack is None:
            stack = self._local.counters = []
        return stack

    def _count(self) -> None:
        with self._count_lock:
            self.requests_sent += 1
        for counter in self._counters():
            counter.requests += 1


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _command(verb: str, ids: Sequence[str]) -> str:
    noun = "parameter" if len(ids) == 1 else "parameters"
    return f"{verb}/{noun} {describe(ids)}"


def _reason(exc: httpx.TransportError) -> str:
    # httpx messages may carry the URL (and a JWT in its path); keep only the OS reason.
    text = str(exc)
    if "/" in text or not text:
        return type(exc).__name__
    return text[:120]


__all__ = ["DeviceOverloaded", "DeviceServerError", "InvalidParameterValue", "NexxClient",
           "NexxConfig", "RequestCount"]
