"""Run a plan as a local command, at most once per plan id, surviving a restart of the service.

Each plan gets a directory ``<state_dir>/<plan id>/`` holding ``state.json`` (created exclusively before
the process starts, then updated with its pid), ``output.log`` and ``exit_code``. The command runs in its
own session under a tiny ``sh`` wrapper that writes its exit code to ``exit_code``, so a service killed
with ``-9`` can come back and

* re-attach to the process if it still runs (wait for it, read the exit code), or
* read the exit code it left, or
* mark the plan failed when the process is gone without one — it never starts the command again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mlmon_common.events import utcnow
from mlmon_maintenance.config import CommandExecutorConfig
from mlmon_maintenance.executors.base import ExecutionResult, ExecutionStatus, substitute
from mlmon_maintenance.plans import MaintenancePlan

logger = logging.getLogger(__name__)

_WRAPPER = 'f="$1"; shift; "$@"; code=$?; echo "$code" > "$f.tmp" && mv "$f.tmp" "$f"; exit "$code"'
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
OUTPUT_TAIL = 4000
KILL_GRACE_S = 5.0


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True))
    os.replace(tmp, path)


def _proc_start(pid: int) -> str | None:
    """The kernel start time of ``pid`` (guards against pid reuse); ``None`` where /proc is missing."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int, start: str | None) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False  # our own child, just reaped
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return start is None or _proc_start(pid) in (None, start)


def _local(arg: str, job_dir: Path) -> str:
    """Fill the local-only placeholders: ``{python}`` (this interpreter) and ``{job_dir}``."""
    return arg.replace("{python}", sys.executable).replace("{job_dir}", str(job_dir))


class CommandExecutor:
    name = "command"

    def __init__(
        self,
        cfg: CommandExecutorConfig,
        env: dict[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        poll_interval_s: float = 0.5,
    ) -> None:
        self.cfg = cfg
        self.env = env or {}
        self.clock = clock
        self.sleep = sleep
        self.poll_interval_s = poll_interval_s

    def job_dir(self, plan_id: str) -> Path:
        return self.cfg.state_dir / _UNSAFE.sub("_", plan_id)

    def execute(self, plan: MaintenancePlan) -> ExecutionResult:
        """Run the command for ``plan`` and wait for it; on a second call, report instead of re-running."""
        proc = self.start(plan)
        if proc is None:
            return self.recover(plan)
        return self._wait_child(plan, proc)

    def start(self, plan: MaintenancePlan) -> subprocess.Popen[bytes] | None:
        """Start the command; ``None`` if this plan was already started (now or before a restart)."""
        d = self.job_dir(plan.id)
        d.mkdir(parents=True, exist_ok=True)
        now = self.clock()
        argv = [_local(substitute(a, plan), d) for a in self.cfg.argv]
        state = {"plan_id": plan.id, "status": "starting", "argv": argv, "started_at": now.isoformat()}
        try:
            with open(d / "state.json", "x") as fh:
                json.dump(state, fh, sort_keys=True)
        except FileExistsError:
            return None
        env = {**os.environ, **self.env, "MLMON_PLAN_ID": plan.id, "MLMON_MODEL_ID": plan.model_id}
        env["MLMON_JOB_DIR"] = str(d)
        with open(d / "output.log", "wb") as log:
            proc = subprocess.Popen(
                ["sh", "-c", _WRAPPER, "mlmon-job", str(d / "exit_code"), *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        _write_json(
            d / "state.json", {**state, "status": "running", "pid": proc.pid, "pid_start": _proc_start(proc.pid)}
        )
        logger.info("plan %s: started %s (pid %d)", plan.id, argv, proc.pid)
        return proc

    def _wait_child(self, plan: MaintenancePlan, proc: subprocess.Popen[bytes]) -> ExecutionResult:
        state = self._state(plan.id)
        remaining = (self._deadline(state) - self.clock()).total_seconds()
        try:
            proc.wait(timeout=max(remaining, 0.0))
        except subprocess.TimeoutExpired:
            self._kill(proc.pid)
            proc.wait()
            return self._finish(plan, state, "failed", f"timed out after {self.cfg.timeout}")
        return self._finish_from_exit_file(plan, state)

    def recover(self, plan: MaintenancePlan) -> ExecutionResult:
        """After a restart (or a replay): the recorded result, a re-attach, or a failure — never a re-run."""
        d = self.job_dir(plan.id)
        if (d / "result.json").exists():
            recorded = ExecutionResult.model_validate_json((d / "result.json").read_text())
            return recorded.model_copy(update={"details": {**recorded.details, "replayed": True}})
        state = self._state(plan.id)
        pid = state.get("pid")
        if pid is None:
            return self._finish(plan, state, "failed", "service stopped before the command started; not re-run")
        while _alive(pid, state.get("pid_start")):
            if self.clock() >= self._deadline(state):
                self._kill(pid)
                return self._finish(plan, state, "failed", f"timed out after {self.cfg.timeout} (re-attached)")
            self.sleep(self.poll_interval_s)
        return self._finish_from_exit_file(plan, state, reattached=True)

    def _finish_from_exit_file(
        self, plan: MaintenancePlan, state: dict[str, Any], reattached: bool = False
    ) -> ExecutionResult:
        exit_file = self.job_dir(plan.id) / "exit_code"
        if not exit_file.exists():
            return self._finish(plan, state, "failed", "process ended without recording an exit code")
        code = int(exit_file.read_text().strip())
        status: ExecutionStatus = "succeeded" if code == 0 else "failed"
        return self._finish(plan, state, status, f"exit code {code}", code, reattached)

    def _finish(
        self,
        plan: MaintenancePlan,
        state: dict[str, Any],
        status: ExecutionStatus,
        why: str,
        exit_code: int | None = None,
        reattached: bool = False,
    ) -> ExecutionResult:
        d = self.job_dir(plan.id)
        log = d / "output.log"
        output = log.read_text(errors="replace")[-OUTPUT_TAIL:] if log.exists() else ""
        result = ExecutionResult(
            plan_id=plan.id,
            executor=self.name,
            status=status,
            started_at=datetime.fromisoformat(state["started_at"]),
            finished_at=self.clock(),
            exit_code=exit_code,
            output=output,
            details={"why": why, "reattached": reattached, "job_dir": str(d)},
        )
        _write_json(d / "result.json", json.loads(result.model_dump_json()))
        _write_json(d / "state.json", {**state, "status": "finished"})
        logger.info("plan %s: command %s (%s)", plan.id, status, why)
        return result

    def _state(self, plan_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.job_dir(plan_id) / "state.json").read_text())
        return doc

    def _deadline(self, state: dict[str, Any]) -> datetime:
        started: datetime = datetime.fromisoformat(state["started_at"])
        return started + self.cfg.timeout

    def _kill(self, pid: int) -> None:
        """SIGTERM the job's process group, SIGKILL after a grace period."""
        for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 0.0)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _alive(pid, None):
                time.sleep(0.05)


__all__ = ["CommandExecutor"]
