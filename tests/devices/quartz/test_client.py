"""QuartzClient over real sockets: against the emulator (both styles, every fault switch) and
against a scripted router for replies whose exact order matters."""

from __future__ import annotations

import threading
import time

import pytest

from devices.errors import DeviceProtocolError, DeviceTimeout, DeviceUnreachable
from devices.quartz import codec
from devices.quartz.client import NoAnswer, QuartzClient
from devices.quartz.codec import (
    Error,
    LockState,
    NameReply,
    PowerUp,
    Route,
    Routes,
    RouteUpdate,
)
from devices.quartz.emulator import QuartzEmulator
from tests.fixtures.quartz import ScriptedRouter


@pytest.fixture
def emulator():
    with QuartzEmulator(sources=16, outputs=40) as emu:
        yield emu


def client_for(port: int, **kwargs) -> QuartzClient:
    kwargs.setdefault("read_timeout", 1.0)
    kwargs.setdefault("connect_timeout", 1.0)
    return QuartzClient("127.0.0.1", port, **kwargs)


STYLES = ["persistent", "per_command"]


@pytest.mark.parametrize("style", STYLES)
def test_names_routes_switch_and_locks_in_both_styles(style):
    with QuartzEmulator(sources=16, outputs=40, style=style) as emu:
        client = client_for(emu.port, style=style)
        names = client.execute([codec.read_source_name(n) for n in (1, 2, 16)])
        assert [n.name.rstrip() for n in names] == ["SRC 1", "SRC 2", "SRC 16"]
        (routes,) = client.execute([codec.list_routes(33)])
        assert routes == Routes(tuple(Route("V", o, (o - 1) % 16 + 1) for o in range(33, 41)))

        (confirmed,) = client.execute([codec.set_route(3, 9)])
        # Persistent: the .U; one command per connection: the connection closes cleanly.
        assert confirmed == (RouteUpdate("V", 3, 9) if style == "persistent"
                             else NoAnswer("closed"))
        assert emu.route(3) == 9

        emu.set_lock(4, 255)
        assert client.execute([codec.set_route(4, 1)]) == [LockState(4, 255)]
        assert emu.route(4) == 4
        assert client.execute([codec.unlock(4), codec.lock_status(4)]) == [
            LockState(4, 0), LockState(4, 0)]
        client.close()


def test_a_batch_is_pipelined_on_one_connection_within_the_window(emulator):
    emulator.latency_ms = 20
    client = client_for(emulator.port, window=4)
    outcomes = client.execute([codec.read_output_name(n) for n in range(1, 41)])
    assert [o.number for o in outcomes] == list(range(1, 41))
    stats = emulator.stats()
    assert stats["connections"] == 1
    assert 1 < stats["max_in_flight"] <= 4
    client.close()


def test_per_command_style_opens_one_connection_per_command():
    with QuartzEmulator(sources=4, outputs=4, style="per_command") as emu:
        client = client_for(emu.port, style="per_command")
        client.execute([codec.read_source_name(n) for n in range(1, 5)])
        assert emu.stats()["connections"] == 4


def test_the_connection_is_reused_across_calls(emulator):
    client = client_for(emulator.port)
    for n in range(1, 6):
        client.execute([codec.interrogate(n)])
    assert emulator.stats()["connections"] == 1
    client.close()


def test_unsolicited_messages_go_to_the_callback_never_to_the_waiter():
    router = ScriptedRouter({
        b".RT1": b".RAT1,CAM 1\r.UV4,2\r.P\r",
        b".RT2": b".UV9,9\r.RAT2,CAM 2\r",
        b".SV5,6": b".UV5,1\r.UV5,6\r",  # another panel's take of output 5 comes first
    })
    seen = []
    client = client_for(router.port, on_message=seen.append)
    try:
        outcomes = client.execute([codec.read_source_name(1), codec.read_source_name(2),
                                   codec.set_route(5, 6)])
        assert outcomes == [NameReply("source", 1, "CAM 1", True),
                            NameReply("source", 2, "CAM 2", True), RouteUpdate("V", 5, 6)]
        assert seen == [RouteUpdate("V", 4, 2), PowerUp(""), RouteUpdate("V", 9, 9),
                        RouteUpdate("V", 5, 1), RouteUpdate("V", 5, 6)]
    finally:
        client.close()
        router.stop()


def test_E_answers_the_oldest_command_and_names_decode_whatever_the_bytes():
    router = ScriptedRouter({
        b".RT1": b".E unsupported\r",
        b".RT2": b".RAT2,\xe9t\xe9, \xff\r\n",
        b".RT3": b".RAT03,Caf\xc3\xa9\r",
    })
    client = client_for(router.port)
    try:
        assert client.execute([codec.read_source_name(n) for n in (1, 2, 3)]) == [
            Error(" unsupported"),
            NameReply("source", 2, "été, \xff", True),
            NameReply("source", 3, "Café", True),
        ]
    finally:
        client.close()
        router.stop()


def test_a_silent_interrogate_is_settled_by_the_next_reply():
    router = ScriptedRouter({b".IV1": b"", b".IV2": b".AV2,5\r"})
    client = client_for(router.port)
    try:
        assert client.execute([codec.interrogate(1), codec.interrogate(2)]) == [
            NoAnswer("skipped"), Routes((Route("V", 2, 5),))]
    finally:
        client.close()
        router.stop()


def test_a_wrong_reply_is_a_protocol_error():
    router = ScriptedRouter({b".RT1": b".RAT7,SOMETHING ELSE\r"})
    client = client_for(router.port, read_timeout=0.3)
    try:
        with pytest.raises(DeviceProtocolError) as info:
            client.execute([codec.read_source_name(1)])
        assert info.value.command == ".RT1"
        assert f"127.0.0.1:{router.port}" in str(info.value)
    finally:
        client.close()
        router.stop()


@pytest.mark.parametrize("style", STYLES)
def test_fragmented_replies_and_garbage_lines(style):
    with QuartzEmulator(sources=16, outputs=40, style=style) as emu:
        emu.fragment = True
        emu.garbage = True
        client = client_for(emu.port, style=style)
        outcomes = client.execute([codec.read_output_name(n) for n in range(1, 11)]
                                  + [codec.list_routes(1), codec.lock_status(2)])
        assert [o.name.rstrip() for o in outcomes[:10]] == [f"DST {n}" for n in range(1, 11)]
        assert len(outcomes[10].routes) == 8
        assert outcomes[11] == LockState(2, 0)
        client.close()


def test_crlf_and_zero_padded_replies():
    with QuartzEmulator(sources=4, outputs=4, eol=b"\r\n", number_width=3) as emu:
        client = client_for(emu.port)
        assert client.execute([codec.interrogate(2), codec.set_route(2, 3)]) == [
            Routes((Route("V", 2, 2),)), RouteUpdate("V", 2, 3)]
        client.close()


def test_the_router_dropping_the_connection_mid_batch_is_survived(emulator):
    emulator.drop_after = 3
    client = client_for(emulator.port)
    outcomes = client.execute([codec.read_source_name(n) for n in range(1, 17)])
    assert [o.number for o in outcomes] == list(range(1, 17))
    assert emulator.stats()["connections"] >= 6
    client.close()


def test_a_router_that_hangs_up_without_answering_is_unreachable(emulator):
    emulator.drop_after = 1
    emulator.mute = True
    client = client_for(emulator.port)
    with pytest.raises(DeviceUnreachable) as info:
        client.execute([codec.read_source_name(1)])
    assert "closed the connection" in str(info.value)
    client.close()


@pytest.mark.parametrize("style", STYLES)
def test_refused_connections_are_unreachable(emulator, style):
    emulator.refuse = True
    client = client_for(emulator.port, style=style)
    with pytest.raises(DeviceUnreachable) as info:
        client.execute([codec.read_source_name(1)])
    assert info.value.device == f"Quartz router 127.0.0.1:{emulator.port}"
    emulator.refuse = False
    assert client.execute([codec.read_source_name(1)])[0].number == 1
    client.close()


@pytest.mark.parametrize("style", STYLES)
def test_silence_is_a_timeout_naming_the_command_and_the_router(emulator, style):
    emulator.mute = True
    client = client_for(emulator.port, style=style, read_timeout=0.3)
    with pytest.raises(DeviceTimeout) as info:
        client.execute([codec.set_route(17, 4)])
    assert str(info.value) == (
        f"Quartz router 127.0.0.1:{emulator.port} did not answer .SV17,4 within 0.3 s")
    assert info.value.command == ".SV17,4"
    # Interrogate may go unanswered (MAGNUM): unknown, not an error.
    assert client.execute([codec.interrogate(1)]) == [NoAnswer("silence")]
    emulator.mute = False
    assert client.execute([codec.interrogate(1)]) == [Routes((Route("V", 1, 1),))]
    client.close()


def test_list_unsupported_and_silent_interrogate_switches(emulator):
    emulator.list_unsupported = True
    emulator.silent_interrogate = True
    client = client_for(emulator.port, read_timeout=0.3)
    assert client.execute([codec.list_routes(1), codec.interrogate(1)]) == [
        Error(""), NoAnswer("silence")]
    client.close()


def test_reconnects_after_the_emulator_restarts():
    emu = QuartzEmulator(sources=4, outputs=4).start()
    port = emu.port
    client = client_for(port)
    try:
        assert client.execute([codec.interrogate(1)])[0].routes[0].source == 1
        emu.stop()
        with pytest.raises(DeviceUnreachable):
            client.execute([codec.interrogate(1)])
        emu = QuartzEmulator(port=port, sources=4, outputs=4, seed={"routes": {"1": 3}}).start()
        assert client.execute([codec.interrogate(1)])[0].routes[0].source == 3
    finally:
        client.close()
        emu.stop()


def test_concurrent_callers_share_one_client(emulator):
    client = client_for(emulator.port)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for _ in range(10):
                outputs = [(k * 5 + i) % 40 + 1 for i in range(5)]
                got = client.execute([codec.read_output_name(o) for o in outputs]
                                     + [codec.interrogate(o) for o in outputs])
                assert [g.number for g in got[:5]] == outputs
                assert [g.routes[0].output for g in got[5:]] == outputs
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert emulator.stats()["connections"] == 1
    client.close()


def test_listen_delivers_updates_and_reconnects():
    emu = QuartzEmulator(sources=4, outputs=4).start()
    port = emu.port
    client = client_for(port)
    seen: list = []
    connects: list[float] = []
    got = threading.Event()
    stop = threading.Event()

    def on_message(message) -> None:
        seen.append(message)
        got.set()

    listener = threading.Thread(
        target=client.listen, args=(on_message, stop),
        kwargs={"on_connect": lambda: connects.append(time.monotonic())}, daemon=True,
    )
    listener.start()
    try:
        _wait_for(lambda: emu.stats()["open_connections"] == 1)
        emu.set_route(2, 3)
        assert got.wait(5)
        assert seen == [RouteUpdate("V", 2, 3)]

        # A command from another thread on the same client: its .U reaches the listener too.
        got.clear()
        assert client.execute([codec.set_route(1, 4)]) == [RouteUpdate("V", 1, 4)]
        assert got.wait(5) and seen[-1] == RouteUpdate("V", 1, 4)

        emu.stop()
        emu = QuartzEmulator(port=port, sources=4, outputs=4).start()
        _wait_for(lambda: len(connects) == 2)
        got.clear()
        emu.power_up()
        assert got.wait(5) and seen[-1] == PowerUp("")
    finally:
        stop.set()
        listener.join(5)
        emu.stop()
        client.close()
    assert not listener.is_alive()


def test_out_of_range_numbers_are_refused_before_anything_is_sent(emulator):
    with pytest.raises(ValueError):
        codec.set_route(0, 3)
    assert emulator.stats()["commands"] == 0


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_per_command_router_hanging_up_without_a_reply():
    """One command per connection: closing without a reply confirms a switch (that is how
    such a router says yes), is "unknown" for `.I`, and fails anything else."""
    with QuartzEmulator(sources=4, outputs=4, style="per_command") as emu:
        emu.mute = True
        emu.drop_after = 1
        client = client_for(emu.port, style="per_command")
        with pytest.raises(DeviceUnreachable, match=r"closed the connection before answering "
                                                    r"\.RT1"):
            client.execute([codec.read_source_name(1)])
        assert client.execute([codec.interrogate(1), codec.set_route(1, 2)]) == [
            NoAnswer("closed"), NoAnswer("closed")]
        assert emu.stats()["connections"] == 3


@pytest.mark.parametrize("style", STYLES)
def test_latency_is_waited_for_within_the_read_timeout(style):
    with QuartzEmulator(sources=4, outputs=4, style=style, latency_ms=50) as emu:
        client = client_for(emu.port, style=style, read_timeout=1.0)
        assert [o.number for o in client.execute(
            [codec.read_output_name(n) for n in range(1, 5)])] == [1, 2, 3, 4]
        emu.latency_ms = 600
        slow = client_for(emu.port, style=style, read_timeout=0.2)
        with pytest.raises(DeviceTimeout, match=r"did not answer \.RE1 within 0\.2 s"):
            slow.execute([codec.read_output_name(1)])
        client.close()
        slow.close()
