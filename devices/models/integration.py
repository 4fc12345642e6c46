"""Integration settings: how to reach the Quartz router and the NEXX frame (one of each).

Both are singletons (primary key 1, enforced by the database). A router with no host, or a frame
with no base URL, is "not configured": device calls then fail with DeviceNotConfigured.
Secrets (API key, JWT password) are stored so they can be sent to the device; they are never
returned by the API, never logged and never shown back in admin.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models


class ConnectionStyle(models.TextChoices):
    PERSISTENT = "persistent", "Persistent connection"
    PER_COMMAND = "per_command", "One command per connection"


#: Where `manage.py nexx_listen` receives the frame's change notifications by default (UDP).
DEFAULT_LISTEN_PORT = 18081


class NexxAuthMode(models.TextChoices):
    API_KEY = "api_key", "API key"
    JWT = "jwt", "JWT (user and password)"
    NONE = "none", "No authentication"


class _Singleton(models.Model):
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)

    class Meta:
        abstract = True

    @classmethod
    def load(cls):
        """The one row, created with defaults on first use."""
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)


class QuartzSettings(_Singleton):
    host = models.CharField(
        max_length=253, blank=True,
        help_text="Router address (IP or DNS name). Empty: the router is not configured.",
    )
    port = models.PositiveIntegerField(
        default=6543, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    connect_timeout = models.FloatField(
        default=2.0, validators=[MinValueValidator(0.1), MaxValueValidator(60)],
        help_text="Seconds to wait for the TCP connection.",
    )
    read_timeout = models.FloatField(
        default=2.0, validators=[MinValueValidator(0.1), MaxValueValidator(60)],
        help_text="Seconds to wait for each reply (1–5 s is usual).",
    )
    source_count = models.PositiveIntegerField(
        default=1024, validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Number of router inputs (sources).",
    )
    output_count = models.PositiveIntegerField(
        default=1024, validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text="Number of router outputs (destinations).",
    )
    commands_per_second = models.FloatField(
        default=100, validators=[MinValueValidator(0.1), MaxValueValidator(10000)],
        help_text="Global limit across every process that talks to the router.",
    )
    max_outstanding = models.PositiveIntegerField(
        default=32, validators=[MinValueValidator(1), MaxValueValidator(1024)],
        help_text="Pipelined commands waiting for a reply at once.",
    )
    connection_style = models.CharField(
        max_length=16, choices=ConnectionStyle.choices, default=ConnectionStyle.PERSISTENT
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "devices_quartz_settings"
        verbose_name = "Quartz router settings"
        verbose_name_plural = "Quartz router settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="quartz_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(port__gte=1, port__lte=65535), name="quartz_port_range"
            ),
            models.CheckConstraint(
                condition=models.Q(connect_timeout__gt=0, read_timeout__gt=0),
                name="quartz_timeouts_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(source_count__gte=1, output_count__gte=1),
                name="quartz_counts_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(commands_per_second__gt=0, max_outstanding__gte=1),
                name="quartz_throttle_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"Quartz router {self.address}" if self.host else "Quartz router (not configured)"

    @property
    def configured(self) -> bool:
        return bool(self.host)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def device_name(self) -> str:
        return f"Quartz router {self.address}"

    def clean(self) -> None:
        from devices.validation import validate_host

        if self.host:
            try:
                validate_host(self.host)
            except ValidationError as exc:
                raise ValidationError({"host": exc.messages}) from exc


class NexxSettings(_Singleton):
    base_url = models.CharField(
        max_length=500, blank=True,
        help_text="EV API base, e.g. http://10.0.0.20/v.api/apis/. Empty: not configured.",
    )
    auth_mode = models.CharField(
        max_length=16, choices=NexxAuthMode.choices, default=NexxAuthMode.API_KEY
    )
    api_key = models.CharField(max_length=500, blank=True)
    jwt_username = models.CharField(max_length=150, blank=True)
    jwt_password = models.CharField(max_length=500, blank=True)
    verify_tls = models.BooleanField(
        default=True, help_text="Turn off only for a frame with a self-signed certificate."
    )
    requests_per_second = models.FloatField(
        default=8, validators=[MinValueValidator(0.1), MaxValueValidator(100)],
        help_text="Global limit across every process; the frame wants fewer than 10.",
    )
    timeout = models.FloatField(
        default=5.0, validators=[MinValueValidator(0.1), MaxValueValidator(120)],
        help_text="Seconds to wait for each HTTP request.",
    )
    # Change notifications (manage.py nexx_listen): the frame pushes every change of the
    # parameters the listener subscribed to, as UDP datagrams to listen_advertise:listen_port.
    listen_enabled = models.BooleanField(
        default=True,
        help_text="Follow the frame's change notifications (manage.py nexx_listen). Off: the "
        "listener waits, and the snapshot is kept by refreshes only.",
    )
    listen_advertise = models.CharField(
        max_length=253, blank=True,
        help_text="Address of this server as the frame should send to it (IP or DNS name). "
        "Empty: the address nexx_listen binds to (then it must not bind 0.0.0.0).",
    )
    listen_port = models.PositiveIntegerField(
        default=DEFAULT_LISTEN_PORT, validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text=f"UDP port nexx_listen receives on (default {DEFAULT_LISTEN_PORT}); open it "
        "from the frame to this server.",
    )
    listen_check_seconds = models.PositiveIntegerField(
        default=180, validators=[MinValueValidator(5), MaxValueValidator(3600)],
        help_text="Seconds between the listener's checks that the frame still sends to it (one "
        "request), each with one request re-reading 40 followed parameters.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "devices_nexx_settings"
        verbose_name = "NEXX frame settings"
        verbose_name_plural = "NEXX frame settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="nexx_settings_singleton"),
            models.CheckConstraint(
                condition=models.Q(requests_per_second__gt=0, timeout__gt=0),
                name="nexx_limits_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(listen_port__gte=1, listen_port__lte=65535),
                name="nexx_listen_port_range",
            ),
            models.CheckConstraint(condition=models.Q(listen_check_seconds__gte=5),
                                   name="nexx_listen_check_positive"),
        ]

    def __str__(self) -> str:
        return f"NEXX frame {self.base_url}" if self.base_url else "NEXX frame (not configured)"

    @property
    def configured(self) -> bool:
        return bool(self.base_url)

    @property
    def device_name(self) -> str:
        return f"NEXX frame {self.base_url}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.base_url:
            try:
                URLValidator(schemes=["http", "https"])(self.base_url)
            except ValidationError as exc:
                errors["base_url"] = exc.messages
        if self.auth_mode == NexxAuthMode.API_KEY and self.base_url and not self.api_key:
            errors["api_key"] = ["An API key is required with auth mode 'API key'."]
        if self.listen_advertise:
            from devices.validation import validate_host

            try:
                validate_host(self.listen_advertise)
            except ValidationError as exc:
                errors["listen_advertise"] = exc.messages
        if self.auth_mode == NexxAuthMode.JWT and self.base_url:
            if not self.jwt_username:
                errors["jwt_username"] = ["A user name is required with auth mode 'JWT'."]
            if not self.jwt_password:
                errors["jwt_password"] = ["A password is required with auth mode 'JWT'."]
        if errors:
            raise ValidationError(errors)
