"""QuartzService: what the rest of the project asks of the router.

    service = QuartzService.from_settings()
    service.source_names()            # {1: "CAM 1", ...}
    service.routes([1, 2, 3])         # {1: 5, 2: 7, 3: None}  (None: the router did not say)
    reading = service.route_reading()  # many routes over several calls (a refresh run)
    service.routes(range(1, 129), reading=reading); reading.problem()
    service.switch(output=12, source=7)

One service (one connection) per process, shared by every thread and re-created when the
integration settings change. Every command goes through the global throttle of the router.
Numbers are checked against the configured sizes before anything is sent.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devices.errors import DeviceError, DeviceNotConfigured, DeviceRefused, OutputLocked
from devices.quartz.client import NoAnswer, QuartzClient, Subscriber
from devices.quartz.codec import (
    Command,
    Error,
    Interrogate,
    ListRoutes,
    LockCommand,
    LockState,
    NameReply,
    ReadName,
    Routes,
    RouteUpdate,
    SetRoute,
    Target,
)
from devices.throttle import Throttle
from mvcontrol.errors import InvalidInput

if TYPE_CHECKING:
    from devices.models import QuartzSettings

LEVEL = "V"  # the project routes video only
LIST_SPAN = 8  # routes per `.L` reply
#: Outputs in a row that got no route by either command (`.L` and `.I`: silence or `.E`) after
#: which a reading stops asking `.I`: the router has shown it will not say. One `.L` span.
GIVE_UP_AFTER = 8


class RouterNumberOutOfRange(InvalidInput, ValueError):
    """A source or output number outside 1..N of the configured router; nothing was sent.

    An InvalidInput, so an API call that passes one on gets the 400 error shape naming the
    field ("source" / "output"), never a server error."""

    def __init__(self, what: str, value: object, maximum: int) -> None:
        detail = f"{what.capitalize()} {value!r} is out of range: the router has {what}s 1 to " \
                 f"{maximum}."
        super().__init__(detail, fields={what: [f"must be 1 to {maximum}"]})
        self.what = what
        self.value = value
        self.maximum = maximum


@dataclass(frozen=True)
class QuartzConfig:
    """The integration settings the service was built from (compared to spot changes)."""

    host: str
    port: int
    connect_timeout: float = 2.0
    read_timeout: float = 2.0
    source_count: int = 1024
    output_count: int = 1024
    commands_per_second: float = 100.0
    max_outstanding: int = 32
    connection_style: str = "persistent"

    @classmethod
    def from_model(cls, settings) -> QuartzConfig:
        return cls(
            host=settings.host,
            port=settings.port,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            source_count=settings.source_count,
            output_count=settings.output_count,
            commands_per_second=settings.commands_per_second,
            max_outstanding=settings.max_outstanding,
            connection_style=settings.connection_style,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def device_name(self) -> str:
        return f"Quartz router {self.address}"


@dataclass
class RouteReading:
    """What the router answered while many routes were read, over one or more `routes()` calls
    (a refresh run reads its outputs in chunks): the evidence for giving up and the sentence
    saying why routes stay unknown.

    `.I` is asked for outputs `.L` did not answer. Once `give_up_after` outputs in a row got no
    route by either command (silence or `.E`), no more `.I` is sent in this reading: the outputs
    left are not asked (unknown). `.L` is still asked where the router supports it, so a router
    that reports some outputs and not others keeps every route it reports through `.L`."""

    device: str
    read_timeout: float
    give_up_after: int = GIVE_UP_AFTER
    read: int = 0  # outputs whose route the router gave (source 0 counts: it answered)
    unanswered: list[int] = field(default_factory=list)  # asked, no route by either command
    not_asked: list[int] = field(default_factory=list)  # after giving up: no `.I` sent
    list_unsupported: bool = False  # the router answers `.L` with `.E` (it lacks the command)
    list_refused: int = 0  # `.L` answered `.E` (where `.L` otherwise works)
    interrogate_silent: int = 0  # `.I` not answered within the read timeout
    interrogate_refused: int = 0  # `.I` answered `.E`
    interrogate_sent: int = 0
    streak: int = 0  # the last `.I`s in a row that got no route (their outputs had none by `.L`)
    gave_up: bool = False

    @property
    def unknown(self) -> list[int]:
        """Outputs the router did not give a route for (asked or not), ascending."""
        return sorted(self.unanswered + self.not_asked)

    def problem(self) -> str | None:
        """One sentence for a person when some routes could not be read, else None: which
        outputs, what the router answered, and how many were not asked."""
        unknown = self.unknown
        if not unknown:
            return None
        why = []
        if self.list_unsupported:
            why.append(".L answered .E")
        elif self.list_refused:
            why.append(f".L answered .E {_times(self.list_refused)}")
        else:
            why.append(".L replies left them out")
        if self.interrogate_silent:
            why.append(f".I unanswered within {self.read_timeout:g} s "
                       f"{_times(self.interrogate_silent)}")
        if self.interrogate_refused:
            why.append(f".I answered .E {_times(self.interrogate_refused)}")
        if self.not_asked:
            why.append(f"asking stopped after {self.give_up_after} outputs in a row got no "
                       f"route, {_plural(len(self.not_asked), 'output')} not asked")
        return (f"{self.device} answered neither .L nor .I for outputs "
                f"{describe_numbers(unknown)} ({'; '.join(why)}): "
                f"{_plural(len(unknown), 'route')} left unknown")

    def settled(self, outputs: Iterable[int]) -> None:
        """These outputs' routes became known otherwise (the router pushed `.U` for them)."""
        known = set(outputs)
        if known:
            self.unanswered = [o for o in self.unanswered if o not in known]
            self.not_asked = [o for o in self.not_asked if o not in known]

    def missed(self, output: int) -> None:
        """`output` got no route by `.L` nor by `.I`."""
        self.unanswered.append(output)
        self.streak += 1
        if self.streak >= self.give_up_after:
            self.gave_up = True


def describe_numbers(numbers: Iterable[int], *, most: int = 6) -> str:
    """"1–16, 33, 40–48" (ascending, ranges with an en dash; "… and N more ranges" past `most`)."""
    ranges: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if ranges and n == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    text = ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges[:most])
    if len(ranges) > most:
        text += f" and {len(ranges) - most} more ranges"
    return text


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


_shared_lock = threading.Lock()
_shared: QuartzService | None = None
_shared_pid = 0


class QuartzService:
    def __init__(self, config: QuartzConfig, *, throttle: Throttle | None = None,
                 on_message: Subscriber | None = None) -> None:
        """`throttle` defaults to the router's global throttle from the config; pass one only
        to measure or test something else (bench/quartz.py)."""
        self.config = config
        self.device = config.device_name
        if throttle is None:
            throttle = Throttle(key=f"quartz:{config.host}:{config.port}",
                                rate=config.commands_per_second, device=self.device)
        self.throttle = throttle
        self.client = QuartzClient(
            config.host, config.port,
            connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
            style=config.connection_style,  # type: ignore[arg-type]
            window=config.max_outstanding, throttle=throttle, on_message=on_message,
            device=self.device,
        )
        # Learned from the router: older ones lack `.L`, some lack 10-character names.
        self._list_supported = True
        self._list_answered = False  # `.L` answered with routes at least once
        self._long_names = True

    @classmethod
    def from_settings(cls, settings: QuartzSettings | None = None) -> QuartzService:
        """The process's shared service for the current QuartzSettings (`settings`: the row
        the caller read for this same request, to read it once).

        Raises DeviceNotConfigured when no router address is set."""
        from devices.models import QuartzSettings

        if settings is None:
            settings = QuartzSettings.load()
        if not settings.configured:
            raise DeviceNotConfigured(
                "The Quartz router is not configured: set its address in the integration "
                "settings.", device="Quartz router", command=None,
            )
        config = QuartzConfig.from_model(settings)
        global _shared, _shared_pid
        with _shared_lock:
            current = _shared
            if current is not None and current.config == config and _shared_pid == os.getpid():
                return current
            _shared, _shared_pid = cls(config), os.getpid()
            fresh = _shared
        if current is not None:
            current.close()  # waits for a call in progress on another thread
        return fresh

    # --- reads ---------------------------------------------------------------------------

    def source_names(self, inputs: Iterable[int] | None = None) -> dict[int, str]:
        """Names of the given sources (default: all), trailing padding removed."""
        return self._names("source", self._numbers(inputs, "source"))

    def output_names(self, outputs: Iterable[int] | None = None) -> dict[int, str]:
        """Names of the given outputs (default: all), trailing padding removed."""
        return self._names("output", self._numbers(outputs, "output"))

    def route_reading(self) -> RouteReading:
        """A reading of many routes, to pass to every `routes()` call of it."""
        return RouteReading(self.device, self.config.read_timeout)

    def routes(self, outputs: Iterable[int] | None = None, *,
               reading: RouteReading | None = None) -> dict[int, int | None]:
        """Source routed to each output (level V); None where the router did not say.

        `.L` first (8 outputs a command), then `.I` for the outputs `.L` did not answer, a few
        at a time; once `reading.give_up_after` outputs in a row got no route by either, no more
        `.I` is sent in that reading (default: a reading of this call alone)."""
        numbers = self._numbers(outputs, "output")
        if reading is None:
            reading = self.route_reading()
        result: dict[int, int | None] = dict.fromkeys(numbers)
        answered: set[int] = set()
        if self._list_supported and numbers:
            starts: list[int] = []
            covered = 0
            for output in numbers:
                if output > covered:
                    starts.append(output)
                    covered = output + LIST_SPAN - 1
            outcomes = self._run([ListRoutes(LEVEL, s) for s in starts])
            refused = sum(isinstance(o, Error) for o in outcomes)
            if refused == len(outcomes) and not self._list_answered:
                # Never answered with routes: the router lacks `.L` (it answers `.E`). One
                # that has listed routes before only does not report these outputs.
                self._list_supported = False
            else:
                reading.list_refused += refused
            for outcome in outcomes:
                if isinstance(outcome, Routes):
                    self._list_answered = True
                    self._take_routes(outcome, result, answered)
        reading.list_unsupported = not self._list_supported
        rest = [o for o in numbers if o not in answered]
        while rest and not reading.gave_up:
            # Routers without `.L` answer it `.E`, and MAGNUM may not answer `.I` at all: ask a
            # few at a time, so a router that will not say costs `give_up_after` of them.
            size = reading.give_up_after - reading.streak
            batch, rest = rest[:size], rest[size:]
            outcomes = self._run([Interrogate(LEVEL, o) for o in batch])
            reading.interrogate_sent += len(batch)
            for output, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Routes):
                    self._take_routes(outcome, result, answered)
                if output in answered:
                    reading.streak = 0
                    continue
                if isinstance(outcome, Error):
                    reading.interrogate_refused += 1
                else:
                    reading.interrogate_silent += 1
                reading.missed(output)
        reading.not_asked.extend(rest)
        reading.read += len(answered)
        return result

    def lock_state(self, output: int) -> int:
        """0 unlocked, 1-254 locked by a panel, 255 locked."""
        self._check(output, "output")
        return self._lock_command(LockCommand("I", output))

    # --- changes -------------------------------------------------------------------------

    def switch(self, output: int, source: int) -> None:
        """Route `source` to `output` (`.SV{output},{source}`). Returns once the router confirmed
        (the matching `.U`, or, one command per connection, the connection closing cleanly).

        Raises OutputLocked, DeviceRefused, DeviceTimeout, DeviceUnreachable, DeviceBusy."""
        self._check(output, "output")
        self._check(source, "source")
        command = SetRoute(LEVEL, output, source)
        outcome = self._run([command])[0]
        if isinstance(outcome, RouteUpdate) or outcome == NoAnswer("closed"):
            return
        if isinstance(outcome, LockState):
            if outcome.locked:
                raise self._locked(command, outcome.state)
            raise DeviceRefused(f"{self.device} refused {command} (lock report "
                                f"{outcome.state} instead of a confirmation)",
                                device=self.device, command=str(command))
        if isinstance(outcome, Error):
            # Some routers refuse a locked output with a bare `.E`: ask which it was.
            try:
                state = self._lock_command(LockCommand("I", output))
            except DeviceError:
                state = 0  # the lock is unknown: report the refusal as the router gave it
            if state:
                raise self._locked(command, state)
            raise self._refused(command, outcome)
        raise DeviceRefused(f"{self.device} did not confirm {command}",
                            device=self.device, command=str(command))

    def lock(self, output: int) -> int:
        self._check(output, "output")
        return self._lock_command(LockCommand("L", output))

    def unlock(self, output: int) -> int:
        self._check(output, "output")
        return self._lock_command(LockCommand("U", output))

    # --- listening and lifetime ----------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """Receive every unsolicited `.U` / `.P` this process's connection sees."""
        self.client.subscribe(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        self.client.unsubscribe(callback)

    def listen(self, on_message: Subscriber, stop: threading.Event, *,
               on_connect: Callable[[], None] | None = None) -> None:
        """Block until `stop` is set, handing every `.U` / `.P` to `on_message`; reconnects by
        itself and calls `on_connect` after each connection (re-read the routes then)."""
        self.client.listen(on_message, stop, on_connect=on_connect)

    def close(self) -> None:
        self.client.close()

    # --- internals -----------------------------------------------------------------------

    def _run(self, commands: list[Command]) -> list:
        return self.client.execute(commands)

    def _numbers(self, numbers: Iterable[int] | None, what: Target) -> list[int]:
        maximum = self._maximum(what)
        if numbers is None:
            return list(range(1, maximum + 1))
        checked = {self._check(n, what) for n in numbers}
        return sorted(checked)

    def _maximum(self, what: Target) -> int:
        return self.config.source_count if what == "source" else self.config.output_count

    def _check(self, number: object, what: Target) -> int:
        maximum = self._maximum(what)
        if (not isinstance(number, int) or isinstance(number, bool)
                or not 1 <= number <= maximum):
            raise RouterNumberOutOfRange(what, number, maximum)
        return number

    def _names(self, target: Target, numbers: list[int]) -> dict[int, str]:
        names: dict[int, str] = {}
        refused: list[tuple[int, Error]] = []
        long = self._long_names
        outcomes = self._run([ReadName(target, n, long) for n in numbers])
        for number, outcome in zip(numbers, outcomes, strict=True):
            if isinstance(outcome, NameReply):
                names[number] = outcome.name.rstrip()
            elif isinstance(outcome, Error):
                refused.append((number, outcome))
        if refused and long:
            # A router without 10-character names: ask for the 8-character ones.
            retry = [n for n, _ in refused]
            outcomes = self._run([ReadName(target, n, False) for n in retry])
            refused = []
            for number, outcome in zip(retry, outcomes, strict=True):
                if isinstance(outcome, NameReply):
                    names[number] = outcome.name.rstrip()
                    self._long_names = False
                elif isinstance(outcome, Error):
                    refused.append((number, outcome))
        if refused:
            number, error = refused[0]
            raise self._refused(ReadName(target, number, False), error)
        return names

    @staticmethod
    def _take_routes(reply: Routes, result: dict[int, int | None], answered: set[int]) -> None:
        for route in reply.routes:
            if route.level == LEVEL and route.output in result:
                # Source 0 is no source: "unknown", like silence.
                result[route.output] = route.source or None
                answered.add(route.output)

    def _lock_command(self, command: LockCommand) -> int:
        outcome = self._run([command])[0]
        if isinstance(outcome, LockState):
            return outcome.state
        if isinstance(outcome, Error):
            raise self._refused(command, outcome)
        raise DeviceRefused(f"{self.device} did not answer {command} with a lock state",
                            device=self.device, command=str(command))

    def _locked(self, command: SetRoute, state: int) -> OutputLocked:
        return OutputLocked(
            f"{self.device} refused {command}: output {command.output} is locked "
            f"(lock state {state})",
            device=self.device, command=str(command),
        )

    def _refused(self, command: Command, error: Error) -> DeviceRefused:
        text = f": {error.text.strip()}" if error.text.strip() else ""
        return DeviceRefused(f"{self.device} refused {command} with .E{text}",
                             device=self.device, command=str(command))


def close_shared_service() -> None:
    """Forget the process's shared service and close its connection (tests, shutdown)."""
    global _shared
    with _shared_lock:
        current, _shared = _shared, None
    if current is not None:
        current.close()
