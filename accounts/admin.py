"""Django admin for users: roles, the must-change flag, access grants, password reset.

The admin's own login and password-change pages follow the API's rules: the login counts
against the same per-IP and per-login limits (AuthService.check_login), and changing one's
password there clears the must-change flag and ends one's other sessions. Until then an admin
flagged must_change_password is sent to that page (accounts.middleware).
"""

from __future__ import annotations

from types import MethodType

from django import forms
from django.contrib import admin, auth, messages
from django.contrib.admin.forms import AdminAuthenticationForm, AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Role, User
from mvcontrol.errors import RateLimited

# Roles replace Django's groups and permissions here: the Groups page would only mislead.
admin.site.unregister(Group)


class LoginForm(AdminAuthenticationForm):
    """The admin login, rate-limited like POST /api/auth/login (one shared budget)."""

    # A plain text field, as the API's: Django's UsernameField NFKC-normalises what was typed
    # (a full-width "ａｄｍｉｎ" would become "admin" here and not in the API), and the one
    # normalisation of a login is AuthService's (accounts.models.login_key).
    username = forms.CharField(max_length=150, widget=forms.TextInput(
        attrs={"autofocus": True, "autocapitalize": "none", "autocomplete": "username"}))

    def clean(self):
        from accounts.services import AuthService, InvalidCredentials

        login = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if login is not None and password:
            try:
                self.user_cache = AuthService.check_login(request=self.request, login=login,
                                                          password=password)
            except RateLimited as exc:
                raise ValidationError(exc.detail, code="rate_limited")
            except InvalidCredentials:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class PasswordChangeForm(AdminPasswordChangeForm):
    """One's own password in admin: guesses of the old one are rate-limited, the new one must
    differ, and saving clears must_change_password and ends one's other sessions (the view
    then moves this session to a new key)."""

    def clean_old_password(self):
        from accounts.services import _count_login_attempt

        user = self.user
        try:
            _count_login_attempt(None, group="auth.password",
                                 key=lambda _group, _request: str(user.pk))
        except RateLimited as exc:
            raise ValidationError(exc.detail, code="rate_limited")
        return super().clean_old_password()

    def clean(self):
        cleaned = super().clean()
        old, new = cleaned.get("old_password"), cleaned.get("new_password1")
        if old and new and old == new:
            self.add_error("new_password1", "The new password must differ from the current one.")
        return cleaned

    def save(self, commit: bool = True) -> User:
        from accounts.services import UserService

        user = super().save(commit=False)
        user.must_change_password = False
        if commit:
            user.save(update_fields=["password", "must_change_password"])
            UserService.end_sessions(user=user)
        return user


def _password_change(site: admin.AdminSite, request, extra_context=None):
    """AdminSite.password_change with our form (the site offers no hook for the form)."""
    from django.contrib.auth.views import PasswordChangeView

    request.current_app = site.name
    return PasswordChangeView.as_view(
        form_class=PasswordChangeForm,
        success_url=reverse("admin:password_change_done", current_app=site.name),
        extra_context={**site.each_context(request), **(extra_context or {})},
        **({"template_name": site.password_change_template}
           if site.password_change_template else {}),
    )(request)


admin.site.login_form = LoginForm
# Bound on the instance before mvcontrol/urls.py asks the site for its URLs.
admin.site.password_change = MethodType(_password_change, admin.site)


def _ended_own_session(request, user: User) -> None:
    """The admin ended their own sessions (deactivated or deleted themselves): log this request
    out too, or saving its deleted session would fail the response."""
    if user.pk == request.user.pk:
        auth.logout(request)


def _other_active_admins(user: User):
    return User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk)


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput, strip=False,
        help_text="Initial password; the user must change it at first login.",
    )

    class Meta:
        model = User
        fields = ["login", "role", "is_active", "sources", "multiviewers"]

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password, User(login=self.cleaned_data.get("login", "")))
        return password

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password"])
        user.must_change_password = True
        if commit:
            user.save()
            self.save_m2m()
        return user


class UserChangeForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["login", "role", "is_active", "must_change_password", "sources", "multiviewers"]

    def clean(self):
        cleaned = super().clean()
        user = self.instance
        was_active_admin = user.pk and user.role == Role.ADMIN and user.is_active
        stays_active_admin = cleaned.get("role") == Role.ADMIN and cleaned.get("is_active")
        if was_active_admin and not stays_active_admin and not _other_active_admins(user).exists():
            raise ValidationError(
                "This is the last active admin: make another user admin before demoting or "
                "deactivating this one."
            )
        return cleaned


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["login", "role", "is_active", "must_change_password", "last_login",
                    "created_at"]
    list_filter = ["role", "is_active", "must_change_password"]
    search_fields = ["login"]
    ordering = ["login"]
    filter_horizontal = ["sources", "multiviewers"]
    readonly_fields = ["created_at", "last_login"]
    actions = ["reset_password"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = UserChangeForm if obj else UserCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["login", "password", "role", "is_active"]}),
                    ("Access", {"fields": ["sources", "multiviewers"]})]
        return [
            (None, {"fields": ["login", "role", "is_active", "must_change_password"]}),
            ("Access", {"fields": ["sources", "multiviewers"],
                        "description": "Admins may use every source and multiviewer."}),
            ("Activity", {"fields": ["created_at", "last_login"]}),
        ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            from accounts.services import UserService

            UserService.end_sessions(user=obj)

    def response_change(self, request, obj):
        response = super().response_change(request, obj)
        if not obj.is_active:
            # Logged out only now: the change log entry above still needed the admin.
            _ended_own_session(request, obj)
        return response

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.role == Role.ADMIN and obj.is_active \
                and not _other_active_admins(obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        remaining = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(
            pk__in=queryset.values("pk"))
        if not remaining.exists():
            self.message_user(request, "Refused: that would delete every active admin.",
                              messages.ERROR)
            return
        from accounts.services import UserService

        users = list(queryset)
        for user in users:
            UserService.end_sessions(user=user)
        super().delete_queryset(request, queryset)
        for user in users:
            _ended_own_session(request, user)

    def delete_model(self, request, obj):
        from accounts.services import UserService

        UserService.end_sessions(user=obj)
        own_pk = obj.pk
        super().delete_model(request, obj)
        if own_pk == request.user.pk:
            auth.logout(request)

    @admin.action(description="Reset password (shows a temporary password once)")
    def reset_password(self, request, queryset):
        from accounts.services import UserService

        for user in queryset:
            own = user.pk == request.user.pk
            # One's own reset keeps this session (under a new key) so the temporary password
            # can be shown; the admin is then sent to change it.
            temporary = UserService.reset_password(
                user=user, keep_session_key=request.session.session_key if own else None)
            if own:
                auth.update_session_auth_hash(request, user)
            self.message_user(
                request,
                f"Temporary password for {user.login}: {temporary} — shown once; "
                + ("change it now." if own else "the user must change it at next login."),
                messages.WARNING,
            )
