"""Preset tests reuse the control rig (both emulators, a refreshed snapshot, users with grants:
tests/fixtures/control.py) and add a device-free inventory for the API tests."""

from __future__ import annotations

import pytest

from devices.models import Multiviewer, Source
from tests.fixtures.control import make_devices, rig  # noqa: F401 - fixtures


@pytest.fixture
def inventory(db) -> dict:
    """Multiviewers 1..3 (indexes 0..2) and sources 1..32, without devices or state."""
    mvs = [Multiviewer.objects.create(nexx_index=i, label=f"Studio {'ABC'[i]}") for i in range(3)]
    sources = [Source.objects.create(quartz_input=n, label=f"SRC {n}") for n in range(1, 33)]
    return {"multiviewers": mvs, "sources": sources}
