"""Request and response shapes of the accounts API. Rules live in accounts/services.py.

What comes in is taken with strict JSON types (devices/validation.py): a login or a password is
a JSON string, an id a JSON number, a flag true or false."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import Role, User
from devices.validation import StrictBooleanField, StrictCharField, StrictIntegerField

# Long enough for any passphrase, short enough that nobody makes the hasher chew megabytes.
PASSWORD_MAX = 1024


def _password_field(**kwargs) -> serializers.CharField:
    return StrictCharField(trim_whitespace=False, max_length=PASSWORD_MAX,
                           style={"input_type": "password"}, write_only=True, **kwargs)


class CredentialsSerializer(serializers.Serializer):
    # Longer than any login (64), so a long wrong one is answered like any wrong login.
    login = StrictCharField(max_length=150)
    password = _password_field()


class PasswordChangeSerializer(serializers.Serializer):
    current = _password_field()
    new = _password_field()


class SetupStatusSerializer(serializers.Serializer):
    needed = serializers.BooleanField(help_text="True while no user exists.")


class GrantsSerializer(serializers.Serializer):
    sources = serializers.ListField(child=StrictIntegerField(min_value=1),
                                    max_length=100_000, help_text="Source ids.")
    multiviewers = serializers.ListField(child=StrictIntegerField(min_value=1),
                                         max_length=1000, help_text="Multiviewer ids.")


class VisibleSerializer(GrantsSerializer):
    all = serializers.BooleanField(help_text="True for admins: everything is usable.")


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    login = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    must_change_password = serializers.BooleanField()
    grants = VisibleSerializer(help_text="What this user may see and change (for admins: all).")


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "login", "role", "is_active", "must_change_password", "created_at",
                  "last_login"]
        read_only_fields = fields


class UserWithPasswordSerializer(UserSerializer):
    temporary_password = serializers.CharField(
        allow_null=True,
        help_text="Shown once: the generated or reset password the user must change at first "
        "login; null when none was generated.",
    )

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "temporary_password"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer):
    login = StrictCharField(max_length=64)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.USER)
    password = _password_field(
        required=False,
        help_text="Initial password; omit it to have a temporary one generated and returned once.",
    )


class UserUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = StrictBooleanField(required=False)
    reset_password = StrictBooleanField(
        required=False, default=False,
        help_text="True: set a new temporary password (returned once), force a change at next "
        "login and end the user's sessions.",
    )
