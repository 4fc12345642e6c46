"""Quartz protocol, sans-IO: command encoders, message types and incremental parsers.

Nothing here touches a socket. The client (devices/quartz/client.py) and the emulator
(devices/quartz/emulator.py) both speak through these functions, so what one writes the other
reads with the same rules. See /shared/reference/quartz.md for the protocol facts.

Framing: every message starts with "." and ends with CR. Some installations end lines with
CR LF; a few tools send bare LF. The parsers split on either byte, so "\\r\\n" produces an empty
line, which is ignored. Numbers may be zero-padded. Anything that is not a known form is handed
back as `Garbage` (the reader decides what to log), never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: A line longer than this without a terminator is garbage; the buffer never grows past it.
MAX_LINE = 4096

Target = Literal["source", "output"]
LockAction = Literal["L", "U", "I"]

_LEVELS_RE = re.compile(rb"[A-Za-z]+")


def _check_number(value: int, what: str) -> int:
    # bool is an int subclass; True would silently encode as "1".
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{what} {value} is out of range: router numbers start at 1")
    return value


def _check_levels(levels: str, *, single: bool = False) -> str:
    if not levels or not levels.isascii() or not levels.isalpha():
        raise ValueError(f"level letters expected, got {levels!r}")
    if single and len(levels) != 1:
        raise ValueError(f"one level letter expected, got {levels!r}")
    return levels.upper()


def _num(value: int, width: int) -> bytes:
    return str(value).zfill(width).encode("ascii")


def _decode_text(raw: bytes) -> str:
    """Names are ASCII on every router seen; anything else is shown, never fatal."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _encode_text(text: str) -> bytes:
    data = text.encode("utf-8")
    if b"\r" in data or b"\n" in data:
        raise ValueError("a line terminator cannot be part of a name or message text")
    return data


# --- Commands (client -> router) -------------------------------------------------------------


@dataclass(frozen=True)
class ReadName:
    """`.RD`/`.RE` (output name, 8/10 chars) or `.RS`/`.RT` (source name, 8/10 chars)."""

    target: Target
    number: int
    long: bool = True

    def __post_init__(self) -> None:
        if self.target not in ("source", "output"):
            raise ValueError(f"target must be 'source' or 'output', not {self.target!r}")
        _check_number(self.number, self.target)

    @property
    def letter(self) -> str:
        if self.target == "output":
            return "E" if self.long else "D"
        return "T" if self.long else "S"

    def encode(self, width: int = 0) -> bytes:
        return b".R" + self.letter.encode() + _num(self.number, width) + b"\r"

    def __str__(self) -> str:
        return f".R{self.letter}{self.number}"


@dataclass(frozen=True)
class Interrogate:
    """`.I{level}{output}`: which source feeds this output."""

    level: str
    output: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _check_levels(self.level, single=True))
        _check_number(self.output, "output")

    def encode(self, width: int = 0) -> bytes:
        return b".I" + self.level.encode() + _num(self.output, width) + b"\r"

    def __str__(self) -> str:
        return f".I{self.level}{self.output}"


@dataclass(frozen=True)
class ListRoutes:
    """`.L{level}{output},-`: up to 8 routes starting at this output, in one `.A` line."""

    level: str
    output: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "level", _check_levels(self.level, single=True))
        _check_number(self.output, "output")

    def encode(self, width: int = 0) -> bytes:
        return b".L" + self.level.encode() + _num(self.output, width) + b",-\r"

    def __str__(self) -> str:
        return f".L{self.level}{self.output},-"


@dataclass(frozen=True)
class SetRoute:
    """`.S{levels}{output},{source}`, e.g. `.SV12,7`: route a source to an output."""

    levels: str
    output: int
    source: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", _check_levels(self.levels))
        _check_number(self.output, "output")
        _check_number(self.source, "source")

    def encode(self, width: int = 0) -> bytes:
        return (b".S" + self.levels.encode() + _num(self.output, width) + b","
                + _num(self.source, width) + b"\r")

    def __str__(self) -> str:
        return f".S{self.levels}{self.output},{self.source}"


@dataclass(frozen=True)
class LockCommand:
    """`.BL` lock, `.BU` unlock, `.BI` interrogate the lock of an output."""

    action: LockAction
    output: int

    def __post_init__(self) -> None:
        if self.action not in ("L", "U", "I"):
            raise ValueError(f"lock action must be L, U or I, not {self.action!r}")
        _check_number(self.output, "output")

    def encode(self, width: int = 0) -> bytes:
        return b".B" + self.action.encode() + _num(self.output, width) + b"\r"

    def __str__(self) -> str:
        return f".B{self.action}{self.output}"


@dataclass(frozen=True)
class FireSalvo:
    """`.F{n}`: fire salvo n. The router answers nothing, or a `.U` per changed route."""

    number: int

    def __post_init__(self) -> None:
        _check_number(self.number, "salvo")

    def encode(self, width: int = 0) -> bytes:
        return b".F" + _num(self.number, width) + b"\r"

    def __str__(self) -> str:
        return f".F{self.number}"


Command = ReadName | Interrogate | ListRoutes | SetRoute | LockCommand | FireSalvo


def read_source_name(source: int, *, long: bool = True) -> ReadName:
    return ReadName("source", source, long)


def read_output_name(output: int, *, long: bool = True) -> ReadName:
    return ReadName("output", output, long)


def interrogate(output: int, level: str = "V") -> Interrogate:
    return Interrogate(level, output)


def list_routes(output: int, level: str = "V") -> ListRoutes:
    return ListRoutes(level, output)


def set_route(output: int, source: int, levels: str = "V") -> SetRoute:
    return SetRoute(levels, output, source)


def lock(output: int) -> LockCommand:
    return LockCommand("L", output)


def unlock(output: int) -> LockCommand:
    return LockCommand("U", output)


def lock_status(output: int) -> LockCommand:
    return LockCommand("I", output)


def fire_salvo(number: int) -> FireSalvo:
    return FireSalvo(number)


def encode_commands(commands: list[Command] | tuple[Command, ...]) -> bytes:
    """Several commands back to back, as one pipelined write."""
    return b"".join(c.encode() for c in commands)


# --- Messages (router -> client) -------------------------------------------------------------


@dataclass(frozen=True)
class NameReply:
    """`.RA{D|E|S|T}{n},{name}`. The name is everything after the first comma, as sent
    (8-char names are often space-padded; the service strips them)."""

    target: Target
    number: int
    name: str
    long: bool = True

    @property
    def letter(self) -> str:
        if self.target == "output":
            return "E" if self.long else "D"
        return "T" if self.long else "S"

    def encode(self, eol: bytes = b"\r", width: int = 0) -> bytes:
        return (b".RA" + self.letter.encode() + _num(self.number, width) + b","
                + _encode_text(self.name) + eol)


@dataclass(frozen=True)
class Route:
    """One `{level}{output},{source}` group of an `.A` reply."""

    level: str
    output: int
    source: int


@dataclass(frozen=True)
class Routes:
    """`.A` reply: one group to `.I`, up to eight to `.L`."""

    routes: tuple[Route, ...]

    @property
    def first_output(self) -> int:
        return self.routes[0].output

    def encode(self, eol: bytes = b"\r", width: int = 0) -> bytes:
        groups = b"".join(
            r.level.encode() + _num(r.output, width) + b"," + _num(r.source, width)
            for r in self.routes
        )
        return b".A" + groups + eol


@dataclass(frozen=True)
class RouteUpdate:
    """`.U{levels}{output},{source}`: a route changed (pushed to every connected client)."""

    levels: str
    output: int
    source: int

    def encode(self, eol: bytes = b"\r", width: int = 0) -> bytes:
        return (b".U" + self.levels.encode() + _num(self.output, width) + b","
                + _num(self.source, width) + eol)


@dataclass(frozen=True)
class LockState:
    """`.BA{output},{state}`: 0 unlocked, 1-254 panel lock, 255 locked."""

    output: int
    state: int

    @property
    def locked(self) -> bool:
        return self.state != 0

    def encode(self, eol: bytes = b"\r", width: int = 0) -> bytes:
        return b".BA" + _num(self.output, width) + b"," + str(self.state).encode() + eol


@dataclass(frozen=True)
class Error:
    """`.E`, optionally followed by text: bad syntax, out of range, unsupported command."""

    text: str = ""

    def encode(self, eol: bytes = b"\r", width: int = 0) -> bytes:
        return b".E" + _encode_text(self.text) + eol


@dataclass(frozen=True)
class PowerUp:
    """`.P` (optionally followed by text): the router restarted."""

    text: str = ""

    def encode(self, eol: bytes = b"\r", width: int = 0) -> bytes:
        return b".P" + _encode_text(self.text) + eol


@dataclass(frozen=True)
class Garbage:
    """A line (or an over-long run of bytes) that is none of the known forms."""

    data: bytes
    reason: str


Message = NameReply | Routes | RouteUpdate | LockState | Error | PowerUp | Garbage

_NAME_TARGET: dict[bytes, tuple[Target, bool]] = {
    b"D": ("output", False),
    b"E": ("output", True),
    b"S": ("source", False),
    b"T": ("source", True),
}

_NAME_RE = re.compile(rb"\.RA([DEST])(\d+),(.*)", re.DOTALL)
_A_RE = re.compile(rb"\.A((?:[A-Za-z]\d+,\d+)+)")
_A_GROUP_RE = re.compile(rb"([A-Za-z])(\d+),(\d+)")
_U_RE = re.compile(rb"\.U([A-Za-z]+)(\d+),(\d+)")
_BA_RE = re.compile(rb"\.BA(\d+),(\d+)")


def parse_message(line: bytes) -> Message:
    """One line (without terminator) from the router."""
    if m := _NAME_RE.fullmatch(line):
        target, long = _NAME_TARGET[m.group(1)]
        return NameReply(target, int(m.group(2)), _decode_text(m.group(3)), long)
    if m := _A_RE.fullmatch(line):
        groups = tuple(
            Route(g[0].decode().upper(), int(g[1]), int(g[2]))
            for g in _A_GROUP_RE.findall(m.group(1))
        )
        return Routes(groups)
    if m := _U_RE.fullmatch(line):
        return RouteUpdate(m.group(1).decode().upper(), int(m.group(2)), int(m.group(3)))
    if m := _BA_RE.fullmatch(line):
        return LockState(int(m.group(1)), int(m.group(2)))
    if line.startswith(b".E"):
        return Error(_decode_text(line[2:]))
    if line.startswith(b".P"):
        return PowerUp(_decode_text(line[2:]))
    reason = "does not start with '.'" if not line.startswith(b".") else "unknown message"
    return Garbage(line, reason)


_CMD_NAME_RE = re.compile(rb"\.R([DEST])(\d+)")
_CMD_I_RE = re.compile(rb"\.I([A-Za-z])(\d+)")
_CMD_L_RE = re.compile(rb"\.L([A-Za-z])(\d+),-")
_CMD_S_RE = re.compile(rb"\.S([A-Za-z]+)(\d+),(\d+)")
_CMD_B_RE = re.compile(rb"\.B([LUI])(\d+)")
_CMD_F_RE = re.compile(rb"\.F(\d+)")


@dataclass(frozen=True)
class BadCommand:
    """A line from a client that is no known command, or names router number 0 (the emulator
    answers `.E`)."""

    data: bytes
    reason: str


def parse_command(line: bytes) -> Command | BadCommand:
    """One line (without terminator) from a client; the emulator's side of the codec."""
    try:
        if m := _CMD_NAME_RE.fullmatch(line):
            target, long = _NAME_TARGET[m.group(1)]
            return ReadName(target, int(m.group(2)), long)
        if m := _CMD_I_RE.fullmatch(line):
            return Interrogate(m.group(1).decode(), int(m.group(2)))
        if m := _CMD_L_RE.fullmatch(line):
            return ListRoutes(m.group(1).decode(), int(m.group(2)))
        if m := _CMD_S_RE.fullmatch(line):
            return SetRoute(m.group(1).decode(), int(m.group(2)), int(m.group(3)))
        if m := _CMD_B_RE.fullmatch(line):
            return LockCommand(m.group(1).decode(), int(m.group(2)))  # type: ignore[arg-type]
        if m := _CMD_F_RE.fullmatch(line):
            return FireSalvo(int(m.group(1)))
    except ValueError as exc:
        return BadCommand(line, str(exc))
    return BadCommand(line, "unknown command")


_EOL = re.compile(rb"[\r\n]")


class _LineSplitter:
    """Bytes in arbitrary fragments -> complete lines, empty lines dropped, length bounded.

    A line longer than `max_line` becomes one Garbage item (its first 64 bytes) however it was
    fragmented, and the rest of it is skipped up to its terminator.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buffer = b""
        self._max_line = max_line
        self._skipping = False

    def _too_long(self, line: bytes) -> Garbage:
        return Garbage(line[:64] + b"...", f"line longer than {self._max_line} bytes")

    def feed(self, data: bytes) -> list[bytes | Garbage]:
        out: list[bytes | Garbage] = []
        if self._skipping:
            m = _EOL.search(data)
            if m is None:
                return out
            data = data[m.end():]
            self._skipping = False
        buffer = self._buffer + data
        *lines, tail = _EOL.split(buffer)
        for line in lines:
            if len(line) > self._max_line:
                out.append(self._too_long(line))
            elif line:
                out.append(line)
        if len(tail) > self._max_line:
            out.append(self._too_long(tail))
            self._skipping = True
            tail = b""
        self._buffer = tail
        return out


class _Parser:
    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._lines = _LineSplitter(max_line)

    def _parse(self, line: bytes):  # pragma: no cover - overridden
        raise NotImplementedError

    def feed(self, data: bytes) -> list:
        """Everything complete in the bytes received so far; keeps the unfinished tail."""
        out = []
        for item in self._lines.feed(data):
            out.append(item if isinstance(item, Garbage) else self._parse(item))
        return out


class QuartzParser(_Parser):
    """Incremental parser of what a router sends: `feed(bytes) -> list[Message]`."""

    def _parse(self, line: bytes) -> Message:
        return parse_message(line)

    def feed(self, data: bytes) -> list[Message]:
        return super().feed(data)


class CommandParser(_Parser):
    """Incremental parser of what a client sends (the emulator's side)."""

    def _parse(self, line: bytes) -> Command | BadCommand:
        return parse_command(line)

    def feed(self, data: bytes) -> list[Command | BadCommand | Garbage]:
        return super().feed(data)
