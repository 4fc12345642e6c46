"""The emulated frame over real HTTP: both request forms, auth, limits, faults, stats."""

import base64
import json
import subprocess
import sys

import httpx
import pytest

from devices.nexx.catalog import param_id
from devices.nexx.codec import TOO_MANY_PARAMETERS_TEXT
from devices.nexx.emulator import NexxEmulator
from tests.support import BASE_DIR, subprocess_env


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def get(emulator, path, **kwargs):
    return httpx.get(emulator.base_url + path, timeout=5, **kwargs)


def test_realistic_defaults(make_nexx_emulator):
    frame = make_nexx_emulator()
    assert frame.get("2700") == "120"
    assert frame.get("2701") == "24"
    enabled = [frame.get(param_id("enable", mv)) for mv in range(24)]
    assert "0" in enabled and enabled.count("1") >= 20
    assert frame.get("2702") == str(enabled.count("1"))
    layouts = {frame.get(param_id("layout", mv)) for mv in range(24)}
    assert len(layouts) >= 8
    texts = {frame.get(param_id("text", mv, w, 0)) for mv in range(24) for w in range(16)}
    assert "CAM 3" in texts
    assert frame.get(param_id("source_label", 0, 2)) == "CAM 3"
    assert frame.get(param_id("text", 0, 2, 0)) == "CAM 3"
    assert len({frame.get(param_id("pcm_bars", 0, w)) for w in range(16)}) == 7


def test_enable_flags_drive_the_enabled_count(make_nexx_emulator):
    frame = make_nexx_emulator()
    before = int(frame.get("2702"))
    response = get(frame, f"EV/SET/parameter/{param_id('enable', 0)}/0")
    assert response.status_code == 200
    assert frame.get("2702") == str(before - 1)
    frame.set(param_id("enable", 0), "1")
    assert frame.get("2702") == str(before)


@pytest.mark.parametrize("path", [
    "EV/GET/parameter/2704.3",
    "EV/GET/parameter?varid=2704.3",
])
def test_read_one_in_both_forms(make_nexx_emulator, path):
    frame = make_nexx_emulator()
    assert get(frame, path).json() == {"2704.3": frame.get("2704.3")}


@pytest.mark.parametrize("path", [
    "EV/GET/parameters/2700,2701",
    "EV/GET/parameters?varid=2700,2701",
])
def test_read_many_in_both_forms(make_nexx_emulator, path):
    frame = make_nexx_emulator()
    assert get(frame, path).json() == {"2700": "120", "2701": "24"}


@pytest.mark.parametrize(("path", "expected"), [
    ("EV/SET/parameter/2709.1.0.0/Studio%20A", {"2709.1.0.0": "Studio A"}),
    ("EV/SET/parameter?2709.1.0.0=Studio%20A", {"2709.1.0.0": "Studio A"}),
    ("EV/SET/parameters/2704.1,2709.1.0.0/7,A%2CB", {"2704.1": "7", "2709.1.0.0": "A,B"}),
    ("EV/SET/parameters?2704.1=7&2709.1.0.0=A%2CB", {"2704.1": "7", "2709.1.0.0": "A,B"}),
])
def test_write_in_both_forms(make_nexx_emulator, path, expected):
    frame = make_nexx_emulator()
    response = get(frame, path)
    assert response.status_code == 200
    assert response.json() == expected
    assert {pid: frame.get(pid) for pid in expected} == expected


@pytest.mark.parametrize("fmt", ["keyed", "objects", "list"])
def test_reply_formats(make_nexx_emulator, fmt):
    frame = make_nexx_emulator(reply_format=fmt)
    one = get(frame, "EV/GET/parameter/2704.3").json()
    many = get(frame, "EV/GET/parameters/2704.3,2718.3.0").json()
    value = frame.get("2704.3")
    if fmt == "keyed":
        assert one == {"2704.3": value}
    elif fmt == "objects":
        assert one == {"id": "2704.3@i", "name": "Layout selection", "type": "integer",
                       "value": value}
        assert [o["id"] for o in many] == ["2704.3@i", "2718.3.0@s"]
    else:
        assert one == [{"id": "2704.3@i", "value": int(value)}]
        assert many[1] == {"id": "2718.3.0@s", "value": frame.get("2718.3.0")}


def test_forty_parameters_pass_and_forty_one_are_refused(make_nexx_emulator):
    frame = make_nexx_emulator()
    ids = [param_id("text", 0, w, layer) for w in range(16) for layer in range(3)]
    assert get(frame, "EV/GET/parameters/" + ",".join(ids[:40])).status_code == 200
    response = get(frame, "EV/GET/parameters/" + ",".join(ids[:41]))
    assert response.status_code == 200  # the frame says so in the body
    assert TOO_MANY_PARAMETERS_TEXT in response.json()["error"]
    values = ",".join("x" for _ in ids[:41])
    response = get(frame, "EV/SET/parameters/" + ",".join(ids[:41]) + "/" + values)
    assert TOO_MANY_PARAMETERS_TEXT in response.json()["error"]
    assert frame.get(ids[0]) != "x"


def test_device_errors_refuse_the_whole_write(make_nexx_emulator):
    frame = make_nexx_emulator(error_status=400)
    before = frame.get("2704.0")
    response = get(frame, "EV/SET/parameters/2704.0,2719.0.0,2700,2704.30/3,9,5,1")
    assert response.status_code == 400
    error = response.json()["error"]
    assert "2719.0.0" in error and "2700 is read-only" in error and "2704.30" in error
    assert frame.get("2704.0") == before
    assert "write-only" in get(frame, "EV/GET/parameter/2735.0").json()["error"]
    assert "unknown parameter" in get(frame, "EV/GET/parameter/9999").json()["error"]


def test_update_preview_is_write_only_and_counted(make_nexx_emulator):
    frame = make_nexx_emulator()
    assert get(frame, "EV/SET/parameter/2735.4/1").status_code == 200
    assert frame.stats()["preview_updates"] == 1


def test_api_key_in_header_or_query(make_nexx_emulator):
    frame = make_nexx_emulator(auth="api-key", api_key="k1")
    assert get(frame, "EV/GET/parameter/2700").status_code == 401
    assert get(frame, "EV/GET/parameter/2700",
               headers={"webeasy-api-key": "wrong"}).status_code == 401
    assert get(frame, "EV/GET/parameter/2700", headers={"webeasy-api-key": "k1"}).json() == {
        "2700": "120"}
    assert get(frame, "EV/GET/parameter?varid=2700&webeasy-api-key=k1").status_code == 200


def _create_jwt(frame, user="u", password="p"):  # noqa: S107 - the emulator's test user
    encoded = base64.b64encode(json.dumps({"username": user, "password": password}).encode())
    return get(frame, "BT/JWTCREATE/" + encoded.decode().replace("/", "%2F"))


def test_jwt_lifecycle(make_nexx_emulator):
    clock = FakeClock()
    frame = make_nexx_emulator(auth="jwt", jwt_user="u", jwt_password="p", jwt_lifespan=100,
                               clock=clock)
    assert _create_jwt(frame, password="nope").status_code == 401
    reply = _create_jwt(frame).json()
    assert reply["status"] == "success" and reply["brief"]["lifespan"] == 100
    assert reply["brief"]["userrole"] == "administrator"
    token = reply["jwt"]
    assert token.startswith("eyJ")
    assert get(frame, "EV/GET/parameter/2700", headers={"jwt": token}).status_code == 200
    assert get(frame, f"EV/GET/parameter?varid=2700&jwt={token}").status_code == 200
    assert get(frame, f"BT/JWTVERIFY/{token}").json()["status"] == "success"
    clock.now += 99
    renewed = get(frame, f"BT/JWTREFRESH/{token}").json()["jwt"]
    clock.now += 2
    expired = get(frame, "EV/GET/parameter/2700", headers={"jwt": token})
    assert expired.status_code == 401 and "expired" in expired.json()["error"]
    assert get(frame, f"BT/JWTVERIFY/{token}").status_code == 401
    assert get(frame, "EV/GET/parameter/2700", headers={"jwt": renewed}).status_code == 200
    frame.expire_tokens()
    assert get(frame, "EV/GET/parameter/2700", headers={"jwt": renewed}).status_code == 401
    assert frame.stats()["jwt_created"] == 1 and frame.stats()["jwt_refreshed"] == 1


def test_read_only_user_cannot_write(make_nexx_emulator):
    frame = make_nexx_emulator(auth="jwt", jwt_user="u", jwt_password="p", jwt_role="ro-user")
    token = _create_jwt(frame).json()["jwt"]
    assert get(frame, "EV/GET/parameter/2700", headers={"jwt": token}).status_code == 200
    assert get(frame, "EV/SET/parameter/2704.0/3", headers={"jwt": token}).status_code == 403


def test_rate_limit_answers_503_with_a_json_error(make_nexx_emulator):
    clock = FakeClock()
    frame = make_nexx_emulator(max_rps=3, clock=clock)
    with httpx.Client(timeout=5) as client:
        url = frame.base_url + "EV/GET/parameter/2700"
        statuses = [client.get(url).status_code for _ in range(5)]
        refused = client.get(url)
        clock.now += 1.0
        later = client.get(url)
    assert statuses == [200, 200, 200, 503, 503]
    assert refused.status_code == 503
    assert "Too many requests" in refused.json()["error"]
    assert later.status_code == 200
    stats = frame.stats()
    assert stats["requests"] == 7  # refused ones are seen too
    assert stats["rejected_rate_limit"] == 3


def test_faults(make_nexx_emulator):
    frame = make_nexx_emulator(hang_seconds=5)
    with httpx.Client(timeout=5) as client:
        url = frame.base_url + "EV/GET/parameter/2700"
        frame.set_fault("http_500", times=2)
        assert [client.get(url).status_code for _ in range(3)] == [500, 500, 200]
        frame.set_fault("malformed_json", times=1)
        reply = client.get(url)
        assert reply.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            reply.json()
        frame.set_fault("drop_connection", times=1)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(url)
        frame.set_fault("timeout", times=1)
        with pytest.raises(httpx.ReadTimeout):
            client.get(url, timeout=0.3)
        assert client.get(url).status_code == 200
    assert frame.faults == {}
    assert frame.stats()["faults_served"] == 5


def test_faults_and_stats_over_http(make_nexx_emulator):
    frame = make_nexx_emulator()
    control = frame.stats_url.rsplit("/", 1)[0]
    with httpx.Client(timeout=5) as client:
        assert client.get(control + "/faults?http_500=-1").json() == {"http_500": None}
        assert client.get(frame.base_url + "EV/GET/parameter/2700").status_code == 500
        assert client.get(control + "/faults?http_500=0").json() == {}
        client.get(frame.base_url + "EV/GET/parameters/2700,2701,2702")
        stats = client.get(frame.stats_url).json()
        assert client.get(control + "/faults?nonsense=1").status_code == 400
    assert stats["requests"] == 2
    assert stats["parameters_per_request"] == {"1": 1, "3": 1}
    assert stats["max_parameters_per_request"] == 3
    assert stats["by_call"] == {"EV/GET": 2}
    assert sum(stats["per_second"].values()) == 2
    assert stats["max_per_second"] >= 1


def test_stop_ends_keep_alive_connections(make_nexx_emulator):
    frame = make_nexx_emulator()
    with httpx.Client(timeout=2) as client:
        assert client.get(frame.base_url + "EV/GET/parameter/2700").status_code == 200
        frame.stop()
        with pytest.raises(httpx.TransportError):
            client.get(frame.base_url + "EV/GET/parameter/2700")


def test_options_are_checked():
    with pytest.raises(ValueError):
        NexxEmulator(auth="basic")
    with pytest.raises(ValueError):
        NexxEmulator(reply_format="xml")
    with pytest.raises(ValueError):
        NexxEmulator(multiviewers=121)
    with pytest.raises(ValueError):
        NexxEmulator().set_fault("fire")


def test_management_command_serves_until_terminated():
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "nexx_emulator", "--port", "0",
         "--multiviewers", "4", "--auth", "api-key", "--api-key", "k", "--reply-format", "list"],
        stdout=subprocess.PIPE, text=True, env=subprocess_env(),
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("NEXX emulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1]
        reply = httpx.get(base_url + "EV/GET/parameter/2701", headers={"webeasy-api-key": "k"},
                          timeout=5)
        assert reply.json() == [{"id": "2701@i", "value": 4}]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
