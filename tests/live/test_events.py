"""GET /api/events on the production server (gunicorn + uvicorn worker) with the emulators: what
each user's stream receives, and what it must not."""

from __future__ import annotations

import httpx

from state.models import RefreshRun
from state.refresh import execute_run
from state.services import StateService
from tests.fixtures.accounts import UserFactory
from tests.fixtures.live import EventStream, session_for


def write_pcm_bars(rig, user, mv, bars: int, window: int = 1):
    response = rig.client(user).post(f"/api/multiviewers/{mv.pk}/windows/{window}",
                                     {"pcm_bars": bars}, format="json")
    assert response.status_code == 200, response.content


def about(mv):
    return lambda event: event.data["multiviewer"] == mv.pk


def test_a_stream_needs_a_session(asgi_server):
    response = httpx.get(asgi_server + "/api/events", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"


def test_a_write_reaches_the_streams_of_those_who_may_see_it_only(rig, asgi_server):
    mv = rig.mv(0)
    stranger = UserFactory(login="stranger")
    stranger.multiviewers.set([rig.mv(2)])
    granted = EventStream(asgi_server, session_for(rig.operator))
    admin = EventStream(asgi_server, session_for(rig.admin))
    refused = EventStream(asgi_server, session_for(stranger))
    try:
        write_pcm_bars(rig, rig.other, mv, 12)
        # The lease is taken before the frame is asked, so it comes first.
        lease = granted.wait_for("lease")
        assert lease.data["multiviewer"] == mv.pk and lease.data["lease"]["login"] == "other"
        assert lease.data["action"] == "taken"
        event = granted.wait_for("multiviewer", where=about(mv))
        assert event.id and event.data["document"]["windows"][0]["pcm_bars"] == 12
        assert event.data["document"]["lease"]["login"] == "other"
        assert event.data["document"]["lease"]["mine"] is False
        admin.wait_for("multiviewer", where=about(mv))
        # The stranger's stream is open and hears its own multiviewer, never the other one:
        # everything before the event about its own multiviewer is checked.
        write_pcm_bars(rig, rig.admin, rig.mv(2), 6)
        before = []
        while (event := refused.events.get(timeout=20)) is not None:
            if event.kind == "multiviewer" and event.data["multiviewer"] == rig.mv(2).pk:
                break
            before.append(event)
        assert event is not None, "the stranger's stream ended"
        assert [e for e in before if e.data.get("multiviewer") == mv.pk] == []
    finally:
        for stream in (granted, admin, refused):
            stream.close()


def test_the_lease_holder_sees_the_lease_as_theirs(rig, asgi_server):
    mv = rig.mv(0)
    stream = EventStream(asgi_server, session_for(rig.operator))
    try:
        write_pcm_bars(rig, rig.operator, mv, 8)
        event = stream.wait_for("multiviewer", where=about(mv))
        assert event.data["document"]["lease"]["mine"] is True
    finally:
        stream.close()


def test_a_switch_on_the_router_reaches_the_stream_through_quartz_listen(rig, asgi_server,
                                                                         start_workers):
    output = rig.mv(0).output_for_window(2)
    stream = EventStream(asgi_server, session_for(rig.operator))
    start_workers("quartz_listen")
    try:
        # The listener connects in its own time: switch until its update arrives.
        for attempt in range(40):
            source = (5, 6)[attempt % 2]
            rig.quartz.set_route(output, source)
            found = [e for e in stream.received("routing", within=0.5)
                     if any(r["output"] == output and r["input"] == source
                            for r in e.data["routes"])]
            if found:
                route = next(r for r in found[0].data["routes"] if r["output"] == output)
                assert route["source"]["quartz_input"] == source
                break
        else:
            raise AssertionError("no routing event from quartz_listen")
    finally:
        stream.close()


def test_a_refresh_reports_its_progress_and_its_end(rig, asgi_server):
    stream = EventStream(asgi_server, session_for(rig.operator))
    try:
        ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND)
        stream.wait_for("refresh", where=lambda e: e.data["running"])
        outcome = execute_run(ticket.run.pk)
        assert outcome.status == "success"
        end = stream.wait_for("refresh", where=lambda e: not e.data["running"])
        assert end.data["last"]["id"] == ticket.run.pk
        assert end.data["last"]["status"] == "success"
    finally:
        stream.close()


def test_a_grant_revoked_mid_stream_stops_its_events(rig, asgi_server):
    mv = rig.mv(0)
    stream = EventStream(asgi_server, session_for(rig.operator))
    try:
        write_pcm_bars(rig, rig.admin, mv, 4)
        stream.wait_for("multiviewer", where=about(mv))
        rig.operator.multiviewers.set([])
        write_pcm_bars(rig, rig.admin, mv, 6)
        rig.operator.multiviewers.set([rig.mv(1)])
        write_pcm_bars(rig, rig.admin, rig.mv(1), 2)
        # The write to MV 2 after the new grant arrives; the one to MV 1 before it never did.
        events = []
        while True:
            event = stream.wait_for("multiviewer")
            events.append(event.data["multiviewer"])
            if event.data["multiviewer"] == rig.mv(1).pk:
                break
        assert mv.pk not in events
    finally:
        stream.close()


def test_last_event_id_replays_what_was_missed(rig, asgi_server):
    mv = rig.mv(0)
    first = EventStream(asgi_server, session_for(rig.operator))
    write_pcm_bars(rig, rig.admin, mv, 4)
    seen = first.wait_for("multiviewer", where=about(mv))
    first.close()
    write_pcm_bars(rig, rig.admin, mv, 16)  # while nobody listens
    again = EventStream(asgi_server, session_for(rig.operator), last_event_id=seen.id)
    unknown = EventStream(asgi_server, session_for(rig.operator), last_event_id="gone-7")
    try:
        missed = again.wait_for("multiviewer", where=about(mv))
        assert missed.id != seen.id
        assert missed.data["document"]["windows"][0]["pcm_bars"] == 16
        unknown.wait_for("resync")
    finally:
        again.close()
        unknown.close()


def test_the_stream_of_a_deactivated_user_ends(rig, asgi_server):
    stream = EventStream(asgi_server, session_for(rig.operator))
    try:
        rig.operator.is_active = False
        rig.operator.save()
        assert stream.ended.wait(20), "the stream of a deactivated user stayed open"
    finally:
        stream.close()
