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


class ApplyJob(models.Model):
    """A preset apply too large for one request, run by a django-q2 worker.

    `document` is the preset as it was when the apply was asked for (the preset may be deleted
    or replaced meanwhile) and `selection` what to apply of it: {"multiviewers": [nexx_index…],
    "groups": [...]}. `result` has the same shape as the answer of an apply done at once."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="preset_jobs")
    preset = models.ForeignKey(Preset, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="jobs")
    preset_name = models.CharField(max_length=100)
    document = models.JSONField()
    selection = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "presets_apply_job"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Apply {self.preset_name} (#{self.pk}, {self.status})"
