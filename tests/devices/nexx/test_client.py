"""NexxClient against the emulator over real HTTP: every reply format and auth mode, batching,
text values, JWT renewal, each fault and the typed error it becomes."""

import subprocess
from pathlib import Path

import pytest

from devices.errors import (
    DeviceAuthError,
    DeviceBusy,
    DeviceProtocolError,
    DeviceRefused,
    DeviceTimeout,
    DeviceUnreachable,
    TooManyParameters,
)
from devices.nexx import codec
from devices.nexx.catalog import InvalidParameterId, InvalidParameterValue, multiviewer_param_ids
from devices.nexx.client import DeviceOverloaded, DeviceServerError, NexxClient, NexxConfig
from tests.fixtures.nexx import NEXX_API_KEY, NEXX_JWT_PASSWORD, NEXX_JWT_USER
from tests.support import free_port

AUTH_MODES = ["none", "api-key", "jwt"]
FORMATS = ["keyed", "objects", "list"]
TEXTS = ["CAM 3", "A, B, C", "100% / 50%", "Ünïcødé ✓ 日本", "a+b=c&d?e#f", ",", "%2C", ""]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def client_for(frame, *, throttle=None, **options) -> NexxClient:
    config = NexxConfig(
        base_url=frame.base_url, auth_mode=frame.auth, api_key=frame.api_key,
        jwt_username=frame.jwt_user, jwt_password=frame.jwt_password,
        timeout=options.pop("timeout", 2.0), verify_tls=options.pop("verify_tls", True),
    )
    options.setdefault("backoff", 0.01)
    return NexxClient(config, throttle=throttle, **options)


@pytest.fixture
def clients():
    made: list[NexxClient] = []

    def make(frame, **options) -> NexxClient:
        made.append(client_for(frame, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_read_and_write_in_every_format_and_auth_mode(make_nexx_emulator, clients, auth, fmt):
    frame = make_nexx_emulator(auth=auth, reply_format=fmt)
    client = clients(frame)
    assert client.read(["2700"]) == {"2700": "120"}
    ids = ["2704.0", "2704.1", "2709.0.2.0", "2719.0.3"]
    assert client.read(ids) == {pid: frame.get(pid) for pid in ids}
    client.write({"2704.0": 11})
    client.write({"2704.1": "42", "2709.0.2.0": "CAM 3, iso", "2719.0.3": 6})
    assert client.read(ids[:3]) == {"2704.0": "11", "2704.1": "42", "2709.0.2.0": "CAM 3, iso"}
    assert frame.get("2719.0.3") == "6"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("text", TEXTS)
def test_text_values_survive_single_and_multi_writes(make_nexx_emulator, clients, fmt, text):
    frame = make_nexx_emulator(reply_format=fmt)
    client = clients(frame)
    client.write({"2709.0.0.0": text})
    assert frame.get("2709.0.0.0") == text
    client.write({"2709.0.0.1": text, "2718.0.1": text + text, "2704.0": 3})
    assert frame.get("2709.0.0.1") == text
    assert frame.get("2718.0.1") == text + text
    assert client.read(["2709.0.0.0", "2718.0.1"]) == {"2709.0.0.0": text,
                                                       "2718.0.1": text + text}


def test_commas_are_escaped_inside_multi_writes(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    clients(frame).write({"2709.0.0.0": "a,b", "2709.0.0.1": "c d"})
    target = frame.recent_requests[-1]
    assert target.endswith("/a%2Cb,c%20d")


@pytest.mark.parametrize(("count", "per_request"), [
    (39, {"39": 1}), (40, {"40": 1}), (41, {"40": 1, "1": 1}), (120, {"40": 3}),
])
def test_batching(make_nexx_emulator, clients, count, per_request):
    frame = make_nexx_emulator()
    client = clients(frame)
    ids = multiviewer_param_ids(0)[:count]
    with client.count_requests() as sent:
        values = client.read(ids)
    assert list(values) == ids
    assert sent.requests == -(-count // 40)
    assert frame.stats()["parameters_per_request"] == per_request
    writable = [pid for mv in (1, 2, 3) for pid in multiviewer_param_ids(mv)
                if pid.startswith("2709.")][:count]
    assert len(writable) == count
    frame.reset_stats()
    with client.count_requests() as sent:
        client.write({pid: f"W{i}" for i, pid in enumerate(writable)})
    assert sent.requests == -(-count // 40)
    assert frame.stats()["parameters_per_request"] == per_request
    assert frame.get(writable[-1]) == f"W{count - 1}"


def test_duplicate_ids_are_read_once(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    assert clients(frame).read(["2700", "2700", "2701"]) == {"2700": "120", "2701": "24"}
    assert frame.stats()["parameters_per_request"] == {"2": 1}


def test_values_outside_the_catalog_are_refused_before_sending(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    client = clients(frame)
    with pytest.raises(InvalidParameterValue, match=r"2704\.0.*0\.\.42"):
        client.write({"2709.0.0.0": "fine", "2704.0": 43})
    with pytest.raises(InvalidParameterId, match="read-only"):
        client.write({"2700": 100})
    with pytest.raises(InvalidParameterId, match="write-only"):
        client.read(["2735.0"])
    with pytest.raises(InvalidParameterId):
        client.read(["2704.0", "9999"])
    assert frame.stats()["requests"] == 0
    assert client.requests_sent == 0


# --- auth ------------------------------------------------------------------------------------


def test_jwt_is_created_once_and_reused(make_nexx_emulator, clients):
    frame = make_nexx_emulator(auth="jwt")
    client = clients(frame)
    with client.count_requests() as sent:
        client.read(["2700"])
        client.read(["2701"])
    assert sent.requests == 3
    assert frame.stats()["by_call"] == {"BT/JWTCREATE": 1, "EV/GET": 2}
    assert client.verify_jwt()


def test_jwt_is_renewed_before_its_lifespan_runs_out(make_nexx_emulator, clients):
    clock = FakeClock()
    frame = make_nexx_emulator(auth="jwt", jwt_lifespan=100, clock=clock)
    client = clients(frame, clock=clock)
    client.read(["2700"])
    clock.now += 70
    client.read(["2700"])
    assert frame.stats()["jwt_refreshed"] == 0
    clock.now += 15  # 85 s: inside the renewal margin, still valid
    client.read(["2700"])
    assert frame.stats()["jwt_refreshed"] == 1
    clock.now += 60  # 145 s: the first token has expired; the renewed one is used
    client.read(["2700"])
    stats = frame.stats()
    assert (stats["jwt_created"], stats["jwt_refreshed"]) == (1, 1)
    assert stats["by_call"]["EV/GET"] == 4


def test_a_token_past_its_lifespan_is_created_again_without_refresh(make_nexx_emulator,
                                                                    clients):
    clock = FakeClock()
    frame = make_nexx_emulator(auth="jwt", jwt_lifespan=100, clock=clock)
    client = clients(frame, clock=clock)
    client.read(["2700"])
    clock.now += 500
    client.read(["2700"])
    assert frame.stats()["by_call"] == {"BT/JWTCREATE": 2, "EV/GET": 2}


def test_a_rejected_jwt_is_created_again_once(make_nexx_emulator, clients):
    frame = make_nexx_emulator(auth="jwt")
    client = clients(frame)
    client.read(["2700"])
    frame.expire_tokens()  # the frame forgot it (reboot, clock jump)
    with client.count_requests() as sent:
        assert client.read(["2701"]) == {"2701": "24"}
    assert sent.requests == 3  # refused GET, JWTCREATE, GET
    assert frame.stats()["jwt_created"] == 2


def test_a_jwt_refused_again_after_recreation_is_an_auth_error(make_nexx_emulator, clients):
    frame = make_nexx_emulator(auth="jwt", jwt_lifespan=0)  # every token born expired
    client = clients(frame)
    with client.count_requests() as sent, pytest.raises(DeviceAuthError) as info:
        client.read(["2700"])
    assert sent.requests == 4  # create, refused, create once more, refused
    assert info.value.device == f"NEXX frame {frame.base_url}"
    assert "EV/GET/parameter 2700" in str(info.value)


def test_wrong_jwt_password_is_an_auth_error_without_the_password(make_nexx_emulator, clients):
    frame = make_nexx_emulator(auth="jwt", jwt_password="the-real-one")
    config = NexxConfig(base_url=frame.base_url, auth_mode="jwt", jwt_username=NEXX_JWT_USER,
                        jwt_password=NEXX_JWT_PASSWORD, timeout=2)
    client = NexxClient(config, throttle=None)
    try:
        with pytest.raises(DeviceAuthError) as info:
            client.read(["2700"])
    finally:
        client.close()
    assert "BT/JWTCREATE" in str(info.value)
    assert NEXX_JWT_PASSWORD not in str(info.value)
    assert info.value.command == "BT/JWTCREATE"
    assert frame.stats()["by_call"] == {"BT/JWTCREATE": 1}


@pytest.mark.parametrize("status", [401, 200])
def test_wrong_api_key_is_an_auth_error_sent_once(make_nexx_emulator, status):
    frame = make_nexx_emulator(auth="api-key", auth_error_status=status)
    config = NexxConfig(base_url=frame.base_url, auth_mode="api_key", api_key="wrong-key",
                        timeout=2)
    client = NexxClient(config, throttle=None)
    try:
        with pytest.raises(DeviceAuthError) as info:
            client.read(["2700"])
    finally:
        client.close()
    assert "wrong-key" not in str(info.value)
    assert frame.stats()["requests"] == 1
    assert NEXX_API_KEY != "wrong-key"


# --- faults ------------------------------------------------------------------------------------


def test_reads_retry_a_server_error_with_backoff(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    client = clients(frame, retries=2)
    frame.set_fault("http_500", times=2)
    with client.count_requests() as sent:
        assert client.read(["2700"]) == {"2700": "120"}
    assert sent.requests == 3


def test_writes_are_not_retried(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    client = clients(frame, retries=2)
    frame.set_fault("http_500", times=1)
    with pytest.raises(DeviceServerError, match="HTTP 500") as info:
        client.write({"2704.0": 3})
    assert isinstance(info.value, DeviceRefused)
    assert frame.stats()["requests"] == 1
    assert "EV/SET/parameter 2704.0" in str(info.value)


@pytest.mark.parametrize(("fault", "error"), [
    ("http_500", DeviceServerError),
    ("malformed_json", DeviceProtocolError),
    ("drop_connection", DeviceUnreachable),
    ("timeout", DeviceTimeout),
])
def test_each_fault_becomes_a_typed_error_naming_frame_and_call(make_nexx_emulator, clients,
                                                                fault, error):
    frame = make_nexx_emulator(hang_seconds=3)
    client = clients(frame, retries=1, timeout=0.3)
    frame.set_fault(fault)
    with pytest.raises(error) as info:
        client.read(["2704.0", "2704.1"])
    assert frame.base_url in str(info.value)
    assert "EV/GET/parameters 2704.0, 2704.1" in str(info.value)
    assert info.value.command == "EV/GET/parameters 2704.0, 2704.1"
    assert frame.stats()["faults_served"] == 2  # the read was tried twice


def test_a_frame_that_is_not_there_is_unreachable():
    config = NexxConfig(base_url=f"http://127.0.0.1:{free_port()}/v.api/apis/", timeout=1)
    client = NexxClient(config, throttle=None, retries=0)
    try:
        with pytest.raises(DeviceUnreachable, match="is unreachable for EV/GET"):
            client.read(["2700"])
    finally:
        client.close()


def test_rate_limited_by_the_frame_is_busy(make_nexx_emulator, clients):
    frame = make_nexx_emulator(max_rps=1, clock=FakeClock())
    client = clients(frame, retries=1)
    client.read(["2700"])
    with pytest.raises(DeviceOverloaded, match="HTTP 503") as info:
        client.read(["2700"])
    assert isinstance(info.value, DeviceBusy)


@pytest.mark.parametrize("status", [200, 400])
def test_device_error_text_is_refused(make_nexx_emulator, clients, status):
    frame = make_nexx_emulator(multiviewers=4, error_status=status)
    client = clients(frame)
    with pytest.raises(DeviceRefused, match="multiviewer 9 is not licensed") as info:
        client.read(["2704.0", "2704.9"])
    assert type(info.value) is DeviceRefused
    assert frame.stats()["requests"] == 1  # the frame said no: asking again would not help


def test_too_many_parameters_is_its_own_error(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    client = clients(frame)
    ids = multiviewer_param_ids(0)[:41]
    with pytest.raises(TooManyParameters, match="more than 40"):
        # The client never sends this itself; ask the frame directly through its call path.
        client._request(codec.read_path(ids), "EV/GET 41", idempotent=True,
                        parse=lambda doc: client._values(doc, ids, "EV/GET 41"))


def test_a_reply_lacking_a_value_is_malformed(make_nexx_emulator, clients):
    frame = make_nexx_emulator()
    client = clients(frame, retries=0)
    with pytest.raises(DeviceProtocolError, match="lacks 2704.1"):
        client._request(codec.read_path(["2704.0"]), "EV/GET", idempotent=True,
                        parse=lambda doc: client._values(doc, ["2704.0", "2704.1"], "EV/GET"))


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture
def self_signed(tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True, timeout=30,
        )
    except (FileNotFoundError, subprocess.CalledProcessError):
        pytest.skip("openssl is needed to make a self-signed certificate")
    return str(cert), str(key)


def test_tls_verification_is_configurable(make_nexx_emulator, clients, self_signed):
    cert, key = self_signed
    frame = make_nexx_emulator(tls_certfile=cert, tls_keyfile=key)
    assert frame.base_url.startswith("https://")
    with pytest.raises(DeviceUnreachable, match="certificate"):
        clients(frame, retries=0).read(["2700"])
    assert clients(frame, verify_tls=False).read(["2700"]) == {"2700": "120"}


@pytest.mark.parametrize("status", [401, 200])
def test_verify_jwt(make_nexx_emulator, clients, status):
    frame = make_nexx_emulator(auth="jwt", auth_error_status=status)
    client = clients(frame)
    assert not client.verify_jwt()  # none yet
    client.read(["2700"])
    assert client.verify_jwt()
    frame.expire_tokens()
    assert not client.verify_jwt()
    assert client.read(["2700"]) == {"2700": "120"}  # re-created after the refusal


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fault", ["http_500", "malformed_json", "drop_connection", "timeout"])
def test_a_read_recovers_from_one_fault_in_every_format_and_auth_mode(make_nexx_emulator,
                                                                      clients, auth, fmt,
                                                                      fault):
    frame = make_nexx_emulator(auth=auth, reply_format=fmt, hang_seconds=2)
    client = clients(frame, retries=1, timeout=0.3)
    ids = ["2704.0", "2709.0.2.0"]
    assert client.read(ids) == {pid: frame.get(pid) for pid in ids}  # a JWT is in hand now
    frame.set_fault(fault, times=1)
    with client.count_requests() as sent:
        assert client.read(ids) == {pid: frame.get(pid) for pid in ids}
    assert sent.requests == 2  # the faulty answer and the retry; the JWT was kept
    assert frame.stats()["jwt_created"] == (1 if auth == "jwt" else 0)


def test_a_read_only_device_user_cannot_write(make_nexx_emulator, clients):
    frame = make_nexx_emulator(auth="jwt", jwt_role="ro-user")
    client = clients(frame)
    before = frame.get("2704.0")
    assert client.read(["2704.0"]) == {"2704.0": before}
    with pytest.raises(DeviceAuthError, match="ro-user") as info:
        client.write({"2704.0": 5})
    assert info.value.command == "EV/SET/parameter 2704.0"
    assert frame.get("2704.0") == before
    # Refused, the token was re-created once and the write tried again: then it gave up.
    assert frame.stats()["by_call"] == {"BT/JWTCREATE": 2, "EV/GET": 1, "EV/SET": 2}
