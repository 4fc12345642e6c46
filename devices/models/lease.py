from django.conf import settings
from django.db import models


class EditLease(models.Model):
    """Who is editing a multiviewer right now. One editor per multiviewer: a write takes (or
    extends) the lease; another user's write meanwhile is refused until it expires or an admin
    breaks it. Reads are never blocked."""

    multiviewer = models.OneToOneField("devices.Multiviewer", on_delete=models.CASCADE,
                                       primary_key=True, related_name="edit_lease")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="edit_leases")
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "devices_edit_lease"

    def __str__(self) -> str:
        return f"{self.multiviewer} edited by {self.user} until {self.expires_at:%H:%M:%S}"
