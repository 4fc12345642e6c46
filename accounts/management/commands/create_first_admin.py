"""Create the first admin of a new installation (only while no user exists)."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from mvcontrol.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create the first admin. Works only while no user exists; the password comes from an "
        "interactive prompt or, with --password-stdin, from standard input."
    )

    def add_arguments(self, parser):
        parser.add_argument("--login", required=True, help="Login of the new admin.")
        parser.add_argument("--password-stdin", action="store_true",
                            help="Read the password from standard input (first line).")

    def handle(self, *args, login: str, password_stdin: bool, **options):
        from accounts.services import AuthService

        if not AuthService.setup_needed():
            raise CommandError("Refused: users already exist. Create more users in Django admin "
                               "or with POST /api/users as an admin.")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            if not sys.stdin.isatty():
                raise CommandError("No terminal to prompt for the password: use --password-stdin.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ; nothing was created.")
        if not password:
            raise CommandError("The password is empty; nothing was created.")
        try:
            user = AuthService.create_first_admin(login=login, password=password)
        except DomainError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(map(str, msgs))}" for field, msgs in exc.fields.items()
            )
            raise CommandError(exc.detail + (f" ({problems})" if problems else ""))
        self.stdout.write(self.style.SUCCESS(f"Admin '{user.login}' created."))
