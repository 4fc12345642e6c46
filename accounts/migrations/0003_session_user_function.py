"""A session and its user in one row, for the API views that read them in their own statement
(accounts/session_reads.py): a PL/pgSQL function, so PostgreSQL keeps its plan for the
connection, as for the functions of devices 0005 and 0006.

One row whatever is found: no session (or no user) gives NULLs. Expiry and everything else are
judged by the caller, as Django judges a session it loads. The columns are the session's and
the user's models' own, in field order, prefixed `s_` and `u_`:
tests/accounts/test_session_reads.py fails when a model's fields and this function part ways.
"""

from django.db import migrations

SESSION_USER = """
CREATE OR REPLACE FUNCTION mvcontrol_session_user(p_session_key varchar)
RETURNS TABLE (s_session_data text, s_expire_date timestamptz, s_user_id bigint,
               u_id bigint, u_password varchar, u_last_login timestamptz, u_login varchar,
               u_role varchar, u_created_at timestamptz, u_must_change_password boolean,
               u_is_active boolean)
LANGUAGE plpgsql STABLE AS $function$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT s.session_data, s.expire_date, s.user_id,
  u.id, u.password, u.last_login, u.login, u.role, u.created_at, u.must_change_password,
  u.is_active
FROM (SELECT) AS one
LEFT JOIN accounts_session s ON s.session_key = p_session_key
LEFT JOIN accounts_user u ON u.id = s.user_id;
END
$function$
"""


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_session"),
    ]

    operations = [
        migrations.RunSQL(SESSION_USER,
                          "DROP FUNCTION IF EXISTS mvcontrol_session_user(varchar)"),
    ]
