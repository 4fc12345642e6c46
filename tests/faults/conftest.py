"""The fault matrix: every way the router, the frame or the database can fail, in one table.

Each `Fault` says how to break a device (`inject`), how to mend it (`recover`) and what the
system must answer meanwhile: the DeviceError class with its HTTP status and error code, or None
when the fault is absorbed (the request succeeds). The tests in this folder run every row through
the device services, a refresh run and the control API.

The devices are the state tests' emulators (tests/state/conftest.py): a 4-multiviewer NEXX frame
(API key) and a 32 x 128 Quartz router, with the integration settings pointing at them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from devices.errors import (
    DeviceAuthError,
    DeviceBusy,
    DeviceError,
    DeviceProtocolError,
    DeviceRefused,
    DeviceTimeout,
    DeviceUnreachable,
    OutputLocked,
    TooManyParameters,
)
from devices.nexx.client import DeviceServerError
from devices.nexx.emulator import NexxEmulator
from tests.fixtures.nexx import point_settings_at
from tests.fixtures.quartz import AnythingRouter
from tests.state.conftest import Devices, make_devices, point_quartz_at  # noqa: F401 - fixture
from tests.support import free_port

QUARTZ, NEXX = "quartz", "nexx"
# Device waits are short here so a timeout row costs well under a second per try.
SHORT_TIMEOUT = 0.3
# The window and output the API rows change (multiviewer 1 shows 4 windows in the emulator).
WINDOW = 2
SOURCE = 9


@dataclass
class Rig:
    """The running devices of one test, and room for a row's extra emulators."""

    devices: Devices
    make_nexx_emulator: Callable[..., NexxEmulator]
    extra: dict = field(default_factory=dict)

    @property
    def nexx(self) -> NexxEmulator:
        return self.extra.get("nexx", self.devices.nexx)

    @property
    def quartz(self):
        return self.devices.quartz


@dataclass(frozen=True)
class Fault:
    name: str  # the row's name in the fault matrix (docs/operations.md)
    device: str  # QUARTZ or NEXX: what the API row changes (a window's source or its PCM bars)
    inject: Callable[[Rig], None]
    recover: Callable[[Rig], None]
    error: type[DeviceError] | None  # None: absorbed, the request succeeds
    status: int  # HTTP status of the API's answer
    code: str | None  # the error shape's "error"
    refresh_says: str | None  # words in the refresh run's error summary (None: the run succeeds)
    prepare: Callable[[Rig], None] | None = None  # before the first (healthy) refresh

    def __str__(self) -> str:
        return self.name


def closed_port() -> int:
    """A port nobody listens on (bound and released: the kernel refuses connections)."""
    return free_port()


# --- Quartz rows ------------------------------------------------------------------------------

def _quartz_refused(rig: Rig) -> None:
    point_quartz_at(rig.quartz, port=closed_port())


def _quartz_back(rig: Rig) -> None:
    point_quartz_at(rig.quartz)


def _quartz_mute(rig: Rig) -> None:
    rig.quartz.mute = True
    point_quartz_at(rig.quartz, read_timeout=SHORT_TIMEOUT)


def _quartz_unmute(rig: Rig) -> None:
    rig.quartz.mute = False
    point_quartz_at(rig.quartz)


def _quartz_reset(rig: Rig) -> None:
    rig.quartz.reset_mid_reply = True


def _quartz_no_reset(rig: Rig) -> None:
    rig.quartz.reset_mid_reply = False


def _quartz_noise(rig: Rig) -> None:
    rig.quartz.garbage = True


def _quartz_no_noise(rig: Rig) -> None:
    rig.quartz.garbage = False


def _quartz_garbage_only(rig: Rig) -> None:
    router = AnythingRouter()
    router.reply = b"\x00\x01GARBAGE\xfe\xff\r"  # noise on every command, nothing else
    rig.extra["garbage_router"] = router
    point_quartz_at(rig.quartz, port=router.port, read_timeout=SHORT_TIMEOUT)


def _quartz_garbage_gone(rig: Rig) -> None:
    rig.extra.pop("garbage_router").stop()
    point_quartz_at(rig.quartz)


def _quartz_fewer_sources(rig: Rig) -> None:
    # The router loses the upper sources (a card pulled): it answers `.E` for them, while the
    # settings still list them.
    rig.extra["sources"] = rig.quartz.sources
    rig.quartz.sources = SOURCE - 1


def _quartz_sources_back(rig: Rig) -> None:
    rig.quartz.sources = rig.extra.pop("sources")


def _quartz_routes_unreadable(rig: Rig) -> None:
    # Some MAGNUM-controlled frames: `.E` to `.L`, no answer to `.I`; switching still works.
    rig.quartz.unreadable_routes = True
    point_quartz_at(rig.quartz, read_timeout=SHORT_TIMEOUT)


def _quartz_routes_readable(rig: Rig) -> None:
    rig.quartz.unreadable_routes = False
    point_quartz_at(rig.quartz)


def _quartz_locked(rig: Rig) -> None:
    from devices.models import Multiviewer

    output = Multiviewer.objects.get(nexx_index=0).output_for_window(WINDOW)
    rig.quartz.set_lock(output, 255)


def _quartz_unlocked(rig: Rig) -> None:
    from devices.models import Multiviewer

    output = Multiviewer.objects.get(nexx_index=0).output_for_window(WINDOW)
    rig.quartz.set_lock(output, 0)


# --- NEXX rows --------------------------------------------------------------------------------

def _nexx_refused(rig: Rig) -> None:
    point_settings_at(rig.nexx, base_url=f"http://127.0.0.1:{closed_port()}/v.api/apis/")


def _nexx_back(rig: Rig) -> None:
    point_settings_at(rig.nexx)


def _nexx_fault(name: str) -> Callable[[Rig], None]:
    def inject(rig: Rig) -> None:
        rig.nexx.set_fault(name)
    return inject


def _nexx_hang(rig: Rig) -> None:
    rig.nexx.hang_seconds = 2.0
    rig.nexx.set_fault("timeout")
    point_settings_at(rig.nexx, timeout=SHORT_TIMEOUT)


def _nexx_clear(rig: Rig) -> None:
    rig.nexx.clear_faults()
    point_settings_at(rig.nexx)


def _nexx_jwt_frame(rig: Rig) -> None:
    frame = rig.make_nexx_emulator(auth="jwt", multiviewers=rig.devices.nexx.multiviewers)
    rig.extra["nexx"] = frame
    point_settings_at(frame)


def _nexx_expire_jwt(rig: Rig) -> None:
    rig.nexx.expire_tokens()


def _nexx_expire_jwt_and_password(rig: Rig) -> None:
    rig.nexx.expire_tokens()
    rig.extra["password"] = rig.nexx.jwt_password
    rig.nexx.jwt_password = "changed on the frame"  # noqa: S105 - the emulator's


def _nexx_password_back(rig: Rig) -> None:
    rig.nexx.jwt_password = rig.extra.pop("password")


def _nothing(rig: Rig) -> None:
    return None


FAULTS = [
    Fault("Quartz refused", QUARTZ, _quartz_refused, _quartz_back,
          DeviceUnreachable, 502, "device_unreachable", "unreachable"),
    Fault("Quartz timeout", QUARTZ, _quartz_mute, _quartz_unmute,
          DeviceTimeout, 504, "device_timeout", "did not answer"),
    Fault("Quartz reset mid-reply", QUARTZ, _quartz_reset, _quartz_no_reset,
          DeviceUnreachable, 502, "device_unreachable", "closed the connection"),
    Fault("Quartz garbage between replies", QUARTZ, _quartz_noise, _quartz_no_noise,
          None, 200, None, None),
    Fault("Quartz garbage instead of replies", QUARTZ, _quartz_garbage_only,
          # Noise is skipped as it comes, so a router saying nothing else has not answered.
          _quartz_garbage_gone, DeviceTimeout, 504, "device_timeout", "did not answer"),
    Fault("Quartz .E", QUARTZ, _quartz_fewer_sources, _quartz_sources_back,
          DeviceRefused, 502, "device_refused", "with .E"),
    Fault("Quartz locked output", QUARTZ, _quartz_locked, _quartz_unlocked,
          OutputLocked, 409, "output_locked", None),
    Fault("Quartz answers neither .L nor .I", QUARTZ, _quartz_routes_unreadable,
          # Switches work; a refresh cannot read the routes: partial, the routes kept.
          _quartz_routes_readable, None, 200, None, "answered neither .L nor .I"),
    Fault("NEXX refused", NEXX, _nexx_refused, _nexx_back,
          DeviceUnreachable, 502, "device_unreachable", "unreachable"),
    Fault("NEXX timeout", NEXX, _nexx_hang, _nexx_clear,
          DeviceTimeout, 504, "device_timeout", "did not answer"),
    Fault("NEXX HTTP 500", NEXX, _nexx_fault("http_500"), _nexx_clear,
          DeviceServerError, 502, "device_refused", "HTTP 500"),
    Fault("NEXX malformed JSON", NEXX, _nexx_fault("malformed_json"), _nexx_clear,
          DeviceProtocolError, 502, "device_protocol_error", "malformed"),
    Fault("NEXX 40-parameter error", NEXX, _nexx_fault("too_many_parameters"), _nexx_clear,
          TooManyParameters, 502, "device_too_many_parameters", "more than 40 parameters"),
    Fault("NEXX expired JWT", NEXX, _nexx_expire_jwt, _nothing,
          None, 200, None, None, prepare=_nexx_jwt_frame),
    Fault("NEXX expired JWT, new one refused", NEXX, _nexx_expire_jwt_and_password,
          _nexx_password_back, DeviceAuthError, 502, "device_auth_failed",
          "rejected the credentials", prepare=_nexx_jwt_frame),
    Fault("NEXX rate-limit error", NEXX, _nexx_fault("rate_limited"), _nexx_clear,
          DeviceBusy, 503, "device_busy", "overloaded"),
]


@pytest.fixture
def rig(transactional_db, make_devices, make_nexx_emulator):  # noqa: F811 - the fixture
    made = Rig(make_devices(), make_nexx_emulator)
    try:
        yield made
    finally:
        router = made.extra.pop("garbage_router", None)
        if router is not None:
            router.stop()


def cached_state() -> dict:
    """Everything the control page shows, without the times (a refresh rewrites those)."""
    from devices.models import Source
    from state.models import MultiviewerState, RoutingState, WindowState

    return {
        "multiviewers": list(MultiviewerState.objects.order_by("multiviewer__nexx_index")
                             .values_list("multiviewer__nexx_index", "layout", "font",
                                          "outer_border", "inner_border", "output_format")),
        "windows": list(WindowState.objects.order_by("multiviewer__nexx_index", "window_index")
                        .values_list("multiviewer__nexx_index", "window_index", "pcm_bars",
                                     "umd")),
        "routes": list(RoutingState.objects.order_by("output")
                       .values_list("output", "input", "output_label")),
        "sources": list(Source.objects.order_by("quartz_input")
                        .values_list("quartz_input", "label")),
    }


def refresh_now():
    """A refresh run executed here, as `manage.py refresh` does."""
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    assert not ticket.joined
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None
    return outcome
