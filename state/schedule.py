"""The nightly refresh schedule (django-q2), kept in step with NIGHTLY_REFRESH_TIME.

`ensure_nightly_schedule()` runs after every `migrate` (state/apps.py). It creates the one
schedule, or moves it when the configured time changed; it never makes a second one, even when
two processes migrate at once. The time is local (TIME_ZONE); django-q2's DAILY schedule keeps it
across daylight-saving changes.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

SCHEDULE_NAME = "nightly refresh"
SCHEDULE_FUNC = "state.tasks.nightly_refresh"
_LOCK = (0x6D76, 3)  # advisory lock: (mvcontrol, nightly schedule)


def nightly_time() -> dt.time:
    text = str(getattr(settings, "NIGHTLY_REFRESH_TIME", "03:00")).strip()
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    if not match:
        raise ImproperlyConfigured(
            f"NIGHTLY_REFRESH_TIME must be a local time HH:MM (e.g. 03:00), not {text!r}")
    return dt.time(int(match.group(1)), int(match.group(2)))


def next_run_at(at: dt.time, *, now: dt.datetime | None = None) -> dt.datetime:
    """The next moment the local clock shows `at` (aware datetime)."""
    zone = ZoneInfo(settings.TIME_ZONE)
    local_now = (now or timezone.now()).astimezone(zone)
    candidate = dt.datetime.combine(local_now.date(), at, tzinfo=zone)
    if candidate <= local_now:
        candidate = dt.datetime.combine(local_now.date() + dt.timedelta(days=1), at, tzinfo=zone)
    return candidate


def ensure_nightly_schedule() -> str:
    """Create or correct the nightly schedule; returns "created", "updated" or "unchanged"."""
    from django_q.models import Schedule

    at = nightly_time()
    zone = ZoneInfo(settings.TIME_ZONE)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::int, %s::int)", list(_LOCK))
        schedules = list(Schedule.objects.filter(name=SCHEDULE_NAME).order_by("id"))
        for extra in schedules[1:]:
            extra.delete()
        schedule = schedules[0] if schedules else None
        if schedule is None:
            Schedule.objects.create(name=SCHEDULE_NAME, func=SCHEDULE_FUNC,
                                    schedule_type=Schedule.DAILY, repeats=-1,
                                    next_run=next_run_at(at))
            return "created"
        current = schedule.next_run.astimezone(zone) if schedule.next_run else None
        in_step = (current is not None and current.time() == at
                   and schedule.func == SCHEDULE_FUNC and schedule.schedule_type == Schedule.DAILY
                   and schedule.repeats < 0)
        if in_step:
            return "unchanged"
        schedule.func = SCHEDULE_FUNC
        schedule.schedule_type = Schedule.DAILY
        schedule.repeats = -1
        schedule.next_run = next_run_at(at)
        schedule.save()
        return "updated"
