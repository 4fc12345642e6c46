"""Drop the PL/pgSQL functions earlier versions created (reads go through the ORM now)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0006_change_reads_function"),
    ]

    operations = [
        migrations.RunSQL(
            "DROP FUNCTION IF EXISTS mvcontrol_multiviewer_stamp(bigint, bigint, integer);"
            " DROP FUNCTION IF EXISTS mvcontrol_multiviewer_document(bigint, integer, integer);"
            " DROP FUNCTION IF EXISTS mvcontrol_change_reads(bigint, bigint, bigint,"
            " double precision)",
            migrations.RunSQL.noop),
    ]
