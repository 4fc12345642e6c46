"""Set the Quartz router or NEXX frame integration settings from the command line.

For scripted deployments: every field is an option; the whole change is validated like the admin
form and saved only when every field is valid.
"""

from __future__ import annotations

import argparse
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction

from devices.models import NexxSettings, QuartzSettings

MODELS = {"quartz": QuartzSettings, "nexx": NexxSettings}
SECRET_FIELDS = {"api_key", "jwt_password"}
SKIP = {"id", "updated_at"}


def _editable_fields(model) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.name not in SKIP]


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"'{value}' is not true/false")


class Command(BaseCommand):
    help = "Set integration settings: set_integration quartz|nexx --<field> VALUE …"

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="device", required=True)
        for device, model in MODELS.items():
            sub = subparsers.add_parser(device, help=str(model._meta.verbose_name))
            for field in _editable_fields(model):
                option = "--" + field.name.replace("_", "-")
                kwargs = {"dest": field.name, "default": None, "help": str(field.help_text or "")}
                if isinstance(field, models.BooleanField):
                    kwargs.update(type=_bool, metavar="true|false")
                elif field.choices:
                    kwargs.update(choices=[c for c, _ in field.choices])
                if field.name in SECRET_FIELDS:
                    kwargs["help"] = "Write-only secret. Use '-' to read it from standard input."
                sub.add_argument(option, **kwargs)
            sub.add_argument("--show", action="store_true",
                             help="Print the settings (secrets as set / not set) and exit.")

    def handle(self, *args, device: str, show: bool = False, **options):
        model = MODELS[device]
        obj = model.load()
        changes = {f.name: options[f.name] for f in _editable_fields(model)
                   if options.get(f.name) is not None}
        if show or not changes:
            self._print(obj)
            return
        for name in SECRET_FIELDS & changes.keys():
            if changes[name] == "-":
                changes[name] = sys.stdin.readline().rstrip("\r\n")
        for name, raw in changes.items():
            setattr(obj, name, raw)
        errors: dict[str, list[str]] = {}
        try:
            # Converts each option like a form would, then checks the whole row (host syntax,
            # credentials required by the auth mode); every problem is reported at once.
            obj.full_clean()
        except ValidationError as exc:
            errors = exc.message_dict
        if errors:
            lines = [f"  --{k.replace('_', '-')}: {' '.join(v)}" for k, v in sorted(errors.items())]
            raise CommandError("Nothing saved; invalid settings:\n" + "\n".join(lines))
        with transaction.atomic():
            obj.save()
        self.stdout.write(self.style.SUCCESS(f"Saved {model._meta.verbose_name}."))
        self._print(obj)

    def _print(self, obj) -> None:
        for field in _editable_fields(type(obj)):
            value = getattr(obj, field.name)
            if field.name in SECRET_FIELDS:
                value = "set" if value else "not set"
            self.stdout.write(f"  {field.name}: {value}")
