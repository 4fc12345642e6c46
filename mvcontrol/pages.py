"""The two HTML pages operators use: login and the control page; and /favicon.ico.

They only hand out markup, the csrftoken cookie and the static ES modules; everything the pages
show or change goes through the JSON API (/api/...), like any other client would.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from accounts.services import AccessService
from mvcontrol.middleware import sessionless

FAVICON = "img/favicon.svg"
FAVICON_MAX_AGE = 24 * 3600  # a changed icon shows within a day; a fixed name cannot be hashed


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


@require_GET
@sessionless
def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico: the icon the pages link to, for what asks this address without reading a
    page's <link rel="icon"> (browsers on pages without one, bookmarks, some proxies)."""
    path = finders.find(FAVICON)
    if path is None:
        raise Http404("favicon missing from the static files")
    response = HttpResponse(Path(path).read_bytes(), content_type="image/svg+xml")
    patch_cache_control(response, public=True, max_age=FAVICON_MAX_AGE)
    return response
