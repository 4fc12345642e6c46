"""Delete expired login sessions (the nightly job does the same)."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Delete expired login sessions and print how many were deleted."

    def handle(self, *args, **options):
        from accounts.services import AuthService

        purged = AuthService.purge_expired_sessions()
        self.stdout.write(f"Purged {purged} expired session{'' if purged == 1 else 's'}.")
