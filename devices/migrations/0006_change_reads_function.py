"""What a change reads before it is planned (devices/control/reads.py) as one PL/pgSQL function,
for the reason of 0005: PostgreSQL plans a function's query once per connection and keeps the
plan. Sent as five plain statements in one query string, the reads were parsed and planned on
every write. Between an operator's writes the database server sleeps, and on a server woken
from sleep that planning is slow: timed 10 ms apart, the five statements took 1.2–1.6 ms a
round trip and this function 0.85–1.05 ms (both in psycopg, on the development machine).

One row, whatever is found: a part not found (no such multiviewer or source, no state yet, a
settings row not created yet, no live lease) is NULLs, its id among them. Each part's columns
are its model's, in field order (mvcontrol/postgresql/rows.py), named with the part's prefix:
tests/devices/api/test_change_reads.py fails when a model's fields and this function part
ways. A later change to either is a new migration with CREATE OR REPLACE FUNCTION (or DROP and
CREATE when the columns change).
"""

from django.db import migrations

CHANGE_READS = """
CREATE OR REPLACE FUNCTION mvcontrol_change_reads(p_mv bigint, p_source bigint, p_user bigint,
                                                  p_lease_seconds double precision)
RETURNS TABLE (mv_id bigint, mv_nexx_index smallint, mv_label varchar, mv_enabled boolean,
               mv_quartz_output_base integer, mv_granted boolean,
               source_id bigint, source_quartz_input integer, source_label varchar,
               source_granted boolean,
               st_id bigint, st_multiviewer_id bigint, st_layout smallint, st_font smallint,
               st_outer_border smallint, st_inner_border smallint, st_output_format smallint,
               st_updated_at timestamptz, st_stored_windows bigint,
               q_id smallint, q_host varchar, q_port integer, q_connect_timeout double precision,
               q_read_timeout double precision, q_source_count integer,
               q_output_count integer, q_commands_per_second double precision,
               q_max_outstanding integer, q_connection_style varchar, q_updated_at timestamptz,
               n_id smallint, n_base_url varchar, n_auth_mode varchar, n_api_key varchar,
               n_jwt_username varchar, n_jwt_password varchar, n_verify_tls boolean,
               n_requests_per_second double precision, n_timeout double precision,
               n_updated_at timestamptz,
               lease_user_id bigint, lease_expires_at timestamptz, lease_lasts boolean)
LANGUAGE plpgsql STABLE AS $function$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT m.id, m.nexx_index, m.label, m.enabled, m.quartz_output_base,
  EXISTS (SELECT 1 FROM user_access_mvs g WHERE g.multiviewer_id = m.id
             AND g.user_id = p_user),
  s.id, s.quartz_input, s.label,
  EXISTS (SELECT 1 FROM user_access_sources g WHERE g.source_id = s.id AND g.user_id = p_user),
  st.id, st.multiviewer_id, st.layout, st.font, st.outer_border, st.inner_border,
  st.output_format, st.updated_at,
  (SELECT count(*) FROM devices_nexx_layout_window w WHERE w.layout_id = st.layout),
  q.id, q.host, q.port, q.connect_timeout, q.read_timeout, q.source_count, q.output_count,
  q.commands_per_second, q.max_outstanding, q.connection_style, q.updated_at,
  n.id, n.base_url, n.auth_mode, n.api_key, n.jwt_username, n.jwt_password, n.verify_tls,
  n.requests_per_second, n.timeout, n.updated_at,
  l.user_id, l.expires_at, l.expires_at - now() >= make_interval(secs => p_lease_seconds)
FROM (SELECT) AS one
LEFT JOIN devices_multiviewer m ON m.id = p_mv
LEFT JOIN devices_source s ON s.id = p_source
LEFT JOIN state_mv st ON st.multiviewer_id = p_mv
LEFT JOIN devices_quartz_settings q ON q.id = 1
LEFT JOIN devices_nexx_settings n ON n.id = 1
LEFT JOIN devices_edit_lease l ON l.multiviewer_id = p_mv AND l.expires_at > now();
END
$function$
"""


class Migration(migrations.Migration):

    dependencies = [
        ("devices", "0005_multiviewer_read_functions"),
        ("state", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            CHANGE_READS,
            "DROP FUNCTION IF EXISTS mvcontrol_change_reads(bigint, bigint, bigint,"
            " double precision)"),
    ]
