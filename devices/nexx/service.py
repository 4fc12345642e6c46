"""NexxService: what the rest of the project asks of the NEXX frame.

    service = NexxService.from_settings()
    service.read(["2704.0", "2709.0.2.0"])          # raw: {"2704.0": "4", "2709.0.2.0": "CAM 3"}
    service.read_values(["2704.0", "2719.0.1"])     # operator: {"2704.0": 5, "2719.0.1": 8}
    service.write_values({"2704.0": 12, "2709.0.0.0": "CAM 1"})
    with service.count_requests() as sent:
        service.write({})
    assert sent.requests == 0
    service.server_status()                         # change notifications: the receivers
    with service.background(cancel=stop):           # requests that yield to everyone else's
        service.notify_add(receiver.id, "2704.0")

One service (one httpx connection pool) per process, shared by every thread, re-created when
the integration settings change and after a fork. Every request goes through the frame's
global throttle (`nexx:{base_url}`), so all processes together stay under the configured rate.
Values are checked against the catalog before anything is sent; a reply with a value that
cannot belong to its parameter raises DeviceProtocolError and nothing of it is returned.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from devices.errors import DeviceNotConfigured, DeviceProtocolError
from devices.nexx.catalog import (
    WINDOWS_PER_MULTIVIEWER,
    InvalidParameterValue,
    MalformedValue,
    OperatorValue,
    frame_param_ids,
    multiviewer_param_ids,
    param_id,
    parse_param_id,
)
from devices.nexx.client import NexxClient, NexxConfig, RequestCount
from devices.nexx.notify import Receiver
from devices.throttle import Throttle

if TYPE_CHECKING:
    from devices.models import NexxSettings

_shared_lock = threading.Lock()
_shared: NexxService | None = None
_shared_pid = 0


class NexxService:
    def __init__(self, config: NexxConfig, *, throttle: Throttle | None = None,
                 **client_options) -> None:
        """`throttle` defaults to the frame's global throttle; `client_options` go to
        NexxClient (retries, backoff, busy_timeout, clock)."""
        self.config = config
        self.device = config.device_name
        if throttle is None:
            throttle = Throttle(key=f"nexx:{config.base_url}", rate=config.requests_per_second,
                                device=self.device)
        self.throttle = throttle
        self.client = NexxClient(config, throttle=throttle, **client_options)

    @classmethod
    def from_settings(cls, settings: NexxSettings | None = None) -> NexxService:
        """The process's shared service for the current NexxSettings (`settings`: the row the
        caller read for this same request, to read it once).

        Raises DeviceNotConfigured when no base URL is set."""
        from devices.models import NexxSettings

        if settings is None:
            settings = NexxSettings.load()
        if not settings.configured:
            raise DeviceNotConfigured(
                "The NEXX frame is not configured: set its base URL in the integration settings.",
                device="NEXX frame", command=None,
            )
        config = NexxConfig.from_model(settings)
        global _shared, _shared_pid
        with _shared_lock:
            current, owned = _shared, _shared_pid == os.getpid()
            if current is not None and current.config == config and owned:
                return current
            _shared, _shared_pid = cls(config), os.getpid()
            fresh = _shared
        if current is not None and owned:
            # A forked child leaves its parent's pool alone: the sockets are the parent's.
            current.close()
        return fresh

    # --- raw device values ------------------------------------------------------------------

    def read(self, param_ids: list[str]) -> dict[str, str]:
        """Raw device values keyed by parameter id, read in requests of at most 40."""
        return self.client.read(param_ids)

    def write(self, values: Mapping[str, str | int]) -> None:
        """Write raw device values (layout 0..42, PCM index…), in requests of at most 40."""
        self.client.write(values)

    # --- operator values ---------------------------------------------------------------------

    def read_values(self, param_ids: Iterable[str]) -> dict[str, OperatorValue]:
        """Operator values (layout 1..43, PCM bars, enum indexes, text) keyed by parameter id."""
        ids = list(param_ids)
        raw = self.client.read(ids)
        values: dict[str, OperatorValue] = {}
        bad: list[str] = []
        for pid, value in raw.items():
            try:
                values[pid] = parse_param_id(pid).parameter.from_device(value)
            except MalformedValue as exc:
                bad.append(str(exc))
        if bad:
            raise DeviceProtocolError(
                f"{self.device} answered values that cannot be right: {'; '.join(bad[:5])}"
                + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""),
                device=self.device, command="EV/GET",
            )
        return values

    def write_values(self, values: Mapping[str, object]) -> None:
        """Validate operator values against the catalog (every refusal listed, nothing sent
        when any is refused), convert them and write them."""
        raw: dict[str, str] = {}
        errors: list[InvalidParameterValue] = []
        for pid, value in values.items():
            try:
                raw[pid] = parse_param_id(pid).parameter.to_device(value, name=pid)
            except InvalidParameterValue as exc:
                errors.append(exc)
        if errors:
            raise InvalidParameterValue.combine(errors)
        self.client.write(raw)

    def frame_info(self) -> dict[str, OperatorValue]:
        """Frame-wide values keyed by operator key (chassis_total, licensed, enabled_count, …)."""
        values = self.read_values(frame_param_ids())
        return {parse_param_id(pid).parameter.key: value for pid, value in values.items()}

    def read_multiviewer(self, mv: int, *, window_count: int = WINDOWS_PER_MULTIVIEWER
                         ) -> dict[str, OperatorValue]:
        """Every readable value of multiviewer `mv` (0-based) keyed by parameter id: its own,
        then windows 0..window_count-1 and their UMD layers."""
        return self.read_values(multiviewer_param_ids(mv, window_count=window_count))

    def update_preview(self, mv: int) -> None:
        """Ask the frame to refresh its preview of multiviewer `mv` (0-based)."""
        self.client.write({param_id("update_preview", mv): "1"})

    # --- change notifications ------------------------------------------------------------------

    def server_status(self) -> list[Receiver]:
        """The receivers registered with the frame, each with the parameters it follows."""
        return self.client.server_status()

    def server_add(self, ip: str, name: str, port: int) -> Receiver:
        """Register a UDP receiver of change notifications at ip:port under `name`."""
        return self.client.server_add(ip, name, port)

    def notify_add(self, server_id: str, param_id: str) -> bool:
        """Subscribe a receiver to one parameter (False: it already was). DeviceRefused when
        the frame refuses, with its reason."""
        return self.client.notify_add(server_id, param_id)

    def server_del(self, server_id: str) -> None:
        """Remove a receiver and its subscriptions."""
        self.client.server_del(server_id)

    @contextlib.contextmanager
    def background(self, *, cancel: threading.Event | None = None,
                   max_wait: float = 60.0) -> Iterator[None]:
        """This thread's requests inside the block yield to everyone else's (see
        NexxClient.background): background work never queues ahead of an operator."""
        with self.client.background(cancel=cancel, max_wait=max_wait):
            yield

    # --- request accounting ------------------------------------------------------------------

    @contextlib.contextmanager
    def count_requests(self) -> Iterator[RequestCount]:
        """Count the HTTP requests this thread sends to the frame inside the block."""
        with self.client.count_requests() as counter:
            yield counter

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent by this service since it was created (all threads)."""
        return self.client.requests_sent

    def close(self) -> None:
        self.client.close()


def close_shared_service() -> None:
    """Close the process's shared service (tests, settings changes, shutdown)."""
    global _shared
    with _shared_lock:
        current, _shared = _shared, None
    if current is not None and _shared_pid == os.getpid():
        current.close()
