import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from tests.fixtures.accounts import AdminFactory, UserFactory
from tests.state.conftest import make_devices  # noqa: F401 - the fixture


@pytest.fixture
def api_world(db, make_devices, django_db_blocker):  # noqa: F811 - the fixture
    """Devices, their state in the cache, and one admin and one user with grants."""
    from devices.models import Multiviewer, NexxSettings, Source
    from state.models import RefreshRun
    from state.refresh import execute_run
    from state.services import StateService

    devices = make_devices()
    # The frame's throttle well above the fuzz's pace: the fuzz judges answers, not waiting.
    NexxSettings.objects.update(requests_per_second=1000)
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None and outcome.status == "success", outcome
    admin = AdminFactory(login="fuzz-admin")
    user = UserFactory(login="fuzz-user")
    user.multiviewers.set(Multiviewer.objects.filter(nexx_index__in=[0, 1]))
    user.sources.set(Source.objects.filter(quartz_input__lte=16))
    # In-process requests share the test's connection: the request signals must not close it
    # (Django's own test client does the same).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {"admin": admin, "user": user, "devices": devices}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def pytest_terminal_summary(terminalreporter):
    """How many requests the fuzz sent, and how many answers were 500 or more (in this process:
    the whole run's counts with -n 0)."""
    from tests.fuzz.support import sent

    if sent["generated"] or sent["hostile"]:
        terminalreporter.write_line(
            f"schemathesis: {sent['generated']} generated requests, "
            f"{sent['hostile']} hostile requests ({sent['past_bigint']} of them with an "
            "integer past a bigint)")
        terminalreporter.write_line(f"responses >= 500: {sent['server_errors']}")
