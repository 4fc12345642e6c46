"""The emulator speaks the reference over a plain socket (no client code involved)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import pytest

from devices.quartz.codec import (
    Error,
    LockState,
    NameReply,
    QuartzParser,
    Route,
    Routes,
    RouteUpdate,
)
from devices.quartz.emulator import QuartzEmulator, parse_outputs
from tests.support import BASE_DIR, subprocess_env


class Raw:
    """A bare TCP conversation: write bytes, read parsed messages."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        self.parser = QuartzParser()
        self.raw = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, count: int) -> list:
        out: list = []
        while len(out) < count:
            data = self.sock.recv(4096)
            if not data:
                break
            self.raw += data
            out += self.parser.feed(data)
        return out

    def at_eof(self, timeout: float = 2.0) -> bool:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096) == b""

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def emulator():
    with QuartzEmulator(sources=8, outputs=20) as emu:
        yield emu


def test_answers_every_command_of_the_reference(emulator):
    c = Raw(emulator.port)
    c.send(b".RS1\r.RT2\r.RD3\r.RE4\r.IV5\r.LV1,-\r.BI2\r")
    msgs = c.read(7)
    assert msgs[0] == NameReply("source", 1, "SRC 1   ", False)
    assert msgs[1] == NameReply("source", 2, "SRC 2     ", True)
    assert msgs[2] == NameReply("output", 3, "DST 3   ", False)
    assert msgs[3] == NameReply("output", 4, "DST 4     ", True)
    assert msgs[4] == Routes((Route("V", 5, 5),))
    assert msgs[5] == Routes(tuple(Route("V", o, o) for o in range(1, 9)))
    assert msgs[6] == LockState(2, 0)
    c.close()


def test_list_stops_at_the_last_output(emulator):
    c = Raw(emulator.port)
    c.send(b".LV17,-\r")
    (reply,) = c.read(1)
    assert [r.output for r in reply.routes] == [17, 18, 19, 20]
    c.close()


@pytest.mark.parametrize(
    "command",
    [b".XX1\r", b".SV21,1\r", b".SV1,9\r", b".SV0,1\r", b".RS9\r", b".RD21\r", b".IV21\r",
     b".LV21,-\r", b".BL21\r", b".F1\r", b"hello\r"],
)
def test_unknown_commands_and_out_of_range_numbers_get_E(emulator, command):
    c = Raw(emulator.port)
    c.send(command)
    assert c.read(1) == [Error("")]
    c.close()


def test_switch_pushes_U_to_every_client_the_sender_included(emulator):
    a, b = Raw(emulator.port), Raw(emulator.port)
    time.sleep(0.05)  # both accepted before the switch
    a.send(b".SV3,7\r")
    assert a.read(1) == [RouteUpdate("V", 3, 7)]
    assert b.read(1) == [RouteUpdate("V", 3, 7)]
    assert emulator.route(3) == 7
    a.close()
    b.close()


def test_a_locked_output_refuses_the_switch(emulator):
    c = Raw(emulator.port)
    c.send(b".BL4\r.SV4,1\r.BU4\r.SV4,1\r")
    assert c.read(4) == [LockState(4, 255), LockState(4, 255), LockState(4, 0),
                         RouteUpdate("V", 4, 1)]
    emulator.lock_refusal = "error"
    emulator.set_lock(4, 12)
    c.send(b".SV4,2\r.BI4\r")
    msgs = c.read(2)
    assert msgs[0].__class__.__name__ == "Error" and msgs[1] == LockState(4, 12)
    c.close()


def test_per_command_style_answers_once_then_closes():
    with QuartzEmulator(sources=4, outputs=4, style="per_command") as emu:
        watcher = Raw(emu.port)
        c = Raw(emu.port)
        c.send(b".RS1\r.RS2\r")
        assert c.read(2) == [NameReply("source", 1, "SRC 1   ", False)]
        c.close()
        # A switch: no reply to the sender, the connection just closes; others get the .U.
        s = Raw(emu.port)
        s.send(b".SV2,3\r")
        assert s.at_eof()
        assert s.raw == b""
        assert emu.route(2) == 3
        watcher.sock.settimeout(2)
        assert watcher.read(1) == [RouteUpdate("V", 2, 3)]
        watcher.close()
        s.close()


def test_seed_file_crlf_and_padding(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "sources": {"1": "CAM 1, wide"}, "outputs": {"2": "Caméra"},
        "routes": {"2": 3}, "locks": {"1": 255}, "salvos": {"1": [[3, 4], [4, 4]]},
    }))
    with QuartzEmulator(sources=4, outputs=4, seed=str(seed), eol=b"\r\n",
                        number_width=3) as emu:
        c = Raw(emu.port)
        c.send(b".RT1\r.RE2\r.IV2\r.BI1\r.F1\r")
        msgs = c.read(6)
        assert msgs[0] == NameReply("source", 1, "CAM 1, wid", True)
        assert msgs[1] == NameReply("output", 2, "Caméra    ", True)
        assert msgs[2:4] == [Routes((Route("V", 2, 3),)), LockState(1, 255)]
        assert msgs[4:] == [RouteUpdate("V", 3, 4), RouteUpdate("V", 4, 4)]
        assert b".AV002,003\r\n" in c.raw
        c.close()


def test_faults_drop_mute_garbage_and_fragment(emulator):
    emulator.drop_after = 2
    c = Raw(emulator.port)
    c.send(b".RS1\r.RS2\r.RS3\r")
    assert len(c.read(3)) == 2
    assert c.at_eof()
    emulator.drop_after = None

    emulator.garbage = True
    emulator.fragment = True
    c = Raw(emulator.port)
    c.send(b".RS1\r.RS2\r")
    msgs = c.read(4)
    assert [m.__class__.__name__ for m in msgs] == ["Garbage", "NameReply"] * 2
    emulator.garbage = emulator.fragment = False

    emulator.mute = True
    c = Raw(emulator.port)
    c.send(b".RS1\r")
    c.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        c.sock.recv(10)
    assert emulator.stats()["by_command"]["ReadName"] >= 1


def test_refuse_closes_the_door_and_reopens_it(emulator):
    emulator.refuse = True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", emulator.port), timeout=1)
    emulator.refuse = False
    c = Raw(emulator.port)
    c.send(b".RS1\r")
    assert len(c.read(1)) == 1
    c.close()


def test_stats_count_commands_per_epoch_second(emulator):
    c = Raw(emulator.port)
    c.send(b".RS1\r" * 5)
    c.read(5)
    stats = emulator.stats()
    assert stats["commands"] == 5
    assert sum(stats["per_second"].values()) == 5
    assert all(isinstance(second, int) for second in stats["per_second"])
    assert stats["max_per_second"] <= 5
    assert stats["connections"] == 1
    c.close()


def test_power_up_and_injected_bytes_reach_every_client(emulator):
    c = Raw(emulator.port)
    time.sleep(0.05)
    emulator.power_up()
    emulator.inject(b".UV001,002\r")
    assert [m.__class__.__name__ for m in c.read(2)] == ["PowerUp", "RouteUpdate"]
    c.close()


def test_restart_on_the_same_port():
    first = QuartzEmulator(sources=2, outputs=2).start()
    port = first.port
    c = Raw(port)
    first.stop()
    assert c.at_eof()
    with QuartzEmulator(port=port, sources=2, outputs=2) as second:
        d = Raw(second.port)
        d.send(b".RS2\r")
        assert d.read(1) == [NameReply("source", 2, "SRC 2   ", False)]
        d.close()


@pytest.mark.parametrize(("seed", "problem"), [
    ({"names": {}}, "unknown key"),
    ({"sources": ["CAM 1"]}, "must be an object"),
    ({"sources": {"0": "CAM"}}, "at least 1"),
    ({"sources": {"x": "CAM"}}, "at least 1"),
    ({"outputs": {"1": "two\rlines"}}, "one-line name"),
    ({"routes": {"1": "five"}}, "routes[1]"),
    ({"locks": {"1": 256}}, "0 to 255"),
    ({"salvos": {"1": 5}}, "pairs"),
    ({"salvos": {"1": [[1, 0]]}}, "salvos[1] source"),
])
def test_a_bad_seed_is_refused_with_its_problem(seed, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        QuartzEmulator(sources=4, outputs=4, seed=seed)


def test_a_seed_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "seed.json"
    path.write_bytes(b"\xff{")
    with pytest.raises(ValueError, match="not a JSON file"):
        QuartzEmulator(seed=str(path))
    with pytest.raises(ValueError, match="lock_refusal"):
        QuartzEmulator(lock_refusal="silently")
    with pytest.raises(ValueError, match="1 to 65535"):
        QuartzEmulator(sources=70000)


def test_a_router_that_cannot_say_its_routes(emulator):
    """Some MAGNUM-controlled frames: `.E` to `.L`, no answer to `.I` (or `.E` to it), while the
    names and switching work."""
    emulator.unreadable_routes = True
    assert emulator.list_unsupported and emulator.silent_interrogate
    c = Raw(emulator.port)
    c.send(b".LV1,-\r.IV2\r.RE3\r")
    assert c.read(2) == [Error(""), NameReply("output", 3, "DST 3     ", True)]
    c.send(b".SV2,7\r")
    assert c.read(1) == [RouteUpdate("V", 2, 7)]  # the silent `.I` left nothing behind
    emulator.silent_interrogate = False
    emulator.interrogate_unsupported = True
    assert emulator.unreadable_routes
    c.send(b".IV2\r")
    assert c.read(1) == [Error("")]
    c.close()


def test_unreadable_outputs_are_left_out_of_lists_and_not_interrogated(emulator):
    emulator.unreadable_outputs = frozenset({4, 5, 12})
    c = Raw(emulator.port)
    c.send(b".LV1,-\r.LV4,-\r.LV6,-\r.IV5\r.IV6\r")
    msgs = c.read(4)
    assert [r.output for r in msgs[0].routes] == [1, 2, 3]  # stops before 4
    assert msgs[1] == Error("")  # starts at one
    assert [r.output for r in msgs[2].routes] == [6, 7, 8, 9, 10, 11]
    assert msgs[3] == Routes((Route("V", 6, 6),))  # `.IV5` got nothing
    c.close()


@pytest.mark.parametrize(("text", "numbers"), [("5", {5}), ("1-3, 7", {1, 2, 3, 7}),
                                               ("65-66,200", {65, 66, 200})])
def test_output_ranges_are_parsed(text, numbers):
    assert parse_outputs(text) == frozenset(numbers)


@pytest.mark.parametrize("text", ["", "x", "3-1", "0-4", "1-70000"])
def test_bad_output_ranges_are_refused(text):
    with pytest.raises(ValueError):
        parse_outputs(text)


def _start_command(*options: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "quartz_emulator", "--port", "0",
         *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
    )
    line = process.stdout.readline().strip()
    if not line.startswith("Quartz emulator listening on 127.0.0.1:"):
        process.kill()
        raise AssertionError(f"unexpected first line {line!r}: {process.stderr.read()}")
    return process, int(line.rsplit(":", 1)[1])


def test_management_command_serves_until_terminated(tmp_path):
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"sources": {"2": "CAM 2"}, "routes": {"3": 2}}))
    process, port = _start_command("--sources", "4", "--outputs", "8", "--seed", str(seed),
                                   "--crlf", "--pad", "3", "--garbage", "--fragment")
    try:
        c = Raw(port)
        c.send(b".RT2\r.IV3\r.RS5\r")
        msgs = c.read(6)
        assert [m for m in msgs if m.__class__.__name__ != "Garbage"] == [
            NameReply("source", 2, "CAM 2     ", True), Routes((Route("V", 3, 2),)), Error("")]
        assert b".AV003,002\r\n" in c.raw
        c.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_management_command_per_command_style_with_faults():
    process, port = _start_command("--style", "per-command", "--no-list",
                                   "--lock-refusal", "error")
    try:
        c = Raw(port)
        c.send(b".LV1,-\r")
        assert c.read(1) == [Error("")]
        assert c.at_eof()
        c.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_management_command_plays_a_router_that_cannot_say_its_routes():
    process, port = _start_command("--outputs", "16", "--unreadable-routes")
    try:
        line = process.stdout.readline()
        assert "faults: no .L, silent .I." in line
        c = Raw(port)
        c.send(b".LV1,-\r.IV1\r.RS1\r")
        assert c.read(2) == [Error(""), NameReply("source", 1, "SRC 1   ", False)]
        c.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_management_command_with_some_outputs_unreadable_and_E_to_interrogate():
    process, port = _start_command("--outputs", "16", "--unreadable-outputs", "3-4",
                                   "--no-interrogate")
    try:
        assert "faults: .E to .I, 2 unreadable outputs." in process.stdout.readline()
        c = Raw(port)
        c.send(b".LV1,-\r.LV3,-\r.IV9\r")
        msgs = c.read(3)
        assert [r.output for r in msgs[0].routes] == [1, 2]
        assert msgs[1:] == [Error(""), Error("")]
        c.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize("options", [["--sources", "0"], ["--drop-after", "0"],
                                     ["--seed", "/nonexistent/seed.json"],
                                     ["--unreadable-outputs", "9-x"]])
def test_management_command_refuses_bad_options(options):
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "quartz_emulator", "--port", "0",
         *options], capture_output=True, text=True, env=subprocess_env(), timeout=60,
    )
    assert result.returncode != 0
    assert "could not start" in result.stderr or "must be" in result.stderr
