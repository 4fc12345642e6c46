"""Fuzzing the Quartz side beyond the codec's own properties (tests/devices/quartz/test_codec.py):
noise between valid replies, and a router answering anything at all over a real socket."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.errors import DeviceError
from devices.quartz.client import NoAnswer, QuartzClient
from devices.quartz.codec import (
    MAX_LINE,
    Error,
    Garbage,
    Interrogate,
    ListRoutes,
    LockCommand,
    LockState,
    NameReply,
    PowerUp,
    QuartzParser,
    ReadName,
    Routes,
    RouteUpdate,
    SetRoute,
)
from tests.devices.quartz.test_codec import eols, messages
from tests.fixtures.quartz import AnythingRouter

# A line of noise: anything but a line break, and not starting like a message (".").
noise = st.binary(min_size=1, max_size=MAX_LINE // 4).filter(
    lambda b: b"\r" not in b and b"\n" not in b and not b.startswith(b"."))


@given(st.lists(st.one_of(st.tuples(st.just("message"), messages, eols),
                          st.tuples(st.just("noise"), noise, eols)), max_size=20))
def test_valid_replies_survive_any_noise_between_them(items):
    data = b"".join(m.encode(eol) if kind == "message" else m + eol for kind, m, eol in items)
    parsed = QuartzParser().feed(data)
    assert [m for m in parsed if not isinstance(m, Garbage)] == [
        m for kind, m, _ in items if kind == "message"]
    assert sum(isinstance(m, Garbage) for m in parsed) == sum(
        kind == "noise" for kind, _, _ in items)


@pytest.fixture(scope="module")
def router():
    """One for the module: a server per example would dominate the run."""
    made = AnythingRouter()
    yield made
    made.stop()

OUTCOMES = (NameReply, Routes, LockState, RouteUpdate, Error, NoAnswer)
commands = st.sampled_from([ReadName("source", 1, True), Interrogate("V", 3), ListRoutes("V", 1),
                            SetRoute("V", 2, 5), LockCommand("I", 2)])
replies = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(messages.map(lambda m: m.encode(b"\r")), noise.map(lambda b: b + b"\r")),
             max_size=6).map(b"".join),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(commands, min_size=1, max_size=4), replies,
       st.sampled_from(["persistent", "per_command"]))
def test_whatever_a_router_answers_the_client_returns_outcomes_or_a_device_error(
        router, batch, reply, style):
    router.reply = reply
    client = QuartzClient("127.0.0.1", router.port, connect_timeout=1.0, read_timeout=0.05,
                          style=style, window=4)
    try:
        outcomes = client.execute(batch)
    except DeviceError as exc:
        assert exc.detail and exc.device == f"Quartz router 127.0.0.1:{router.port}"
    else:
        assert len(outcomes) == len(batch)
        assert all(isinstance(o, OUTCOMES) for o in outcomes)
    finally:
        client.close()


def test_power_up_and_garbage_are_not_replies():
    # The noise filter above must not let a message through by accident.
    assert isinstance(QuartzParser().feed(b"garbage\r")[0], Garbage)
    assert QuartzParser().feed(b".P\r") == [PowerUp("")]
