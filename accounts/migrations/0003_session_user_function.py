"""Once created a PL/pgSQL function for session reads; the project no longer creates any.
Kept so that databases which applied it keep a consistent history; 0004 drops the function."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_session"),
    ]

    operations = []
