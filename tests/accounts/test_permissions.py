"""The password-change gate and IsAdmin, as permission classes of any API view."""

from __future__ import annotations

import pytest
from django.urls import get_resolver
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from accounts.permissions import IsAdmin, PasswordChangeNotRequired
from tests.fixtures.accounts import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

RECOMMENDED_DEFAULT = ["rest_framework.permissions.IsAuthenticated",
                       "accounts.permissions.PasswordChangeNotRequired"]


def make_view(**attrs):
    # APIView read the default when it was imported; a view made now reads it as the test set it.
    attrs.setdefault("permission_classes", api_settings.DEFAULT_PERMISSION_CLASSES)
    return type("SomeView", (APIView,), {"get": lambda self, request: Response({"ok": True}),
                                          **attrs}).as_view()


def call(view, user):
    request = APIRequestFactory().get("/api/something")
    force_authenticate(request, user=user)
    return view(request)


def test_as_the_api_default_it_blocks_a_flagged_user_everywhere(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_PERMISSION_CLASSES": RECOMMENDED_DEFAULT}
    view = make_view()
    flagged = UserFactory(must_change_password=True)
    response = call(view, flagged)
    assert response.status_code == 403
    assert response.data["error"] == "password_change_required"
    assert call(view, UserFactory()).status_code == 200


def test_views_marked_as_part_of_the_password_flow_stay_open(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_PERMISSION_CLASSES": RECOMMENDED_DEFAULT}
    view = make_view(allowed_while_password_change_required=True)
    assert call(view, UserFactory(must_change_password=True)).status_code == 200


def test_is_admin_lets_only_active_admins_through():
    view = make_view(permission_classes=[IsAuthenticated, PasswordChangeNotRequired, IsAdmin])
    assert call(view, AdminFactory()).status_code == 200
    assert call(view, UserFactory()).status_code == 403
    inactive_admin = AdminFactory(is_active=False)
    assert call(view, inactive_admin).status_code == 403
    flagged_admin = AdminFactory(must_change_password=True)
    assert call(view, flagged_admin).data["error"] == "password_change_required"


def _api_views():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif getattr(pattern.callback, "cls", None) is not None:
                yield prefix + str(pattern.pattern), pattern.callback.cls

    return [(route, cls) for route, cls in walk(get_resolver().url_patterns)
            if route.startswith("api/")]


def test_every_api_view_applies_the_password_change_gate():
    """A view that replaces the default permission classes must list the gate again; only the
    login/logout/me/password/setup flow (and public schema pages) may skip it."""
    assert api_settings.DEFAULT_PERMISSION_CLASSES[:2] == [IsAuthenticated,
                                                           PasswordChangeNotRequired], (
        'Set REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"] = ' + repr(RECOMMENDED_DEFAULT))
    missing = [
        route for route, cls in _api_views()
        if PasswordChangeNotRequired not in cls.permission_classes
        and not getattr(cls, "allowed_while_password_change_required", False)
        and AllowAny not in cls.permission_classes
        and route not in {"api/schema", "api/docs"}
    ]
    assert not missing, missing
