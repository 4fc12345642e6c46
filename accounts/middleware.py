"""Django admin counterpart of the API's password-change gate.

The API refuses everything but the password flow to a user flagged must_change_password
(accounts.permissions.PasswordChangeNotRequired); this sends such an admin from every admin page
to the admin's "change password" page instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

# The pages a flagged admin still needs: changing the password, and leaving.
_ALLOWED = ("admin:password_change", "admin:password_change_done", "admin:logout")


class AdminPasswordChangeRequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_change_first(request):
            return HttpResponseRedirect(reverse("admin:password_change"))
        return self.get_response(request)

    @staticmethod
    def _must_change_first(request: HttpRequest) -> bool:
        try:
            admin_root = reverse("admin:index")
            allowed = {reverse(name) for name in _ALLOWED}
        except NoReverseMatch:
            return False
        if not request.path.startswith(admin_root) or request.path in allowed:
            return False
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated
                    and getattr(user, "must_change_password", False))
