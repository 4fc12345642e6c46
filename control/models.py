"""What the control app keeps besides the device state: the undo step of each multiviewer."""

from __future__ import annotations

from django.db import models


class UndoStep(models.Model):
    """The last change made to one multiviewer through ControlService, inverted: the values it
    replaced, as the cached state held them (control/undo.py). One step per multiviewer: every
    change that applied anything replaces it, and undoing consumes it (there is no redo)."""

    multiviewer = models.OneToOneField("devices.Multiviewer", on_delete=models.CASCADE,
                                       related_name="undo_step")
    # control.undo.Inverse.to_json(): operator values, sources as router inputs (a source row
    # may be renamed or removed meanwhile; the router input is what is routed back).
    change = models.JSONField()
    # What undo restores, in an operator's words ("Window 3 back to 12: CAM 12"), written when
    # the change was made, with the names of then.
    description = models.TextField()
    login = models.CharField(max_length=64, help_text="Who made the change")
    at = models.DateTimeField(help_text="When the change was made")

    class Meta:
        db_table = "control_undo_step"

    def __str__(self) -> str:
        return f"{self.multiviewer}: {self.description}"
