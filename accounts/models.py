"""Users, roles and access grants.

Two roles: an admin may do everything (and uses Django admin); a user (operator) may see and
change only the sources and multiviewers granted to them.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import NamedTuple

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

#: The database's check of a stored login (PostgreSQL's `$` is the end of the string).
LOGIN_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"
# Python's `$` also matches before a final newline: the Python side uses fullmatch instead.
_LOGIN = re.compile(r"[A-Za-z0-9._@-]{1,64}")
LOGIN_RULE = "Use letters, digits and . _ - @ only."

# Logins ignore case, and only ASCII case: A-Z and a-z. Python's lower()/casefold() and
# PostgreSQL's UPPER()/LOWER() know more letters than that (ı upper-cases to I, K the Kelvin sign
# lower-cases to k, LOWER('I') is 'ı' under a Turkish locale), which let one account answer to
# several spellings, each with a login budget of its own. translate() and str.translate with
# these two tables fold exactly the same 26 letters in the database and in Python, whatever the
# locale.
_ASCII_LOWERING = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
#: The normalised form of the stored login, as the database computes it (the unique constraint
#: and every lookup by login use it).
LOGIN_KEY = models.Func(models.F("login"), models.Value(string.ascii_uppercase),
                        models.Value(string.ascii_lowercase), function="translate",
                        output_field=models.CharField())
# Letters that only a Unicode-aware case mapping turns into ASCII ones, beyond what NFKC,
# casefold() and dropping accents do (ı: the Turkish dotless i).
_LOOKALIKES = str.maketrans({"ı": "i"})
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


class LoginKey(NamedTuple):
    """A typed login, normalised: `key` counts the login attempts; when `usable`, it is also
    the normalised form of the stored login the typed one names."""

    key: str
    usable: bool


def login_key(typed: str) -> LoginKey:
    """The one normalisation of a typed login, for the login limit and for the lookup alike.

    A login of the allowed characters (letters, digits, `. _ - @`, at most 64) is usable: its key
    is the login with A-Z lowered, exactly what the database's LOGIN_KEY gives for the stored
    login. Anything else cannot name an account (no stored login holds another character) and is
    never looked up; its key is the spelling folded as far as Unicode allows (NFKC, casefold,
    accents and invisible characters dropped, ı → i, ends trimmed), so "admın", "ADMİN" or a
    full-width "ａｄｍｉｎ" spend the budget of "admin" instead of getting budgets of their own.
    """
    if _LOGIN.fullmatch(typed):
        return LoginKey(typed.translate(_ASCII_LOWERING), True)
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", typed).casefold())
    # Dropped: accents (combining marks), and what one cannot see (controls, format characters
    # such as a zero-width space, line and paragraph separators) — lone surrogates too, which
    # the rate limiter could not hash (it hashes the key's UTF-8 bytes).
    folded = "".join(c for c in folded if not unicodedata.combining(c)
                     and unicodedata.category(c) not in _INVISIBLE).translate(_LOOKALIKES)
    return LoginKey(folded.strip(), False)  # " admin" spends the budget of "admin"


def validate_login(value: str) -> None:
    """A login an account may have: letters, digits and `. _ - @` (ASCII), 1 to 64 of them."""
    if not isinstance(value, str) or not login_key(value).usable:
        raise ValidationError(LOGIN_RULE, code="invalid_login")


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

    def with_login(self, login: str) -> models.QuerySet[User]:
        """The user a typed login names (at most one), by the normalised form of `login_key`;
        none for a login that cannot name an account."""
        key = login_key(login)
        if not key.usable:
            return self.none()
        return self.alias(login_key=LOGIN_KEY).filter(login_key=key.key)

    def get_by_natural_key(self, login: str) -> User:
        return self.with_login(login).get()


class User(AbstractBaseUser):
    login = models.CharField(
        max_length=64, unique=True, validators=[validate_login],
        help_text="Letters, digits and . _ - @ only; case does not matter when logging in.",
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
    # The user's own choice in the control page's source panel; not a grant: only the sources
    # the user may see are ever offered (AccessService).
    favourite_sources = models.ManyToManyField(
        "devices.Source", blank=True, related_name="favourited_by",
        db_table="user_favourite_sources",
        help_text="Sources this user marked as favourites in the control page.",
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
            # Unique in the form logins are looked up by: "Admin" and "admin" are one login.
            models.UniqueConstraint(LOGIN_KEY, name="user_login_unique_key",
                                    violation_error_message="A user with this login (in any "
                                    "case) already exists."),
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
