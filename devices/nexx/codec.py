"""The EV REST API on the wire, without I/O: request paths in, reply bodies out, both ways.

The client builds request paths and parses replies here; the emulator parses request paths and
encodes replies here. Paths are relative to the API base (`…/v.api/apis/`).

Requests (every call is an HTTP GET):
    EV/GET/parameter/{id}                   EV/GET/parameter?varid={id}
    EV/GET/parameters/{id1},{id2}           EV/GET/parameters?varid={id1},{id2}
    EV/SET/parameter/{id}/{value}           EV/SET/parameter?{id}={value}
    EV/SET/parameters/{id1},{id2}/{v1},{v2} EV/SET/parameters?{id1}={v1}&{id2}={v2}
    BT/JWTCREATE/{base64 of {"username", "password"}}, BT/JWTREFRESH/{jwt}, BT/JWTVERIFY/{jwt}
    EV/SERVERSTATUS                         EV/SERVERADD/server/{ip}/{name}/{port}/udp
    EV/NOTIFYADD/parameter/{server id}/{id} EV/SERVERDEL/server/{server id}
(the last four register a receiver of change notifications: devices/nexx/notify.py has their
replies and the datagrams)

Replies (all three seen in the field, values as strings or numbers):
    keyed    {"2704.3": "5", "2709.3.0.0": "CAM 3"}
    objects  {"id": "2704.3@i", "name": "Layout Selection", "type": "integer", "value": "5"}
    list     [{"id": "2704.3@i", "value": 5}, …]
    error    {"error": "…"} (sometimes with HTTP 200)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

from devices.nexx.catalog import (
    BY_VARID,
    MAX_PARAMETERS_PER_REQUEST,
    InvalidParameterId,
    ValueType,
    parse_param_id,
)

API_KEY_HEADER = "webeasy-api-key"
JWT_HEADER = "jwt"
TOO_MANY_PARAMETERS_TEXT = (
    f"no more than {MAX_PARAMETERS_PER_REQUEST} parameters in one request"
)
REPLY_FORMATS = ("keyed", "objects", "list")
_FAILED_STATUSES = {"error", "fail", "failed", "failure"}
_AUTH_WORDS = ("unauthori", "forbidden", "not authenticated", "authentication", "jwt", "token",
               "api key", "api-key", "credential", "password", "permission", "login")


class ReplyError(Exception):
    """A reply the client cannot use. The client adds the device and the call."""


class MalformedReply(ReplyError):
    """Not JSON, or JSON of an unexpected shape, or a value that is not a scalar."""


class ErrorReply(ReplyError):
    """The device answered with an error text (`{"error": …}` or a failed status)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    @property
    def too_many_parameters(self) -> bool:
        lowered = self.text.lower()
        return "no more than" in lowered and "parameters" in lowered

    @property
    def auth_failure(self) -> bool:
        lowered = self.text.lower()
        return any(word in lowered for word in _AUTH_WORDS)


# --- client side: requests ---------------------------------------------------------------


def quote_value(value: str) -> str:
    """Percent-encode a value for a path segment: space %20, comma %2C, slash %2F, percent %25,
    non-ASCII as UTF-8 bytes."""
    return quote(value, safe="")


def batches(items: Sequence, size: int = MAX_PARAMETERS_PER_REQUEST) -> Iterator[Sequence]:
    """The items in requests of at most `size` (40: the device's limit)."""
    if size < 1:
        raise ValueError("batch size must be positive")
    for start in range(0, len(items), size):
        yield items[start:start + size]


def read_path(param_ids: Sequence[str]) -> str:
    if not param_ids:
        raise ValueError("nothing to read")
    if len(param_ids) == 1:
        return f"EV/GET/parameter/{quote_value(param_ids[0])}"
    return "EV/GET/parameters/" + ",".join(quote_value(p) for p in param_ids)


def write_path(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        raise ValueError("nothing to write")
    if len(pairs) == 1:
        pid, value = pairs[0]
        return f"EV/SET/parameter/{quote_value(pid)}/{quote_value(value)}"
    ids = ",".join(quote_value(pid) for pid, _ in pairs)
    values = ",".join(quote_value(value) for _, value in pairs)
    return f"EV/SET/parameters/{ids}/{values}"


def jwt_create_path(username: str, password: str) -> str:
    credentials = json.dumps({"username": username, "password": password}).encode()
    return "BT/JWTCREATE/" + quote_value(base64.b64encode(credentials).decode("ascii"))


def jwt_refresh_path(token: str) -> str:
    return "BT/JWTREFRESH/" + quote_value(token)


def jwt_verify_path(token: str) -> str:
    return "BT/JWTVERIFY/" + quote_value(token)


def server_status_path() -> str:
    return "EV/SERVERSTATUS"


def server_add_path(ip: str, name: str, port: int, protocol: str = "udp") -> str:
    return (f"EV/SERVERADD/server/{quote_value(ip)}/{quote_value(name)}/{int(port)}/"
            f"{quote_value(protocol)}")


def notify_add_path(server_id: str, param_id: str) -> str:
    return f"EV/NOTIFYADD/parameter/{quote_value(server_id)}/{quote_value(param_id)}"


def server_del_path(server_id: str) -> str:
    return f"EV/SERVERDEL/server/{quote_value(server_id)}"


# --- client side: replies -----------------------------------------------------------------


def decode_json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedReply(f"the reply is not JSON ({_snippet(body)})") from exc


def raise_for_error(doc: object) -> None:
    """ErrorReply when the document is an error, whatever the HTTP status was."""
    if not isinstance(doc, dict):
        return
    if "error" in doc and doc["error"] not in (None, "", False):
        raise ErrorReply(_text(doc["error"]))
    status = doc.get("status")
    if isinstance(status, str) and status.lower() in _FAILED_STATUSES:
        raise ErrorReply(_text(doc.get("message") or doc.get("msg") or status))


def parse_values(doc: object, requested: Sequence[str]) -> dict[str, str]:
    """The raw values of `requested` ids from a read reply in any of the three formats.

    Values come back as strings (numbers as their decimal text). A reply that lacks a requested
    id, or carries a value that is not a scalar, is malformed: nothing of it is used."""
    raise_for_error(doc)
    found: dict[str, object] = {}
    if isinstance(doc, list):
        for item in doc:
            pid, value = _object_value(item)
            found[pid] = value
    elif isinstance(doc, dict) and "id" in doc and "value" in doc:
        pid, value = _object_value(doc)
        found[pid] = value
    elif isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, dict) and "value" in value:
                value = value["value"]
            found[_strip_type(key)] = value
    else:
        raise MalformedReply(f"unexpected reply of type {type(doc).__name__}")
    missing = [pid for pid in requested if pid not in found]
    if missing:
        raise MalformedReply(f"the reply lacks {', '.join(missing[:5])}"
                             + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    return {pid: _scalar(pid, found[pid]) for pid in requested}


def parse_jwt(doc: object) -> tuple[str, float | None]:
    """(token, lifespan in seconds or None) from a JWTCREATE / JWTREFRESH reply."""
    raise_for_error(doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("jwt"), str) or not doc["jwt"]:
        raise MalformedReply("the reply carries no jwt")
    brief = doc.get("brief")
    lifespan = brief.get("lifespan") if isinstance(brief, dict) else None
    try:
        seconds = float(lifespan) if lifespan is not None else None
    except (TypeError, ValueError):
        seconds = None
    return doc["jwt"], seconds if seconds and seconds > 0 else None


def _object_value(item: object) -> tuple[str, object]:
    if not isinstance(item, dict) or "id" not in item or "value" not in item:
        raise MalformedReply("a reply object lacks its id or value")
    if not isinstance(item["id"], str | int):
        raise MalformedReply("a reply object has an id that is not text")
    return _strip_type(str(item["id"])), item["value"]


def _strip_type(pid: str) -> str:
    return pid.split("@", 1)[0].strip()


def _scalar(pid: str, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        raise MalformedReply(f"{pid} has the value {json.dumps(value)}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise MalformedReply(f"{pid} has a value of type {type(value).__name__}")


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _snippet(body: bytes, limit: int = 60) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text + ("…" if len(body) > limit else ""))


# --- emulator side: requests ----------------------------------------------------------------


class BadRequest(ValueError):
    """A request path the device would not understand."""


@dataclass(frozen=True)
class EvGet:
    param_ids: list[str]


@dataclass(frozen=True)
class EvSet:
    pairs: list[tuple[str, str]]


@dataclass(frozen=True)
class JwtCreate:
    username: str
    password: str


@dataclass(frozen=True)
class JwtRefresh:
    token: str


@dataclass(frozen=True)
class JwtVerify:
    token: str


@dataclass(frozen=True)
class ServerStatus:
    """EV/SERVERSTATUS: the receivers registered and what each is subscribed to."""


@dataclass(frozen=True)
class ServerAdd:
    ip: str
    name: str
    port: int
    protocol: str


@dataclass(frozen=True)
class NotifyAdd:
    server_id: str
    param_id: str


@dataclass(frozen=True)
class ServerDel:
    server_id: str


ApiRequest = (EvGet | EvSet | JwtCreate | JwtRefresh | JwtVerify | ServerStatus | ServerAdd
              | NotifyAdd | ServerDel)


@dataclass(frozen=True)
class ParsedRequest:
    call: ApiRequest
    credentials: dict[str, str] = field(default_factory=dict)  # from the query string

    @property
    def parameter_count(self) -> int:
        if isinstance(self.call, EvGet):
            return len(self.call.param_ids)
        if isinstance(self.call, EvSet):
            return len(self.call.pairs)
        return 0


def parse_request(target: str, base: str = "/v.api/apis/") -> ParsedRequest:
    """Take apart a request target (raw path and query, still percent-encoded)."""
    path, _, query = target.partition("?")
    if not path.startswith(base):
        raise BadRequest(f"unknown path {path!r}")
    segments = path[len(base):].split("/")
    query_pairs = parse_qsl(query, keep_blank_values=True)
    credentials = {k: v for k, v in query_pairs if k in (API_KEY_HEADER, JWT_HEADER)}
    query_pairs = [(k, v) for k, v in query_pairs if k not in (API_KEY_HEADER, JWT_HEADER)]
    head = [s.upper() for s in segments[:2]]
    rest = segments[2:]
    if head == ["EV", "GET"]:
        call: ApiRequest = _parse_get(rest, query_pairs)
    elif head == ["EV", "SET"]:
        call = _parse_set(rest, query_pairs)
    elif head == ["BT", "JWTCREATE"] and len(rest) == 1:
        call = _parse_jwt_create(unquote(rest[0]))
    elif head == ["BT", "JWTREFRESH"] and len(rest) == 1:
        call = JwtRefresh(unquote(rest[0]))
    elif head == ["BT", "JWTVERIFY"] and len(rest) == 1:
        call = JwtVerify(unquote(rest[0]))
    elif head[:1] == ["EV"] and head[1:] and head[1] in _NOTIFY_CALLS:
        call = _NOTIFY_CALLS[head[1]](rest)
    else:
        raise BadRequest(f"unknown call {'/'.join(segments[:2])!r}")
    return ParsedRequest(call, credentials)


def _noun(rest: list[str]) -> str:
    if not rest or rest[0].lower() not in ("parameter", "parameters"):
        raise BadRequest("expected parameter or parameters")
    return rest[0].lower()


def _parse_get(rest: list[str], query: list[tuple[str, str]]) -> EvGet:
    _noun(rest)
    if len(rest) == 2 and rest[1]:
        ids = [unquote(p) for p in rest[1].split(",")]
    elif len(rest) == 1 and query:
        ids = [p for k, v in query if k == "varid" for p in v.split(",")]
    else:
        raise BadRequest("no parameter to read")
    if not ids or any(not p for p in ids):
        raise BadRequest("empty parameter id")
    return EvGet(ids)


def _parse_set(rest: list[str], query: list[tuple[str, str]]) -> EvSet:
    noun = _noun(rest)
    if len(rest) >= 3:
        ids = [unquote(p) for p in rest[1].split(",")]
        raw_values = "/".join(rest[2:])  # a client that left a slash unencoded
        if noun == "parameter" and len(ids) == 1:
            values = [unquote(raw_values)]
        else:
            values = [unquote(v) for v in raw_values.split(",")]
        if len(ids) != len(values):
            raise BadRequest(f"{len(ids)} parameters but {len(values)} values")
        pairs = list(zip(ids, values, strict=True))
    elif len(rest) == 1 and query:
        pairs = list(query)
    else:
        raise BadRequest("no parameter to write")
    if any(not pid for pid, _ in pairs):
        raise BadRequest("empty parameter id")
    return EvSet(pairs)


def _named(rest: list[str], noun: str, count: int, call: str) -> list[str]:
    """The `count` path segments after `noun` (EV/SERVERADD/server/…), unquoted."""
    if len(rest) != count + 1 or rest[0].lower() != noun or not all(rest[1:]):
        raise BadRequest(f"{call} takes {noun}/" + "/".join(["…"] * count))
    return [unquote(segment) for segment in rest[1:]]


def _parse_server_status(rest: list[str]) -> ServerStatus:
    if any(rest):
        raise BadRequest("SERVERSTATUS takes nothing more")
    return ServerStatus()


def _parse_server_add(rest: list[str]) -> ServerAdd:
    ip, name, port, protocol = _named(rest, "server", 4, "SERVERADD")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise BadRequest(f"SERVERADD: {port!r} is not a port")
    return ServerAdd(ip, name, int(port), protocol.lower())


def _parse_notify_add(rest: list[str]) -> NotifyAdd:
    server_id, pid = _named(rest, "parameter", 2, "NOTIFYADD")
    return NotifyAdd(server_id, pid)


def _parse_server_del(rest: list[str]) -> ServerDel:
    (server_id,) = _named(rest, "server", 1, "SERVERDEL")
    return ServerDel(server_id)


_NOTIFY_CALLS = {"SERVERSTATUS": _parse_server_status, "SERVERADD": _parse_server_add,
                 "NOTIFYADD": _parse_notify_add, "SERVERDEL": _parse_server_del}


def _parse_jwt_create(encoded: str) -> JwtCreate:
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        doc = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("JWTCREATE needs base64 of a JSON object") from exc
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), str)
                                            for k in ("username", "password")):
        raise BadRequest("JWTCREATE needs a username and a password")
    return JwtCreate(doc["username"], doc["password"])


# --- emulator side: replies ------------------------------------------------------------------


def type_suffix(pid: str) -> str:
    try:
        p = parse_param_id(pid).parameter
    except InvalidParameterId:
        return "s"
    return "s" if p.type is ValueType.STRING else "i"


def encode_values(values: Iterable[tuple[str, str]], reply_format: str, *,
                  single: bool) -> bytes:
    """A read (or write echo) reply in one of the three formats. `single`: the request named
    one parameter (the "objects" format then answers a bare object)."""
    pairs = list(values)
    if reply_format == "keyed":
        return encode_json({pid: value for pid, value in pairs})
    if reply_format == "objects":
        objects = [_object(pid, value, numbers=False) for pid, value in pairs]
        return encode_json(objects[0] if single and len(objects) == 1 else objects)
    if reply_format == "list":
        return encode_json([_object(pid, value, numbers=True) for pid, value in pairs])
    raise ValueError(f"unknown reply format {reply_format!r}")


def encode_error(text: str) -> bytes:
    return encode_json({"error": text})


def encode_jwt(token: str, *, username: str, role: str, lifespan: float) -> bytes:
    return encode_json({
        "status": "success",
        "message": "OK",
        "jwt": token,
        "brief": {"username": username, "userrole": role, "lifespan": int(lifespan)},
    })


def _object(pid: str, value: str, *, numbers: bool) -> dict:
    suffix = type_suffix(pid)
    varid = pid.split(".", 1)[0]
    p = BY_VARID.get(int(varid)) if varid.isdigit() else None
    shown: object = value
    if numbers and suffix == "i" and value.lstrip("-").isdigit():
        shown = int(value)
    obj = {"id": f"{pid}@{suffix}", "value": shown}
    if not numbers:
        obj = {"id": obj["id"], "name": p.name if p else pid,
               "type": "string" if suffix == "s" else "integer", "value": shown}
    return obj


def encode_json(doc: object) -> bytes:
    """UTF-8 JSON, non-ASCII kept as is (as the frame sends it)."""
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
