"""Sources (router inputs) and multiviewers (NEXX multiviewer heads) the facility uses."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from devices.validation import validate_device_text

MAX_MULTIVIEWERS = 120
WINDOWS_PER_MULTIVIEWER = 16


class Source(models.Model):
    """A router input an operator can route into a multiviewer window."""

    quartz_input = models.PositiveIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Router input number (1-based).",
    )
    # Shown in the control page and saved into presets: the one text rule of devices/text.py.
    label = models.CharField(max_length=64, blank=True, validators=[validate_device_text])
    # Set by admins only (a refresh renames sources, never regroups them); the control page's
    # source panel filters by it. Same text rule as the label.
    category = models.CharField(
        max_length=32, blank=True, default="", validators=[validate_device_text],
        help_text="Groups the source in the control page's source panel (e.g. Cameras); "
        "leave empty for none.",
    )

    class Meta:
        ordering = ["quartz_input"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quartz_input__gte=1, quartz_input__lte=65535),
                name="source_quartz_input_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quartz_input}: {self.label}" if self.label else f"Input {self.quartz_input}"


def default_output_base(nexx_index: int) -> int:
    """Window 1 of multiviewer k (1-based) shows router output (k-1)*16 + 1."""
    return nexx_index * WINDOWS_PER_MULTIVIEWER + 1


class Multiviewer(models.Model):
    """One multiviewer head of the NEXX frame (device index 0..119)."""

    nexx_index = models.PositiveSmallIntegerField(
        unique=True, validators=[MinValueValidator(0), MaxValueValidator(MAX_MULTIVIEWERS - 1)],
        help_text="Device index 0..119 (multiviewer 1 is index 0).",
    )
    # Shown in the control page and saved into presets: the one text rule of devices/text.py.
    label = models.CharField(max_length=64, blank=True, validators=[validate_device_text])
    enabled = models.BooleanField(default=True)
    quartz_output_base = models.PositiveIntegerField(
        blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Router output shown by window 1; window w shows base + w - 1. "
        "Leave empty for the default cabling (index × 16 + 1).",
    )

    class Meta:
        ordering = ["nexx_index"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(nexx_index__gte=0, nexx_index__lte=MAX_MULTIVIEWERS - 1),
                name="multiviewer_nexx_index_range",
            ),
            models.CheckConstraint(
                condition=models.Q(quartz_output_base__gte=1, quartz_output_base__lte=65535),
                name="multiviewer_output_base_range",
            ),
        ]

    def save(self, *args, **kwargs):
        if self.quartz_output_base is None and self.nexx_index is not None:
            self.quartz_output_base = default_output_base(self.nexx_index)
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return self.label or f"MV {self.nexx_index + 1}"

    @property
    def number(self) -> int:
        """The 1-based number operators use."""
        return self.nexx_index + 1

    def output_for_window(self, window: int) -> int:
        """Router output feeding window `window` (1-based)."""
        return self.quartz_output_base + window - 1
