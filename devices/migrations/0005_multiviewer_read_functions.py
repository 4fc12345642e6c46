"""Once created PL/pgSQL functions for multiviewer reads; the project no longer creates any.
Kept so that databases which applied it keep a consistent history; 0007 drops the functions."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0004_nexx_catalog_defaults"),
        ("state", "0001_initial"),
    ]

    operations = []
