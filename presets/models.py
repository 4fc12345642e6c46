from django.conf import settings
from django.db import models
from django.utils import timezone


class Preset(models.Model):
    """A saved set of multiviewer parameters, owned by one user (no shared presets)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="presets")
    name = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["owner", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="preset_name_unique_per_owner"),
            models.CheckConstraint(condition=~models.Q(name=""), name="preset_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name
