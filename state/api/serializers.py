"""Shapes of the refresh endpoints (documentation and output; nothing is written through them)."""

from __future__ import annotations

from rest_framework import serializers

from devices.validation import StrictBooleanField, StrictIntegerField


class DeviceProgressSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="waiting, reading, done, failed or skipped")


class RefreshProgressSerializer(serializers.Serializer):
    phase = serializers.CharField(help_text="queued, starting or reading")
    parts_done = serializers.IntegerField()
    parts_planned = serializers.IntegerField(allow_null=True)
    parameters_read = serializers.IntegerField(
        help_text="NEXX parameters plus Quartz names and routes read so far")
    parameters_planned = serializers.IntegerField(
        allow_null=True, help_text="Estimated until every layout is known")
    eta_seconds = serializers.FloatField(allow_null=True)
    nexx = serializers.DictField(allow_null=True)
    quartz = serializers.DictField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)


class RefreshRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["running", "success", "partial", "failed"])
    trigger = serializers.ChoiceField(choices=["manual", "scheduled", "command"])
    user = serializers.CharField(allow_null=True, help_text="Login of who asked (manual runs)")
    scope = serializers.DictField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    counts = serializers.DictField()
    errors = serializers.ListField(child=serializers.CharField(),
                                   help_text="One sentence per device or part that failed")
    progress = RefreshProgressSerializer(allow_null=True,
                                         help_text="Only while the run is running")


class RefreshStatusSerializer(serializers.Serializer):
    running = serializers.BooleanField()
    last = RefreshRunSerializer(allow_null=True, help_text="The latest run (running or not)")
    last_finished = RefreshRunSerializer(allow_null=True)


class RefreshStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The run's id")
    joined = serializers.BooleanField(
        help_text="True when a refresh was already running: this request joined it")
    status = serializers.CharField()
    started_at = serializers.DateTimeField()


class RefreshScopeSerializer(serializers.Serializer):
    """The optional body of POST /api/refresh; an empty body refreshes everything. Strict JSON
    types (devices/validation.py), as every other body: true, not "true"; 3, not "3"."""

    nexx = StrictBooleanField(default=True, help_text="Read the NEXX frame")
    quartz = StrictBooleanField(default=True, help_text="Read the Quartz router")
    multiviewer = StrictIntegerField(
        min_value=1, allow_null=True, default=None,
        help_text="Only this multiviewer (its id, as in /api/multiviewers) and the routes of its "
                  "windows")

    def validate(self, attrs: dict) -> dict:
        if not attrs["nexx"] and not attrs["quartz"]:
            raise serializers.ValidationError({"nexx": ["Read at least one device: nexx or "
                                                        "quartz must be true."]})
        return attrs
