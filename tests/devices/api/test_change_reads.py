"""What a change reads before it is planned comes in one round trip (devices/control/reads.py),
and a write answers with the stamp and the document read in one statement
(devices/control/documents.py). These fail if either answers differently from the reads they
replace, or if the API's order of errors changed with them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import AccessService
from devices.control.changes import MultiviewerChange, WindowChange
from devices.control.reads import change_reads_columns, read_for_change, state_for_change
from devices.control.services import ControlService
from devices.models import Multiviewer, NexxSettings, QuartzSettings, Source
from devices.models.integration import load_both
from state.models import MultiviewerState
from tests.devices.api.schema_check import check
from tests.devices.lease_reads import seen_alone
from tests.fixtures.control import OPERATOR_SOURCES
from tests.support import function_columns


def fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.mark.django_db
def test_the_function_has_the_models_columns_in_their_order():
    assert function_columns("mvcontrol_change_reads") == change_reads_columns()


@pytest.mark.parametrize("who", ["operator", "admin"])
def test_the_reads_are_those_of_the_separate_queries(rig, who):
    user = getattr(rig, who)
    mv = rig.mv(0)
    source = rig.source(OPERATOR_SOURCES[0])
    with CaptureQueriesContext(connection) as queries:
        reads = read_for_change(user, mv.pk, source.pk)
    assert len(queries) == 1  # one round trip
    alone_mv = AccessService.get_with_grant(user, Multiviewer, mv.pk)
    alone_source = AccessService.get_with_grant(user, Source, source.pk)
    assert fields(reads.multiviewer) == fields(alone_mv)
    assert fields(reads.source) == fields(alone_source)
    assert reads.multiviewer.access_granted == alone_mv.access_granted
    assert reads.source.access_granted == alone_source.access_granted
    assert reads.multiviewer.access_user_id == user.pk
    alone_state = state_for_change(mv)
    assert fields(reads.state) == fields(alone_state)
    assert reads.state.stored_windows == alone_state.stored_windows
    quartz, nexx = load_both()
    assert fields(reads.quartz) == fields(quartz) and fields(reads.nexx) == fields(nexx)
    assert not reads.multiviewer._state.adding and not reads.state._state.adding


def test_grants_are_read_for_the_user_asking(rig):
    mv, other = rig.mv(0), rig.mv(2)  # granted to the operator; granted to nobody
    refused = next(s for s in Source.objects.all() if s.quartz_input not in OPERATOR_SOURCES)
    reads = read_for_change(rig.operator, mv.pk, refused.pk)
    assert reads.multiviewer.access_granted is True
    assert reads.source.access_granted is False
    assert not AccessService.can_use_source(rig.operator, reads.source)
    assert read_for_change(rig.operator, other.pk).multiviewer.access_granted is False


@pytest.mark.parametrize("seconds_left, lasts", [(90, True), (30, False), (-5, None)])
def test_the_lease_is_the_one_read_alone(rig, settings, seconds_left, lasts):
    settings.EDIT_LEASE_SECONDS = 60
    mv = rig.mv(0)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO devices_edit_lease (multiviewer_id, user_id, expires_at)"
                       " VALUES (%s, %s, now() + make_interval(secs => %s))",
                       [mv.pk, rig.operator.pk, seconds_left])
    seen = read_for_change(rig.admin, mv.pk).lease
    assert seen == seen_alone(mv)
    if lasts is None:  # expired: no live lease
        assert seen is None
    else:
        assert seen.user_id == rig.operator.pk and seen.lasts is lasts


@pytest.mark.parametrize("pk", [0, 999_999, 2**63, -(2**63) - 1])
def test_what_is_not_there_reads_as_none(rig, pk):
    mv = rig.mv(0)
    reads = read_for_change(rig.operator, pk, pk)
    assert reads.multiviewer is None and reads.source is None and reads.state is None
    assert read_for_change(rig.operator, mv.pk, None).source is None


def test_no_state_yet_and_no_settings_yet(rig):
    mv = Multiviewer.objects.create(nexx_index=30)
    assert not MultiviewerState.objects.filter(multiviewer=mv).exists()
    QuartzSettings.objects.all().delete()
    NexxSettings.objects.all().delete()
    reads = read_for_change(rig.admin, mv.pk)
    assert reads.multiviewer.pk == mv.pk and reads.state is None
    # Created with defaults, as load() creates them.
    assert QuartzSettings.objects.count() == 1 and NexxSettings.objects.count() == 1
    assert not reads.quartz._state.adding and not reads.nexx._state.adding


def test_reads_of_another_multiviewer_are_refused(rig):
    reads = read_for_change(rig.admin, rig.mv(0).pk)
    change = MultiviewerChange(windows=[WindowChange(1, pcm_bars=2)])
    with pytest.raises(ValueError, match="another multiviewer"):
        ControlService.apply(user=rig.admin, multiviewer=rig.mv(1), change=change, reads=reads)
    assert rig.nexx.stats()["by_call"].get("EV/SET", 0) == 0


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ('{"pcm_bars": "many"}', "application/json"),
    ("pcm_bars=2", "text/plain"),
])
def test_the_multiviewer_is_checked_before_the_body(rig, body, content_type):
    client = rig.client(rig.operator)
    missing = check(client.generic("POST", "/api/multiviewers/999999/windows/1", body,
                                   content_type=content_type), 404)
    assert missing["error"] == "not_found"
    refused = check(client.generic("POST", f"/api/multiviewers/{rig.mv(1).pk}/windows/1", body,
                                   content_type=content_type), 403)
    assert refused["error"] == "not_granted"
    answer = client.generic("POST", f"/api/multiviewers/{rig.mv(0).pk}/windows/1", body,
                            content_type=content_type)
    assert answer.status_code in (400, 415), answer.content
    assert set(answer.json()) >= {"error", "detail", "fields"}


def test_the_answer_of_a_write_is_what_the_next_read_answers(rig, builds):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    source = rig.source(OPERATOR_SOURCES[1])
    written = client.post(f"/api/multiviewers/{mv.pk}/windows/2",
                          {"source": source.pk, "pcm_bars": 4}, format="json")
    body = check(written, 200)
    assert body["windows"][1]["input"] == source.quartz_input
    assert body["windows"][1]["pcm_bars"] == 4
    assert body["lease"]["mine"] is True
    assert builds == [mv.pk]  # built for the answer, from the row read with the stamp

    read = client.get(f"/api/multiviewers/{mv.pk}")
    assert read.content == written.content  # the same bytes, answered from what was kept
    assert builds == [mv.pk]
    # Another user sees the same document with the lease not theirs.
    other = check(rig.client(rig.admin).get(f"/api/multiviewers/{mv.pk}"), 200)
    assert other["windows"] == body["windows"] and other["lease"]["mine"] is False


def test_the_answer_follows_a_change_made_by_someone_else_meanwhile(rig):
    mv = rig.mv(0)
    client = rig.client(rig.operator)
    check(client.post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 2}, format="json"),
          200)
    # A refresh or the router listener writes the snapshot between two writes.
    MultiviewerState.objects.filter(multiviewer=mv).update(font=2)
    body = check(client.post(f"/api/multiviewers/{mv.pk}/windows/1", {"pcm_bars": 6},
                             format="json"), 200)
    assert body["font"] == 2 and body["windows"][0]["pcm_bars"] == 6
