from django.db import models


class DeviceThrottle(models.Model):
    """The virtual schedule of one device's global throttle (see devices/throttle.py)."""

    key = models.CharField(max_length=200, primary_key=True)
    next_free = models.DateTimeField()

    class Meta:
        db_table = "devices_throttle"

    def __str__(self) -> str:
        return self.key
