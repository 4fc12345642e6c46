"""The NEXX parameter catalog, as data: every EV variable id the project uses.

One table (`PARAMETERS`) says, for each varid, its operator key, scope (frame, multiviewer,
window, UMD layer), access (R, RW, W), type, allowed device values and how a device value maps
to what an operator sees. API validation, the client, the emulator and the control page all read
it; nothing else in the project spells a varid.

Operator values are what the rest of the project stores and shows:
    layout        1..43           (device 0..42)
    pcm_bars      0,2,4,6,8,12,16 (device enum index 0..6)
    global ATC    SDI input 1..960 (device 0..959)
    every enum    its device index (labels are display only)
    text          text; positions and borders as ints

Enum labels ship with the reference's tables (`default_enum_labels()`); an admin corrects them
in Django admin (devices.models.NexxEnumLabel) because they change with the firmware, and
devices/catalog.py (`enum_labels()`) overlays those rows on the defaults. This module never reads
the database: allowed values come from the table above only, so validation, the client and the
emulator stay pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from devices.text import REFUSED as REFUSED_TEXT
from devices.text import clean_device_text, refused_character
from mvcontrol.errors import InvalidInput

MAX_MULTIVIEWERS = 120
WINDOWS_PER_MULTIVIEWER = 16
LAYERS_PER_WINDOW = 3
MAX_PARAMETERS_PER_REQUEST = 40
LAYOUT_COUNT = 43
TEXT_MAX_LENGTH = 64


class Scope(StrEnum):
    FRAME = "frame"
    MULTIVIEWER = "multiviewer"
    WINDOW = "window"
    LAYER = "layer"


class Access(StrEnum):
    R = "R"
    RW = "RW"
    W = "W"


class ValueType(StrEnum):
    INT = "int"
    ENUM = "enum"
    STRING = "string"


OperatorValue = int | str


class InvalidParameterValue(InvalidInput, ValueError):
    """An operator value outside the catalog; raised before any request is sent.

    `detail` is for an engineer or a preset file: it names the parameter (its id when known,
    else its key) and its varid, and `fields` maps that name to it. For an operator there is
    `sentence()`: what is wrong and what is allowed, in words, with no id; `problem` is its
    first half ("Text is 70 characters long")."""

    def __init__(self, detail: str, *, name: str,
                 fields: dict[str, list[str]] | None = None,
                 parameter: Parameter | None = None, problem: str | None = None) -> None:
        super().__init__(detail, fields=fields or {name: [detail]})
        self.name = name
        self.parameter = parameter
        self.problem = problem

    def sentence(self, labels: Mapping[int, str] | None = None) -> str:
        """What is wrong and what is allowed, for an operator: "5 is not one of the choices: 0,
        2, 4, 6, 8, 12 or 16." `labels` (device value → label) replace the shipped enum labels
        (devices/catalog.py enum_labels(): the labels in force)."""
        if self.parameter is None or self.problem is None:
            return self.detail
        return self.parameter.operator_sentence(self.problem, labels)

    @classmethod
    def combine(cls, errors: list[InvalidParameterValue]) -> InvalidParameterValue:
        """One error for several refused values (the API lists each under its name)."""
        if len(errors) == 1:
            return errors[0]
        fields: dict[str, list[str]] = {}
        for error in errors:
            for key, messages in error.fields.items():
                fields.setdefault(key, []).extend(messages)
        detail = f"{len(errors)} values are not allowed: " + " ".join(e.detail for e in errors)
        return cls(detail, name=errors[0].name, fields=fields)


class InvalidParameterId(InvalidInput, ValueError):
    """A parameter id that does not match the catalog (unknown varid, wrong or out-of-range
    indexes)."""

    def __init__(self, detail: str, *, param_id: str) -> None:
        super().__init__(detail, fields={param_id: [detail]})
        self.param_id = param_id


class MalformedValue(ValueError):
    """A device value that cannot be a value of its parameter (e.g. "abc" for a layout). The
    client turns it into DeviceProtocolError: a malformed reply never becomes state."""


@dataclass(frozen=True)
class Parameter:
    """One EV variable. `minimum`/`maximum` bound device values of INT parameters; ENUM device
    values are the keys of `labels`; `operator_values[i]` is what device index i means to an
    operator (PCM bars); `offset` is added to a device value to get the operator value."""

    varid: int
    key: str
    name: str
    scope: Scope
    access: Access
    type: ValueType
    minimum: int | None = None
    maximum: int | None = None
    labels: tuple[tuple[int, str], ...] = ()
    operator_values: tuple[int, ...] = ()
    offset: int = 0
    max_length: int | None = None
    unit: str = ""
    note: str = ""

    @property
    def readable(self) -> bool:
        return self.access in (Access.R, Access.RW)

    @property
    def writable(self) -> bool:
        return self.access in (Access.RW, Access.W)

    @property
    def conversion(self) -> str:
        if self.operator_values:
            return "table"
        if self.offset:
            return "offset"
        return "none"

    def device_values(self) -> tuple[int, ...]:
        """Every allowed device value of an ENUM (or a bounded INT)."""
        if self.type is ValueType.ENUM:
            return tuple(value for value, _ in self.labels)
        if self.minimum is None or self.maximum is None:
            raise ValueError(f"{self.key} has no bounded set of values")
        return tuple(range(self.minimum, self.maximum + 1))

    def operator_choices(self) -> tuple[int, ...]:
        """Allowed operator values of an ENUM, in device order."""
        return tuple(self.operator_value_of(v) for v in self.device_values())

    def operator_range(self) -> tuple[int | None, int | None]:
        low = None if self.minimum is None else self.minimum + self.offset
        high = None if self.maximum is None else self.maximum + self.offset
        return low, high

    # --- conversions -------------------------------------------------------------------

    def operator_value_of(self, device: int) -> int:
        if self.operator_values:
            return self.operator_values[device]
        return device + self.offset

    def device_value_of(self, operator: int) -> int:
        if self.operator_values:
            return self.operator_values.index(operator)
        return operator - self.offset

    def allowed_text(self) -> str:
        """The allowed operator values, for error messages."""
        if self.type is ValueType.STRING:
            # Control characters would break the device's single-line UMD renderer and its
            # parser: the one text rule of devices/text.py decides which.
            return f"text of at most {self.max_length} characters without {REFUSED_TEXT}"
        if self.type is ValueType.ENUM:
            names = dict(self.labels)
            if self.operator_values:
                return ", ".join(str(self.operator_value_of(v)) for v in self.device_values())
            return ", ".join(f"{v} ({names[v]})" for v in self.device_values())
        low, high = self.operator_range()
        if low is not None and high is not None:
            return f"a whole number from {low} to {high}"
        if low is not None:
            return f"a whole number of at least {low}"
        return "a whole number"

    def allowed_words(self, labels: Mapping[int, str] | None = None) -> str:
        """The allowed operator values in an operator's words: "at most 64 characters, without
        control characters", "0 (Sans), 1 (Sans Mono) or 2 (D Din)", "0 to 4 pixels"."""
        if self.type is ValueType.STRING:
            return f"at most {self.max_length} characters, without control characters"
        if self.type is ValueType.ENUM:
            if self.operator_values:
                return _or_list([str(v) for v in self.operator_choices()])
            names = {**dict(self.labels), **(labels or {})}
            return _or_list([f"{self.operator_value_of(v)} ({names[v]})"
                             for v in self.device_values()])
        unit = _UNIT_WORDS.get(self.unit, f" ({self.unit})" if self.unit else "")
        low, high = self.operator_range()
        if low is not None and high is not None:
            return f"{low} to {high}{unit}"
        if low is not None:
            return f"a whole number of at least {low}{unit}"
        return "a whole number"

    def operator_sentence(self, problem: str, labels: Mapping[int, str] | None = None) -> str:
        """`problem` ("5 is not one of the choices") followed by what is allowed."""
        joint = {ValueType.STRING: "; ", ValueType.ENUM: ": "}.get(self.type, "; allowed: ")
        return f"{problem}{joint}{self.allowed_words(labels)}."

    def validate(self, value: object, *, name: str | None = None) -> OperatorValue:
        """The operator value, normalised (ints from "5"), or InvalidParameterValue naming the
        parameter (`name`, default its key) and the allowed values."""
        label = name or self.key

        def refuse(why: str, problem: str) -> InvalidParameterValue:
            return InvalidParameterValue(
                f"{label} ({self.varid}, {self.name}): {why}; allowed: {self.allowed_text()}.",
                name=label, parameter=self, problem=problem,
            )

        if self.type is ValueType.STRING:
            if not isinstance(value, str):
                raise refuse(f"{value!r} is not text", f"{_shown(value)} is not text")
            if self.max_length is not None and len(value) > self.max_length:
                raise refuse(f"text is {len(value)} characters long",
                             f"Text is {len(value)} characters long")
            if (found := refused_character(value)) is not None:
                raise refuse(f"text contains {found}", f"Text contains {found}")
            return value
        number = _as_int(value)
        if number is None:
            raise refuse(f"{value!r} is not a whole number",
                         f"{_shown(value)} is not one of the choices"
                         if self.type is ValueType.ENUM else
                         f"{_shown(value)} is not a whole number")
        if self.type is ValueType.ENUM:
            if number not in self.operator_choices():
                raise refuse(f"{number} is not one of the choices",
                             f"{number} is not one of the choices")
            return number
        low, high = self.operator_range()
        if (low is not None and number < low) or (high is not None and number > high):
            raise refuse(f"{number} is out of range", f"{number} is out of range")
        return number

    def check_device(self, raw: object, *, name: str | None = None) -> str:
        """A raw device value about to be written, checked against the catalog in device terms
        (layout 0..42, PCM index 0..6); the text to send."""
        label = name or self.key
        if self.type is ValueType.STRING:
            return str(self.validate(raw, name=label))
        number = _as_int(raw)
        if self.type is ValueType.ENUM:
            allowed = self.device_values()
            ok = number in allowed
            allowed_text = ", ".join(str(v) for v in allowed)
        else:
            ok = number is not None and not (
                (self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum))
            allowed_text = f"{self.minimum}..{self.maximum}"
        if number is None or not ok:
            raise InvalidParameterValue(
                f"{label} ({self.varid}, {self.name}): device value {raw!r} is not allowed; "
                f"allowed device values: {allowed_text}.", name=label,
            )
        return str(number)

    def to_device(self, value: object, *, name: str | None = None) -> str:
        """Validate an operator value and give the device value to send."""
        checked = self.validate(value, name=name)
        if self.type is ValueType.STRING:
            return str(checked)
        return str(self.device_value_of(int(checked)))

    def from_device(self, raw: object) -> OperatorValue:
        """The operator value of a device value (string or number as it came in a reply).

        Raises MalformedValue when it cannot be a value of this parameter. Out-of-range ints
        are kept (the device is the truth of what it holds); unknown enum indexes are not,
        because they cannot be shown or written back."""
        if self.type is ValueType.STRING:
            if isinstance(raw, bool) or not isinstance(raw, str | int):
                raise MalformedValue(f"{raw!r} is not a text value for {self.varid}")
            # As with router names: stored cleaned, so one odd character set on the frame by
            # other means neither fails a refresh nor makes a preset saved from it unreadable.
            return clean_device_text(str(raw))
        number = _as_int(raw)
        if number is None:
            raise MalformedValue(f"{raw!r} is not a whole number for {self.varid}")
        if self.type is ValueType.ENUM or self.operator_values:
            if number not in self.device_values():
                raise MalformedValue(f"{number} is not a known value of {self.varid}")
        return self.operator_value_of(number)


_UNIT_WORDS = {"px": " pixels", "h": " hours", "min": " minutes"}


def _or_list(items: list[str]) -> str:
    """"a, b or c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _shown(value: object) -> str:
    """A refused value as an operator would write it (text in quotes, cut when long)."""
    if isinstance(value, str):
        return f'"{value[:20]}…"' if len(value) > 20 else f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = str(value)
    return text if len(text) <= 20 else text[:20] + "…"


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if re.fullmatch(r"[+-]?\d+\.0*", text):  # "5.0" from firmware that sends floats
            return int(float(text))
    return None


def _enum(*labels: str, start: int = 0) -> tuple[tuple[int, str], ...]:
    return tuple((start + i, label) for i, label in enumerate(labels))


PCM_BARS = (0, 2, 4, 6, 8, 12, 16)

_F, _M, _W, _L = Scope.FRAME, Scope.MULTIVIEWER, Scope.WINDOW, Scope.LAYER
_INT, _ENUM, _STR = ValueType.INT, ValueType.ENUM, ValueType.STRING

PARAMETERS: tuple[Parameter, ...] = (
    # Frame-wide.
    Parameter(2700, "chassis_total", "Chassis total multiviewers", _F, Access.R, _INT,
              minimum=0, maximum=MAX_MULTIVIEWERS),
    Parameter(2701, "licensed", "Licensed multiviewers", _F, Access.R, _INT,
              minimum=0, maximum=MAX_MULTIVIEWERS),
    Parameter(2702, "enabled_count", "Enabled multiviewers", _F, Access.R, _INT,
              minimum=0, maximum=MAX_MULTIVIEWERS),
    Parameter(2721, "window_size", "Window size", _F, Access.RW, _ENUM,
              labels=_enum("Full", "Reduced Small", "Reduced Medium", "Reduced Large")),
    Parameter(2722, "timecode_source", "Timecode source", _F, Access.RW, _ENUM,
              labels=_enum("Local ATC", "NTP", "NTP with offset", "Global ATC 1",
                           "Global ATC 2", "Global ATC 3", "Global ATC 4")),
    Parameter(2723, "ntp_offset_direction", "NTP offset direction", _F, Access.RW, _ENUM,
              labels=_enum("+", "-")),
    Parameter(2724, "ntp_offset_hours", "NTP offset hours", _F, Access.RW, _INT,
              minimum=0, maximum=23, unit="h"),
    Parameter(2725, "ntp_offset_minutes", "NTP offset minutes", _F, Access.RW, _INT,
              minimum=0, maximum=59, unit="min"),
    *(
        Parameter(2728 + n, f"global_atc_{n}_source", f"Global ATC {n} source", _F, Access.RW,
                  _INT, minimum=0, maximum=959, offset=1, unit="SDI input",
                  note="Operators see SDI input 1..960; the device stores 0..959.")
        for n in (1, 2, 3, 4)
    ),
    Parameter(2734, "timecode_format", "Timecode format", _F, Access.RW, _ENUM,
              labels=_enum("HH:MM:SS:FF.F", "HH:MM:SS")),
    # Per multiviewer.
    Parameter(2703, "enable", "Enable", _M, Access.RW, _ENUM, labels=_enum("Disabled", "Enabled")),
    Parameter(2704, "layout", "Layout selection", _M, Access.RW, _INT,
              minimum=0, maximum=LAYOUT_COUNT - 1, offset=1,
              note="Operators see layout 1..43; the device stores 0..42."),
    Parameter(2716, "font", "Text font", _M, Access.RW, _ENUM,
              labels=_enum("Sans", "Sans Mono", "D Din")),
    Parameter(2720, "output_format", "Output format", _M, Access.RW, _ENUM,
              labels=_enum("1080p59", "1080p50", "1080i59", "1080i50")),
    Parameter(2726, "outer_border", "Outer border", _M, Access.RW, _INT,
              minimum=0, maximum=4, unit="px"),
    Parameter(2727, "inner_border", "Inner border", _M, Access.RW, _INT,
              minimum=0, maximum=4, unit="px"),
    Parameter(2735, "update_preview", "Update preview", _M, Access.W, _INT,
              minimum=1, maximum=1, note="Write 1 to refresh the device preview."),
    # Per window.
    Parameter(2707, "source", "Video/audio source", _W, Access.RW, _INT,
              minimum=0, maximum=65535),
    Parameter(2718, "source_label", "Source label", _W, Access.RW, _STR,
              max_length=TEXT_MAX_LENGTH),
    Parameter(2719, "pcm_bars", "PCM audio bars", _W, Access.RW, _ENUM,
              labels=tuple((i, f"{bars} bars") for i, bars in enumerate(PCM_BARS)),
              operator_values=PCM_BARS,
              note="Operators see the number of bars; the device stores the index 0..6."),
    # Per UMD layer.
    Parameter(2708, "type", "UMD selection", _L, Access.RW, _ENUM,
              labels=_enum("Off", "Static", "Dynamic Line 1", "NTP Time",
                           "NTP Time with Offset")),
    Parameter(2709, "text", "UMD text", _L, Access.RW, _STR, max_length=TEXT_MAX_LENGTH,
              note="Shown only when the UMD type is Static."),
    Parameter(2710, "box_colour", "Box colour", _L, Access.RW, _ENUM,
              labels=_enum("Black", "Blue", "Green", "Cyan", "Red", "Magenta", "Yellow",
                           "White")),
    Parameter(2711, "box_alpha", "Box alpha", _L, Access.RW, _ENUM,
              labels=_enum("0%", "25%", "50%", "75%", "100%")),
    Parameter(2712, "x", "Box X position", _L, Access.RW, _INT, minimum=0, maximum=1919,
              unit="px"),
    Parameter(2713, "y", "Box Y position", _L, Access.RW, _INT, minimum=0, maximum=1079,
              unit="px"),
    # Not the box colour order: the device lists text colours differently.
    Parameter(2714, "text_colour", "Text colour", _L, Access.RW, _ENUM,
              labels=_enum("Blue", "Green", "Cyan", "Red", "Magenta", "Yellow", "White",
                           "Black")),
    Parameter(2715, "text_alpha", "Text alpha", _L, Access.RW, _ENUM,
              labels=_enum("0%", "25%", "50%", "100%")),
    Parameter(2717, "text_size", "Text size", _L, Access.RW, _ENUM,
              labels=_enum("Small", "Medium", "Large", "X-Large")),
    Parameter(2733, "padding", "Padding", _L, Access.RW, _ENUM,
              labels=_enum("None", "Small", "Medium", "Large")),
)

BY_VARID: dict[int, Parameter] = {p.varid: p for p in PARAMETERS}
BY_KEY: dict[str, Parameter] = {p.key: p for p in PARAMETERS}
SCOPE_INDEXES = {_F: 0, _M: 1, _W: 2, _L: 3}
ENUM_PARAMETERS: tuple[Parameter, ...] = tuple(p for p in PARAMETERS if p.type is ValueType.ENUM)


def parameter(ref: int | str | Parameter) -> Parameter:
    """A catalog entry by varid (2704 or "2704") or operator key ("layout")."""
    if isinstance(ref, Parameter):
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool):
        found = BY_VARID.get(ref)
    elif isinstance(ref, str) and ref.isdigit():
        found = BY_VARID.get(int(ref))
    else:
        found = BY_KEY.get(ref) if isinstance(ref, str) else None
    if found is None:
        raise KeyError(f"{ref!r} is not a NEXX parameter of the catalog")
    return found


def scope_parameters(scope: Scope | str) -> tuple[Parameter, ...]:
    return tuple(p for p in PARAMETERS if p.scope == Scope(scope))


# --- parameter ids ---------------------------------------------------------------------


@dataclass(frozen=True)
class ParamRef:
    """A parameter id taken apart: "2708.0.1.2" → layout 2708, mv 0, window 1, layer 2."""

    parameter: Parameter
    mv: int | None = None
    window: int | None = None
    layer: int | None = None

    @property
    def id(self) -> str:
        return param_id(self.parameter.varid, self.mv, self.window, self.layer)

    @property
    def varid(self) -> int:
        return self.parameter.varid


def _check_index(what: str, value: object, limit: int, pid: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise InvalidParameterId(
            f"{pid}: {what} index {value!r} is out of range 0..{limit - 1}", param_id=pid
        )
    return value


def param_id(varid: int | str | Parameter, mv: int | None = None, window: int | None = None,
             layer: int | None = None) -> str:
    """The device id of a parameter instance; indexes are 0-based.

    param_id(2704, 3) == "2704.3"; param_id(2708, 0, 1, 2) == "2708.0.1.2". The indexes given
    must match the parameter's scope."""
    p = parameter(varid)
    given = [i for i in (mv, window, layer) if i is not None]
    shown = ".".join(str(x) for x in (p.varid, *given))
    need = SCOPE_INDEXES[p.scope]
    if len(given) != need or [mv, window, layer][:need].count(None):
        raise InvalidParameterId(
            f"{shown}: {p.key} ({p.varid}) is a {p.scope} parameter and takes {need} "
            f"index{'es' if need != 1 else ''}", param_id=shown,
        )
    limits = (("multiviewer", MAX_MULTIVIEWERS), ("window", WINDOWS_PER_MULTIVIEWER),
              ("UMD layer", LAYERS_PER_WINDOW))
    for (what, limit), value in zip(limits, given, strict=False):
        _check_index(what, value, limit, shown)
    return shown


def parse_param_id(pid: str) -> ParamRef:
    """Take an id apart ("2704.3", also with a reply's type suffix "2704.3@i")."""
    if not isinstance(pid, str):
        raise InvalidParameterId(f"{pid!r} is not a parameter id", param_id=str(pid))
    base = pid.split("@", 1)[0].strip()
    parts = base.split(".")
    if not all(part.isdigit() for part in parts):
        raise InvalidParameterId(f"{pid!r} is not a parameter id", param_id=pid)
    varid, *indexes = (int(part) for part in parts)
    if varid not in BY_VARID:
        raise InvalidParameterId(f"{base}: {varid} is not a varid of the catalog", param_id=base)
    if len(indexes) > 3:
        raise InvalidParameterId(f"{base}: too many indexes", param_id=base)
    padded = [*indexes, None, None, None][:3]
    param_id(varid, *padded)  # checks the indexes against the scope and their ranges
    return ParamRef(BY_VARID[varid], *padded)


def multiviewer_param_ids(mv: int, *, window_count: int = WINDOWS_PER_MULTIVIEWER,
                          readable: bool = True) -> list[str]:
    """Every parameter id of one multiviewer: its own, then per window (0..window_count-1),
    then per UMD layer. With `readable`, write-only ones (update_preview) are left out."""
    def wanted(scope: Scope) -> list[Parameter]:
        return [p for p in scope_parameters(scope) if p.readable or not readable]

    ids = [param_id(p, mv) for p in wanted(Scope.MULTIVIEWER)]
    for window in range(window_count):
        ids += [param_id(p, mv, window) for p in wanted(Scope.WINDOW)]
        for layer in range(LAYERS_PER_WINDOW):
            ids += [param_id(p, mv, window, layer) for p in wanted(Scope.LAYER)]
    return ids


def frame_param_ids(*, readable: bool = True) -> list[str]:
    return [param_id(p) for p in scope_parameters(Scope.FRAME) if p.readable or not readable]


# --- value conversions by parameter id ---------------------------------------------------


def validate_value(pid: str, value: object) -> OperatorValue:
    """Normalised operator value for the parameter id, or InvalidParameterValue naming it."""
    return parse_param_id(pid).parameter.validate(value, name=pid)


def to_device_value(pid: str, value: object) -> str:
    """Validate an operator value for a parameter id and give the device value to send."""
    return parse_param_id(pid).parameter.to_device(value, name=pid)


def from_device_value(pid: str, raw: object) -> OperatorValue:
    """The operator value of a raw device value; MalformedValue when it cannot be one."""
    return parse_param_id(pid).parameter.from_device(raw)


def layout_to_device(layout: int) -> int:
    """Operator layout 1..43 → device value 0..42 (validated)."""
    return int(BY_KEY["layout"].to_device(layout))


def layout_from_device(value: int | str) -> int:
    return int(BY_KEY["layout"].from_device(value))


def bars_to_device(bars: int) -> int:
    """Number of PCM bars (0,2,4,6,8,12,16) → device enum index 0..6 (validated)."""
    return int(BY_KEY["pcm_bars"].to_device(bars))


def bars_from_device(index: int | str) -> int:
    return int(BY_KEY["pcm_bars"].from_device(index))


# --- enum labels ------------------------------------------------------------------------


def default_enum_labels() -> dict[int, dict[int, str]]:
    """The reference's enum tables: {varid: {device value: label}}."""
    return {p.varid: dict(p.labels) for p in ENUM_PARAMETERS}


# --- the catalog document (GET /api/catalog) --------------------------------------------


def parameter_document(p: Parameter, labels: Mapping[int, str] | None = None) -> dict:
    doc: dict = {
        "varid": p.varid,
        "key": p.key,
        "name": p.name,
        "scope": str(p.scope),
        "access": str(p.access),
        "readable": p.readable,
        "writable": p.writable,
        "type": str(p.type),
        "conversion": p.conversion,
        "unit": p.unit,
        "note": p.note,
    }
    if p.type is ValueType.STRING:
        doc["max_length"] = p.max_length
    elif p.type is ValueType.ENUM:
        names = dict(p.labels)
        names.update(labels or {})
        doc["choices"] = [
            {"value": p.operator_value_of(v), "device_value": v, "label": names[v]}
            for v in p.device_values()
        ]
    else:
        low, high = p.operator_range()
        doc["min"], doc["max"] = low, high
        doc["device_min"], doc["device_max"] = p.minimum, p.maximum
    return doc


def catalog_document(labels: Mapping[int, Mapping[int, str]] | None = None) -> dict:
    """The whole catalog for GET /api/catalog and the control page, with the given enum labels
    ({varid: {device value: label}}) over the shipped ones; None: the shipped labels only.
    devices.catalog.catalog_document() passes the labels in force (admin corrections)."""
    labels = labels or {}
    return {
        "limits": {
            "multiviewers": MAX_MULTIVIEWERS,
            "windows_per_multiviewer": WINDOWS_PER_MULTIVIEWER,
            "layers_per_window": LAYERS_PER_WINDOW,
            "parameters_per_request": MAX_PARAMETERS_PER_REQUEST,
            "layouts": LAYOUT_COUNT,
        },
        "scopes": {str(s): [p.key for p in scope_parameters(s)] for s in Scope},
        "parameters": [parameter_document(p, labels.get(p.varid)) for p in PARAMETERS],
    }


def describe(params: Iterable[str], limit: int = 4) -> str:
    """A short list of parameter ids for error messages ("2704.0, 2704.1, … (120 in all)")."""
    ids = list(params)
    shown = ", ".join(ids[:limit])
    return shown if len(ids) <= limit else f"{shown}, … ({len(ids)} in all)"
