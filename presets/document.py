"""The preset document: a versioned JSON file a person can read, built and checked without I/O.

    {"format": "mvcontrol.preset", "version": 1, "name": "Evening news",
     "created_at": "2026-01-05T18:00:00Z",
     "multiviewers": [{"nexx_index": 0, "label": "Studio A", "layout": 2, "font": 0,
                       "outer_border": 2, "inner_border": 1, "output_format": 0,
                       "windows": [{"window": 1, "source": {"quartz_input": 5, "label": "CAM 1"},
                                    "pcm_bars": 8,
                                    "umd": [{"layer": 1, "type": 1, "text": "CAM 1", ...}, ...]}]}]}

A field is present only when its group was saved (layout; font; borders = outer and inner;
output_format; pcm = pcm_bars; umd; sources = source). Values are the operator values of the NEXX
catalog (devices/nexx/catalog.py): layout 1..43, PCM bars as a number of bars, enums as their
operator value.

Reading goes through one reader per version (`READERS`): each turns the document of its version
into the in-memory `PresetDocument` of today, so a later release keeps reading version-1 files
by keeping `_read_v1`. Writing always produces the current version, with a fixed key order and
indentation, so that export → import → export gives the same bytes.

Every problem is collected with its JSON path ("$.multiviewers[0].windows[2].umd[1].text");
`DocumentError` carries them all. Reading never raises anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devices.nexx.catalog import (
    BY_KEY,
    LAYERS_PER_WINDOW,
    MAX_MULTIVIEWERS,
    WINDOWS_PER_MULTIVIEWER,
    InvalidParameterValue,
    OperatorValue,
    ValueType,
)
from devices.nexx.layouts import REFERENCE_WINDOW_COUNTS
from devices.text import refused_character
from mvcontrol.errors import InvalidInput

FORMAT = "mvcontrol.preset"
CURRENT_VERSION = 1
#: Bigger documents are refused before they are parsed.
MAX_DOCUMENT_BYTES = 1024 * 1024
NAME_MAX_LENGTH = 100
LABEL_MAX_LENGTH = 64
MAX_INPUT = 65535
#: A broken file can hold thousands of mistakes; the answer lists this many and says how many
#: more there were.
MAX_PROBLEMS_LISTED = 200

#: The groups of settings a preset can hold, in the order they are shown and applied.
GROUPS = ("layout", "font", "borders", "output_format", "pcm", "umd", "sources")
#: Per multiviewer: which document fields make up each multiviewer-wide group.
MULTIVIEWER_GROUP_FIELDS = {
    "layout": ("layout",),
    "font": ("font",),
    "borders": ("outer_border", "inner_border"),
    "output_format": ("output_format",),
}
UMD_KEYS = ("type", "text", "box_colour", "box_alpha", "x", "y", "text_colour", "text_alpha",
            "text_size", "padding")


# --- the document in memory ------------------------------------------------------------------


@dataclass(frozen=True)
class SourceRef:
    """The router input routed to a window when the preset was saved (label: for a person)."""

    quartz_input: int
    label: str = ""


@dataclass(frozen=True)
class UmdLayer:
    layer: int  # 1..3
    values: Mapping[str, OperatorValue]  # all of UMD_KEYS


@dataclass(frozen=True)
class WindowPart:
    """One window; None means the group was not saved for it."""

    window: int  # 1..16
    source: SourceRef | None = None
    pcm_bars: int | None = None
    umd: tuple[UmdLayer, ...] | None = None

    @property
    def groups(self) -> set[str]:
        found = set()
        if self.source is not None:
            found.add("sources")
        if self.pcm_bars is not None:
            found.add("pcm")
        if self.umd is not None:
            found.add("umd")
        return found


@dataclass(frozen=True)
class MultiviewerPart:
    """One multiviewer's saved settings; None means the group was not saved."""

    nexx_index: int  # 0..119
    label: str = ""
    layout: int | None = None
    font: int | None = None
    outer_border: int | None = None
    inner_border: int | None = None
    output_format: int | None = None
    windows: tuple[WindowPart, ...] = ()

    @property
    def number(self) -> int:
        return self.nexx_index + 1

    @property
    def groups(self) -> list[str]:
        found: set[str] = set()
        for group, keys in MULTIVIEWER_GROUP_FIELDS.items():
            if all(getattr(self, key) is not None for key in keys):
                found.add(group)
        for window in self.windows:
            found |= window.groups
        return [g for g in GROUPS if g in found]


@dataclass(frozen=True)
class PresetDocument:
    name: str
    created_at: datetime
    multiviewers: tuple[MultiviewerPart, ...] = field(default_factory=tuple)

    @property
    def groups(self) -> list[str]:
        found = {g for mv in self.multiviewers for g in mv.groups}
        return [g for g in GROUPS if g in found]

    def multiviewer(self, nexx_index: int) -> MultiviewerPart | None:
        return next((mv for mv in self.multiviewers if mv.nexx_index == nexx_index), None)


@dataclass(frozen=True)
class Context:
    """What the reader checks references against.

    `multiviewers` / `sources`: the nexx indexes and router inputs that exist (None: not
    checked, e.g. when reading a document this program stored itself). `window_counts`: windows
    of each layout 1..43 (the installation's layout catalog)."""

    multiviewers: Collection[int] | None = None
    sources: Collection[int] | None = None
    window_counts: Mapping[int, int] = field(
        default_factory=lambda: dict(REFERENCE_WINDOW_COUNTS))


class DocumentError(InvalidInput):
    """The document cannot be used. `fields` maps each JSON path to its problems."""

    code = "invalid_preset_document"

    def __init__(self, problems: dict[str, list[str]], *, total: int | None = None) -> None:
        count = total if total is not None else sum(len(v) for v in problems.values())
        first_path, first = next(iter(problems.items()))
        detail = (f"The preset document has {count} problem{'s' if count != 1 else ''}; "
                  f"nothing was stored. First: {first_path}: {first[0]}")
        super().__init__(detail, fields=problems)
        self.problems = problems


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}
        self.count = 0

    def add(self, path: str, message: str) -> None:
        self.count += 1
        if self.count <= MAX_PROBLEMS_LISTED:
            self.fields.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if not self.count:
            return
        fields = dict(self.fields)
        if self.count > MAX_PROBLEMS_LISTED:
            fields.setdefault("$", []).append(
                f"{self.count - MAX_PROBLEMS_LISTED} more problems are not listed; "
                "fix these first.")
        raise DocumentError(fields, total=self.count)


def _fail(path: str, message: str) -> DocumentError:
    return DocumentError({path: [message]})


# --- reading ---------------------------------------------------------------------------------


def loads(data: bytes | str, context: Context | None = None) -> PresetDocument:
    """Parse the bytes of a preset file (UTF-8 JSON) and read it; DocumentError otherwise."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _fail("$", f"the document is {len(data)} bytes; at most {MAX_DOCUMENT_BYTES} "
                         "bytes (1 MiB) are accepted")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _fail("$", f"the file is not UTF-8 text (byte {exc.start} is invalid)") from None
    else:
        text = data
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise _fail("$", f"not valid JSON: {exc.msg} at line {exc.lineno} column "
                         f"{exc.colno}") from None
    except ValueError as exc:  # NaN / Infinity, refused by _refuse_constant
        raise _fail("$", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise _fail("$", "not a preset document: nested too deeply") from None
    return read(obj, context)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def read(obj: object, context: Context | None = None) -> PresetDocument:
    """The document of any known version, as today's PresetDocument; DocumentError listing
    every problem otherwise."""
    context = context or Context()
    if not isinstance(obj, dict):
        raise _fail("$", f"a preset document is a JSON object, not {_kind(obj)}")
    problems = _Problems()
    fmt = obj.get("format")
    if fmt != FORMAT:
        problems.add("$.format", f"must be {FORMAT!r}, got {_show(fmt)}: this is not a "
                                 "mvcontrol preset file")
    version = obj.get("version")
    reader = None
    if not _is_int(version):
        problems.add("$.version", f"must be a whole number, got {_show(version)}")
    elif version > CURRENT_VERSION:
        problems.add("$.version", f"version {version} was written by a newer mvcontrol; this "
                                  f"one reads versions 1 to {CURRENT_VERSION}")
    elif version not in READERS:
        problems.add("$.version", f"there is no version {version}; known versions are 1 to "
                                  f"{CURRENT_VERSION}")
    else:
        reader = READERS[version]
    if reader is None or problems.count:
        # Without a known format and version the rest cannot be read meaningfully.
        problems.raise_if_any()
    try:
        doc = reader(obj, context, problems)
    except RecursionError:
        raise _fail("$", "not a preset document: nested too deeply") from None
    problems.raise_if_any()
    return doc


def _read_v1(obj: dict, context: Context, problems: _Problems) -> PresetDocument:
    _unknown_keys(obj, "$", {"format", "version", "name", "created_at", "multiviewers"},
                  problems)
    name = _read_name(obj.get("name"), "$.name", problems)
    created_at = _read_time(obj.get("created_at"), "$.created_at", problems)
    entries = obj.get("multiviewers")
    multiviewers: list[MultiviewerPart] = []
    if not isinstance(entries, list):
        problems.add("$.multiviewers", f"must be a list of multiviewers, got {_show(entries)}")
    elif not entries:
        problems.add("$.multiviewers", "lists no multiviewer; a preset holds at least one")
    elif len(entries) > MAX_MULTIVIEWERS:
        problems.add("$.multiviewers", f"lists {len(entries)} multiviewers; a frame has at most "
                                       f"{MAX_MULTIVIEWERS}")
    else:
        seen: dict[int, str] = {}
        for i, entry in enumerate(entries):
            path = f"$.multiviewers[{i}]"
            part = _read_multiviewer_v1(entry, path, context, problems)
            if part is None:
                continue
            if part.nexx_index in seen:
                problems.add(f"{path}.nexx_index",
                             f"multiviewer index {part.nexx_index} is listed twice (also at "
                             f"{seen[part.nexx_index]})")
                continue
            seen[part.nexx_index] = path
            multiviewers.append(part)
    if problems.count:
        return PresetDocument(name or "", created_at or _EPOCH, ())
    return PresetDocument(name, created_at, tuple(sorted(multiviewers,
                                                         key=lambda m: m.nexx_index)))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _read_multiviewer_v1(entry: object, path: str, context: Context,
                         problems: _Problems) -> MultiviewerPart | None:
    if not isinstance(entry, dict):
        problems.add(path, f"must be an object describing one multiviewer, got {_show(entry)}")
        return None
    before = problems.count
    _unknown_keys(entry, path, {"nexx_index", "label", "layout", "font", "outer_border",
                                "inner_border", "output_format", "windows"}, problems)
    index = entry.get("nexx_index")
    if not _is_int(index) or not 0 <= index < MAX_MULTIVIEWERS:
        problems.add(f"{path}.nexx_index", f"must be the multiviewer's device index 0 to "
                                           f"{MAX_MULTIVIEWERS - 1}, got {_show(index)}")
        index = None
    elif context.multiviewers is not None and index not in context.multiviewers:
        problems.add(f"{path}.nexx_index", f"multiviewer {index + 1} (index {index}) does not "
                                           "exist in this installation")
    label = _read_label(entry.get("label", ""), f"{path}.label", problems)
    values: dict[str, int | None] = {}
    for key in ("layout", "font", "outer_border", "inner_border", "output_format"):
        values[key] = _read_param(entry, key, path, problems) if key in entry else None
    if ("outer_border" in entry) != ("inner_border" in entry):
        missing = "inner_border" if "outer_border" in entry else "outer_border"
        problems.add(f"{path}.{missing}", "the borders are saved together: outer_border and "
                                          "inner_border are both present or both absent")
    window_limit = WINDOWS_PER_MULTIVIEWER
    layout = values["layout"]
    if layout is not None and layout in context.window_counts:
        window_limit = context.window_counts[layout]
    windows: list[WindowPart] = []
    if "windows" in entry:
        raw_windows = entry["windows"]
        if not isinstance(raw_windows, list):
            problems.add(f"{path}.windows", f"must be a list of windows, got "
                                            f"{_show(raw_windows)}")
        elif len(raw_windows) > WINDOWS_PER_MULTIVIEWER:
            problems.add(f"{path}.windows", f"lists {len(raw_windows)} windows; a multiviewer "
                                            f"has at most {WINDOWS_PER_MULTIVIEWER}")
        else:
            seen: dict[int, str] = {}
            for j, raw in enumerate(raw_windows):
                wpath = f"{path}.windows[{j}]"
                window = _read_window_v1(raw, wpath, context, problems)
                if window is None:
                    continue
                if window.window in seen:
                    problems.add(f"{wpath}.window", f"window {window.window} is listed twice "
                                                    f"(also at {seen[window.window]})")
                    continue
                seen[window.window] = wpath
                if window.window > window_limit:
                    problems.add(f"{wpath}.window",
                                 f"window {window.window} is not in layout {layout}, which has "
                                 f"{window_limit} windows")
                windows.append(window)
    if problems.count > before or index is None:
        return None
    part = MultiviewerPart(nexx_index=index, label=label, windows=tuple(
        sorted(windows, key=lambda w: w.window)), **values)
    if not part.groups:
        problems.add(path, "holds no settings: save at least one group (layout, font, borders, "
                           "output_format, pcm, umd, sources)")
        return None
    return part


def _read_window_v1(raw: object, path: str, context: Context,
                    problems: _Problems) -> WindowPart | None:
    if not isinstance(raw, dict):
        problems.add(path, f"must be an object describing one window, got {_show(raw)}")
        return None
    before = problems.count
    _unknown_keys(raw, path, {"window", "source", "pcm_bars", "umd"}, problems)
    number = raw.get("window")
    if not _is_int(number) or not 1 <= number <= WINDOWS_PER_MULTIVIEWER:
        problems.add(f"{path}.window", f"must be the window number 1 to "
                                       f"{WINDOWS_PER_MULTIVIEWER}, got {_show(number)}")
    source = _read_source(raw["source"], f"{path}.source", context, problems) \
        if "source" in raw else None
    pcm_bars = _read_param(raw, "pcm_bars", path, problems) if "pcm_bars" in raw else None
    umd = _read_umd(raw["umd"], f"{path}.umd", problems) if "umd" in raw else None
    if problems.count > before:
        return None
    window = WindowPart(window=number, source=source, pcm_bars=pcm_bars, umd=umd)
    if not window.groups:
        problems.add(path, "holds no settings: a window carries source, pcm_bars or umd")
        return None
    return window


def _read_source(raw: object, path: str, context: Context,
                 problems: _Problems) -> SourceRef | None:
    if not isinstance(raw, dict):
        problems.add(path, f"must be an object with quartz_input and label, got {_show(raw)}")
        return None
    before = problems.count
    _unknown_keys(raw, path, {"quartz_input", "label"}, problems)
    number = raw.get("quartz_input")
    if not _is_int(number) or not 1 <= number <= MAX_INPUT:
        problems.add(f"{path}.quartz_input", f"must be a router input 1 to {MAX_INPUT}, got "
                                             f"{_show(number)}")
    elif context.sources is not None and number not in context.sources:
        problems.add(f"{path}.quartz_input", f"router input {number} is not a source of this "
                                             "installation")
    label = _read_label(raw.get("label", ""), f"{path}.label", problems)
    if problems.count > before:
        return None
    return SourceRef(number, label)


def _read_umd(raw: object, path: str, problems: _Problems) -> tuple[UmdLayer, ...] | None:
    if not isinstance(raw, list) or len(raw) != LAYERS_PER_WINDOW:
        problems.add(path, f"must be a list of the {LAYERS_PER_WINDOW} UMD layers, got "
                           f"{_show(raw)}")
        return None
    before = problems.count
    layers = []
    for i, entry in enumerate(raw):
        lpath = f"{path}[{i}]"
        if not isinstance(entry, dict):
            problems.add(lpath, f"must be an object with layer and the {len(UMD_KEYS)} UMD "
                                f"parameters, got {_show(entry)}")
            continue
        _unknown_keys(entry, lpath, {"layer", *UMD_KEYS}, problems)
        if not _is_int(entry.get("layer")) or entry.get("layer") != i + 1:
            problems.add(f"{lpath}.layer", f"must be {i + 1} (layers are listed in order 1 to "
                                           f"{LAYERS_PER_WINDOW}), got {_show(entry.get('layer'))}")
        values: dict[str, OperatorValue] = {}
        for key in UMD_KEYS:
            if key not in entry:
                problems.add(f"{lpath}.{key}", "is missing: a saved UMD layer holds all "
                                               f"{len(UMD_KEYS)} parameters")
                continue
            value = _read_param(entry, key, lpath, problems)
            if value is not None:
                values[key] = value
        layers.append(UmdLayer(i + 1, values))
    if problems.count > before:
        return None
    return tuple(layers)


def _read_param(entry: dict, key: str, path: str, problems: _Problems) -> OperatorValue | None:
    """One catalog value: the JSON type must already be right (no "5" for 5), then the
    catalog decides."""
    value = entry[key]
    p = BY_KEY[key]
    if p.type is ValueType.STRING:
        if not isinstance(value, str):
            problems.add(f"{path}.{key}", f"must be text, got {_show(value)}")
            return None
    elif not _is_int(value):
        problems.add(f"{path}.{key}", f"must be a whole number, got {_show(value)}; "
                                      f"allowed: {p.allowed_text()}")
        return None
    try:
        return p.validate(value, name=key)
    except InvalidParameterValue as exc:
        problems.add(f"{path}.{key}", exc.detail)
        return None


def _read_name(value: object, path: str, problems: _Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(path, f"must be text, got {_show(value)}")
        return None
    problem = name_problem(value)
    if problem:
        problems.add(path, problem)
        return None
    return value.strip()


def name_problem(value: str) -> str | None:
    """What is wrong with a preset name (None: fine once trimmed): 1..100 characters, none of
    the characters devices/text.py refuses (control and invisible formatting characters, line
    and paragraph separators)."""
    name = value.strip()
    if not name:
        return "must not be empty"
    if len(name) > NAME_MAX_LENGTH:
        return f"is {len(name)} characters long; at most {NAME_MAX_LENGTH}"
    if (found := refused_character(name)) is not None:
        return f"must not contain control characters (tabs, line breaks, …); it contains {found}"
    return None


def _read_label(value: object, path: str, problems: _Problems) -> str:
    if not isinstance(value, str):
        problems.add(path, f"must be text, got {_show(value)}")
        return ""
    if len(value) > LABEL_MAX_LENGTH:
        problems.add(path, f"is {len(value)} characters long; at most {LABEL_MAX_LENGTH}")
    elif (found := refused_character(value)) is not None:
        problems.add(path, f"must not contain control characters; it contains {found}")
    return value


def _read_time(value: object, path: str, problems: _Problems) -> datetime | None:
    if not isinstance(value, str):
        problems.add(path, f"must be a date and time as text (ISO 8601, e.g. "
                           f"\"2026-01-05T18:00:00Z\"), got {_show(value)}")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        problems.add(path, f"{_show(value)} is not an ISO 8601 date and time "
                           "(e.g. \"2026-01-05T18:00:00Z\")")
        return None
    if moment.tzinfo is None:
        problems.add(path, "must say its time zone (e.g. a trailing Z for UTC)")
        return None
    return moment.astimezone(UTC).replace(microsecond=0)


def _unknown_keys(obj: dict, path: str, allowed: set[str], problems: _Problems) -> None:
    for key in obj:
        if key not in allowed:
            problems.add(f"{path}.{key}" if _plain_key(key)
                         else f"{path}[{json.dumps(str(key), ensure_ascii=False)}]",
                         "is not a field of a version-1 preset document")


def _plain_key(key: object) -> bool:
    return isinstance(key, str) and bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: object) -> str:
    if isinstance(value, str | int | float | bool) or value is None:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except ValueError:  # an int too long to print
            return "a very large number"
        return text if len(text) <= 40 else text[:37] + "…"
    return _kind(value)


#: One reader per document version; each returns today's PresetDocument.
READERS: dict[int, Callable[[dict, Context, _Problems], PresetDocument]] = {1: _read_v1}


# --- writing ---------------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_json(doc: PresetDocument) -> dict:
    """The current version's JSON, keys in the documented order."""
    return {
        "format": FORMAT,
        "version": CURRENT_VERSION,
        "name": doc.name,
        "created_at": format_time(doc.created_at),
        "multiviewers": [_multiviewer_json(mv) for mv in doc.multiviewers],
    }


def _multiviewer_json(mv: MultiviewerPart) -> dict:
    out: dict = {"nexx_index": mv.nexx_index, "label": mv.label}
    for key in ("layout", "font", "outer_border", "inner_border", "output_format"):
        value = getattr(mv, key)
        if value is not None:
            out[key] = value
    if mv.windows:
        out["windows"] = [_window_json(w) for w in mv.windows]
    return out


def _window_json(window: WindowPart) -> dict:
    out: dict = {"window": window.window}
    if window.source is not None:
        out["source"] = {"quartz_input": window.source.quartz_input,
                         "label": window.source.label}
    if window.pcm_bars is not None:
        out["pcm_bars"] = window.pcm_bars
    if window.umd is not None:
        out["umd"] = [{"layer": layer.layer, **{key: layer.values[key] for key in UMD_KEYS}}
                      for layer in window.umd]
    return out


def dumps(doc: PresetDocument) -> bytes:
    """The file an export hands out: UTF-8, 2-space indentation, newline at the end."""
    return (json.dumps(to_json(doc), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def safe_filename(name: str) -> str:
    """A download name for the preset: letters, digits, '-', '_' and '.' only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80]
    return f"{stem or 'preset'}.mvpreset.json"
