"""The layout catalog as configured: layouts 1..43 and their window rectangles.

Seeded with the shipped geometry (devices/nexx/layouts.py); an admin edits it here or an
installation imports its own with `manage.py import_layouts`. Rectangles are normalised to the
output picture (0..1, origin top left).
"""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value

from devices.nexx.layouts import EPSILON, LAYOUT_COUNT, MAX_WINDOWS


class Layout(models.Model):
    number = models.PositiveSmallIntegerField(
        primary_key=True, validators=[MinValueValidator(1), MaxValueValidator(LAYOUT_COUNT)],
        help_text=f"Layout number 1..{LAYOUT_COUNT} as operators see it (device value − 1).",
    )
    name = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "devices_nexx_layout"
        ordering = ["number"]
        verbose_name = "NEXX layout"
        constraints = [
            models.CheckConstraint(condition=Q(number__gte=1, number__lte=LAYOUT_COUNT),
                                   name="nexx_layout_number_range"),
        ]

    def __str__(self) -> str:
        return f"Layout {self.number}" + (f": {self.name}" if self.name else "")


class LayoutWindow(models.Model):
    layout = models.ForeignKey(Layout, on_delete=models.CASCADE, related_name="windows")
    window = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WINDOWS)],
        help_text="Window id 1..n.",
    )
    x = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    y = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    w = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    h = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])

    class Meta:
        db_table = "devices_nexx_layout_window"
        ordering = ["layout", "window"]
        verbose_name = "window"
        constraints = [
            models.UniqueConstraint(fields=["layout", "window"], name="nexx_layout_window_unique"),
            models.CheckConstraint(condition=Q(window__gte=1, window__lte=MAX_WINDOWS),
                                   name="nexx_layout_window_id_range"),
            models.CheckConstraint(
                condition=Q(x__gte=0, y__gte=0, w__gt=0, h__gt=0)
                & Q(x__lte=Value(1.0 + EPSILON) - F("w"))
                & Q(y__lte=Value(1.0 + EPSILON) - F("h")),
                name="nexx_layout_window_inside",
            ),
        ]

    def __str__(self) -> str:
        return f"Layout {self.layout_id} window {self.window}"

    def clean(self) -> None:
        errors = {}
        if self.w is not None and self.w <= 0:
            errors["w"] = "The width must be positive."
        if self.h is not None and self.h <= 0:
            errors["h"] = "The height must be positive."
        if self.x is not None and self.w is not None and self.x + self.w > 1 + EPSILON:
            errors["w"] = f"x + w = {self.x + self.w:g}: the window leaves the picture."
        if self.y is not None and self.h is not None and self.y + self.h > 1 + EPSILON:
            errors["h"] = f"y + h = {self.y + self.h:g}: the window leaves the picture."
        if errors:
            raise ValidationError(errors)
