"""The periodic jobs: each runs once per slot across schedulers, failures are recorded, the real commands run."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lingjing.core import schedule
from lingjing.core.schedule import Job

pytestmark = pytest.mark.django_db

NOON = 1_800_000_000.0  # a fixed clock, on a slot boundary of every rhythm below


def test_every_job_names_a_real_command_and_a_distinct_name() -> None:
    from django.core.management import get_commands

    commands = get_commands()
    assert len({job.name for job in schedule.JOBS}) == len(schedule.JOBS)
    for job in schedule.JOBS:
        assert job.command[0] in commands, job
        assert job.every >= 60 and job.why


def test_a_job_runs_once_per_slot_however_many_schedulers_look() -> None:
    calls: list[tuple[str, ...]] = []
    job = Job("probe", ("probe",), 60, "a probe")

    def runner(*args: str, **kwargs: Any) -> None:
        calls.append(args)

    first = schedule.run_due([job], now=NOON, runner=runner)
    second = schedule.run_due([job], now=NOON + 59, runner=runner)  # another scheduler, same minute
    assert [o.job for o in first] == ["probe"] and second == [] and calls == [("probe",)]
    assert [o.ok for o in schedule.run_due([job], now=NOON + 60, runner=runner)] == [True]  # next slot
    assert len(calls) == 2


def test_a_failing_job_is_recorded_and_does_not_stop_the_others() -> None:
    ran: list[str] = []

    def runner(*args: str, **kwargs: Any) -> None:
        ran.append(args[0])
        if args[0] == "broken":
            raise RuntimeError("数据库暂时不可用")
        kwargs["stdout"].write("done\n")

    jobs = [Job("broken", ("broken",), 60, "x"), Job("fine", ("fine",), 60, "y")]
    outcomes = schedule.run_due(jobs, now=NOON, runner=runner)
    assert ran == ["broken", "fine"]
    assert [(o.job, o.ok) for o in outcomes] == [("broken", False), ("fine", True)]
    last = schedule.last_outcomes(jobs)
    assert last["broken"] is not None and "RuntimeError: 数据库暂时不可用" in last["broken"]["output"]
    assert last["fine"] is not None and last["fine"]["output"] == "done\n"


def test_the_real_commands_run_and_the_audit_checkpoint_is_signed(settings: Any) -> None:
    from lingjing.secops.tests.conftest import make_member

    make_member("+8613900001111", "定时")  # leaves audit rows, so the checkpoint has a head to sign
    out = io.StringIO()
    call_command("schedule", "run", "--once", stdout=out, stderr=out)
    text = out.getvalue()
    for job in schedule.JOBS:
        assert f"scheduler: {job.name} ok" in text, text
    assert list(Path(settings.AUDIT_CHECKPOINT_DIR).iterdir())
    again = io.StringIO()
    call_command("schedule", "run", "--once", stdout=again)
    assert again.getvalue() == ""  # every slot already claimed
    status = io.StringIO()
    call_command("schedule", "status", stdout=status)
    assert all(entry["ok"] for entry in json.loads(status.getvalue()).values())


def test_status_fails_when_a_last_run_failed_and_bad_arguments_are_refused() -> None:
    def runner(*args: str, **kwargs: Any) -> None:
        raise SystemExit(2)

    schedule.run_due([schedule.job_named("retention")], now=NOON, runner=runner)
    with pytest.raises(SystemExit) as exited:
        call_command("schedule", "status", stdout=io.StringIO())
    assert exited.value.code == 1
    with pytest.raises(CommandError, match="unknown job 'nope'"):
        call_command("schedule", "run", "--once", "--only", "nope")
    with pytest.raises(CommandError, match="--tick"):
        call_command("schedule", "run", "--tick", "0")
    listing = io.StringIO()
    call_command("schedule", "list", stdout=listing)
    assert "lingjing privacy run-due" in listing.getvalue()
