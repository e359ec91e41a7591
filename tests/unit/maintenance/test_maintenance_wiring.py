"""Pure pieces of the service wiring: the retraining job directory, local placeholders, action outcomes,
scale history round trip and the scale subresource call."""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlmon_maintenance import retrain
from mlmon_maintenance.actions import ActionRunner
from mlmon_maintenance.autoscale import ScaleHistory, ScalePolicy
from mlmon_maintenance.config import CommandExecutorConfig, KubernetesConfig, MaintenanceConfig
from mlmon_maintenance.executors.base import ExecutionResult
from mlmon_maintenance.executors.command import CommandExecutor
from mlmon_maintenance.plans import Action, MaintenancePlan
from mlmon_maintenance.scaling import Scaler, history_from_doc, history_to_doc
from mlmon_maintenance.worker import _summary

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _plan() -> MaintenancePlan:
    return MaintenancePlan.propose(
        model_id="churn", actions=[Action(type="retraining")], priority=2, reasons=[], due_at=T0, now=T0, key="k"
    )


def _rows(path: Path, n: int) -> None:
    rng = random.Random(3)
    with open(path, "w") as fh:
        for i in range(n):
            x = rng.gauss(0, 1)
            row = {"features": {"x": x}, "label": int(x > 0), "occurred_at": (T0 + timedelta(seconds=i)).isoformat()}
            fh.write(json.dumps(row) + "\n")


def test_retrain_job_dir_reads_inputs_and_the_service_verification(tmp_path: Path) -> None:
    _rows(tmp_path / "data.ndjson", 100)
    (tmp_path / "verification.json").write_text(json.dumps({"holdout_fraction": 0.3, "min_holdout_rows": 5}))
    assert retrain.main(["--job-dir", str(tmp_path)]) == retrain.EXIT_PROMOTED
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["holdout_rows"] == 30
    assert json.loads((tmp_path / "candidate.json").read_text())["features"] == ["x"]
    # with the candidate in production, the same data gives no improvement: rejected
    (tmp_path / "current.json").write_text((tmp_path / "candidate.json").read_text())
    assert retrain.main(["--job-dir", str(tmp_path), "--margin", "0.05"]) == retrain.EXIT_REJECTED


def test_command_fills_python_and_job_dir(tmp_path: Path) -> None:
    code = "import os, sys; open(sys.argv[1] + '/seen', 'w').write(os.environ['MLMON_JOB_DIR'])"
    cfg = CommandExecutorConfig(argv=["{python}", "-c", code, "{job_dir}"], state_dir=tmp_path)
    ex = CommandExecutor(cfg)
    result = ex.execute(_plan())
    assert result.status == "succeeded", result.output
    d = ex.job_dir(_plan().id)
    assert (d / "seen").read_text() == str(d)
    assert json.loads((d / "state.json").read_text())["argv"][0] == sys.executable


class _Store:
    """The two StateStore methods Scaler uses, in memory."""

    def __init__(self) -> None:
        self.docs: dict[str, Any] = {}

    def scale_history(self, service: str) -> dict[str, Any] | None:
        return self.docs.get(service)

    def put_scale_history(self, service: str, doc: dict[str, Any]) -> None:
        self.docs[service] = json.loads(json.dumps(doc))


class _Apps:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def patch_namespaced_deployment_scale(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        self.calls.append((name, namespace, body))


def test_scale_history_round_trips_through_json() -> None:
    h = ScaleHistory(((T0, 3), (T0 + timedelta(seconds=30), 2)), T0, "up")
    assert history_from_doc(json.loads(json.dumps(history_to_doc(h)))) == h
    assert history_from_doc(None) == ScaleHistory()


def test_scaler_applies_through_the_scale_subresource_only_with_a_cluster() -> None:
    now = [T0]
    kube = KubernetesConfig(enabled=True, namespace="ml", deployments={"collector": "mlmon-collector-v2"})
    apps = _Apps()
    scaler = Scaler(ScalePolicy(), kube, _Store(), lambda: now[0], api=apps)  # type: ignore[arg-type]
    decision = scaler.decide("collector", 2, 0.9, None)
    assert decision["applied"] is True
    assert apps.calls == [("mlmon-collector-v2", "ml", {"spec": {"replicas": 3}})]
    now[0] = T0 + timedelta(seconds=10)
    again = scaler.decide("collector", 3, 1.0, None)  # within the scale-up cooldown: no change, no call
    assert (again["changed"], again["applied"]) == (False, False)
    assert len(apps.calls) == 1
    dry = Scaler(ScalePolicy(), KubernetesConfig(), _Store(), lambda: T0)  # type: ignore[arg-type]
    assert dry.decide("drift", 1, 0.9, None)["applied"] is False


def test_interpret_maps_executor_results(tmp_path: Path) -> None:
    runner = ActionRunner(MaintenanceConfig(), None, {}, None, lambda: T0)  # type: ignore[arg-type]
    plan = _plan()

    def res(status: str, code: int | None = None, **details: Any) -> ExecutionResult:
        return ExecutionResult(plan_id=plan.id, executor="x", status=status, exit_code=code, details=details)  # type: ignore[arg-type]

    assert runner.interpret(plan, "retraining", res("submitted")).ok is None
    dry = runner.interpret(plan, "retraining", res("dry_run", manifest={"kind": "Job"}, job="j"))
    assert dry.ok is True
    assert "manifest" not in dry.result
    assert runner.interpret(plan, "retraining", res("failed", 2, job_dir=str(tmp_path))).ok is False
    no_report = runner.interpret(plan, "retraining", res("succeeded", 0, job_dir=str(tmp_path)))
    assert no_report.ok is True
    assert no_report.result["verification"] is None
    assert runner.interpret(plan, "retraining", res("failed", 3, job_dir=str(tmp_path))).ok is False


def test_summary_lifts_verification_to_the_top() -> None:
    out = _summary({"retraining": {"verification": {"decision": "reject"}, "promoted": False, "exit_code": 3}})
    assert out["verification"] == {"decision": "reject"}
    assert out["promoted"] is False
    assert out["actions"]["retraining"]["exit_code"] == 3
    assert _summary({"backup": {"keys": 3}}) == {"actions": {"backup": {"keys": 3}}}


def test_example_config_validates_and_equals_the_defaults() -> None:
    from mlmon_common.config import load_section

    example = Path(__file__).parents[3] / "services" / "maintenance" / "config.example.yml"
    assert load_section(example, "maintenance", MaintenanceConfig) == MaintenanceConfig()
