"""NexxService: settings, the shared pool, the global throttle, operator values."""

import pytest

from devices.errors import DeviceNotConfigured, DeviceProtocolError
from devices.models import DeviceThrottle, NexxSettings
from devices.nexx.catalog import InvalidParameterValue, param_id
from devices.nexx.service import NexxService, close_shared_service
from tests.fixtures.nexx import point_settings_at

pytestmark = pytest.mark.django_db


def test_not_configured_without_a_base_url():
    NexxSettings.load()
    with pytest.raises(DeviceNotConfigured, match="base URL"):
        NexxService.from_settings()


def test_one_shared_service_rebuilt_when_the_settings_change(nexx_settings):
    first = NexxService.from_settings()
    assert NexxService.from_settings() is first
    nexx_settings.timeout = 3.0
    nexx_settings.save()
    second = NexxService.from_settings()
    assert second is not first
    assert second.config.timeout == 3.0
    assert first.client.http.is_closed
    assert second.read(["2700"]) == {"2700": "120"}


def test_every_request_takes_a_slot_of_the_frames_throttle(nexx_settings, nexx_emulator):
    service = NexxService.from_settings()
    assert service.throttle.key == f"nexx:{nexx_emulator.base_url}"
    assert service.throttle.rate == nexx_settings.requests_per_second
    assert service.throttle.device == f"NEXX frame {nexx_emulator.base_url}"
    assert not DeviceThrottle.objects.filter(key=service.throttle.key).exists()
    service.read(["2700"])
    assert DeviceThrottle.objects.filter(key=service.throttle.key).exists()


def test_operator_values_both_ways(nexx_settings, nexx_emulator):
    service = NexxService.from_settings()
    layout, bars = param_id("layout", 0), param_id("pcm_bars", 0, 1)
    text = param_id("text", 0, 1, 0)
    service.write_values({layout: 12, bars: 16, text: "CAM 3, ISO"})
    assert nexx_emulator.get(layout) == "11"
    assert nexx_emulator.get(bars) == "6"
    assert service.read_values([layout, bars, text]) == {layout: 12, bars: 16, text: "CAM 3, ISO"}
    assert service.read([layout, bars]) == {layout: "11", bars: "6"}


def test_refused_values_list_every_problem_and_send_nothing(nexx_settings, nexx_emulator):
    service = NexxService.from_settings()
    with service.count_requests() as sent, pytest.raises(InvalidParameterValue) as info:
        service.write_values({"2704.0": 44, "2719.0.0": 5, "2709.0.0.0": "fine"})
    assert sent.requests == 0
    assert nexx_emulator.stats()["requests"] == 0
    assert set(info.value.fields) == {"2704.0", "2719.0.0"}
    assert "from 1 to 43" in info.value.detail and "0, 2, 4, 6, 8, 12, 16" in info.value.detail


def test_request_counts(nexx_settings, nexx_emulator):
    service = NexxService.from_settings()
    with service.count_requests() as sent:
        service.write({})
        service.read([])
    assert sent.requests == 0
    before = service.requests_sent
    with service.count_requests() as sent:
        values = service.read_multiviewer(0)
    assert len(values) == 6 + 16 * 33
    assert sent.requests == -(-len(values) // 40)
    assert service.requests_sent == before + sent.requests


def test_a_value_that_cannot_be_right_never_becomes_state(nexx_settings, nexx_emulator):
    service = NexxService.from_settings()
    nexx_emulator.set("2704.3", "banana")
    with pytest.raises(DeviceProtocolError, match="banana"):
        service.read_values(["2704.2", "2704.3"])
    nexx_emulator.set("2704.3", "2")
    assert service.read_values(["2704.3"]) == {"2704.3": 3}


def test_frame_info_and_preview(nexx_settings, nexx_emulator):
    service = NexxService.from_settings()
    info = service.frame_info()
    assert info["chassis_total"] == 120
    assert info["licensed"] == 24
    enabled = sum(service.read_values([param_id("enable", mv) for mv in range(24)]).values())
    assert info["enabled_count"] == enabled
    service.update_preview(3)
    assert nexx_emulator.stats()["preview_updates"] == 1


def test_jwt_settings(make_nexx_emulator):
    frame = make_nexx_emulator(auth="jwt")
    point_settings_at(frame)
    try:
        service = NexxService.from_settings()
        assert service.config.auth_mode == "jwt"
        assert service.read(["2701"]) == {"2701": "24"}
        assert frame.stats()["jwt_created"] == 1
        assert frame.jwt_password not in repr(service.config)
    finally:
        close_shared_service()
