"""The project keeps its logic in Python: the migrated database holds no function of its own, and
a database that an earlier version gave PL/pgSQL functions loses them on migrate."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

# Signatures of the functions earlier versions created.
EARLIER_FUNCTIONS = (
    "mvcontrol_session_user(p_session_key varchar)",
    "mvcontrol_multiviewer_stamp(p_mv bigint, p_user bigint, p_span integer)",
    "mvcontrol_multiviewer_document(p_mv bigint, p_first integer, p_last integer)",
    "mvcontrol_change_reads(p_mv bigint, p_source bigint, p_user bigint,"
    " p_lease_seconds double precision)",
)


def project_functions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT p.proname FROM pg_proc p JOIN pg_namespace n"
                       " ON n.oid = p.pronamespace WHERE n.nspname = 'public'")
        return sorted(row[0] for row in cursor.fetchall())


@pytest.mark.django_db
def test_the_migrated_database_holds_no_function_of_the_project():
    assert project_functions() == []


@pytest.mark.django_db(transaction=True)
def test_migrate_drops_the_functions_earlier_versions_created():
    call_command("migrate", "accounts", "0003", verbosity=0)
    call_command("migrate", "devices", "0006", verbosity=0)
    try:
        with connection.cursor() as cursor:
            for signature in EARLIER_FUNCTIONS:
                cursor.execute(f"CREATE FUNCTION {signature} RETURNS integer"
                               " LANGUAGE sql AS 'SELECT 1'")
        assert len(project_functions()) == len(EARLIER_FUNCTIONS)
    finally:
        call_command("migrate", verbosity=0)
    assert project_functions() == []
