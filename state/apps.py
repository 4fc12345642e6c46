from django.apps import AppConfig
from django.db.models.signals import post_migrate


class StateConfig(AppConfig):
    name = "state"
    verbose_name = "Device state"

    def ready(self) -> None:
        post_migrate.connect(_nightly_schedule, sender=self,
                             dispatch_uid="state.nightly_schedule")


def _nightly_schedule(sender, using="default", plan=None, **kwargs) -> None:
    # The schedule table belongs to django_q, migrated before post_migrate is sent.
    from state.schedule import ensure_nightly_schedule

    ensure_nightly_schedule()
