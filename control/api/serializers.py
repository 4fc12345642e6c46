"""Shapes of the control API. Input serializers check the shape only, with strict JSON types
(devices/validation.py: 8 not "8", 5 not 5.0, text as a JSON string), as a preset file's values
are; the values are checked against the NEXX catalog by ControlService, so the API and presets
refuse the same things with the same messages. Output serializers render what
control/documents.py reads."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.nexx.catalog import LAYERS_PER_WINDOW, LAYOUT_COUNT, WINDOWS_PER_MULTIVIEWER
from devices.validation import StrictCharField, StrictIntegerField
from state.planning import UMD_KEYS

_ENUM_HELP = "Operator value of the catalog's choices (GET /api/catalog)."


class _NoUnknownKeys:
    """Refuse keys the serializer does not know: a typo must not pass as "nothing to change"."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {str(key): ["Unknown field; allowed: " + ", ".join(self.fields) + "."]
                     for key in unknown})
        return super().to_internal_value(data)


# --- input ------------------------------------------------------------------------------------


class LayoutChangeSerializer(_NoUnknownKeys, serializers.Serializer):
    layout = StrictIntegerField(
        min_value=1, max_value=LAYOUT_COUNT, help_text=f"Layout 1..{LAYOUT_COUNT}",
        error_messages={"min_value": f"Layouts are 1 to {LAYOUT_COUNT}.",
                        "max_value": f"Layouts are 1 to {LAYOUT_COUNT}."})


class MultiviewerChangeSerializer(_NoUnknownKeys, serializers.Serializer):
    font = StrictIntegerField(required=False, help_text=_ENUM_HELP)
    outer_border = StrictIntegerField(required=False, help_text="0..4 pixels")
    inner_border = StrictIntegerField(required=False, help_text="0..4 pixels")
    output_format = StrictIntegerField(required=False, help_text=_ENUM_HELP)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                "Give at least one of font, outer_border, inner_border, output_format.")
        return attrs


def _umd_field(key: str) -> serializers.Field:
    if key == "text":
        # The length limit and the refusal of control characters are the catalog's.
        return StrictCharField(required=False, allow_blank=True, trim_whitespace=False,
                               help_text="Static UMD text (at most 64 characters)")
    if key in ("x", "y"):
        return StrictIntegerField(required=False, help_text="Box position in pixels")
    return StrictIntegerField(required=False, help_text=_ENUM_HELP)


class UmdLayerChangeSerializer(_NoUnknownKeys, serializers.Serializer):
    layer = StrictIntegerField(min_value=1, max_value=LAYERS_PER_WINDOW,
                                     help_text=f"UMD layer 1..{LAYERS_PER_WINDOW}")

    def get_fields(self):
        fields = super().get_fields()
        for key in UMD_KEYS:
            fields[key] = _umd_field(key)
        return fields


class WindowChangeSerializer(_NoUnknownKeys, serializers.Serializer):
    source = StrictIntegerField(
        required=False, min_value=1,
        help_text="Source id (GET /api/sources): routed to the window's router output")
    pcm_bars = StrictIntegerField(required=False,
                                        help_text="Number of PCM bars: 0, 2, 4, 6, 8, 12 or 16")
    umd = UmdLayerChangeSerializer(many=True, required=False, max_length=LAYERS_PER_WINDOW,
                                   help_text="UMD layers to change, any subset of their "
                                             "parameters each")

    def validate(self, attrs):
        if not attrs or (list(attrs) == ["umd"] and not attrs["umd"]):
            raise serializers.ValidationError("Give at least one of source, pcm_bars, umd.")
        return attrs


class RoutingSwitchSerializer(_NoUnknownKeys, serializers.Serializer):
    output = StrictIntegerField(required=False, min_value=1, max_value=65535,
                                      help_text="Router output; or give multiviewer and window")
    multiviewer = StrictIntegerField(required=False, min_value=1,
                                           help_text="Multiviewer id (with window)")
    window = StrictIntegerField(required=False, min_value=1,
                                      max_value=WINDOWS_PER_MULTIVIEWER,
                                      help_text="Window 1..16 of the multiviewer's layout")
    source = StrictIntegerField(min_value=1, help_text="Source id")

    def validate(self, attrs):
        by_output = "output" in attrs
        by_window = "multiviewer" in attrs or "window" in attrs
        if by_output == by_window:
            raise serializers.ValidationError(
                "Give either output, or multiviewer and window.")
        if by_window and not ("multiviewer" in attrs and "window" in attrs):
            missing = "window" if "multiviewer" in attrs else "multiviewer"
            raise serializers.ValidationError({missing: ["Give multiviewer and window."]})
        return attrs


# --- output -----------------------------------------------------------------------------------


class SourceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    quartz_input = serializers.IntegerField(help_text="Router input number")
    label = serializers.CharField(allow_blank=True)
    category = serializers.CharField(allow_blank=True,
                                     help_text="Set by admins, e.g. Cameras; empty: none")


class SourceListSerializer(SourceSerializer):
    favourite = serializers.BooleanField(help_text="One of the caller's favourites")


class MultiviewerSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nexx_index = serializers.IntegerField(help_text="Device index 0..119")
    number = serializers.IntegerField(help_text="Operator number 1..120")
    label = serializers.CharField()
    enabled = serializers.BooleanField()
    layout = serializers.IntegerField(allow_null=True, help_text="Null until read")
    updated_at = serializers.DateTimeField(allow_null=True,
                                           help_text="When the device last confirmed it")


class LeaseSerializer(serializers.Serializer):
    login = serializers.CharField(help_text="Who is editing")
    expires_at = serializers.DateTimeField()
    mine = serializers.BooleanField(help_text="True when the caller holds it")


class GeometrySerializer(serializers.Serializer):
    window = serializers.IntegerField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField()
    h = serializers.FloatField()


class UmdLayerSerializer(serializers.Serializer):
    layer = serializers.IntegerField(help_text="1..3")

    def get_fields(self):
        fields = super().get_fields()
        for key in UMD_KEYS:
            fields[key] = (serializers.CharField(allow_null=True, allow_blank=True)
                           if key == "text" else serializers.IntegerField(allow_null=True))
        return fields


@extend_schema_field(UmdLayerSerializer(many=True))
class UmdLayersField(serializers.Field):
    """The three UMD layers, already in UmdLayerSerializer's shape (control/documents.py makes
    them so): passed through as they are, since a serializer pass over 16 windows × 3 layers ×
    11 values was most of the multiviewer read's work."""

    def to_representation(self, value):
        return value


class WindowSerializer(serializers.Serializer):
    window = serializers.IntegerField(help_text="1..16")
    output = serializers.IntegerField(help_text="Router output shown by this window")
    input = serializers.IntegerField(allow_null=True,
                                     help_text="Router input routed there; null: unknown")
    source = SourceSerializer(allow_null=True,
                              help_text="The source of that input; null when unknown or not a "
                                        "known source")
    pcm_bars = serializers.IntegerField(allow_null=True)
    umd = UmdLayersField(read_only=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    route_updated_at = serializers.DateTimeField(allow_null=True)


class UndoSerializer(serializers.Serializer):
    description = serializers.CharField(
        help_text="What undo restores, e.g. \"Layout back to 4\", \"Window 3 back to 12: CAM "
                  "12\", \"Window 5: UMD layer 1 text, PCM bars\"")
    login = serializers.CharField(help_text="Who made the change")
    at = serializers.DateTimeField(help_text="When the change was made")


class MultiviewerSerializer(serializers.Serializer):
    """A control/documents.MultiviewerView."""

    id = serializers.IntegerField(source="multiviewer.pk")
    number = serializers.IntegerField(source="multiviewer.number")
    nexx_index = serializers.IntegerField(source="multiviewer.nexx_index")
    label = serializers.CharField(source="multiviewer.__str__")
    enabled = serializers.BooleanField(source="multiviewer.enabled")
    layout = serializers.IntegerField(allow_null=True)
    font = serializers.IntegerField(allow_null=True)
    outer_border = serializers.IntegerField(allow_null=True)
    inner_border = serializers.IntegerField(allow_null=True)
    output_format = serializers.IntegerField(allow_null=True)
    window_count = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
    lease = LeaseSerializer(allow_null=True)
    geometry = GeometrySerializer(many=True)
    windows = WindowSerializer(many=True, help_text="The windows of the current layout")
    undo = UndoSerializer(allow_null=True,
                          help_text="The last change, which POST …/undo takes back; null: none")


class RouteSerializer(serializers.Serializer):
    output = serializers.IntegerField()
    multiviewer = serializers.IntegerField(allow_null=True)
    window = serializers.IntegerField(allow_null=True)
    input = serializers.IntegerField(allow_null=True)
    source = SourceSerializer(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)
