"""What one window write asks PostgreSQL (bench/api_load.py times it): each thing is read once,
in as few round trips as it can. Counts do not depend on the machine, so they guard the write's
cost in the suite."""

from __future__ import annotations

from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.fixtures.control import OPERATOR_SOURCES


def table_reads(queries) -> Counter:
    """SELECTs per first table named (the grant tables by name)."""
    reads: Counter = Counter()
    for query in queries:
        sql = query["sql"].strip()
        if not sql.upper().startswith("SELECT"):
            continue
        for name in ("user_access_mvs", "user_access_sources", "devices_nexx_layout_window",
                     "state_windows", "devices_quartz_settings", "devices_nexx_settings",
                     "mvcontrol_change_reads", "mvcontrol_multiviewer_stamp",
                     "mvcontrol_multiviewer_document"):
            if name in sql:
                reads[name] += 1
    return reads


def test_a_window_write_reads_each_thing_once(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    source = rig.source(OPERATOR_SOURCES[0])
    client.get(f"/api/multiviewers/{mv.pk}")
    with CaptureQueriesContext(connection) as queries:
        answer = client.post(f"/api/multiviewers/{mv.pk}/windows/1",
                             {"source": source.pk, "pcm_bars": 6}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["windows"][0]["input"] == source.quartz_input
    statements = [q["sql"] for q in queries]
    reads = table_reads(queries)
    # What the change reads first (the multiviewer and the source with their grants, the state
    # with its layout's window count, both settings, the lease) is one function's row; the
    # answer's stamp and document are two more functions. Nothing is read again beside them.
    assert reads["mvcontrol_change_reads"] == 1, statements
    for name in ("user_access_mvs", "user_access_sources", "devices_nexx_layout_window",
                 "state_windows", "devices_quartz_settings", "devices_nexx_settings"):
        assert reads[name] == 0, statements
    # The answer: the stamp and the document in one statement, sent after both records and
    # their commit, in their round trip.
    answer_reads = [q for q in statements if "mvcontrol_multiviewer_stamp" in q]
    assert len(answer_reads) == 1 and "mvcontrol_multiviewer_document" in answer_reads[0]
    last = answer_reads[0]
    assert (last.index("state_windows") < last.index("state_routing") < last.index("COMMIT")
            < last.index("mvcontrol_multiviewer_stamp")), last
    # Round trips: the session and its user with what the change reads (multiviewer, source,
    # state, settings; accounts/session_reads.py), the lease, both records with the answer's
    # stamp and document.
    assert "mvcontrol_session_user" in statements[0] and "mvcontrol_change_reads" in statements[0]
    assert not any("accounts_session" in q or "accounts_user" in q for q in statements)
    assert len(statements) == 3, "\n\n".join(statements)


def test_a_second_write_in_a_burst_leaves_the_lease_as_it_is(rig, settings):
    from datetime import datetime, timedelta

    from django.utils import timezone

    settings.EDIT_LEASE_SECONDS = 60
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    first = client.post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 6}, format="json")
    assert first.status_code == 200, first.content
    with CaptureQueriesContext(connection) as queries:
        second = client.post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 8},
                             format="json")
    assert second.status_code == 200, second.content
    statements = [q["sql"] for q in queries]
    assert not any("devices_edit_lease" in q and "INSERT" in q for q in statements)
    # The session and its user with what the change reads (with the lease), the record with
    # the answer.
    assert len(statements) == 2, "\n\n".join(statements)
    lease = second.json()["lease"]
    assert lease["mine"] and lease == first.json()["lease"]
    # Still at least EDIT_LEASE_SECONDS after this write.
    assert datetime.fromisoformat(lease["expires_at"]) >= timezone.now() + timedelta(seconds=59)
