"""Import the layout catalog of an installation (JSON, as export_layouts writes it).

    manage.py import_layouts layouts.json            # all 43 layouts
    manage.py import_layouts some.json --partial     # only the layouts listed

Everything is checked first (1..16 windows, ids 1..n and unique, rectangles inside 0..1, all 43
layouts unless partial); on any problem nothing is imported and every problem is listed.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from devices.layouts import import_layouts
from devices.nexx.layouts import LayoutImportError, ranges_text


class Command(BaseCommand):
    help = "Import NEXX layout geometry from a JSON file (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON file, or - for standard input.")
        parser.add_argument("--partial", action="store_true",
                            help="Import the layouts listed and keep the others.")

    def handle(self, *args, file: str, partial: bool, **options):
        try:
            if file == "-":
                text = sys.stdin.read()
            else:
                with open(file, encoding="utf-8") as fh:
                    text = fh.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from exc
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not JSON: {exc}") from exc
        try:
            numbers = import_layouts(doc, partial=partial)
        except LayoutImportError as exc:
            raise CommandError(f"Nothing imported. {exc}") from exc
        self.stdout.write(self.style.SUCCESS(
            f"Imported {len(numbers)} layout(s): {ranges_text(sorted(numbers))}."))
