"""Write the layout catalog in force as JSON (what import_layouts reads back).

    manage.py export_layouts > layouts.json
    manage.py export_layouts --output layouts.json
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from devices.layouts import layouts_document


class Command(BaseCommand):
    help = "Export the NEXX layout geometry as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default=None, help="File to write (default: stdout).")

    def handle(self, *args, output: str | None, **options):
        text = json.dumps(layouts_document(), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from exc
        self.stderr.write(f"Wrote {output}.")
