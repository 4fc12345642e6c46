"""Changes of who may see what, announced to the streams as `access` messages.

Grants are changed in Django admin, through the users API and by AccessService.set_grants; a
user is deactivated or changes role in admin or through UserService; a multiviewer is switched
off by a refresh. Model signals catch every one of those paths, whoever saves.
"""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts.models import User
from devices.models import Multiviewer
from mvcontrol.events import publish


def connect() -> None:
    post_save.connect(_user_changed, sender=User, dispatch_uid="live.user_saved")
    post_delete.connect(_user_changed, sender=User, dispatch_uid="live.user_deleted")
    for through in (User.sources.through, User.multiviewers.through):
        m2m_changed.connect(_grants_changed, sender=through,
                            dispatch_uid=f"live.grants.{through._meta.model_name}")
    post_save.connect(_multiviewer_changed, sender=Multiviewer,
                      dispatch_uid="live.multiviewer_saved")


def _user_changed(sender, instance: User, **kwargs) -> None:
    publish("access", user=instance.pk)


def _grants_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if not action.startswith("post_"):
        return
    if not reverse:
        publish("access", user=instance.pk)
    elif pk_set:
        for pk in sorted(pk_set):
            publish("access", user=pk)
    else:
        publish("access", user=None)  # cleared from the other side: everyone re-reads


def _multiviewer_changed(sender, instance: Multiviewer, **kwargs) -> None:
    publish("access", user=None)  # switched on or off, re-cabled: who sees it may change
    publish("multiviewer", multiviewer=instance.pk)
