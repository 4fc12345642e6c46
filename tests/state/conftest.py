"""Devices for the state tests: a small NEXX frame and a router big enough for its windows.

    def test_something(devices):
        outcome = refresh_now()
        devices.nexx.get("2704.0"), devices.quartz.route(3)

`devices` points both integration settings at emulators on free ports (NEXX 4 multiviewers with
layouts 1, 2, 36 and 3, i.e. 4, 16, 9 and 13 windows; Quartz 32 sources x 128 outputs) and stops
them afterwards. Tests that need more multiviewers use `make_devices(multiviewers=24)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from devices.nexx.emulator import NexxEmulator
from devices.quartz.emulator import QuartzEmulator
from tests.fixtures.nexx import point_settings_at


@dataclass
class Devices:
    nexx: NexxEmulator
    quartz: QuartzEmulator


def point_quartz_at(emulator: QuartzEmulator, **fields):
    from devices.models import QuartzSettings

    settings = QuartzSettings.load()
    settings.host = emulator.host
    settings.port = emulator.port
    settings.source_count = emulator.sources
    settings.output_count = emulator.outputs
    settings.connect_timeout = 1.0
    settings.read_timeout = 1.0
    settings.commands_per_second = 2000
    settings.max_outstanding = 32
    settings.connection_style = emulator.style
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.save()
    return settings


@pytest.fixture
def make_devices(make_nexx_emulator):
    quartz_emulators: list[QuartzEmulator] = []

    def make(*, multiviewers: int = 4, sources: int = 32, outputs: int = 128,
             nexx_options: dict | None = None, quartz_options: dict | None = None) -> Devices:
        from devices.nexx.service import close_shared_service as close_nexx
        from devices.quartz.service import close_shared_service as close_quartz

        nexx = make_nexx_emulator(auth="api-key", multiviewers=multiviewers,
                                  **(nexx_options or {}))
        quartz = QuartzEmulator(sources=sources, outputs=outputs,
                                **(quartz_options or {})).start()
        quartz_emulators.append(quartz)
        close_nexx()
        close_quartz()
        point_settings_at(nexx)
        point_quartz_at(quartz)
        return Devices(nexx, quartz)

    try:
        yield make
    finally:
        from devices.nexx.service import close_shared_service as close_nexx
        from devices.quartz.service import close_shared_service as close_quartz

        close_nexx()
        close_quartz()
        for emulator in quartz_emulators:
            emulator.stop()


@pytest.fixture
def devices(transactional_db, make_devices) -> Devices:
    return make_devices()


