"""The Quartz codec, without sockets: encoders, parsers, and the properties that hold for any
stream (round trips, arbitrary fragmentation, arbitrary bytes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.quartz import codec
from devices.quartz.codec import (
    MAX_LINE,
    BadCommand,
    CommandParser,
    Error,
    Garbage,
    LockState,
    NameReply,
    PowerUp,
    QuartzParser,
    Route,
    Routes,
    RouteUpdate,
)


def parse_all(data: bytes) -> list:
    return QuartzParser().feed(data)


# --- encoders ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (codec.read_output_name(12, long=False), b".RD12\r"),
        (codec.read_output_name(12), b".RE12\r"),
        (codec.read_source_name(7, long=False), b".RS7\r"),
        (codec.read_source_name(7), b".RT7\r"),
        (codec.interrogate(17), b".IV17\r"),
        (codec.interrogate(17, level="a"), b".IA17\r"),
        (codec.list_routes(1), b".LV1,-\r"),
        (codec.set_route(12, 7), b".SV12,7\r"),
        (codec.set_route(12, 7, levels="VAB"), b".SVAB12,7\r"),
        (codec.lock(3), b".BL3\r"),
        (codec.unlock(3), b".BU3\r"),
        (codec.lock_status(3), b".BI3\r"),
        (codec.fire_salvo(2), b".F2\r"),
    ],
)
def test_every_command_of_the_reference_encodes(command, wire):
    assert command.encode() == wire
    assert str(command) == wire[:-1].decode()
    assert codec.parse_command(wire[:-1]) == command


def test_pipelined_commands_are_one_write():
    batch = [codec.set_route(1, 2), codec.interrogate(1)]
    assert codec.encode_commands(batch) == b".SV1,2\r.IV1\r"


@pytest.mark.parametrize("bad", [0, -1])
def test_router_numbers_start_at_one(bad):
    with pytest.raises(ValueError, match="out of range"):
        codec.set_route(bad, 1)
    with pytest.raises(ValueError, match="out of range"):
        codec.set_route(1, bad)
    with pytest.raises(ValueError, match="out of range"):
        codec.read_source_name(bad)


def test_non_integer_numbers_and_bad_levels_are_refused():
    with pytest.raises(TypeError):
        codec.interrogate(True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        codec.interrogate("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        codec.interrogate(3, level="VA")
    with pytest.raises(ValueError):
        codec.set_route(3, 4, levels="V1")


# --- parser, by example ------------------------------------------------------------------


def test_zero_padded_numbers_parse_as_integers():
    assert parse_all(b".UV001,002\r") == [RouteUpdate("V", 1, 2)]
    assert parse_all(b".AV0012,0007\r") == [Routes((Route("V", 12, 7),))]


def test_crlf_and_empty_lines():
    data = b".UV1,2\r\n\r\n.BA3,0\r\n\n"
    assert parse_all(data) == [RouteUpdate("V", 1, 2), LockState(3, 0)]


def test_multi_group_list_reply_with_any_level_letters():
    msgs = parse_all(b".AV1,5V2,6V3,7V4,8V5,9V6,10V7,11V8,12\r.AA3,4\r")
    assert msgs[0] == Routes(tuple(Route("V", o, o + 4) for o in range(1, 9)))
    assert msgs[1] == Routes((Route("A", 3, 4),))


def test_update_with_several_levels():
    assert parse_all(b".UVAB12,7\r") == [RouteUpdate("VAB", 12, 7)]


def test_name_is_everything_after_the_first_comma():
    assert parse_all(b".RAS12,Cam, 1,wide\r") == [NameReply("source", 12, "Cam, 1,wide", False)]
    assert parse_all(b".RAE3,\r") == [NameReply("output", 3, "", True)]


def test_names_with_non_ascii_bytes_decode():
    assert parse_all(".RAT4,Caméra\r".encode()) == [NameReply("source", 4, "Caméra", True)]
    # Not UTF-8 (a Latin-1 panel name): shown as Latin-1, never an exception.
    assert parse_all(b".RAD5,\xe9t\xe9\xff\r") == [NameReply("output", 5, "été\xff", False)]


def test_errors_power_up_and_garbage():
    msgs = parse_all(b".E\r.E bad syntax\r.P\rhello\r.Z1\r.UV1\r")
    assert msgs[:3] == [Error(""), Error(" bad syntax"), PowerUp("")]
    assert [type(m) for m in msgs[3:]] == [Garbage, Garbage, Garbage]
    assert msgs[3].data == b"hello"


def test_unsolicited_messages_interleave_with_replies():
    stream = b".RAS1,CAM 1\r.UV4,2\r.RAS2,CAM 2\r.P\r.RAS3,CAM 3\r"
    assert parse_all(stream) == [
        NameReply("source", 1, "CAM 1", False),
        RouteUpdate("V", 4, 2),
        NameReply("source", 2, "CAM 2", False),
        PowerUp(""),
        NameReply("source", 3, "CAM 3", False),
    ]


def test_fragmented_bytes_wait_for_the_terminator():
    parser = QuartzParser()
    assert parser.feed(b".U") == []
    assert parser.feed(b"V1") == []
    assert parser.feed(b"2,3") == []
    assert parser.feed(b"\r\n.BA") == [RouteUpdate("V", 12, 3)]
    assert parser.feed(b"1,255\r") == [LockState(1, 255)]


def test_an_over_long_line_is_one_garbage_item_and_the_next_line_parses():
    parser = QuartzParser()
    out = parser.feed(b"x" * (MAX_LINE + 10))
    out += parser.feed(b"y" * 100)
    out += parser.feed(b"\r.UV1,2\r")
    assert len(out) == 2
    assert isinstance(out[0], Garbage) and "longer than" in out[0].reason
    assert out[1] == RouteUpdate("V", 1, 2)


def test_command_parser_reports_unknown_and_out_of_range():
    msgs = CommandParser().feed(b".SV0,1\r.XYZ\r.SV1,2\r")
    assert isinstance(msgs[0], BadCommand) and "out of range" in msgs[0].reason
    assert isinstance(msgs[1], BadCommand) and msgs[1].reason == "unknown command"
    assert msgs[2] == codec.set_route(1, 2)


# --- properties --------------------------------------------------------------------------

numbers = st.integers(min_value=1, max_value=99999)
levels = st.text(alphabet="VABCDEFGHIJKLMNOPQRSTUWXYZ", min_size=1, max_size=4)
level = st.sampled_from("VABCDEFGHIJKLMNOPQRSTUWXYZ")
text = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
               max_size=20)
# .E / .P text that does not start like a longer message still round-trips as text.

messages = st.one_of(
    st.builds(NameReply, st.sampled_from(["source", "output"]), numbers, text, st.booleans()),
    st.builds(Routes, st.lists(st.builds(Route, level, numbers, st.integers(0, 99999)),
                               min_size=1, max_size=8).map(tuple)),
    st.builds(RouteUpdate, levels, numbers, st.integers(0, 99999)),
    st.builds(LockState, numbers, st.integers(0, 255)),
    st.builds(Error, text),
    st.builds(PowerUp, text),
)
commands = st.one_of(
    st.builds(codec.ReadName, st.sampled_from(["source", "output"]), numbers, st.booleans()),
    st.builds(codec.Interrogate, level, numbers),
    st.builds(codec.ListRoutes, level, numbers),
    st.builds(codec.SetRoute, levels, numbers, numbers),
    st.builds(codec.LockCommand, st.sampled_from("LUI"), numbers),
    st.builds(codec.FireSalvo, numbers),
)
eols = st.sampled_from([b"\r", b"\r\n"])


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@given(messages, eols, st.integers(0, 6))
def test_encode_then_parse_round_trips(message, eol, width):
    assert parse_all(message.encode(eol, width)) == [message]


@given(commands, st.integers(0, 6))
def test_command_encode_then_parse_round_trips(command, width):
    assert CommandParser().feed(command.encode(width)) == [command]


@given(st.lists(st.tuples(messages, eols), max_size=12), st.lists(st.integers(0, 10_000)))
def test_any_split_of_a_valid_stream_parses_to_the_same_messages(items, cuts):
    data = b"".join(m.encode(eol) for m, eol in items)
    expected = [m for m, _ in items]
    parser = QuartzParser()
    got = []
    for piece in _split(data, cuts):
        got += parser.feed(piece)
    assert got == expected


@given(st.binary(max_size=2000), st.lists(st.integers(0, 10_000), max_size=20))
def test_random_bytes_never_raise_and_split_does_not_matter(data, cuts):
    whole = QuartzParser().feed(data)
    parser = QuartzParser()
    pieces = []
    for piece in _split(data, cuts):
        pieces += parser.feed(piece)
    assert pieces == whole
    assert all(
        isinstance(m, (NameReply, Routes, RouteUpdate, LockState, Error, PowerUp, Garbage))
        for m in whole
    )


@given(st.binary(max_size=2000))
def test_random_bytes_never_break_the_command_parser(data):
    for item in CommandParser().feed(data):
        assert isinstance(item, (BadCommand, Garbage)) or hasattr(item, "encode")


def test_over_long_garbage_is_reported_the_same_however_it_is_split():
    data = b"z" * (MAX_LINE * 2) + b"\r.P\r"
    whole = QuartzParser().feed(data)
    parser = QuartzParser()
    split = []
    for i in range(0, len(data), 1000):
        split += parser.feed(data[i:i + 1000])
    assert whole == split
    assert whole[-1] == PowerUp("")
