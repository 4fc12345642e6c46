"""Issue 20: a router that cannot say its routes (neither `.L` nor `.I`, as some MAGNUM-controlled
frames) makes a refresh run partial, quickly, and leaves those routes unknown — over real sockets
against the emulator, with PostgreSQL.

Commands are counted at the emulator (what it received), never timed.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from devices.models import Multiviewer, Source
from devices.nexx.catalog import param_id
from devices.quartz.codec import Interrogate, RouteUpdate
from devices.quartz.service import GIVE_UP_AFTER
from state.models import RefreshRun, RoutingState
from state.runs import Scope
from tests.state.test_refresh import refresh_now

pytestmark = pytest.mark.django_db(transaction=True)

QUARTZ_ONLY = Scope(nexx=False)


@pytest.fixture
def devices(devices):
    """The state tests' devices, with the frame's 4 multiviewers known (a quartz-only run reads
    the routes of the known multiviewers' windows: outputs 1-64)."""
    for index in range(4):
        Multiviewer.objects.create(nexx_index=index)
    return devices


def quartz_line(outcome) -> str:
    return next(line for line in outcome.error_summary.splitlines()
                if line.startswith("Quartz: "))


@pytest.mark.parametrize("interrogate", ["silent", "error"])
def test_a_router_answering_neither_list_nor_interrogate_ends_partial_and_stops_asking(
        make_devices, transactional_db, interrogate):
    """24 multiviewers, 384 routes: `.L` is answered `.E`, `.I` is not answered (MAGNUM) or
    answered `.E`. Before: 384 `.I`s, 34 s and "384 routes stored", success."""
    devices = make_devices(multiviewers=24, outputs=384)
    for index in (7, 15, 23):  # the emulator switches every 8th head off: all 24 in use
        devices.nexx.set(param_id("enable", index), 1)
    router = devices.quartz
    router.list_unsupported = True
    if interrogate == "silent":
        router.silent_interrogate = True
    else:
        router.interrogate_unsupported = True
    assert router.unreadable_routes

    outcome = refresh_now()  # a full one, as the nightly job or POST /api/refresh

    assert outcome.status == RefreshRun.Status.PARTIAL == "partial"
    refused = (".I unanswered within 1 s 8 times" if interrogate == "silent"
               else ".I answered .E 8 times")
    assert outcome.error_summary == (
        f"Quartz: Quartz router {router.address} answered neither .L nor .I for outputs 1–384 "
        f"(.L answered .E; {refused}; asking stopped after 8 outputs in a row got no route, "
        f"376 outputs not asked): 384 routes left unknown. 0 of 384 routes were read; the 384 "
        f"without a route show \"route unknown\".")
    run = RefreshRun.objects.get()
    assert run.status == "partial" and run.error_summary == outcome.error_summary
    # The counts: none read, all unknown (not "384 routes stored").
    assert outcome.counts["routes"] == 0
    assert outcome.counts["routes_unknown"] == 384 and outcome.counts["routes_kept"] == 0
    assert outcome.counts["sources"] == 32 and outcome.counts["multiviewers"] == 24

    # It stopped asking: one `.L` per 8 outputs of the first chunk (until the router showed it
    # lacks `.L`), then GIVE_UP_AFTER `.I`s, then nothing more about routes. Names are read.
    by_command = router.stats()["by_command"]
    assert by_command["ListRoutes"] == 128 // 8
    assert by_command["Interrogate"] == GIVE_UP_AFTER == 8
    assert by_command["ReadName"] == 32 + 384
    assert outcome.counts["quartz_commands"] == 16 + 8 + 32 + 384

    # Stored: every output with its name and its route unknown; the sources as named.
    rows = list(RoutingState.objects.order_by("output").values_list("output", "input",
                                                                     "output_label"))
    assert rows == [(o, None, f"DST {o}") for o in range(1, 385)]
    assert Source.objects.count() == 32


def test_manage_py_refresh_prints_read_and_unknown_and_exits_partial(devices):
    devices.quartz.unreadable_routes = True
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("refresh", "--quartz-only", stdout=out, stderr=err)
    assert caught.value.returncode == 2  # partial
    run = RefreshRun.objects.get()
    assert run.status == "partial"
    assert f"Refresh run #{run.pk}: partial in " in out.getvalue()
    assert "Quartz: 32 source names, 0 of 64 routes read, 64 unknown;" in out.getvalue()
    assert "routes stored" not in out.getvalue()
    assert "answered neither .L nor .I for outputs 1–64" in err.getvalue()


def test_routes_known_before_are_kept_and_new_outputs_are_unknown(devices):
    """An earlier read, a switch or quartz_listen knew these routes: a refresh that could not
    read them keeps them (with their time) rather than forget them."""
    old = timezone.now() - timedelta(hours=3)
    for output in range(1, 17):  # MV 1's windows: known before
        RoutingState.objects.create(output=output, input=30, output_label="old", updated_at=old)
    RoutingState.objects.create(output=17, input=None, output_label="old", updated_at=old)
    devices.quartz.unreadable_routes = True

    outcome = refresh_now(QUARTZ_ONLY)

    assert outcome.status == "partial"
    assert outcome.counts["routes"] == 0 and outcome.counts["routes_unknown"] == 64
    assert outcome.counts["routes_kept"] == 16
    assert quartz_line(outcome).endswith(
        "0 of 64 routes were read; 16 of the 64 without a route keep the one known before "
        "(its update time tells its age), the others show \"route unknown\".")
    kept = RoutingState.objects.filter(output__lte=16)
    # The route and its age stay; the output's name is the router's, read now.
    assert {(r.input, r.updated_at) for r in kept} == {(30, old)}
    assert [r.output_label for r in kept.order_by("output")] == [f"DST {o}" for o in
                                                                 range(1, 17)]
    seventeen = RoutingState.objects.get(output=17)
    assert (seventeen.input, seventeen.updated_at, seventeen.output_label) == (None, old,
                                                                               "DST 17")
    assert set(RoutingState.objects.filter(output__gt=17).values_list("input", flat=True)) \
        == {None}


def test_a_router_reporting_some_outputs_only_keeps_those(devices):
    """MV 2's outputs (17–32) are on a frame the router does not report: `.L` answers `.E`
    from there, `.I` is not answered. The other outputs are read through `.L` as usual."""
    router = devices.quartz
    router.set_route(40, 9)
    router.unreadable_outputs = frozenset(range(17, 33))
    old = timezone.now() - timedelta(days=1)
    RoutingState.objects.create(output=20, input=5, output_label="old", updated_at=old)

    outcome = refresh_now(QUARTZ_ONLY)

    assert outcome.status == "partial"
    assert quartz_line(outcome) == (
        f"Quartz: Quartz router {router.address} answered neither .L nor .I for outputs 17–32 "
        f"(.L answered .E 2 times; .I unanswered within 1 s 8 times; asking stopped after 8 "
        f"outputs in a row got no route, 8 outputs not asked): 16 routes left unknown. "
        f"48 of 64 routes were read; 1 of the 16 without a route keeps the one known before "
        f"(its update time tells its age), the others show \"route unknown\".")
    assert outcome.counts["routes"] == 48 and outcome.counts["routes_unknown"] == 16
    routes = dict(RoutingState.objects.values_list("output", "input"))
    assert routes[40] == 9
    assert all(routes[o] == router.route(o) for o in [*range(1, 17), *range(33, 65)])
    assert routes[20] == 5  # known before, kept
    assert {routes[o] for o in range(17, 33) if o != 20} == {None}
    by_command = router.stats()["by_command"]
    assert by_command["ListRoutes"] == 8 and by_command["Interrogate"] == 8


def test_a_few_unreported_outputs_do_not_make_it_give_up(devices):
    """Two outputs without a route are no evidence that the router will not say: the outputs
    after them are still asked (`.L` stops its list before 20, `.I` answers 22–24)."""
    router = devices.quartz
    router.unreadable_outputs = frozenset({20, 21})

    outcome = refresh_now(QUARTZ_ONLY)

    assert outcome.status == "partial"
    assert "answered neither .L nor .I for outputs 20–21 (.L replies left them out; .I " \
           "unanswered within 1 s 2 times): 2 routes left unknown. 62 of 64 routes were read" \
        in quartz_line(outcome)
    routes = dict(RoutingState.objects.values_list("output", "input"))
    assert routes[20] is routes[21] is None
    assert all(routes[o] == router.route(o) for o in range(1, 65) if o not in (20, 21))
    # `.I` only for what `.L` left out: 20..24 (the `.L` from 17 stops at 19, the next starts
    # at 25).
    assert router.stats()["by_command"]["Interrogate"] == 5


def test_a_route_pushed_while_reading_counts_as_read(devices):
    """`.U` from another panel during the run is newer than any read: it is stored, and that
    output is not reported unknown."""
    router = devices.quartz
    router.unreadable_routes = True
    original = router._handle
    pushed = {"done": False}

    def handle(conn, item, now):
        # A take on another panel while the run asks its first `.I` (the emulator's loop
        # thread, as set_route does).
        if isinstance(item, Interrogate) and not pushed["done"]:
            pushed["done"] = True
            router._routes[("V", 3)] = 11
            router._broadcast(RouteUpdate("V", 3, 11), now, exclude=None)
        return original(conn, item, now)

    router._handle = handle
    outcome = refresh_now(QUARTZ_ONLY)
    assert outcome.status == "partial"
    assert RoutingState.objects.get(output=3).input == 11
    assert outcome.counts["routes"] == 1 and outcome.counts["routes_unknown"] == 63
    assert "for outputs 1–2, 4–64" in quartz_line(outcome)


def test_a_router_that_answers_is_still_a_success(devices):
    outcome = refresh_now(QUARTZ_ONLY)
    assert outcome.status == "success", outcome.error_summary
    assert outcome.counts["routes"] == 64 and outcome.counts["routes_unknown"] == 0
    assert "Interrogate" not in devices.quartz.stats()["by_command"]
