"""The EV wire format without sockets: request paths both ways, the three reply formats, errors."""

import base64
import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.nexx import codec
from devices.nexx.codec import (
    ErrorReply,
    EvGet,
    EvSet,
    JwtCreate,
    JwtRefresh,
    JwtVerify,
    MalformedReply,
    parse_request,
    parse_values,
)

BASE = "/v.api/apis/"


def test_read_paths():
    assert codec.read_path(["2704.3"]) == "EV/GET/parameter/2704.3"
    assert codec.read_path(["2700", "2701"]) == "EV/GET/parameters/2700,2701"


def test_write_paths_encode_values():
    assert codec.write_path([("2709.0.0.0", "CAM 3")]) == "EV/SET/parameter/2709.0.0.0/CAM%203"
    path = codec.write_path([("2709.0.0.0", "A, B"), ("2718.0.1", "100%/ü")])
    assert path == "EV/SET/parameters/2709.0.0.0,2718.0.1/A%2C%20B,100%25%2F%C3%BC"


def test_batches_of_forty():
    assert [len(b) for b in codec.batches(list(range(39)))] == [39]
    assert [len(b) for b in codec.batches(list(range(40)))] == [40]
    assert [len(b) for b in codec.batches(list(range(41)))] == [40, 1]
    assert [len(b) for b in codec.batches(list(range(120)))] == [40, 40, 40]
    assert list(codec.batches([])) == []


def test_jwt_create_path_carries_base64_credentials():
    path = codec.jwt_create_path("admin", "p/a+s=s")
    assert path.startswith("BT/JWTCREATE/")
    parsed = parse_request(BASE + path).call
    assert parsed == JwtCreate("admin", "p/a+s=s")
    encoded = path.rsplit("/", 1)[1]
    assert "/" not in encoded


# --- replies ---------------------------------------------------------------------------------


REQUESTED = ["2704.3", "2709.3.0.0"]


@pytest.mark.parametrize("doc", [
    {"2704.3": "5", "2709.3.0.0": "CAM 3"},                                     # keyed
    {"2704.3": 5, "2709.3.0.0": "CAM 3", "2700": "120"},                        # numbers, extra
    {"2704.3@i": "5", "2709.3.0.0@s": "CAM 3"},                                 # keyed, typed
    [{"id": "2704.3@i", "value": 5}, {"id": "2709.3.0.0@s", "value": "CAM 3"}],  # list
    [{"id": "2704.3@i", "name": "Layout Selection", "type": "integer", "value": "5"},
     {"id": "2709.3.0.0@s", "name": "UMD Text", "type": "string", "value": "CAM 3"}],
    {"2704.3": {"value": 5.0}, "2709.3.0.0": {"value": "CAM 3"}},
])
def test_every_reply_format_gives_the_same_values(doc):
    assert parse_values(doc, REQUESTED) == {"2704.3": "5", "2709.3.0.0": "CAM 3"}


def test_single_object_reply():
    doc = {"id": "2704.3@i", "name": "Layout Selection", "type": "integer", "value": "5"}
    assert parse_values(doc, ["2704.3"]) == {"2704.3": "5"}


@pytest.mark.parametrize("doc", [
    {"2704.3": "5"},                                   # lacks one
    [{"id": "2704.3@i"}, {"id": "2709.3.0.0@s", "value": "x"}],  # object without value
    {"2704.3": None, "2709.3.0.0": "x"},
    {"2704.3": True, "2709.3.0.0": "x"},
    {"2704.3": [5], "2709.3.0.0": "x"},
    "5",
    42,
    [5, 6],
])
def test_malformed_replies(doc):
    with pytest.raises(MalformedReply):
        parse_values(doc, REQUESTED)


@pytest.mark.parametrize("doc", [
    {"error": "Error: no more than 40 parameters in one request"},
    {"status": "fail", "message": "Invalid username or password"},
    {"status": "error", "message": "whatever"},
])
def test_error_replies(doc):
    with pytest.raises(ErrorReply):
        parse_values(doc, REQUESTED)


def test_error_classification():
    assert ErrorReply("Error: no more than 40 parameters in one request").too_many_parameters
    assert ErrorReply("Unauthorized: jwt expired").auth_failure
    assert not ErrorReply("Error: unknown parameter 2704.200").auth_failure
    assert not ErrorReply("Error: unknown parameter 2704.200").too_many_parameters


def test_decode_json_refuses_garbage():
    with pytest.raises(MalformedReply, match="not JSON"):
        codec.decode_json(b'{"2700": "120", ')
    with pytest.raises(MalformedReply):
        codec.decode_json(b"\xff\xfe")


def test_parse_jwt():
    body = codec.encode_jwt("abc.def.ghi", username="admin", role="administrator", lifespan=4500)
    assert codec.parse_jwt(codec.decode_json(body)) == ("abc.def.ghi", 4500.0)
    assert codec.parse_jwt({"status": "success", "jwt": "t"}) == ("t", None)
    with pytest.raises(ErrorReply):
        codec.parse_jwt({"status": "fail", "message": "Invalid username or password"})
    with pytest.raises(MalformedReply):
        codec.parse_jwt({"status": "success"})


# --- requests as the frame sees them -----------------------------------------------------------


@pytest.mark.parametrize(("target", "expected"), [
    ("EV/GET/parameter/2704.3", EvGet(["2704.3"])),
    ("EV/GET/parameter?varid=2704.3", EvGet(["2704.3"])),
    ("EV/GET/parameters/2700,2701", EvGet(["2700", "2701"])),
    ("EV/GET/parameters?varid=2700,2701", EvGet(["2700", "2701"])),
    ("EV/SET/parameter/2709.0.0.0/CAM%203", EvSet([("2709.0.0.0", "CAM 3")])),
    ("EV/SET/parameter/2709.0.0.0/a%2Cb", EvSet([("2709.0.0.0", "a,b")])),
    ("EV/SET/parameter?2704.3=5", EvSet([("2704.3", "5")])),
    ("EV/SET/parameters/2704.0,2704.1/1,2", EvSet([("2704.0", "1"), ("2704.1", "2")])),
    ("EV/SET/parameters?2704.0=1&2709.0.0.0=A%20B", EvSet([("2704.0", "1"),
                                                            ("2709.0.0.0", "A B")])),
    ("EV/SET/parameters/2709.0.0.0,2704.0/,3", EvSet([("2709.0.0.0", ""), ("2704.0", "3")])),
    ("BT/JWTREFRESH/abc", JwtRefresh("abc")),
    ("BT/JWTVERIFY/abc", JwtVerify("abc")),
])
def test_parse_request_forms(target, expected):
    assert parse_request(BASE + target).call == expected


def test_query_credentials_are_taken_out_of_the_parameters():
    parsed = parse_request(BASE + "EV/SET/parameter?2704.3=5&webeasy-api-key=k1")
    assert parsed.call == EvSet([("2704.3", "5")])
    assert parsed.credentials == {"webeasy-api-key": "k1"}
    parsed = parse_request(BASE + "EV/GET/parameter?varid=2700&jwt=t")
    assert parsed.credentials == {"jwt": "t"}


@pytest.mark.parametrize("target", [
    "/other/EV/GET/parameter/2700",
    BASE + "EV/GET/parameter",
    BASE + "EV/GET/thing/2700",
    BASE + "EV/SET/parameters/2704.0,2704.1/1",
    BASE + "EV/DELETE/parameter/2700",
    BASE + "BT/JWTCREATE/%%%",
    BASE + "BT/JWTCREATE/" + base64.b64encode(b'{"username": 1}').decode(),
])
def test_bad_requests(target):
    with pytest.raises(codec.BadRequest):
        parse_request(target)


text_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)


@given(st.lists(text_values, min_size=1, max_size=5))
def test_any_text_survives_a_multi_write(values):
    pairs = [(f"2709.0.{i}.0", v) for i, v in enumerate(values)]
    assert parse_request(BASE + codec.write_path(pairs)).call == EvSet(pairs)


@given(text_values)
def test_any_text_survives_a_single_write(value):
    pairs = [("2718.0.0", value)]
    assert parse_request(BASE + codec.write_path(pairs)).call == EvSet(pairs)


def test_path_values_use_only_safe_characters():
    path = codec.write_path([("2709.0.0.0", "a b,c%d/e?f#g&h=i+ü"), ("2704.0", "1")])
    allowed = set(string.ascii_letters + string.digits + "%-._~/,")
    assert set(path) <= allowed


@pytest.mark.parametrize("fmt", codec.REPLY_FORMATS)
def test_encoded_replies_parse_back(fmt):
    values = [("2704.3", "5"), ("2709.3.0.0", "CAM 3, ü")]
    doc = json.loads(codec.encode_values(values, fmt, single=False))
    assert parse_values(doc, ["2704.3", "2709.3.0.0"]) == dict(values)
    one = json.loads(codec.encode_values(values[:1], fmt, single=True))
    assert parse_values(one, ["2704.3"]) == {"2704.3": "5"}
    if fmt == "objects":
        assert one["id"] == "2704.3@i" and one["name"] == "Layout selection"
    if fmt == "list":
        assert one == [{"id": "2704.3@i", "value": 5}]
