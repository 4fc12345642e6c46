"""Accounts API: login sessions, the first admin, users and access grants.

Thin views: serializers check shapes, accounts.services decides, mvcontrol.api_errors answers.
"""

from __future__ import annotations

from django.contrib import auth
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.api.authentication import SessionAuthentication, enforce_csrf
from accounts.api.serializers import (
    CredentialsSerializer,
    GrantsSerializer,
    MeSerializer,
    PasswordChangeSerializer,
    SetupStatusSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
    UserWithPasswordSerializer,
)
from accounts.models import User
from accounts.services import AccessService, AuthService, UserService
from mvcontrol.api_schema import ErrorSerializer


def _me(user: User) -> dict:
    return {
        "id": user.pk,
        "login": user.login,
        "role": user.role,
        "must_change_password": user.must_change_password,
        "grants": {
            "all": AccessService.is_admin(user),
            "sources": list(AccessService.visible_sources(user).values_list("pk", flat=True)),
            "multiviewers": list(
                AccessService.visible_multiviewers(user).values_list("pk", flat=True)
            ),
        },
    }


def _with_password(user: User, temporary_password: str | None) -> dict:
    return {**UserSerializer(user).data, "temporary_password": temporary_password}


class AccountsView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = permissions.DEFAULT


class AuthView(AccountsView):
    # The flows a user flagged must_change_password still needs.
    allowed_while_password_change_required = True


class SetupView(AuthView):
    """First admin of a new installation. Also hands out the csrftoken cookie (see urls)."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="auth_setup_status", responses=SetupStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response({"needed": AuthService.setup_needed()})

    @extend_schema(
        operation_id="auth_setup", request=CredentialsSerializer,
        responses={201: MeSerializer,
                   409: OpenApiResponse(description="Users exist already; setup is done.")},
    )
    def post(self, request: Request) -> Response:
        enforce_csrf(request)
        data = _valid(CredentialsSerializer, request.data)
        user = AuthService.create_first_admin(login=data["login"], password=data["password"])
        return Response(_me(user), status=status.HTTP_201_CREATED)


class LoginView(AuthView):
    """Log in with login and password; sets the session cookie and a new csrftoken cookie.
    A user flagged must_change_password may then only change it (POST /api/auth/password)."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="auth_login", request=CredentialsSerializer,
        responses={200: MeSerializer,
                   400: OpenApiResponse(description="Wrong login or password."),
                   429: OpenApiResponse(description="Too many attempts; see Retry-After.")},
    )
    def post(self, request: Request) -> Response:
        # DRF skips CSRF for anonymous requests; a forged login would log the victim into the
        # attacker's account.
        enforce_csrf(request)
        data = _valid(CredentialsSerializer, request.data)
        user = AuthService.login(request=request._request, login=data["login"],
                                 password=data["password"])
        return Response(_me(user))


class LogoutView(AuthView):
    """End the session (server side) and clear the cookie. Harmless when not logged in."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="auth_logout", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        AuthService.logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(AuthView):
    """Who is logged in, and what they may use. Also hands out the csrftoken cookie, even
    with the 401 an anonymous request gets (see urls)."""

    @extend_schema(operation_id="auth_me", responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(_me(request.user))


class PasswordView(AuthView):
    """Change one's own password; this session continues under a new key, every other session
    of the user ends."""

    @extend_schema(operation_id="auth_password", request=PasswordChangeSerializer,
                   responses=MeSerializer)
    def post(self, request: Request) -> Response:
        data = _valid(PasswordChangeSerializer, request.data)
        user = AuthService.change_password(request=request._request, current=data["current"],
                                           new=data["new"])
        return Response(_me(user))


class UsersView(AccountsView):
    """Users (admins only)."""

    permission_classes = permissions.ADMIN_ONLY

    @extend_schema(operation_id="users_list", responses=UserSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(UserService.list_users(), many=True).data)

    @extend_schema(operation_id="users_create", request=UserCreateSerializer,
                   responses={201: UserWithPasswordSerializer,
                              409: OpenApiResponse(ErrorSerializer,
                                                   description="The login is taken "
                                                               "(login_taken).")})
    def post(self, request: Request) -> Response:
        data = _valid(UserCreateSerializer, request.data)
        created = UserService.create_user(login=data["login"], role=data["role"],
                                          password=data.get("password"))
        return Response(_with_password(created.user, created.temporary_password),
                        status=status.HTTP_201_CREATED)


class UserView(AccountsView):
    """One user (admins only): change role, (de)activate, reset the password, delete."""

    permission_classes = permissions.ADMIN_ONLY

    @extend_schema(operation_id="users_read", responses=UserSerializer)
    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserSerializer(UserService.get_user(user_id=user_id)).data)

    @extend_schema(operation_id="users_update", request=UserUpdateSerializer,
                   responses={200: UserWithPasswordSerializer,
                              409: OpenApiResponse(ErrorSerializer,
                                                   description="The last active admin cannot "
                                                               "lose the role (last_admin).")})
    def patch(self, request: Request, user_id: int) -> Response:
        user = UserService.get_user(user_id=user_id)
        data = _valid(UserUpdateSerializer, request.data)
        own = user.pk == request.user.pk
        change = UserService.update_user(
            user=user, role=data.get("role"), is_active=data.get("is_active"),
            reset_password=data["reset_password"],
            keep_session_key=request.session.session_key if own else None,
        )
        if own and change.sessions_ended:
            if change.user.is_active:
                # Own password reset: carry on in this session (new key, new password hash);
                # the must-change gate now asks for a new password before anything else.
                auth.update_session_auth_hash(request._request, change.user)
            else:
                # This very session is gone: drop it here too, or saving it would fail.
                AuthService.logout(request=request._request)
        return Response(_with_password(change.user, change.temporary_password))

    @extend_schema(operation_id="users_delete",
                   responses={204: None,
                              409: OpenApiResponse(ErrorSerializer,
                                                   description="The last active admin, or a "
                                                               "user whose records must stay.")})
    def delete(self, request: Request, user_id: int) -> Response:
        user = UserService.get_user(user_id=user_id)
        UserService.delete_user(user=user)
        if user.pk == request.user.pk:
            AuthService.logout(request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserAccessView(AccountsView):
    """The sources and multiviewers granted to a user (admins only)."""

    permission_classes = permissions.ADMIN_ONLY

    @extend_schema(operation_id="users_access_read", responses=GrantsSerializer)
    def get(self, request: Request, user_id: int) -> Response:
        return Response(AccessService.grants(UserService.get_user(user_id=user_id)))

    @extend_schema(operation_id="users_access_replace", request=GrantsSerializer,
                   responses=GrantsSerializer)
    def put(self, request: Request, user_id: int) -> Response:
        user = UserService.get_user(user_id=user_id)
        data = _valid(GrantsSerializer, request.data)
        return Response(AccessService.set_grants(user=user, sources=data["sources"],
                                                 multiviewers=data["multiviewers"]))


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
