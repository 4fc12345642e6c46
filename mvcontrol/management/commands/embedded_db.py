from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mvcontrol import embedded_db


class Command(BaseCommand):
    help = "Status or stop of the embedded PostgreSQL server (used when DATABASE_URL is unset)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "stop"])

    def handle(self, *args, action: str, **options):
        if not settings.EMBEDDED_DATABASE:
            raise CommandError("DATABASE_URL is set: no embedded server is in use.")
        if action == "status":
            db = settings.DATABASES["default"]
            self.stdout.write(f"running; socket directory {db['HOST']}, database {db['NAME']}")
            return
        # Settings already started it to load; stopping now is what was asked.
        from django.db import connections

        connections.close_all()
        if embedded_db.stop(settings.VAR_DIR):
            self.stdout.write("embedded PostgreSQL stopped")
        else:
            self.stdout.write("embedded PostgreSQL was not running")
