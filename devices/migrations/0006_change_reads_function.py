"""Once created a PL/pgSQL function for a change's reads; the project no longer creates any.
Kept so that databases which applied it keep a consistent history; 0007 drops the function."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0005_multiviewer_read_functions"),
        ("state", "0001_initial"),
    ]

    operations = []
