import logging

from django.apps import AppConfig
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)


class StateConfig(AppConfig):
    name = "state"
    verbose_name = "Device state"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        post_migrate.connect(_nightly_schedule, sender=self,
                             dispatch_uid="state.nightly_schedule")
        # Also when the django-q2 cluster starts (each worker, harmless: the schedule is kept
        # idempotently), so a changed NIGHTLY_REFRESH_TIME applies without a migrate.
        post_spawn.connect(_nightly_schedule_on_start, dispatch_uid="state.nightly_on_start")


def _nightly_schedule(sender, using="default", plan=None, **kwargs) -> None:
    # The schedule table belongs to django_q, migrated before post_migrate is sent.
    from state.schedule import ensure_nightly_schedule

    ensure_nightly_schedule()


def _nightly_schedule_on_start(sender, proc_name=None, **kwargs) -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from state.schedule import ensure_nightly_schedule

    try:
        ensure_nightly_schedule()
    except (ImproperlyConfigured, DatabaseError) as exc:
        # A worker must still run the tasks queued meanwhile; migrate reports a bad time loudly.
        logger.error("The nightly refresh schedule could not be set: %s", exc)
