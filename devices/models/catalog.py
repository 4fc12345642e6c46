"""Admin corrections of the NEXX enum labels (they change with the device firmware).

The allowed values and the shipped labels live in devices/nexx/catalog.py; a row here replaces
the label of one device value of one enum parameter. Deleting a row restores the shipped label.
"""

from django.core.exceptions import ValidationError
from django.db import models

from devices.nexx.catalog import BY_VARID, ENUM_PARAMETERS, ValueType
from devices.validation import validate_device_text

ENUM_VARID_CHOICES = [(p.varid, f"{p.varid} {p.name} ({p.scope})") for p in ENUM_PARAMETERS]


class NexxEnumLabel(models.Model):
    varid = models.PositiveIntegerField(choices=ENUM_VARID_CHOICES,
                                        help_text="The enum parameter.")
    value = models.PositiveSmallIntegerField(help_text="Device value (enum index).")
    label = models.CharField(max_length=64, validators=[validate_device_text],
                             help_text="What operators see for this value.")

    class Meta:
        db_table = "devices_nexx_enum_label"
        ordering = ["varid", "value"]
        verbose_name = "NEXX enum label"
        constraints = [
            models.UniqueConstraint(fields=["varid", "value"], name="nexx_enum_label_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.varid} = {self.value}: {self.label}"

    @property
    def default_label(self) -> str:
        p = BY_VARID.get(self.varid)
        return dict(p.labels).get(self.value, "") if p else ""

    def clean(self) -> None:
        p = BY_VARID.get(self.varid)
        if p is None or p.type is not ValueType.ENUM:
            raise ValidationError({"varid": "Not an enum parameter of the NEXX catalog."})
        allowed = p.device_values()
        if self.value not in allowed:
            raise ValidationError({"value": f"{p.name} has the device values "
                                            f"{', '.join(str(v) for v in allowed)}."})
        if not self.label or not self.label.strip():
            raise ValidationError({"label": "A label cannot be empty."})
