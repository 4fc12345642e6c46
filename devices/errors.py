"""Typed device errors.

Every failure talking to the Quartz router or the NEXX frame is one of these. Each carries the
device it concerns (e.g. "Quartz router 10.0.0.5:6543"), the command or call that failed, and
the HTTP status and error code the API answers with, so views never decide that themselves.
"""

from __future__ import annotations


class DeviceError(Exception):
    """A device did not do what was asked. `detail` is a sentence for a person."""

    code = "device_error"
    http_status = 502

    def __init__(self, detail: str, *, device: str, command: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.device = device
        self.command = command

    def __str__(self) -> str:
        return self.detail


class DeviceNotConfigured(DeviceError):
    """The integration settings for this device are missing (no host / base URL)."""

    code = "integration_not_configured"
    http_status = 503


class DeviceUnreachable(DeviceError):
    """Connection refused, reset, DNS failure, peer closed before answering."""

    code = "device_unreachable"
    http_status = 502


class DeviceTimeout(DeviceError):
    """The device accepted the connection but did not answer in time."""

    code = "device_timeout"
    http_status = 504


class DeviceBusy(DeviceError):
    """Our own throttle could not give a slot within the caller's timeout, or the device said
    it is overloaded (HTTP 503 / rate-limit reply)."""

    code = "device_busy"
    http_status = 503


class DeviceRefused(DeviceError):
    """The device answered, with an error (Quartz `.E`, NEXX `{"error": ...}`)."""

    code = "device_refused"
    http_status = 502


class OutputLocked(DeviceRefused):
    """A Quartz switch refused because the output (destination) is locked."""

    code = "output_locked"
    http_status = 409


class DeviceAuthError(DeviceError):
    """The device rejected our credentials (API key, JWT user/password)."""

    code = "device_auth_failed"
    http_status = 502


class DeviceProtocolError(DeviceError):
    """The device answered something we cannot parse (malformed JSON, unexpected line)."""

    code = "device_protocol_error"
    http_status = 502


class TooManyParameters(DeviceRefused):
    """NEXX refused a request carrying more than 40 parameters."""

    code = "device_too_many_parameters"
    http_status = 502
