"""The emulated frame's change notifications over real sockets: receivers, subscriptions, the
datagrams (through the API and "on the frame"), their faults, and the client's calls."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from devices.errors import DeviceBusy, DeviceRefused
from devices.nexx import notify
from devices.nexx.catalog import param_id
from devices.nexx.emulator import NexxEmulator
from devices.nexx.service import NexxService

TIMEOUT = 5.0


class Receiver:
    """A UDP socket on 127.0.0.1 collecting datagrams."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]

    def next(self) -> list[tuple[str, str]]:
        data, _ = self.sock.recvfrom(65535)
        return [(c.param_id, c.raw) for c in notify.parse_datagram(data).changes]

    def nothing(self, wait: float = 0.3) -> bool:
        self.sock.settimeout(wait)
        try:
            self.sock.recvfrom(65535)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(TIMEOUT)
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def get(frame: NexxEmulator, path: str) -> httpx.Response:
    return httpx.get(frame.base_url + path, timeout=TIMEOUT,
                     headers={"webeasy-api-key": frame.api_key})


def control(frame: NexxEmulator, path: str) -> httpx.Response:
    return httpx.get(frame.stats_url.replace("stats", path), timeout=TIMEOUT)


def register(frame, receiver, *params: str, name: str = "test") -> str:
    reply = get(frame, f"EV/SERVERADD/server/127.0.0.1/{name}/{receiver.port}/udp").json()
    server_id = reply["data"]["server"]["id"]
    for pid in params:
        assert get(frame, f"EV/NOTIFYADD/parameter/{server_id}/{pid}").json() == {
            "status": "success"}
    return server_id


def test_the_reply_shapes_of_the_reference(make_nexx_emulator, receiver):
    frame = make_nexx_emulator(auth="api-key")
    assert get(frame, "EV/SERVERSTATUS").json() == {"data": {"servers": []}}
    added = get(frame, f"EV/SERVERADD/server/127.0.0.1/mvcontrol/{receiver.port}/udp").json()
    assert added == {"status": "success", "data": {"server": {
        "id": "1", "name": "mvcontrol",
        "notify": {"ip": "127.0.0.1", "port": receiver.port, "protocol": "udp",
                   "parameters": []}}}}
    assert get(frame, "EV/NOTIFYADD/parameter/1/2704.3").json() == {"status": "success"}
    assert get(frame, "EV/NOTIFYADD/parameter/1/2704.3").json() == {"error": "Variable exists"}
    assert "not licensed" in get(frame, "EV/NOTIFYADD/parameter/1/2704.99").json()["error"]
    assert "write-only" in get(frame, "EV/NOTIFYADD/parameter/1/2735.0").json()["error"]
    assert "not found" in get(frame, "EV/NOTIFYADD/parameter/9/2704.3").json()["error"]
    status = get(frame, "EV/SERVERSTATUS").json()
    assert status["data"]["servers"][0]["notify"]["parameters"] == ["2704.3"]
    assert "not supported" in get(frame, "EV/SERVERADD/server/127.0.0.1/x/1/tcp").json()["error"]
    assert get(frame, "EV/SERVERDEL/server/1").json() == {"status": "success"}
    assert "not found" in get(frame, "EV/SERVERDEL/server/1").json()["error"]
    assert get(frame, "EV/SERVERSTATUS").json() == {"data": {"servers": []}}
    calls = frame.stats()["by_call"]
    assert calls["EV/SERVERSTATUS"] == 3 and calls["EV/NOTIFYADD"] == 5
    assert calls["EV/SERVERADD"] == 2 and calls["EV/SERVERDEL"] == 2


def test_receiver_calls_need_credentials(make_nexx_emulator):
    frame = make_nexx_emulator(auth="api-key")
    response = httpx.get(frame.base_url + "EV/SERVERSTATUS", timeout=TIMEOUT)
    assert response.status_code == 401


def test_changes_through_the_api_and_on_the_frame_reach_subscribers_only(make_nexx_emulator,
                                                                         receiver):
    frame = make_nexx_emulator(auth="api-key")
    other = Receiver()
    try:
        register(frame, receiver, "2704.0", "2709.0.1.0")
        register(frame, other, "2704.0", name="other")
        assert get(frame, "EV/SET/parameters/2704.0,2709.0.1.0,2704.1/5,HELLO,3").status_code \
            == 200
        assert receiver.next() == [("2704.0", "5"), ("2709.0.1.0", "HELLO")]  # one datagram
        assert other.next() == [("2704.0", "5")]
        get(frame, "EV/SET/parameter/2704.0/5")  # the same value: nothing changed
        assert receiver.nothing()
        frame.set("2709.0.1.0", "PANEL")  # the frame's own panel
        assert receiver.next() == [("2709.0.1.0", "PANEL")]
        assert other.nothing()
        response = control(frame, "panel?2709.0.1.0=CAM%203&2704.0=0")
        assert response.json() == {"2709.0.1.0": "CAM 3", "2704.0": "0"}
        assert receiver.next() == [("2709.0.1.0", "CAM 3"), ("2704.0", "0")]
        assert frame.get("2709.0.1.0") == "CAM 3"
    finally:
        other.close()


def test_the_panel_endpoint_checks_values_as_the_frame_does(make_nexx_emulator):
    frame = make_nexx_emulator()
    for query in ("2704.0=43", "2719.0.0=9", "9999.0=1", "2704.99=1", "2735.0=1", ""):
        assert control(frame, f"panel?{query}").status_code == 400, query
    assert frame.get("2704.0") != "43"


def test_a_big_change_comes_in_several_datagrams(make_nexx_emulator, receiver):
    frame = make_nexx_emulator()
    ids = [param_id("x", 0, w, layer) for w in range(16) for layer in range(3)][:30]
    register(frame, receiver, *ids)
    frame.panel(dict.fromkeys(ids, "7"))
    got = receiver.next() + receiver.next()
    assert got == [(pid, "7") for pid in ids]
    assert receiver.nothing()


def test_fault_drop_duplicate_reorder_delay(make_nexx_emulator, receiver):
    frame = make_nexx_emulator(notify_seed=1)
    register(frame, receiver, "2704.0")
    frame.notify_drop = 1.0
    frame.set("2704.0", "1")
    assert receiver.nothing()
    frame.notify_drop, frame.notify_duplicate = 0.0, 1.0
    frame.set("2704.0", "2")
    assert receiver.next() == receiver.next() == [("2704.0", "2")]
    frame.notify_duplicate, frame.notify_reorder = 0.0, 1.0
    frame.set("2704.0", "3")
    frame.set("2704.0", "4")
    assert [receiver.next(), receiver.next()] == [[("2704.0", "4")], [("2704.0", "3")]]
    frame.set("2704.0", "5")  # held back, and nothing follows: it goes out after a moment
    assert receiver.next() == [("2704.0", "5")]
    frame.notify_reorder = 0.0
    assert control(frame, "notify?delay_ms=50").json()["delay_ms"] == 50
    frame.set("2704.0", "6")
    assert receiver.next() == [("2704.0", "6")]
    stats = frame.stats()
    assert stats["datagrams_dropped"] == 1 and stats["datagrams_duplicated"] == 1
    assert stats["datagrams_reordered"] == 2 and stats["datagrams_sent"] == 6


def test_refuses_subscriptions_over_the_limit(make_nexx_emulator, receiver):
    frame = make_nexx_emulator(max_subscriptions=2)
    register(frame, receiver, "2704.0", "2704.1")
    refusal = get(frame, "EV/NOTIFYADD/parameter/1/2704.2").json()
    assert "notification limit reached (2 parameters)" in refusal["error"]
    assert control(frame, "notify?max_subscriptions=none").json()["max_subscriptions"] is None
    assert get(frame, "EV/NOTIFYADD/parameter/1/2704.2").json() == {"status": "success"}


def test_a_reboot_forgets_every_receiver(make_nexx_emulator, receiver):
    frame = make_nexx_emulator()
    register(frame, receiver, "2704.0")
    assert control(frame, "reboot").json() == {"status": "success"}
    assert frame.receivers() == []
    frame.set("2704.0", "9")
    assert receiver.nothing()
    assert frame.stats()["reboots"] == 1


def test_subscriptions_outlive_a_restart_with_a_state_file(make_nexx_emulator, receiver,
                                                           tmp_path):
    state = tmp_path / "frame.json"
    first = make_nexx_emulator(state_file=state)
    register(first, receiver, "2704.0", "2709.0.0.0")
    first.stop()
    second = make_nexx_emulator(state_file=state)
    (kept,) = second.receivers()
    assert (kept.id, kept.name, kept.port) == ("1", "test", receiver.port)
    assert kept.parameters == {"2704.0", "2709.0.0.0"}
    second.set("2704.0", "11")
    assert receiver.next() == [("2704.0", "11")]
    added = get(second, f"EV/SERVERADD/server/127.0.0.1/again/{receiver.port}/udp").json()
    assert added["data"]["server"]["id"] == "2"  # ids are not given twice
    json.loads(state.read_text())


def test_a_broken_state_file_is_refused(tmp_path):
    state = tmp_path / "frame.json"
    state.write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read"):
        NexxEmulator(state_file=state)


def test_receiver_calls_count_against_the_rate_limit(make_nexx_emulator):
    frame = make_nexx_emulator(max_rps=2)
    answers = [get(frame, "EV/SERVERSTATUS").status_code for _ in range(4)]
    assert answers.count(503) >= 1
    assert frame.stats()["rejected_rate_limit"] >= 1


# --- the client's calls -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_service_calls(nexx_settings, nexx_emulator, receiver):
    service = NexxService.from_settings()
    assert service.server_status() == []
    added = service.server_add("127.0.0.1", "mvcontrol", receiver.port)
    assert added.sends_to("127.0.0.1", receiver.port) and added.name == "mvcontrol"
    assert service.notify_add(added.id, "2704.3") is True
    assert service.notify_add(added.id, "2704.3") is False  # "Variable exists": as good
    nexx_emulator.max_subscriptions = 1
    with pytest.raises(DeviceRefused, match="notification limit reached"):
        service.notify_add(added.id, "2704.4")
    (status,) = service.server_status()
    assert status.parameters == {"2704.3"}
    service.server_del(added.id)
    assert service.server_status() == []
    with pytest.raises(DeviceRefused, match="not found"):
        service.server_del(added.id)


@pytest.mark.django_db(transaction=True)
def test_background_requests_take_only_a_free_slot(nexx_settings, nexx_emulator):
    from devices.models import NexxSettings

    NexxSettings.objects.update(requests_per_second=10)
    service = NexxService.from_settings()
    before = nexx_emulator.stats()["requests"]
    # An operator's batch holds the schedule for the next second and a half.
    service.throttle.reserve(15, timeout=5)
    with service.background(max_wait=0.3), pytest.raises(DeviceBusy, match="background"):
        service.server_status()
    assert nexx_emulator.stats()["requests"] == before  # nothing was sent ahead of them
    stop = threading.Event()
    stop.set()
    with service.background(cancel=stop), pytest.raises(DeviceBusy, match="stopped"):
        service.server_status()
    # A foreground request waits for its slot behind the batch, as always.
    assert service.server_status() == []
    assert nexx_emulator.stats()["requests"] == before + 1
