"""kill -9 of the maintenance service while a job runs: the restarted service re-attaches to the job (or
marks the plan failed when the job died too) — the job never runs twice."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlmon_common.settings import KafkaSettings, RedisSettings
from mlmon_common.testing import ServiceProcess, service_env, wait_for

#: The slow job: records each start, then waits (bounded) for the test to release it.
SLOW_JOB = """
import os, sys, time
d = sys.argv[1]
with open(os.path.join(d, "starts"), "a") as fh:
    fh.write(os.environ["MLMON_PLAN_ID"] + "\\n")
deadline = time.monotonic() + 120
while not os.path.exists(os.path.join(d, "release")) and time.monotonic() < deadline:
    time.sleep(0.05)
print("released")
"""


@pytest.fixture
def svc(kafka: KafkaSettings, redis_settings: RedisSettings, tmp_path: Path, mt: Any) -> Iterator[ServiceProcess]:
    config = {
        "maintenance": {
            "executors": {
                "command": {
                    "argv": [sys.executable, "-c", SLOW_JOB, str(tmp_path)],
                    "state_dir": str(tmp_path / "jobs"),
                }
            }
        }
    }
    (tmp_path / "mlmon.yml").write_text(yaml.safe_dump(config))
    env = service_env(
        kafka,
        redis_settings,
        MLMON_API_KEY=mt.API_KEY,
        MLMON_CONFIG=str(tmp_path / "mlmon.yml"),
        MLMON_MAINTENANCE_WORKER_POLL_S="0.1",
    )
    service = ServiceProcess("mlmon_maintenance", env, tmp_path / "service.log")
    try:
        yield service
    finally:
        service.stop()
        (tmp_path / "release").touch()  # let an orphaned job end


def _plan(url: str, plan_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(f"{url}/v1/plans/{plan_id}").json()
    return doc


def _start_job(url: str, tmp_path: Path, auth: dict[str, str]) -> str:
    body = {"actions": ["retraining"], "actor": "ops", "reason": "restart test", "request_id": "restart-1"}
    plan = httpx.post(f"{url}/v1/models/churn/maintenance", json=body, headers=auth)
    assert plan.status_code == 201, plan.text
    plan_id: str = plan.json()["id"]
    approved = httpx.post(f"{url}/v1/plans/{plan_id}/approve", json={"actor": "ops"}, headers=auth)
    assert approved.status_code == 200, approved.text
    wait_for(lambda: (tmp_path / "starts").exists(), 30, "job started")
    wait_for(lambda: _plan(url, plan_id)["state"] == "running", 10, "plan running")
    return plan_id


def _finished(url: str, plan_id: str) -> dict[str, Any] | None:
    plan = _plan(url, plan_id)
    return plan if plan["state"] in ("succeeded", "failed") else None


def test_kill9_mid_job_reattaches_and_never_reruns(svc: ServiceProcess, tmp_path: Path, mt: Any) -> None:
    plan_id = _start_job(svc.start(), tmp_path, mt.AUTH)
    svc.kill9()

    url = svc.start()  # the job is still running: the new process re-attaches to it
    assert _plan(url, plan_id)["state"] == "running"
    (tmp_path / "release").touch()
    done = wait_for(lambda: _finished(url, plan_id), 60, "plan finished after re-attach")

    assert done["state"] == "succeeded", done["result"]
    job = done["result"]["actions"]["retraining"]
    assert job["reattached"] is True
    assert job["resumed_after_restart"] is True
    assert job["exit_code"] == 0
    assert (tmp_path / "starts").read_text().splitlines() == [plan_id]  # ran exactly once
    states = [(h["actor"], h["to_state"]) for h in done["history"]]
    assert states == [("ops", "proposed"), ("ops", "approved"), ("worker", "running"), ("worker", "succeeded")]


def test_kill9_of_service_and_job_marks_failed_never_reruns(svc: ServiceProcess, tmp_path: Path, mt: Any) -> None:
    plan_id = _start_job(svc.start(), tmp_path, mt.AUTH)
    svc.kill9()
    state = json.loads(next((tmp_path / "jobs").glob("*/state.json")).read_text())
    os.killpg(state["pid"], signal.SIGKILL)  # the job dies too, without an exit code

    url = svc.start()
    done = wait_for(lambda: _finished(url, plan_id), 60, "plan marked failed after restart")

    assert done["state"] == "failed"
    job = done["result"]["actions"]["retraining"]
    assert job["why"] == "process ended without recording an exit code"
    assert (tmp_path / "starts").read_text().splitlines() == [plan_id]
