"""Django admin counterpart of the API's password-change gate.

The API refuses everything but the password flow to a user flagged must_change_password
(accounts.permissions.PasswordChangeNotRequired); this sends such an admin from every admin page
to the admin's "change password" page instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, get_script_prefix, reverse

# The pages a flagged admin still needs: changing the password, and leaving.
_ALLOWED = ("admin:password_change", "admin:password_change_done", "admin:logout")


class AdminPasswordChangeRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # The admin's paths by script prefix, reversed once (reverse() four times a request
        # was a measurable share of an API read); the URLconf cannot change while the process
        # runs. None: no admin site mounted.
        self._paths: dict[str, tuple[str, frozenset[str]] | None] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_change_first(request):
            return HttpResponseRedirect(reverse("admin:password_change"))
        return self.get_response(request)

    def _admin_paths(self) -> tuple[str, frozenset[str]] | None:
        prefix = get_script_prefix()
        if prefix not in self._paths:
            try:
                self._paths[prefix] = (reverse("admin:index"),
                                       frozenset(reverse(name) for name in _ALLOWED))
            except NoReverseMatch:
                self._paths[prefix] = None
        return self._paths[prefix]

    def _must_change_first(self, request: HttpRequest) -> bool:
        paths = self._admin_paths()
        if paths is None:
            return False
        admin_root, allowed = paths
        if not request.path.startswith(admin_root) or request.path in allowed:
            return False
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated
                    and getattr(user, "must_change_password", False))
