from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlmon_maintenance.config import CommandExecutorConfig
from mlmon_maintenance.executors.command import CommandExecutor
from mlmon_maintenance.plans import Action, MaintenancePlan

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _plan(key: str = "k") -> MaintenancePlan:
    return MaintenancePlan.propose(
        model_id="churn", actions=[Action(type="retraining")], priority=2, reasons=[], due_at=T0, now=T0, key=key
    )


def _script(tmp: Path, body: str) -> list[str]:
    """A python command that appends one line to runs.txt per run, then runs ``body``."""
    code = f"import pathlib, sys, time\npathlib.Path({str(tmp / 'runs.txt')!r}).open('a').write('run\\n')\n{body}"
    return [sys.executable, "-c", code]


def _executor(tmp: Path, argv: list[str], timeout: str = "60s", **kw: object) -> CommandExecutor:
    cfg = CommandExecutorConfig.model_validate({"argv": argv, "timeout": timeout, "state_dir": tmp / "jobs"})
    return CommandExecutor(cfg, **kw)  # type: ignore[arg-type]


def _runs(tmp: Path) -> int:
    path = tmp / "runs.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait_for_go(tmp: Path, exit_code: int) -> str:
    go = str(tmp / "go")
    return f"while not pathlib.Path({go!r}).exists():\n    time.sleep(0.01)\nsys.exit({exit_code})"


def test_success_captures_output_and_exit_code(tmp_path: Path) -> None:
    argv = [*_script(tmp_path, "print('trained on', sys.argv[1:])"), "--model", "{model_id}"]
    result = _executor(tmp_path, argv).execute(_plan())
    assert result.status == "succeeded"
    assert result.exit_code == 0
    assert result.output == "trained on ['--model', 'churn']\n"
    assert result.details["why"] == "exit code 0"
    assert result.details["reattached"] is False
    assert result.plan_result()["exit_code"] == 0
    state = json.loads((Path(result.details["job_dir"]) / "state.json").read_text())
    assert state["status"] == "finished"
    assert state["argv"][-2:] == ["--model", "churn"]


def test_failure_exit_code_and_env(tmp_path: Path) -> None:
    body = "import os\nprint(os.environ['MLMON_PLAN_ID'], os.environ['EXTRA'])\nsys.exit(3)"
    result = _executor(tmp_path, _script(tmp_path, body), env={"EXTRA": "x"}).execute(_plan())
    assert result.status == "failed"
    assert result.exit_code == 3
    assert result.output == f"{_plan().id} x\n"


def test_second_execute_never_runs_twice(tmp_path: Path) -> None:
    ex = _executor(tmp_path, _script(tmp_path, "pass"))
    first = ex.execute(_plan())
    second = ex.execute(_plan())
    third = _executor(tmp_path, _script(tmp_path, "pass")).execute(_plan())
    assert _runs(tmp_path) == 1
    assert second.status == third.status == first.status == "succeeded"
    assert second.details["replayed"] is True
    ex.execute(_plan("other"))
    assert _runs(tmp_path) == 2


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    result = _executor(tmp_path, _script(tmp_path, "time.sleep(60)"), timeout="0.3s").execute(_plan())
    assert result.status == "failed"
    assert result.exit_code is None
    assert result.details["why"] == "timed out after 0:00:00.300000"


def test_reattach_to_a_running_job_after_restart(tmp_path: Path) -> None:
    argv = _script(tmp_path, _wait_for_go(tmp_path, 7))
    before = _executor(tmp_path, argv)
    proc = before.start(_plan())  # the "old" service started it, then went away
    assert proc is not None
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:  # the job finishes while the new service waits
        sleeps.append(seconds)
        (tmp_path / "go").touch()
        proc.wait(timeout=10)

    after = _executor(tmp_path, argv, sleep=sleep, poll_interval_s=0.25)
    result = after.execute(_plan())
    assert result.status == "failed"
    assert result.exit_code == 7
    assert result.details["reattached"] is True
    assert sleeps == [0.25]
    assert _runs(tmp_path) == 1


def test_started_but_never_spawned_is_marked_failed(tmp_path: Path) -> None:
    ex = _executor(tmp_path, _script(tmp_path, "pass"))
    d = ex.job_dir(_plan().id)
    d.mkdir(parents=True)
    (d / "state.json").write_text(json.dumps({"status": "starting", "started_at": T0.isoformat(), "argv": []}))
    result = ex.execute(_plan())
    assert result.status == "failed"
    assert result.details["why"] == "service stopped before the command started; not re-run"
    assert _runs(tmp_path) == 0


def test_vanished_process_without_exit_code_is_marked_failed(tmp_path: Path) -> None:
    ex = _executor(tmp_path, _script(tmp_path, "pass"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    d = ex.job_dir(_plan().id)
    d.mkdir(parents=True)
    state = {"status": "running", "pid": dead.pid, "pid_start": "1", "started_at": T0.isoformat(), "argv": []}
    (d / "state.json").write_text(json.dumps(state))
    result = ex.execute(_plan())
    assert result.status == "failed"
    assert result.details["why"] == "process ended without recording an exit code"
    assert _runs(tmp_path) == 0


def test_reattach_times_out(tmp_path: Path) -> None:
    argv = _script(tmp_path, "time.sleep(60)")
    now = [datetime.now(UTC)]
    before = _executor(tmp_path, argv, timeout="10s", clock=lambda: now[0])
    proc = before.start(_plan())
    assert proc is not None

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    result = _executor(tmp_path, argv, timeout="10s", clock=lambda: now[0], sleep=sleep, poll_interval_s=4).execute(
        _plan()
    )
    proc.wait(timeout=10)
    assert result.status == "failed"
    assert result.details["why"] == "timed out after 0:00:10 (re-attached)"
    with pytest.raises(ProcessLookupError):  # the process group was terminated (and reaped)
        os.kill(proc.pid, 0)
    assert not (Path(result.details["job_dir"]) / "exit_code").exists()


def test_kill_9_of_the_service_mid_job(tmp_path: Path) -> None:
    """A real service process is killed with SIGKILL mid-job; a new one re-attaches, never re-runs."""
    argv = _script(tmp_path, _wait_for_go(tmp_path, 0))
    service = f"""
from pathlib import Path
from mlmon_maintenance.config import CommandExecutorConfig
from mlmon_maintenance.executors.command import CommandExecutor
from mlmon_maintenance.plans import MaintenancePlan
plan = MaintenancePlan.model_validate_json({_plan().model_dump_json()!r})
cfg = CommandExecutorConfig(argv={argv!r}, state_dir=Path({str(tmp_path / "jobs")!r}))
CommandExecutor(cfg).execute(plan)
"""
    svc = subprocess.Popen([sys.executable, "-c", service])
    state_file = tmp_path / "jobs" / _plan().id / "state.json"
    deadline = time.monotonic() + 30
    while not (state_file.exists() and "pid" in json.loads(state_file.read_text() or "{}")):
        assert time.monotonic() < deadline, "service did not start the job within 30 s"
        assert svc.poll() is None, "service exited early"
        time.sleep(0.02)
    os.kill(svc.pid, signal.SIGKILL)
    svc.wait(timeout=10)
    job_pid = json.loads(state_file.read_text())["pid"]
    os.kill(job_pid, 0)  # the job survived its parent

    def sleep(seconds: float) -> None:
        (tmp_path / "go").touch()
        time.sleep(seconds)

    result = _executor(tmp_path, argv, sleep=sleep, poll_interval_s=0.02).execute(_plan())
    assert result.status == "succeeded"
    assert result.exit_code == 0
    assert result.details["reattached"] is True
    assert _runs(tmp_path) == 1
