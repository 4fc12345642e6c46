"""The frame's change notifications without I/O: receiver replies and the datagrams it pushes.

A receiver registers with the frame (`EV/SERVERADD/server/{ip}/{name}/{port}/udp`), subscribes
to parameter instances one request each (`EV/NOTIFYADD/parameter/{server id}/{id}`), and from
then on the frame sends every change of those parameters as a UDP datagram holding a JSON-RPC
2.0 notification (the request paths are in codec.py, beside the other EV calls):

    {"jsonrpc": "2.0", "method": "…", "params": [{"varid": "2704.3@i", "data": "5"}, …]}

What is known of it comes from field code for these frames, not from a frame at hand, so the
parser accepts what such code shows and more: any method name (or none), `@i`/`@s` type suffixes
or none, several entries per datagram, a batch (a JSON list of notifications), `data` as text or
as a number. Whatever it cannot use (not JSON, an entry without a varid, an id outside the
catalog, a value that cannot belong to its parameter) is left out and said why in `ignored`;
the caller logs that once per datagram. Nothing here raises on any input.

Values are validated against the catalog (`parameter(...).from_device`), so what comes out is
the operator value the snapshot stores (layout 1..43, PCM bars, enum indexes, text).

    datagram = parse_datagram(data)
    datagram.changes     # [Change("2704.3", "5", 6), …]  (raw device value, operator value)
    datagram.ignored     # ["2704.300: multiviewer index 300 is out of range 0..119"]

The emulator encodes with `encode_datagram`, `encode_server_status` and `encode_server`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from devices.nexx.catalog import (
    InvalidParameterId,
    MalformedValue,
    OperatorValue,
    parse_param_id,
)
from devices.nexx.codec import ErrorReply, MalformedReply, encode_json, raise_for_error, type_suffix

#: Entries per datagram the emulator sends: about 1 kB, well inside one Ethernet frame.
ENTRIES_PER_DATAGRAM = 20
#: Entries of one datagram the parser looks at; a datagram is small, anything beyond is junk.
MAX_ENTRIES = 1000
_IGNORED_KEPT = 5  # reasons kept per datagram: enough for one log line
_EXISTS_WORDS = ("exist", "already")


# --- receivers: SERVERSTATUS, SERVERADD, NOTIFYADD replies ---------------------------------------


@dataclass(frozen=True)
class Receiver:
    """One receiver registered with the frame, as SERVERSTATUS or SERVERADD describe it.
    `parameters` are the subscribed parameter ids without type suffix ("2704.3")."""

    id: str
    name: str
    ip: str = ""
    port: int | None = None
    protocol: str = ""
    parameters: frozenset[str] = field(default_factory=frozenset)

    def sends_to(self, ip: str, port: int) -> bool:
        """Whether the frame sends this receiver's datagrams to ip:port over UDP."""
        return (self.ip == ip and self.port == port
                and self.protocol.lower() in ("", "udp"))


def parse_server_status(doc: object) -> list[Receiver]:
    """The receivers of an EV/SERVERSTATUS reply: `{"data": {"servers": [...]}}`, also without
    the "data" level or as a bare list. ErrorReply for an error reply, MalformedReply when no
    list of servers can be found."""
    raise_for_error(doc)
    servers: object = doc
    if isinstance(servers, dict) and "data" in servers:
        servers = servers["data"]
    if isinstance(servers, dict):
        if "servers" not in servers:
            raise MalformedReply("the SERVERSTATUS reply has no list of servers")
        servers = servers["servers"]
    if servers is None:
        return []  # a frame with no receiver may say so with null
    if not isinstance(servers, list):
        raise MalformedReply("the SERVERSTATUS reply's servers are not a list")
    return [_receiver(item) for item in servers]


def parse_server_add(doc: object) -> Receiver:
    """The receiver an EV/SERVERADD reply created: `{"status": "success", "data": {"server":
    {...}}}` (also the server object one level higher)."""
    raise_for_error(doc)
    if not isinstance(doc, dict):
        raise MalformedReply("the SERVERADD reply is not an object")
    data = doc.get("data", doc)
    server = data.get("server", data) if isinstance(data, dict) else None
    return _receiver(server)


def parse_notify_add(doc: object) -> bool:
    """True when an EV/NOTIFYADD reply says the parameter was subscribed, False when it says it
    was already ("Variable exists": as good as added). ErrorReply for any other refusal."""
    try:
        raise_for_error(doc)
    except ErrorReply as exc:
        if already_subscribed(exc.text):
            return False
        raise
    return True


def already_subscribed(text: str) -> bool:
    """Whether an error text says the parameter is subscribed already ("Variable exists")."""
    lowered = text.lower()
    return any(word in lowered for word in _EXISTS_WORDS)


def _receiver(item: object) -> Receiver:
    if not isinstance(item, dict):
        raise MalformedReply("a server of the reply is not an object")
    ident = item.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int) or str(ident) == "":
        raise MalformedReply("a server of the reply has no id")
    notify = item.get("notify")
    if notify is None:
        notify = {}
    if not isinstance(notify, dict):
        raise MalformedReply(f"server {ident} has a notify that is not an object")
    port = notify.get("port")
    try:
        port_number = int(port) if port is not None and not isinstance(port, bool) else None
    except (TypeError, ValueError):
        port_number = None
    parameters = notify.get("parameters") or []
    if not isinstance(parameters, list):
        raise MalformedReply(f"server {ident} has parameters that are not a list")
    return Receiver(
        id=str(ident),
        name=str(item.get("name") or ""),
        ip=str(notify.get("ip") or ""),
        port=port_number,
        protocol=str(notify.get("protocol") or ""),
        parameters=frozenset(canonical_id(p) for p in parameters
                             if isinstance(p, str | int) and not isinstance(p, bool)),
    )


def canonical_id(pid: object) -> str:
    """A parameter id as the catalog writes it ("2704.03@i" → "2704.3"); an id the catalog does
    not know is kept as the frame wrote it (without its type suffix)."""
    text = str(pid).split("@", 1)[0].strip()
    try:
        return parse_param_id(text).id
    except InvalidParameterId:
        return text


# --- the emulator's replies -----------------------------------------------------------------------


def server_document(receiver: Receiver) -> dict:
    return {"id": receiver.id, "name": receiver.name,
            "notify": {"ip": receiver.ip, "port": receiver.port,
                       "protocol": receiver.protocol or "udp",
                       "parameters": sorted(receiver.parameters, key=_id_order)}}


def encode_server_status(receivers: Iterable[Receiver]) -> bytes:
    return encode_json({"data": {"servers": [server_document(r) for r in receivers]}})


def encode_server(receiver: Receiver) -> bytes:
    return encode_json({"status": "success", "data": {"server": server_document(receiver)}})


def _id_order(pid: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in pid.split("."))


# --- datagrams --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One parameter's new value: its id (canonical, no suffix), the device value as sent, and
    the operator value the catalog makes of it."""

    param_id: str
    raw: str
    value: OperatorValue


@dataclass(frozen=True)
class Datagram:
    """What one datagram said: the changes in the order they came, and why anything was left
    out (at most a few reasons, the count of all in `ignored_count`)."""

    changes: list[Change]
    ignored: list[str]
    ignored_count: int = 0

    @property
    def junk(self) -> bool:
        return self.ignored_count > 0


def parse_datagram(data: bytes) -> Datagram:
    """The changes in one notification datagram; never raises."""
    changes: list[Change] = []
    ignored: list[str] = []
    count = 0

    def ignore(why: str) -> None:
        nonlocal count
        count += 1
        if len(ignored) < _IGNORED_KEPT:
            ignored.append(why)

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Datagram([], ["not UTF-8 text"], 1)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return Datagram([], [f"not JSON ({_snippet(text)})"], 1)
    notifications = doc if isinstance(doc, list) else [doc]
    seen = 0
    for notification in notifications:
        if not isinstance(notification, dict):
            ignore("a notification that is not an object")
            continue
        params = notification.get("params")
        if isinstance(params, dict):
            params = [params]
        if not isinstance(params, list):
            ignore("a notification without params")
            continue
        for entry in params:
            seen += 1
            if seen > MAX_ENTRIES:
                ignore(f"more than {MAX_ENTRIES} entries")
                return Datagram(changes, ignored, count)
            change = _entry(entry)
            if isinstance(change, str):
                ignore(change)
            else:
                changes.append(change)
    return Datagram(changes, ignored, count)


def _entry(entry: object) -> Change | str:
    """A Change, or why the entry cannot be one."""
    if not isinstance(entry, dict):
        return "an entry that is not an object"
    varid = entry.get("varid")
    if isinstance(varid, bool) or not isinstance(varid, str | int):
        return "an entry without a varid"
    raw = entry.get("data", entry.get("value"))
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return f"{_snippet(str(varid))}: no value"
    if isinstance(raw, float):
        raw = str(int(raw)) if raw.is_integer() else repr(raw)
    raw = str(raw)
    try:
        ref = parse_param_id(str(varid))
    except InvalidParameterId as exc:
        return _snippet(exc.detail, 80)
    if not ref.parameter.readable:
        return f"{ref.id}: {ref.parameter.name} has no value to follow"
    try:
        value = ref.parameter.from_device(raw)
    except MalformedValue as exc:
        return f"{ref.id}: {_snippet(str(exc), 80)}"
    return Change(ref.id, raw, value)


def encode_datagram(pairs: Iterable[tuple[str, str]], *, method: str = "notify") -> bytes:
    """One notification of (parameter id, raw device value) pairs, each id with its type
    suffix, as the frame sends them."""
    params = [{"varid": f"{pid}@{type_suffix(pid)}", "data": str(value)} for pid, value in pairs]
    return encode_json({"jsonrpc": "2.0", "method": method, "params": params})


def _snippet(text: str, limit: int = 40) -> str:
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


__all__ = ["ENTRIES_PER_DATAGRAM", "Change", "Datagram", "ErrorReply", "MalformedReply",
           "Receiver", "already_subscribed", "canonical_id", "encode_datagram", "encode_server",
           "encode_server_status", "parse_datagram", "parse_notify_add", "parse_server_add",
           "parse_server_status", "server_document"]
