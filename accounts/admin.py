"""Django admin for users: roles, the must-change flag, access grants, password reset."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import Role, User

# Roles replace Django's groups and permissions here: the Groups page would only mislead.
admin.site.unregister(Group)


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

        for user in queryset:
            UserService.end_sessions(user=user)
        super().delete_queryset(request, queryset)

    def delete_model(self, request, obj):
        from accounts.services import UserService

        UserService.end_sessions(user=obj)
        super().delete_model(request, obj)

    @admin.action(description="Reset password (shows a temporary password once)")
    def reset_password(self, request, queryset):
        from accounts.services import UserService

        for user in queryset:
            temporary = UserService.reset_password(user=user)
            self.message_user(
                request,
                f"Temporary password for {user.login}: {temporary} — shown once; "
                "the user must change it at next login.",
                messages.WARNING,
            )
