"""Shapes of the preset endpoints: what comes in (checked here, with strict JSON types as in
a preset file: devices/validation.py) and what goes out (documented here, and passed through so
the answer matches /api/schema)."""

from __future__ import annotations

from rest_framework import serializers

from devices.validation import StrictCharField, StrictIntegerField
from presets.document import GROUPS, NAME_MAX_LENGTH

MAX_ID = 2**31 - 1
GROUP_HELP = ("Groups of settings: layout, font, borders (outer and inner), output_format, "
              "pcm (PCM bars), umd (the 3 UMD layers), sources (what is routed to each window)")


#: The outcome of an apply, or of one multiviewer of it (the schema names it ApplyOutcomeEnum:
#: SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
OUTCOMES = ("done", "partial", "failed")


class OutcomeField(serializers.ChoiceField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", "done: nothing failed; failed: something failed and "
                                       "nothing was applied; partial: some of each")
        super().__init__(choices=OUTCOMES, **kwargs)


class PresetCheckSerializer(serializers.Serializer):
    """What a save would take (the name, if sent, is not looked at)."""

    multiviewers = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID), min_length=1,
        max_length=120, help_text="Ids of the multiviewers to save (GET /api/multiviewers)")
    groups = serializers.ListField(
        child=serializers.ChoiceField(choices=GROUPS), min_length=1, max_length=len(GROUPS) * 2,
        required=False, help_text=GROUP_HELP + ". Default: all.")


class PresetCreateSerializer(PresetCheckSerializer):
    # The text rule (no control characters, …) is the preset document's: PresetService checks.
    name = StrictCharField(max_length=NAME_MAX_LENGTH)


class NotApplicableSerializer(serializers.Serializer):
    sources = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text='Routed sources not granted to you, e.g. "MV 2 window 3: 12: CAM 12"')


class PresetCheckResultSerializer(serializers.Serializer):
    not_applicable = NotApplicableSerializer(
        help_text="Per group, what you could not apply later; {} when you could apply it all")


class PresetApplySerializer(serializers.Serializer):
    multiviewers = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID), min_length=1,
        max_length=120, required=False,
        help_text="Ids of multiviewers of the preset to apply. Default: every one of them.")
    groups = serializers.ListField(
        child=serializers.ChoiceField(choices=GROUPS), min_length=1, max_length=len(GROUPS) * 2,
        required=False, help_text=GROUP_HELP + ". Default: every group the preset holds.")


class PresetMultiviewerSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True,
                                  help_text="The multiviewer's id; null if it no longer exists")
    number = serializers.IntegerField(help_text="1-based number operators use")
    nexx_index = serializers.IntegerField(help_text="Device index 0..119")
    label = serializers.CharField(allow_blank=True)
    groups = serializers.ListField(child=serializers.ChoiceField(choices=GROUPS))
    windows = serializers.IntegerField(help_text="Windows saved")


class PresetSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    groups = serializers.ListField(child=serializers.ChoiceField(choices=GROUPS))
    multiviewers = PresetMultiviewerSerializer(many=True)


class PresetDetailSerializer(PresetSerializer):
    document = serializers.JSONField(help_text="The preset document (what export hands out)")


class SavedPresetSerializer(PresetDetailSerializer):
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="Windows saved without a source (route unknown, or not a registered source)")


class ItemFailureSerializer(serializers.Serializer):
    item = serializers.CharField(help_text='e.g. "window 3 umd layer 2"')
    error = serializers.CharField(help_text="Device error code, not_attempted, "
                                            "window_not_in_layout, layout_unknown, …")
    detail = serializers.CharField()


class GroupReportSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=[*GROUPS, "other"])
    status = serializers.ChoiceField(choices=["applied", "skipped", "partial", "failed"])
    applied = serializers.ListField(child=serializers.CharField())
    skipped = serializers.ListField(child=serializers.CharField(),
                                    help_text="Already equal to the cached state: not sent")
    failed = ItemFailureSerializer(many=True)


class MultiviewerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    number = serializers.IntegerField()
    label = serializers.CharField(allow_blank=True)


class MultiviewerReportSerializer(serializers.Serializer):
    multiviewer = MultiviewerRefSerializer()
    status = OutcomeField()
    requests = serializers.IntegerField(help_text="Device requests and router commands sent")
    groups = GroupReportSerializer(many=True)


class PresetRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()


class ApplyResultSerializer(serializers.Serializer):
    status = OutcomeField()
    preset = PresetRefSerializer()
    requests = serializers.IntegerField()
    multiviewers = MultiviewerReportSerializer(many=True)
    error = serializers.CharField(required=False,
                                  help_text="Only when a job stopped on an internal error")


class GroupCountsSerializer(serializers.Serializer):
    """Parameters apply would send per chosen group (0 when unchanged)."""

    def get_fields(self):
        return {group: serializers.IntegerField(required=False) for group in GROUPS}


class MultiviewerPreviewSerializer(serializers.Serializer):
    multiviewer = MultiviewerRefSerializer()
    parameters = serializers.IntegerField(help_text="Parameters (and router switches) to send")
    groups = GroupCountsSerializer(help_text="Per chosen group; 0: already equal")


class RefusedSerializer(serializers.Serializer):
    multiviewers = serializers.ListField(
        child=serializers.CharField(),
        help_text="Not granted to you, or off on the frame; apply would refuse them")
    sources = serializers.ListField(
        child=serializers.CharField(),
        help_text="Routed by the preset but not granted to you; apply would refuse them")


class PresetPreviewSerializer(serializers.Serializer):
    preset = PresetRefSerializer()
    parameters = serializers.IntegerField(help_text="Parameters apply would send in all")
    background = serializers.BooleanField(
        help_text="Apply would run as a background job (over MAX_PARAMS_PER_REQUEST)")
    multiviewers = MultiviewerPreviewSerializer(many=True)
    refused = RefusedSerializer()


class ApplyQueuedSerializer(serializers.Serializer):
    job = serializers.IntegerField(help_text="Follow it at GET /api/presets/jobs/{job}")
    status = serializers.CharField()
    parameters = serializers.IntegerField(help_text="Parameters that differ and will be sent")
    limit = serializers.IntegerField(help_text="MAX_PARAMS_PER_REQUEST")
    url = serializers.CharField()


class JobProgressSerializer(serializers.Serializer):
    multiviewers_done = serializers.IntegerField()
    multiviewers_total = serializers.IntegerField()
    parameters_planned = serializers.IntegerField()
    current = serializers.CharField(allow_null=True,
                                    help_text="The multiviewer applied last")


class ApplyJobSerializer(serializers.Serializer):
    job = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["queued", "running", "done", "partial", "failed"])
    preset = PresetRefSerializer()
    progress = JobProgressSerializer()
    result = ApplyResultSerializer(allow_null=True, help_text="Once the job has finished")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
