"""The nightly refresh schedule: created on migrate, never twice, moved with the setting."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django_q.models import Schedule

from state.schedule import SCHEDULE_FUNC, SCHEDULE_NAME, ensure_nightly_schedule, next_run_at

pytestmark = pytest.mark.django_db


def nightly() -> list[Schedule]:
    return list(Schedule.objects.filter(name=SCHEDULE_NAME))


def test_migrate_creates_it_once(settings):
    settings.TIME_ZONE = "Europe/Paris"
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    (schedule,) = nightly()
    assert schedule.func == SCHEDULE_FUNC
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats < 0
    local = schedule.next_run.astimezone(ZoneInfo("Europe/Paris"))
    assert local.time() == dt.time(3, 0)


def test_unchanged_then_moved_when_the_time_changes(settings):
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()
    assert ensure_nightly_schedule() == "created"
    assert ensure_nightly_schedule() == "unchanged"
    settings.NIGHTLY_REFRESH_TIME = "04:30"
    assert ensure_nightly_schedule() == "updated"
    (schedule,) = nightly()
    assert schedule.next_run.astimezone(ZoneInfo(settings.TIME_ZONE)).time() == dt.time(4, 30)


def test_duplicates_are_removed():
    ensure_nightly_schedule()
    (first,) = nightly()
    Schedule.objects.create(name=SCHEDULE_NAME, func=SCHEDULE_FUNC,
                            schedule_type=Schedule.DAILY, next_run=first.next_run)
    ensure_nightly_schedule()
    assert [s.pk for s in nightly()] == [first.pk]


def test_next_run_is_the_next_time_the_local_clock_shows_it(settings):
    settings.TIME_ZONE = "Europe/Paris"
    zone = ZoneInfo("Europe/Paris")
    before = dt.datetime(2026, 3, 28, 2, 0, tzinfo=zone)
    assert next_run_at(dt.time(3, 0), now=before) == dt.datetime(2026, 3, 28, 3, 0, tzinfo=zone)
    at = dt.datetime(2026, 3, 28, 3, 0, tzinfo=zone)
    assert next_run_at(dt.time(3, 0), now=at) == dt.datetime(2026, 3, 29, 3, 0, tzinfo=zone)
    # 03:00 on the night clocks go forward is still 03:00 local (01:00 UTC, not 02:00).
    assert next_run_at(dt.time(3, 0), now=at).astimezone(dt.UTC).hour == 1


@pytest.mark.parametrize("value", ["3am", "24:00", "03:60", ""])
def test_a_bad_time_is_refused(settings, value):
    settings.NIGHTLY_REFRESH_TIME = value
    with pytest.raises(ImproperlyConfigured, match="HH:MM"):
        ensure_nightly_schedule()


def test_a_starting_background_worker_moves_it_to_the_configured_time(settings):
    from django_q.signals import post_spawn

    ensure_nightly_schedule()
    settings.NIGHTLY_REFRESH_TIME = "05:15"
    post_spawn.send(sender="django_q", proc_name="Worker-1")
    (schedule,) = nightly()
    assert schedule.next_run.astimezone(ZoneInfo(settings.TIME_ZONE)).time() == dt.time(5, 15)


def test_a_bad_time_does_not_stop_a_starting_worker(settings, caplog):
    from django_q.signals import post_spawn

    settings.NIGHTLY_REFRESH_TIME = "25:00"
    post_spawn.send(sender="django_q", proc_name="Worker-1")
    assert "NIGHTLY_REFRESH_TIME must be a local time" in caplog.text
