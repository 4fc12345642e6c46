"""manage.py refresh: scope options, the progress bar, the summary and the exit code."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from devices.models import Source
from state.management.commands.refresh import ProgressBar
from state.models import MultiviewerState, RefreshRun, RoutingState
from tests.support import BASE_DIR, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)


def refresh(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("refresh", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_refresh_everything_prints_progress_and_a_summary(devices):
    out, err = refresh()
    run = RefreshRun.objects.get()
    assert run.trigger == "command" and run.status == "success"
    lines = out.splitlines()
    assert lines[0] == f"Refresh run #{run.pk}: all multiviewers, NEXX and Quartz."
    assert any(line.startswith("[") and "% " in line for line in lines)  # the bar
    assert any("100%" in line for line in lines)
    assert f"Refresh run #{run.pk}: success in " in out
    assert "NEXX: 4 multiviewers and 42 windows stored;" in out
    assert "Quartz: 32 source names, 64 routes stored;" in out
    assert err == ""


def test_nexx_only(devices):
    out, _ = refresh("--nexx-only")
    assert "NEXX only" in out.splitlines()[0]
    assert MultiviewerState.objects.count() == 4
    assert not RoutingState.objects.exists() and not Source.objects.exists()
    assert "Quartz:" not in out


def test_quartz_only_reads_the_routes_of_the_known_multiviewers(devices):
    from devices.models import Multiviewer

    Multiviewer.objects.create(nexx_index=1)
    out, _ = refresh("--quartz-only")
    assert "Quartz only" in out.splitlines()[0]
    assert not MultiviewerState.objects.exists()
    assert sorted(RoutingState.objects.values_list("output", flat=True)) == list(range(17, 33))
    assert Source.objects.count() == 32


def test_one_multiviewer(devices):
    out, _ = refresh("--multiviewer", "2")
    assert out.splitlines()[0].endswith("MV 2, NEXX and Quartz.")
    assert list(MultiviewerState.objects.values_list("multiviewer__nexx_index", flat=True)) == [1]


def test_a_partial_refresh_exits_2_with_the_errors_on_stderr(devices):
    devices.quartz.refuse = True
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("refresh", stdout=out, stderr=err)
    assert info.value.returncode == 2
    assert "partial" in str(info.value)
    assert "Quartz: " in err.getvalue() and "unreachable" in err.getvalue()


def test_bad_options_are_refused(db):
    with pytest.raises(CommandError, match="1 to 120"):
        call_command("refresh", "--multiviewer", "121")
    with pytest.raises(CommandError, match="not allowed with"):
        call_command("refresh", "--nexx-only", "--quartz-only")
    assert not RefreshRun.objects.exists()


def test_the_exit_code_says_failed(transactional_db):
    # Neither device configured: nothing can be read.
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "refresh"],
                            cwd=BASE_DIR, env=subprocess_env(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed" in result.stdout
    assert "NEXX: The NEXX frame is not configured" in result.stderr
    assert "Quartz: The Quartz router is not configured" in result.stderr
    assert RefreshRun.objects.get().status == "failed"


class FakeTerminal(io.StringIO):
    def write(self, text: str, ending: str = "\n") -> None:  # the OutputWrapper signature
        super().write(text + ending)


def test_the_bar_redraws_one_line_on_a_terminal():
    stream = FakeTerminal()
    bar = ProgressBar(stream, tty=True)
    bar.update({"phase": "reading", "parameters_read": 50, "parameters_planned": 200,
                "parts_done": 1, "parts_planned": 4, "eta_seconds": 9})
    bar.update({"phase": "done", "parameters_read": 200, "parameters_planned": 200,
                "parts_done": 4, "parts_planned": 4, "eta_seconds": 0})
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert " 25%  50/200 read  parts 1/4  ~9 s left" in text
    assert "100%  200/200 read  parts 4/4" in text
