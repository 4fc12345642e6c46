"""The catalog in force: the shipped NEXX catalog with the enum labels admins corrected.

devices/nexx/catalog.py holds the parameters, their allowed values and the reference's enum
labels, and never reads the database. Enum labels change with the firmware, so an admin corrects
them in Django admin (devices.models.NexxEnumLabel); this module lays those rows over the shipped
labels. Labels are display only: allowed values never come from the database.

    enum_labels()[2714][6]        # "White", or the admin's correction
    catalog_document()            # GET /api/catalog, with the labels in force
"""

from __future__ import annotations

from devices.models import NexxEnumLabel
from devices.nexx import catalog as nexx_catalog


def enum_labels() -> dict[int, dict[int, str]]:
    """Enum labels in force: the defaults, corrected by the admin's NexxEnumLabel rows."""
    labels = nexx_catalog.default_enum_labels()
    for varid, value, label in NexxEnumLabel.objects.values_list("varid", "value", "label"):
        if value in labels.get(varid, {}):
            labels[varid][value] = label
    return labels


def catalog_document() -> dict:
    """The whole catalog for GET /api/catalog and the control page, with the labels in force."""
    return nexx_catalog.catalog_document(enum_labels())
