"""The cached snapshot of the devices, and the refresh runs that fill it.

The control page reads only these tables; it never waits on a device to read. Each row says
when it was last confirmed by the device (updated_at).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class MultiviewerState(models.Model):
    """Global parameters of one multiviewer, as the device last reported or accepted them.
    Values are operator values: layout 1..43; font, borders and output format are device indexes.
    Null means not read yet."""

    multiviewer = models.OneToOneField(
        "devices.Multiviewer", on_delete=models.CASCADE, related_name="state"
    )
    layout = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(43)]
    )
    font = models.PositiveSmallIntegerField(null=True, blank=True)
    outer_border = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(4)]
    )
    inner_border = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(4)]
    )
    output_format = models.PositiveSmallIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "state_mv"
        verbose_name = "multiviewer state"
        constraints = [
            models.CheckConstraint(condition=Q(layout__gte=1, layout__lte=43) | Q(layout=None),
                                   name="state_mv_layout_range"),
            models.CheckConstraint(
                condition=(Q(outer_border__lte=4) | Q(outer_border=None))
                & (Q(inner_border__lte=4) | Q(inner_border=None)),
                name="state_mv_border_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.multiviewer} state"


class WindowState(models.Model):
    """One window of a multiviewer: PCM bars and its three UMD layers.

    window_index is the device's 0-based index (window 1 on screen is index 0). pcm_bars is the
    number of bars shown (0, 2, 4, 6, 8, 12, 16). umd is a list of 3 layer objects keyed by
    parameter name (type, text, box_colour, box_alpha, x, y, text_colour, text_alpha, text_size,
    padding).
    """

    multiviewer = models.ForeignKey(
        "devices.Multiviewer", on_delete=models.CASCADE, related_name="window_states"
    )
    window_index = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(15)]
    )
    pcm_bars = models.PositiveSmallIntegerField(null=True, blank=True)
    umd = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "state_windows"
        verbose_name = "window state"
        ordering = ["multiviewer", "window_index"]
        constraints = [
            models.UniqueConstraint(fields=["multiviewer", "window_index"],
                                    name="state_windows_unique_window"),
            models.CheckConstraint(condition=Q(window_index__gte=0, window_index__lte=15),
                                   name="state_windows_index_range"),
            models.CheckConstraint(
                condition=Q(pcm_bars__in=[0, 2, 4, 6, 8, 12, 16]) | Q(pcm_bars=None),
                name="state_windows_pcm_bars_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.multiviewer} window {self.window_index + 1}"


class RoutingState(models.Model):
    """Which router input feeds a router output. input None: the router did not say (unknown)."""

    output = models.PositiveIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    input = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    output_label = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "state_routing"
        verbose_name = "route"
        ordering = ["output"]
        constraints = [
            models.CheckConstraint(condition=Q(output__gte=1, output__lte=65535),
                                   name="state_routing_output_range"),
            models.CheckConstraint(condition=Q(input__gte=1) | Q(input=None),
                                   name="state_routing_input_range"),
        ]

    def __str__(self) -> str:
        return f"output {self.output} ← input {self.input or '?'}"


class RefreshRun(models.Model):
    class Trigger(models.TextChoices):
        MANUAL = "manual", "Manual"
        SCHEDULED = "scheduled", "Scheduled"
        COMMAND = "command", "Command"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="refresh_runs")
    scope = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    progress = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error_summary = models.TextField(blank=True)

    class Meta:
        db_table = "state_refresh_runs"
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(finished_at=None) | Q(finished_at__gte=models.F("started_at")),
                name="refresh_run_finished_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"Refresh {self.started_at:%Y-%m-%d %H:%M} ({self.status})"


class NexxListenerStatus(models.Model):
    """What `manage.py nexx_listen` is doing, for admins and the health check (one row).

    The listener writes it every few seconds while it runs (`heartbeat_at`), so a row whose
    heartbeat is old says the listener is not running, whatever else it says."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    state = models.CharField(
        max_length=32, default="not started",
        help_text="listening, subscribing, registering, frame unreachable, waiting for settings, "
        "turned off, stopped, not started.")
    problem = models.TextField(blank=True, help_text="What keeps the listener from its work, "
                               "if anything (the frame unreachable, a refusal, the settings).")
    frame = models.CharField(max_length=500, blank=True, help_text="The frame's EV API base.")
    receiver = models.CharField(max_length=300, blank=True,
                                help_text="The registration with the frame: name, id, address.")
    registered = models.BooleanField(default=False)
    parameters_planned = models.PositiveIntegerField(
        default=0, help_text="Parameters of the enabled multiviewers' snapshot to follow.")
    parameters_live = models.PositiveIntegerField(
        default=0, help_text="Of those, subscribed on the frame: changes to them arrive live.")
    eta_seconds = models.FloatField(null=True, blank=True,
                                    help_text="About how long subscribing the rest takes.")
    refused = models.TextField(blank=True, help_text="The frame refused a subscription: which "
                               "parameters are live and which are not.")
    datagrams = models.PositiveBigIntegerField(default=0)
    junk_datagrams = models.PositiveBigIntegerField(default=0)
    changes_applied = models.PositiveBigIntegerField(
        default=0, help_text="Snapshot values changed by notifications and the listener's "
        "re-reads (values the snapshot already held change nothing).")
    last_datagram_at = models.DateTimeField(null=True, blank=True)
    last_heal_at = models.DateTimeField(null=True, blank=True,
                                        help_text="The last check of the registration.")
    last_heal = models.TextField(blank=True, help_text="What the last check found and did.")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "state_nexx_listener"
        verbose_name = "NEXX listener status"
        verbose_name_plural = "NEXX listener status"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="nexx_listener_singleton"),
        ]

    def __str__(self) -> str:
        return f"NEXX listener: {self.state}"

    @classmethod
    def load(cls) -> NexxListenerStatus:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj
