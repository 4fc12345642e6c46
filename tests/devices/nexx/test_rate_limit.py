"""The frame's request rate holds across processes: the one global throttle, not per process."""

import subprocess
import sys

import pytest

from tests.fixtures.nexx import point_settings_at
from tests.support import BASE_DIR, subprocess_env

CHILD = """
import sys

import django

django.setup()
from devices.nexx.service import NexxService

service = NexxService.from_settings()
for _ in range(int(sys.argv[1])):
    service.read(["2700", "2701"])
print(service.requests_sent)
"""



LIMIT = 4
PROCESSES = 3
READS = 4


@pytest.mark.django_db(transaction=True)
def test_the_frame_never_sees_more_than_the_limit(make_nexx_emulator):
    frame = make_nexx_emulator(max_rps=LIMIT)
    point_settings_at(frame, requests_per_second=LIMIT, timeout=10)
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(READS)], cwd=BASE_DIR,
                         env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for _ in range(PROCESSES)
    ]
    try:
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert int(out.strip()) >= READS
    stats = frame.stats()
    assert stats["by_call"]["EV/GET"] >= PROCESSES * READS
    assert stats["max_per_second"] <= LIMIT, stats["per_second"]
