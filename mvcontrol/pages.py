"""The two HTML pages operators use: login and the control page.

They only hand out markup, the csrftoken cookie and the static ES modules; everything the pages
show or change goes through the JSON API (/api/...), like any other client would.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from accounts.services import AccessService


def safe_next(request: HttpRequest) -> str:
    """Where to go after logging in: the `next` parameter when it stays on this site, else /."""
    target = request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@require_GET
@ensure_csrf_cookie
def login_page(request: HttpRequest) -> HttpResponse:
    """Login, first-admin setup and forced password change (the script picks the form)."""
    return render(request, "login.html", {"next": safe_next(request)})


@require_GET
@ensure_csrf_cookie
def control_page(request: HttpRequest) -> HttpResponse:
    """The operator control page. Anonymous visitors and users who still have to change their
    password go to the login page first."""
    user = request.user
    if not user.is_authenticated or user.must_change_password:
        return redirect(f"{settings.LOGIN_URL}?{urlencode({'next': request.get_full_path()})}")
    return render(request, "control.html", {
        "login": user.login,
        "is_admin": AccessService.is_admin(user),
    })
