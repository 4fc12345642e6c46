"""Drop the PL/pgSQL function earlier versions created (sessions are read by Django now)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_session_user_function"),
    ]

    operations = [
        migrations.RunSQL("DROP FUNCTION IF EXISTS mvcontrol_session_user(varchar)",
                          migrations.RunSQL.noop),
    ]
