"""DRF permission classes for the whole API.

The API default (REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"]) is
    ["rest_framework.permissions.IsAuthenticated", "accounts.permissions.PasswordChangeNotRequired"]
A view that sets its own `permission_classes` replaces that default, so it lists both again,
e.g. `[IsAuthenticated, PasswordChangeNotRequired, IsAdmin]` (or use ADMIN_ONLY below).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission, IsAuthenticated

from accounts.models import Role
from mvcontrol.errors import Forbidden


class PasswordChangeNotRequired(BasePermission):
    """A user flagged must_change_password may only use the views marked
    `allowed_while_password_change_required = True` (me, password, logout, login, setup);
    everything else answers 403 "password_change_required"."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated) or not user.must_change_password:
            return True
        if getattr(view, "allowed_while_password_change_required", False):
            return True
        raise Forbidden(
            "You must change your password before doing anything else "
            "(POST /api/auth/password).",
            code="password_change_required",
        )


class IsAdmin(BasePermission):
    """Active users with the admin role. Anonymous requests get 401, users 403."""

    message = "Only an admin may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active
                    and user.role == Role.ADMIN)


DEFAULT = [IsAuthenticated, PasswordChangeNotRequired]
ADMIN_ONLY = [IsAuthenticated, PasswordChangeNotRequired, IsAdmin]
