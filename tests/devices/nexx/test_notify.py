"""Change notifications without sockets: the receiver calls' paths and replies, and the datagrams
(any method name, type suffixes or none, several entries, junk left out and said why)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.nexx import codec, notify
from devices.nexx.catalog import (
    LAYERS_PER_WINDOW,
    PARAMETERS,
    WINDOWS_PER_MULTIVIEWER,
    Scope,
    param_id,
    parse_param_id,
)
from devices.nexx.codec import ErrorReply, MalformedReply, parse_request
from devices.nexx.notify import Change, Receiver, parse_datagram

BASE = "/v.api/apis/"


# --- the receiver calls: paths both ways ---------------------------------------------------------


def test_receiver_call_paths():
    assert codec.server_status_path() == "EV/SERVERSTATUS"
    assert codec.server_add_path("10.0.0.9", "mvcontrol", 18081) == (
        "EV/SERVERADD/server/10.0.0.9/mvcontrol/18081/udp")
    assert codec.notify_add_path("3", "2709.0.4.1") == "EV/NOTIFYADD/parameter/3/2709.0.4.1"
    assert codec.server_del_path("3") == "EV/SERVERDEL/server/3"
    assert codec.server_add_path("10.0.0.9", "mv control/1", 1) == (
        "EV/SERVERADD/server/10.0.0.9/mv%20control%2F1/1/udp")


@pytest.mark.parametrize(("path", "expected"), [
    ("EV/SERVERSTATUS", codec.ServerStatus()),
    ("ev/serverstatus/", codec.ServerStatus()),
    ("EV/SERVERADD/server/10.0.0.9/mv%20control/18081/UDP",
     codec.ServerAdd("10.0.0.9", "mv control", 18081, "udp")),
    ("EV/NOTIFYADD/parameter/7/2704.3", codec.NotifyAdd("7", "2704.3")),
    ("EV/SERVERDEL/server/7", codec.ServerDel("7")),
])
def test_receiver_calls_parse(path, expected):
    assert parse_request(BASE + path).call == expected


@pytest.mark.parametrize("path", [
    "EV/SERVERSTATUS/more",
    "EV/SERVERADD/server/10.0.0.9/name/port/udp",
    "EV/SERVERADD/server/10.0.0.9/name/70000/udp",
    "EV/SERVERADD/server/10.0.0.9/name/18081",
    "EV/SERVERADD/client/10.0.0.9/name/18081/udp",
    "EV/NOTIFYADD/parameter/7",
    "EV/NOTIFYADD/parameter//2704.3",
    "EV/SERVERDEL/server",
])
def test_malformed_receiver_calls(path):
    with pytest.raises(codec.BadRequest):
        parse_request(BASE + path)


@given(ip=st.ip_addresses(v=4).map(str), name=st.text(min_size=1, max_size=30).filter(
    lambda t: "\x00" not in t), port=st.integers(1, 65535))
def test_server_add_path_round_trips(ip, name, port):
    call = parse_request(BASE + codec.server_add_path(ip, name, port)).call
    assert call == codec.ServerAdd(ip, name, port, "udp")


# --- the receiver calls: replies ----------------------------------------------------------------


STATUS = {"data": {"servers": [
    {"id": 3, "name": "mvcontrol", "notify": {"ip": "10.0.0.9", "port": "18081",
                                              "protocol": "udp",
                                              "parameters": ["2704.3@i", "2709.0.4.01", 2701]}},
    {"id": "4", "name": "other"},
]}}


def test_server_status_reply():
    ours, other = notify.parse_server_status(STATUS)
    assert ours == Receiver("3", "mvcontrol", "10.0.0.9", 18081, "udp",
                            frozenset({"2704.3", "2709.0.4.1", "2701"}))
    assert ours.sends_to("10.0.0.9", 18081)
    assert not ours.sends_to("10.0.0.9", 18082)
    assert other == Receiver("4", "other")
    assert notify.parse_server_status({"servers": []}) == []
    assert notify.parse_server_status({"data": {"servers": None}}) == []
    assert notify.parse_server_status([{"id": 1}]) == [Receiver("1", "")]


@pytest.mark.parametrize("doc", [
    {"data": {}}, {"data": {"servers": "x"}}, {"data": {"servers": [5]}},
    {"data": {"servers": [{"name": "no id"}]}}, {"data": {"servers": [{"id": True}]}},
    {"data": {"servers": [{"id": 1, "notify": [1]}]}},
    {"data": {"servers": [{"id": 1, "notify": {"parameters": "2704.0"}}]}}, "x", 5,
])
def test_malformed_server_status(doc):
    with pytest.raises(MalformedReply):
        notify.parse_server_status(doc)


def test_server_status_error():
    with pytest.raises(ErrorReply):
        notify.parse_server_status({"error": "Unauthorized"})


def test_server_add_reply_round_trips_through_the_emulator_encoding():
    receiver = Receiver("12", "mvcontrol", "10.0.0.9", 18081, "udp", frozenset({"2704.0"}))
    assert notify.parse_server_add(json.loads(notify.encode_server(receiver))) == receiver
    assert notify.parse_server_status(
        json.loads(notify.encode_server_status([receiver]))) == [receiver]
    assert notify.parse_server_add({"id": 5, "name": "x"}) == Receiver("5", "x")
    with pytest.raises(MalformedReply):
        notify.parse_server_add({"status": "success"})
    with pytest.raises(ErrorReply):
        notify.parse_server_add({"error": "Error: too many servers"})


def test_notify_add_reply():
    assert notify.parse_notify_add({"status": "success"}) is True
    assert notify.parse_notify_add(None) is True
    assert notify.parse_notify_add({"error": "Variable exists"}) is False
    assert notify.parse_notify_add({"status": "fail", "message": "already subscribed"}) is False
    with pytest.raises(ErrorReply, match="limit"):
        notify.parse_notify_add({"error": "Error: notification limit reached"})


# --- datagrams: what the frame sends ----------------------------------------------------------


def test_one_entry():
    data = (b'{"jsonrpc": "2.0", "method": "ev.notify", '
            b'"params": [{"varid": "2704.3@i", "data": "5"}]}')
    assert parse_datagram(data).changes == [Change("2704.3", "5", 6)]


def test_suffixes_numbers_batches_and_several_entries():
    doc = [
        {"jsonrpc": "2.0", "method": "whatever", "params": [
            {"varid": "2709.0.1.2@s", "data": "CAM 3"},
            {"varid": "2719.0.1", "data": 6},
            {"varid": "2712.0.1.2@i", "data": 100.0},
        ]},
        {"params": {"varid": "2704.0", "value": "0"}},  # no jsonrpc, one entry as an object
    ]
    datagram = parse_datagram(json.dumps(doc).encode())
    assert [(c.param_id, c.value) for c in datagram.changes] == [
        ("2709.0.1.2", "CAM 3"), ("2719.0.1", 16), ("2712.0.1.2", 100), ("2704.0", 1)]
    assert not datagram.junk


@pytest.mark.parametrize(("data", "why"), [
    (b"\xff\xfe", "not UTF-8"),
    (b'{"params": [', "not JSON"),
    (b"[[[[" * 10000 + b"]]]]" * 10000, "not JSON"),
    (b'"text"', "not an object"),
    (b'{"method": "x"}', "without params"),
    (b'{"params": [5]}', "not an object"),
    (b'{"params": [{"data": "5"}]}', "without a varid"),
    (b'{"params": [{"varid": "2704.0"}]}', "no value"),
    (b'{"params": [{"varid": "2704.0", "data": null}]}', "no value"),
    (b'{"params": [{"varid": "2704.0", "data": true}]}', "no value"),
    (b'{"params": [{"varid": "9999.0", "data": "1"}]}', "not a varid"),
    (b'{"params": [{"varid": "2704.200", "data": "1"}]}', "out of range"),
    (b'{"params": [{"varid": "2704.0", "data": "banana"}]}', "not a whole number"),
    (b'{"params": [{"varid": "2719.0.0", "data": "9"}]}', "not a known value"),
    (b'{"params": [{"varid": "2735.0", "data": "1"}]}', "no value to follow"),
])
def test_junk_is_left_out_and_said_why(data, why):
    datagram = parse_datagram(data)
    assert datagram.changes == []
    assert datagram.junk and why in datagram.ignored[0]


def test_good_entries_beside_junk_are_kept():
    data = json.dumps({"params": [{"varid": "2704.0", "data": "banana"}, "x",
                                  {"varid": "2704.1", "data": "4"}]}).encode()
    datagram = parse_datagram(data)
    assert datagram.changes == [Change("2704.1", "4", 5)]
    assert datagram.ignored_count == 2


def test_only_a_few_reasons_are_kept_for_the_log_line():
    data = json.dumps({"params": [{"varid": "x"}] * 50}).encode()
    datagram = parse_datagram(data)
    assert datagram.ignored_count == 50 and len(datagram.ignored) == 5


# --- fuzzing ----------------------------------------------------------------------------------


READABLE = [p for p in PARAMETERS if p.readable]


@st.composite
def parameter_values(draw):
    """(parameter id, raw device value) of any readable parameter instance, any valid value."""
    p = draw(st.sampled_from(READABLE))
    indexes = {Scope.FRAME: [], Scope.MULTIVIEWER: [draw(st.integers(0, 119))],
               Scope.WINDOW: [draw(st.integers(0, 119)),
                              draw(st.integers(0, WINDOWS_PER_MULTIVIEWER - 1))],
               Scope.LAYER: [draw(st.integers(0, 119)),
                             draw(st.integers(0, WINDOWS_PER_MULTIVIEWER - 1)),
                             draw(st.integers(0, LAYERS_PER_WINDOW - 1))]}[p.scope]
    pid = param_id(p, *indexes)
    if p.type.value == "string":
        raw = draw(st.text(max_size=64))
    elif p.type.value == "enum":
        raw = str(draw(st.sampled_from(p.device_values())))
    else:
        raw = str(draw(st.integers(p.minimum, p.maximum)))
    return pid, raw


@given(st.lists(parameter_values(), min_size=1, max_size=25),
       st.text(max_size=30), st.booleans())
def test_any_valid_notification_round_trips(pairs, method, as_batch):
    data = notify.encode_datagram(pairs, method=method)
    if as_batch:
        data = b"[" + data + b"]"
    datagram = parse_datagram(data)
    assert not datagram.junk, datagram.ignored
    assert [(c.param_id, c.raw) for c in datagram.changes] == pairs
    for change in datagram.changes:
        assert change.value == parse_param_id(change.param_id).parameter.from_device(change.raw)


@given(st.binary(max_size=2000))
def test_any_bytes_never_break_the_parser(data):
    datagram = parse_datagram(data)
    assert isinstance(datagram.changes, list)
    assert len(datagram.ignored) <= 5


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["varid", "data", "value", "params", "method", "x"])
                      | st.text(max_size=5), children, max_size=5),
    max_leaves=30)


@given(json_values)
def test_any_json_never_breaks_the_parser(doc):
    datagram = parse_datagram(json.dumps(doc).encode())
    for change in datagram.changes:
        parse_param_id(change.param_id)  # only ids of the catalog come out


@given(st.lists(parameter_values(), min_size=1, max_size=10), st.lists(json_values, max_size=5))
def test_valid_entries_survive_junk_between_them(pairs, junk):
    entries = [{"varid": f"{pid}@{codec.type_suffix(pid)}", "data": raw} for pid, raw in pairs]
    mixed = []
    for i, entry in enumerate(entries):
        mixed.append(entry)
        if i < len(junk) and not (isinstance(junk[i], dict) and "varid" in junk[i]):
            mixed.append(junk[i])
    datagram = parse_datagram(json.dumps({"method": "m", "params": mixed}).encode())
    assert [(c.param_id, c.raw) for c in datagram.changes] == pairs
