"""Change notifications: what the frame pushes reaches the snapshot, over real sockets.

The frame is the emulator (tests/state/conftest.py `make_devices`); the snapshot is filled by a
NEXX refresh first. Most tests follow one multiviewer with layout 43 (2 windows: 5 + 2 × 31 = 67
parameters), so a whole subscription is quick at the tests' rate.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time

import pytest

from devices.models import NexxSettings
from devices.nexx.catalog import param_id
from devices.nexx.service import NexxService
from state.models import MultiviewerState, NexxListenerStatus, RefreshRun, WindowState
from state.nexx_listener import NexxListener, followed_ids, window_ids
from state.refresh import execute_run
from state.runs import Scope
from state.services import StateService
from tests.support import BASE_DIR, InThread, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 15.0  # seconds a condition may take before the test gives up (not a speed target)
PLANNED = followed_ids(0, 2)


def eventually(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running(InThread):
    """A NexxListener in a thread on 127.0.0.1, stopped (its connections closed) after."""

    def __init__(self, *, port: int = 0, check_seconds: float = 60.0, **options) -> None:
        options.setdefault("settle", 0.3)
        super().__init__(NexxListener(bind=("127.0.0.1", port), check_seconds=check_seconds,
                                      settings_poll=0.3, retry=0.2, max_backoff=0.5, **options),
                         wait=WAIT)


def refresh_nexx() -> None:
    ticket = StateService.start_refresh(trigger=RefreshRun.Trigger.COMMAND,
                                        scope=Scope(quartz=False))
    outcome = execute_run(ticket.run.pk)
    assert outcome is not None and outcome.status == "success", outcome and outcome.error_summary


@pytest.fixture
def frame(transactional_db, make_devices):
    """One multiviewer, layout 43 (2 windows), in the snapshot; the emulated frame behind it."""
    devices = make_devices(multiviewers=1)
    devices.nexx.set(param_id("layout", 0), "42")
    refresh_nexx()
    assert MultiviewerState.objects.get().layout == 43
    return devices.nexx


def following(listener: NexxListener, count: int = len(PLANNED)) -> bool:
    session = listener.session
    return (session is not None and session.planned_total == count
            and session.planned_live == count and not session.missing
            and not session.reread and not session.read_windows)


def umd_text(window: int, layer: int = 0) -> str | None:
    row = WindowState.objects.filter(multiviewer__nexx_index=0, window_index=window).first()
    return row.umd[layer].get("text") if row else None


def calls(frame, name: str) -> int:
    return frame.stats()["by_call"].get(name, 0)


# --- registration and subscription -----------------------------------------------------------


def test_registers_and_subscribes_exactly_the_snapshot_and_nothing_more_on_a_restart(frame):
    port = free_udp_port()
    with Running(port=port) as listener:
        eventually(lambda: following(listener), "every planned parameter to be live")
    (receiver,) = frame.receivers()
    assert receiver.name == "mvcontrol"
    assert (receiver.ip, receiver.port, receiver.protocol) == ("127.0.0.1", port, "udp")
    assert receiver.parameters == set(PLANNED)
    assert calls(frame, "EV/NOTIFYADD") == len(PLANNED)
    assert calls(frame, "EV/SERVERADD") == 1
    status = NexxListenerStatus.load()
    assert status.registered is False and status.state == "stopped"
    assert (status.parameters_live, status.parameters_planned) == (67, 67)

    with Running(port=port) as listener:
        eventually(lambda: following(listener) and listener.rereads >= 1,
                   "the registration to be found again and the multiviewer re-read")
    assert calls(frame, "EV/NOTIFYADD") == len(PLANNED)  # nothing subscribed twice
    assert calls(frame, "EV/SERVERADD") == 1
    assert calls(frame, "EV/SERVERSTATUS") == 2
    assert len(frame.receivers()) == 1


def test_a_change_on_the_frame_reaches_the_snapshot(frame):
    with Running() as listener:
        eventually(lambda: following(listener), "the subscription")
        frame.set(param_id("text", 0, 1, 0), "FROM THE PANEL")  # the frame's own panel
        eventually(lambda: umd_text(1) == "FROM THE PANEL", "the panel's change")
        frame.set(param_id("pcm_bars", 0, 0), "6")  # device index 6: 16 bars
        eventually(lambda: WindowState.objects.get(window_index=0).pcm_bars == 16,
                   "the PCM bars")
        frame.set(param_id("font", 0), "2")
        eventually(lambda: MultiviewerState.objects.get().font == 2, "the font")
        # Another control system writing through the EV API: the same path.
        NexxService.from_settings().write({param_id("x", 0, 0, 2): "100"})
        eventually(lambda: WindowState.objects.get(window_index=0).umd[2]["x"] == 100,
                   "the other system's write")
    assert listener.datagrams >= 4 and listener.changes_applied >= 4


def test_a_value_the_snapshot_holds_changes_nothing_and_junk_is_ignored(frame, caplog):
    caplog.set_level(logging.INFO, logger="state.nexx_listener")
    with Running() as listener:
        eventually(lambda: following(listener), "the subscription")
        before = WindowState.objects.get(window_index=0)
        port = listener.session.port
        applied = listener.changes_applied
        held = before.umd[0]["text"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(json.dumps({"jsonrpc": "2.0", "method": "any.name", "params": [
                {"varid": f"{param_id('text', 0, 0, 0)}@s", "data": held}]}).encode(),
                ("127.0.0.1", port))
            sender.sendto(b"\x00 not json", ("127.0.0.1", port))
            sender.sendto(json.dumps({"params": [{"varid": "2704.0@i", "data": "banana"},
                                                 {"varid": "2709.0.1.0", "data": "SENT"}]}
                                     ).encode(), ("127.0.0.1", port))
        eventually(lambda: umd_text(1) == "SENT", "the good entry beside the junk")
        after = WindowState.objects.get(window_index=0)
        assert after.updated_at == before.updated_at  # the held value wrote nothing
        assert listener.changes_applied == applied + 1
        assert listener.junk_datagrams == 2
    assert MultiviewerState.objects.get().layout == 43
    junk = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert len(junk) == 2, [r.getMessage() for r in junk]  # one line per junk datagram


def test_a_layout_change_follows_the_windows_that_appear(frame):
    with Running() as listener:
        eventually(lambda: following(listener), "the subscription")
        frame.set(param_id("text", 0, 3, 0), "WINDOW 4")  # not shown by layout 43: not followed
        frame.set(param_id("layout", 0), "0")  # layout 1: 4 windows
        eventually(lambda: MultiviewerState.objects.get().layout == 1, "the new layout")
        eventually(lambda: following(listener, len(followed_ids(0, 4))),
                   "the two new windows to be subscribed and read")
        assert umd_text(3) == "WINDOW 4"  # read once when it appeared
        (receiver,) = frame.receivers()
        assert receiver.parameters == set(followed_ids(0, 4))
        frame.set(param_id("text", 0, 3, 0), "LIVE NOW")
        eventually(lambda: umd_text(3) == "LIVE NOW", "a change in a new window")


# --- UDP faults --------------------------------------------------------------------------------


def test_duplicated_datagrams_leave_the_right_value(frame):
    with Running() as listener:
        eventually(lambda: following(listener), "the subscription")
        frame.notify_duplicate = 1.0
        for text in ("ONE", "TWO", "THREE"):
            frame.set(param_id("text", 0, 0, 1), text)
        eventually(lambda: umd_text(0, 1) == "THREE", "the last value")
        time.sleep(0.5)  # every duplicate has arrived by now; none may undo the last value
        assert umd_text(0, 1) == "THREE"
        assert frame.stats()["datagrams_duplicated"] == 3


def test_reordered_datagrams_leave_the_right_value(frame):
    with Running() as listener:
        eventually(lambda: following(listener), "the subscription")
        frame.notify_reorder = 1.0  # every other datagram overtakes the one before it
        frame.set(param_id("text", 0, 0, 0), "FIRST")
        frame.set(param_id("text", 0, 0, 0), "SECOND")
        eventually(lambda: frame.stats()["datagrams_sent"] >= 2, "both datagrams")
        eventually(lambda: umd_text(0) == "SECOND" and listener.confirmations >= 1,
                   "the value to settle on the frame's")
        assert frame.stats()["datagrams_reordered"] >= 1


def test_a_dropped_datagram_is_healed_by_the_periodic_check(frame):
    with Running(check_seconds=0.2) as listener:
        eventually(lambda: following(listener), "the subscription")
        frame.notify_drop = 1.0
        frame.set(param_id("text", 0, 1, 2), "LOST")
        assert frame.stats()["datagrams_dropped"] == 1
        frame.notify_drop = 0.0
        eventually(lambda: umd_text(1, 2) == "LOST", "the periodic check to find it")
        assert listener.audits >= 1
        assert NexxListenerStatus.load().last_heal_at is not None


def test_a_frame_reboot_that_forgot_the_receiver_is_healed(frame):
    with Running(check_seconds=0.3) as listener:
        eventually(lambda: following(listener), "the subscription")
        first_id = listener.session.receiver.id
        frame.reboot()
        frame.set(param_id("text", 0, 0, 0), "DURING THE SILENCE")  # nobody is told
        eventually(lambda: listener.session.receiver.id != first_id and following(listener),
                   "a new registration and every subscription again")
        eventually(lambda: umd_text(0) == "DURING THE SILENCE", "the re-read after the gap")
        frame.set(param_id("text", 0, 0, 0), "AFTER")
        eventually(lambda: umd_text(0) == "AFTER", "notifications to flow again")
    assert calls(frame, "EV/SERVERADD") == 2
    assert calls(frame, "EV/NOTIFYADD") == 2 * len(PLANNED)


def test_a_refused_subscription_stops_cleanly_and_says_what_is_live(frame, caplog):
    frame.max_subscriptions = 30
    with caplog.at_level(logging.WARNING, logger="state.nexx_listener"):
        with Running() as listener:
            eventually(lambda: listener.session is not None
                       and listener.session.refusal_reported, "the refusal to be reported")
            time.sleep(0.3)  # nothing more is asked of the frame meanwhile
            requests = calls(frame, "EV/NOTIFYADD")
            frame.set(param_id("layout", 0), "42")  # unchanged value: no datagram
            frame.set(param_id("font", 0), "1")  # followed (among the first 30)
            eventually(lambda: MultiviewerState.objects.get().font == 1, "a live parameter")
            eventually(lambda: "refused" in NexxListenerStatus.load().refused,
                       "the status to say so")
    assert requests == 31  # 30 accepted, the 31st refused, then no more
    (receiver,) = frame.receivers()
    assert len(receiver.parameters) == 30
    refused = NexxListenerStatus.load().refused
    assert "notification limit reached" in refused
    assert "30 of 67 parameters are live" in refused
    assert "MV 1: 30 of 67" in refused
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("refused" in w for w in warnings) == 1


def test_subscribing_never_exceeds_the_frame_rate_and_lets_operators_write(transactional_db,
                                                                          make_devices):
    limit = 20
    devices = make_devices(multiviewers=1, nexx_options={"max_rps": limit})
    frame = devices.nexx
    frame.set(param_id("layout", 0), "42")
    refresh_nexx()
    # Configured below the frame's limit, as a facility configures it (8/s for a frame taking
    # 10): a request a loaded machine sends late lands closer to the next one.
    NexxSettings.objects.update(requests_per_second=limit * 0.8, timeout=5)
    failures: list[Exception] = []
    writes = 0
    with Running() as listener:
        eventually(lambda: listener.subscribed >= 5, "subscribing to be under way")
        service = NexxService.from_settings()
        while not following(listener) and writes < 40:
            try:
                service.write_values({param_id("pcm_bars", 0, writes % 2): 8})
                writes += 1
            except Exception as exc:  # any refusal is a failure of "writes first"
                failures.append(exc)
                break
        eventually(lambda: following(listener), "the whole subscription")
    stats = frame.stats()
    assert not failures
    assert writes >= 10
    assert stats["rejected_rate_limit"] == 0
    assert stats["peak_1s_window"] <= limit, stats["per_second"]


# --- outages, settings, the command --------------------------------------------------------------


def test_waits_for_a_frame_that_is_down_and_starts_when_it_answers(frame, caplog):
    frame.set_fault("drop_connection")
    with caplog.at_level(logging.WARNING, logger="state.nexx_listener"):
        with Running() as listener:
            eventually(lambda: NexxListenerStatus.load().state == "frame unreachable",
                       "the status to say the frame is unreachable")
            time.sleep(1.0)  # several attempts, one log line
            frame.clear_faults()
            eventually(lambda: following(listener), "the subscription once the frame answers")
    down = [r for r in caplog.records if "retrying with backoff" in r.getMessage()]
    assert len(down) == 1


def test_follows_changed_settings_to_another_frame(transactional_db, make_devices):
    first = make_devices(multiviewers=1).nexx
    first.set(param_id("layout", 0), "42")
    refresh_nexx()
    with Running() as listener:
        eventually(lambda: following(listener), "the first frame")
        second = make_devices(multiviewers=1).nexx  # points the settings at a new frame
        second.set(param_id("layout", 0), "42")
        eventually(lambda: len(second.receivers()) == 1 and following(listener),
                   "the second frame")
        second.set(param_id("text", 0, 0, 0), "SECOND FRAME")
        eventually(lambda: umd_text(0) == "SECOND FRAME", "the new frame's change")


def test_turned_off_in_the_settings_it_waits(frame):
    NexxSettings.objects.update(listen_enabled=False)
    with Running():
        eventually(lambda: NexxListenerStatus.load().state == "turned off", "the status")
        assert frame.receivers() == []
        NexxSettings.objects.update(listen_enabled=True)
        eventually(lambda: len(frame.receivers()) == 1, "the registration once turned on")


def test_nexx_listen_command_runs_reports_progress_and_stops_on_sigterm(frame):
    port = free_udp_port()
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "nexx_listen", "--bind",
         f"127.0.0.1:{port}"], cwd=BASE_DIR, env=subprocess_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        eventually(lambda: frame.receivers() and frame.receivers()[0].parameters == set(PLANNED),
                   "nexx_listen to subscribe")
        frame.set(param_id("text", 0, 1, 1), "VIA THE COMMAND")
        eventually(lambda: umd_text(1, 1) == "VIA THE COMMAND", "nexx_listen to store it")
        eventually(lambda: NexxListenerStatus.load().parameters_live == 67, "the status row")
        check = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "nexx_listen",
                                "--status"], cwd=BASE_DIR, env=subprocess_env(),
                               capture_output=True, text=True, timeout=WAIT)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "subscribing 67 parameters (0 of 67 live already)" in out
    assert "all 67 parameters live" in out
    assert "Stopped;" in out
    assert "Traceback" not in err
    assert check.returncode == 0, check.stdout + check.stderr
    assert "parameters live: 67 of 67" in check.stdout


def test_nexx_listen_refuses_every_address_without_an_advertised_one(frame):
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "nexx_listen",
                             "--bind", "0.0.0.0:0"], cwd=BASE_DIR, env=subprocess_env(),
                            capture_output=True, text=True, timeout=WAIT)
    assert result.returncode != 0
    assert "--advertise" in result.stderr


def test_status_says_not_running_when_nobody_listens(frame):
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "nexx_listen",
                             "--status"], cwd=BASE_DIR, env=subprocess_env(),
                            capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 1
    assert "NEXX listener: not running" in result.stdout or "not started" in result.stdout


def test_window_ids_are_what_the_snapshot_holds():
    assert len(window_ids(0, 0)) == 31
    assert followed_ids(2, 3)[:5] == ["2704.2", "2716.2", "2726.2", "2727.2", "2720.2"]
    assert len(followed_ids(2, 3)) == 5 + 3 * 31



def test_nexx_listen_unregister_removes_the_receiver(frame, capsys):
    from django.core.management import call_command

    with Running() as listener:
        eventually(lambda: following(listener), "the subscription")
    assert len(frame.receivers()) == 1
    call_command("nexx_listen", "--unregister")
    assert frame.receivers() == []
    assert "Removed receiver 1" in capsys.readouterr().out
