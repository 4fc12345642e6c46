"""Users, roles and access grants.

Two roles: an admin may do everything (and uses Django admin); a user (operator) may see and
change only the sources and multiviewers granted to them.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

LOGIN_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    USER = "user", "User"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, login: str, password: str | None = None, *, role: str = Role.USER,
                    **extra) -> User:
        if not login:
            raise ValueError("A login is required.")
        user = self.model(login=login, role=role, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_superuser(self, login: str, password: str | None = None, **extra) -> User:
        return self.create_user(login, password, role=Role.ADMIN, **extra)

    def get_by_natural_key(self, login: str) -> User:
        return self.get(login__iexact=login)


class User(AbstractBaseUser):
    login = models.CharField(
        max_length=64, unique=True,
        validators=[RegexValidator(LOGIN_PATTERN, "Use letters, digits and . _ - @ only.")],
        help_text="Letters, digits and . _ - @ only.",
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.USER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    must_change_password = models.BooleanField(
        default=False, help_text="The user must choose a new password at next login."
    )
    is_active = models.BooleanField(default=True)
    sources = models.ManyToManyField(
        "devices.Source", blank=True, related_name="granted_users",
        db_table="user_access_sources",
        help_text="Sources this user may see and route (admins may use all).",
    )
    multiviewers = models.ManyToManyField(
        "devices.Multiviewer", blank=True, related_name="granted_users",
        db_table="user_access_mvs",
        help_text="Multiviewers this user may see and change (admins may use all).",
    )

    objects = UserManager()

    USERNAME_FIELD = "login"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["login"]
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=["admin", "user"]),
                                   name="user_role_valid"),
            models.CheckConstraint(condition=models.Q(login__regex=LOGIN_PATTERN),
                                   name="user_login_charset"),
            models.UniqueConstraint(models.functions.Lower("login"),
                                    name="user_login_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.login

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    # Django admin asks these: admins are staff with every permission, users get nothing.
    @property
    def is_staff(self) -> bool:
        return self.is_active and self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm: str, obj=None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_staff


class Session(AbstractBaseSession):
    """A login session (the engine is accounts/sessions.py), with its user's id in a column of
    its own, so a user's sessions are found without decoding every session. The signed session
    data stays what decides who the user is."""

    user_id = models.BigIntegerField(null=True, db_index=True, editable=False)

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore
